"""
Which sessions a user has, so that a security change can end them on every app server (SEC-36). Written at
sign-in and when the session key rotates; never read per request.
"""

from __future__ import annotations

import datetime
from importlib import import_module

from django.conf import settings
from django.contrib.auth import SESSION_KEY, get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Exists, Q
from django.utils import timezone

from ..models import UserSession


def track(session_key: str | None, user) -> None:
    """
    Remember the session ``session_key`` as one of ``user``'s sessions.

    Takes the user explicitly: at ``user_logged_in`` the request may not have a ``user`` attribute at all
    (Django's test client logs in with a bare ``HttpRequest``, and so may other callers of ``login()``).
    """
    user_id = getattr(user, "pk", None)
    if not session_key or user_id is None:
        return
    # Two statements and no transaction of their own, on every sign-in: a row for this key (a session
    # signed in again) goes, with the user's sessions that have expired anyway, so the table stays as small
    # as the set of live sessions; then the session is added, signed in now.
    cutoff = timezone.now() - datetime.timedelta(seconds=settings.SESSION_COOKIE_AGE)
    UserSession.objects.filter(
        Q(session_key=session_key) | Q(user_id=user_id, created_at__lt=cutoff)
    ).delete()
    UserSession.objects.create(session_key=session_key, user_id=user_id)


def follow_key(old_key: str | None, new_key: str | None, user_id) -> None:
    """
    Keep the registry true after a session changed its key from ``old_key`` to ``new_key`` (``cycle_key()``,
    e.g. ``update_session_auth_hash`` on a password or account change). ``user_id`` is who the session now
    belongs to, or ``None`` if nobody. A row for a key that no longer exists is never left behind, and a
    signed-in session the registry had missed is added, so "end my other sessions" cannot miss it (SEC-36).
    """
    if not old_key or old_key == new_key:
        return  # a new session: the sign-in receiver registered it
    # No transaction of its own: each statement leaves the registry at least as true as before (the new key
    # is added before the old one goes), so a failure half-way never hides a session from "end my other
    # sessions", and a sign-in pays for no extra transaction.
    old_rows = UserSession.objects.filter(session_key=old_key)
    # A row for the new key already exists when the sign-in registered it. Otherwise move the row (keeping
    # when the sign-in was), or add the session the registry had missed.
    if (
        new_key
        and user_id is not None
        and not UserSession.objects.filter(session_key=new_key).exists()
        and not old_rows.filter(user_id=user_id).update(session_key=new_key)
    ):
        UserSession.objects.create(session_key=new_key, user_id=user_id)
    old_rows.delete()


#: Where :func:`retrack` notes the move it made, so the middleware does not make it again at the end of the
#: request: ``(old key, new key)``.
FOLLOWED_ATTRIBUTE = "_wagtail_company_mfa_followed"


def retrack(request, old_key: str | None) -> None:
    """Follow the session to its new key after ``cycle_key()`` in this request."""
    new_key = request.session.session_key
    user_id = session_user_id(request.session)
    # The usual case in one statement: the key was just rotated in this request (the verification), so the
    # session's row moves to it, unless a row for the new key exists already (then the full follow below
    # sorts it out, and the unique key is never violated). ``session_key`` is unique, so no other row for
    # the old key is left behind.
    if not (
        old_key
        and new_key
        and old_key != new_key
        and user_id is not None
        and UserSession.objects.filter(session_key=old_key, user_id=user_id)
        .exclude(Exists(UserSession.objects.filter(session_key=new_key)))
        .update(session_key=new_key)
    ):
        follow_key(old_key, new_key, user_id)
    setattr(request, FOLLOWED_ATTRIBUTE, (old_key, new_key))


def already_followed(request, old_key: str | None, new_key: str | None) -> bool:
    """Whether :func:`retrack` already moved this request's session from ``old_key`` to ``new_key``."""
    return getattr(request, FOLLOWED_ATTRIBUTE, None) == (old_key, new_key)


def session_user_id(session):
    """The primary key of the user ``session`` is signed in as (as the user model's type), or ``None``."""
    value = session.get(SESSION_KEY)
    if value is None:
        return None
    try:
        return get_user_model()._meta.pk.to_python(value)
    except ValidationError:  # a session the auth framework would not accept either
        return None


def forget(session_key: str | None) -> None:
    if session_key:
        UserSession.objects.filter(session_key=session_key).delete()


def end_sessions(user, *, keep: str | None = None) -> int:
    """
    End every session of ``user`` except the one with key ``keep``, whatever app server holds it: the session
    data is deleted from the session store, so its next request is anonymous. Returns how many were ended.
    """
    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    ended = 0
    for row in UserSession.objects.filter(user_id=user.pk).exclude(session_key=keep or ""):
        store_class(session_key=row.session_key).delete()
        row.delete()
        ended += 1
    return ended


def end_other_sessions(request) -> int:
    """End every session of the signed-in user except this one, on every app server (SEC-36)."""
    return end_sessions(request.user, keep=request.session.session_key)
