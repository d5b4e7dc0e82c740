"""
What the MFA flow keeps in the session. All of it is server-side state tied to the session (SEC-29); none
of it is a password, and the secrets (the pending TOTP key, a freshly issued recovery code) are encrypted.
"""

from __future__ import annotations

import secrets
import time
from importlib import import_module

from django.conf import settings
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from . import crypto
from .conf import mfa_settings

PREFIX = "wagtail_company_mfa."
#: When the password was last entered in this session (login or re-authentication): the "sudo" window.
PASSWORD_AT = PREFIX + "password_at"
#: When this sign-in's password step was done: the start of the pending state (SEC-29). Re-entering the
#: password does not move it; only completing the second factor ends the pending state.
PENDING_SINCE = PREFIX + "pending_since"
#: When the second factor was last completed in this session.
MFA_AT = PREFIX + "mfa_at"
#: The authenticator secret being set up, encrypted, with the user it belongs to.
PENDING_SETUP = PREFIX + "pending_setup"
#: Recovery codes just issued that the user has not yet confirmed saving, encrypted.
UNSAVED_CODES = PREFIX + "unsaved_codes"
#: The emailed link that confirms a first enrollment: whose it is, its nonce, when it was sent and opened.
ENROLL_EMAIL = PREFIX + "enroll_email"


def now() -> float:
    return time.time()


def mark_password(session) -> None:
    session[PASSWORD_AT] = now()


def mark_pending_start(session) -> None:
    """
    Start the pending state's clock at the password step, unless it is already running in this session: a
    second password sign-in on a session that has not passed the second factor yet must not buy it more time.
    A new sign-in starts from an empty session (logging out flushes it), so it gets a fresh clock; so does a
    password sign-in after the clock ran out, which is no more than signing out and in again.
    """
    if pending_has_expired(session):
        session[PENDING_SINCE] = now()


def mark_mfa(session) -> None:
    session[MFA_AT] = now()


def seconds_since(session, key: str) -> float | None:
    value = session.get(key)
    if not isinstance(value, (int, float)):
        return None
    return now() - value


def password_is_recent(session) -> bool:
    """The password was entered within ``REAUTH_TIMEOUT`` (the "sudo" window, SEC-25, SEC-33)."""
    age = seconds_since(session, PASSWORD_AT)
    return age is not None and age <= mfa_settings.REAUTH_TIMEOUT


def mfa_is_recent(session) -> bool:
    age = seconds_since(session, MFA_AT)
    return age is not None and age <= mfa_settings.REAUTH_TIMEOUT


def pending_has_expired(session) -> bool:
    """
    A session that has been waiting for its second factor longer than ``PENDING_TIMEOUT`` since the password
    step (or for an unknown time) has expired (SEC-29). Measured from ``PENDING_SINCE``, not from the last
    re-authentication, so entering the password again never extends the wait.
    """
    age = seconds_since(session, PENDING_SINCE)
    return age is None or age > mfa_settings.PENDING_TIMEOUT


# The pending authenticator secret --------------------------------------------------------------------------


#: Why :func:`read_pending_key` found no secret to use.
PENDING_MISSING = "missing"
PENDING_EXPIRED = "expired"
#: Encrypted with a key this server does not have: the key lists changed, or differ between app servers.
PENDING_UNREADABLE = "unreadable"


def read_pending_key(session, user) -> tuple[bytes | None, str]:
    """
    The secret being set up for ``user`` and ``""``, or ``None`` and why not: ``PENDING_MISSING``,
    ``PENDING_EXPIRED`` (older than ``SETUP_TIMEOUT``, SEC-22) or ``PENDING_UNREADABLE``.
    """
    data = session.get(PENDING_SETUP)
    if not isinstance(data, dict) or data.get("user") != str(user.pk):
        return None, PENDING_MISSING
    token = data.get("key")
    try:
        return crypto.decrypt(token, ttl=mfa_settings.SETUP_TIMEOUT), ""
    except (crypto.InvalidToken, AttributeError, TypeError, ValueError):
        pass
    try:
        crypto.decrypt(token)
    except (crypto.InvalidToken, AttributeError, TypeError, ValueError):
        return None, PENDING_UNREADABLE
    return None, PENDING_EXPIRED  # readable, so only too old


def get_pending_key(session, user) -> bytes | None:
    """The secret being set up for ``user``, or ``None`` if there is none or it expired (SEC-22)."""
    return read_pending_key(session, user)[0]


def set_pending_key(session, user, key: bytes) -> None:
    session[PENDING_SETUP] = {"user": str(user.pk), "key": crypto.encrypt(key)}


def clear_pending_key(session) -> None:
    session.pop(PENDING_SETUP, None)


# Recovery codes waiting for "I have safely recorded this code" ---------------------------------------------


def set_unsaved_codes(session, user, codes: list[str], *, reason: str) -> None:
    session[UNSAVED_CODES] = {
        "user": str(user.pk),
        "codes": [crypto.encrypt(code.encode()) for code in codes],
        "reason": reason,
    }


def get_unsaved_codes(session, user) -> tuple[list[str], str] | None:
    data = session.get(UNSAVED_CODES)
    if not isinstance(data, dict) or data.get("user") != str(user.pk):
        return None
    try:
        return [crypto.decrypt(token).decode() for token in data["codes"]], data.get("reason", "")
    except (crypto.InvalidToken, KeyError, TypeError, ValueError):
        return None


def has_unsaved_codes(session) -> bool:
    return UNSAVED_CODES in session


def clear_unsaved_codes(session) -> None:
    session.pop(UNSAVED_CODES, None)


# The emailed confirmation of a first enrollment ------------------------------------------------------------


def start_email_confirmation(session, user) -> str:
    """A new nonce for ``user``'s confirmation link in this session (it voids any earlier link)."""
    nonce = secrets.token_urlsafe(16)
    session[ENROLL_EMAIL] = {"user": str(user.pk), "nonce": nonce, "sent_at": now(), "confirmed_at": None}
    return nonce


def email_confirmation(session, user) -> dict | None:
    data = session.get(ENROLL_EMAIL)
    if not isinstance(data, dict) or data.get("user") != str(user.pk):
        return None
    return data


def confirm_email(session, user, nonce: str) -> bool:
    """Mark the link with ``nonce`` as opened, if it is this session's and ``user``'s current link."""
    data = email_confirmation(session, user)
    if data is None or not constant_time_compare(str(data.get("nonce", "")), nonce):
        return False
    session[ENROLL_EMAIL] = {**data, "confirmed_at": now()}
    return True


def email_is_confirmed(session, user) -> bool:
    """The link was opened in this session within ``SETUP_TIMEOUT``."""
    data = email_confirmation(session, user)
    confirmed_at = data and data.get("confirmed_at")
    return isinstance(confirmed_at, (int, float)) and now() - confirmed_at <= mfa_settings.SETUP_TIMEOUT


def clear_email_confirmation(session) -> None:
    session.pop(ENROLL_EMAIL, None)


# Which sessions a user has, so they can be ended (SEC-36) --------------------------------------------------


def track(session_key: str | None, user) -> None:
    """
    Remember the session ``session_key`` as one of ``user``'s sessions.

    Takes the user explicitly: at ``user_logged_in`` the request may not have a ``user`` attribute at all
    (Django's test client logs in with a bare ``HttpRequest``, and so may other callers of ``login()``).
    """
    from .models import UserSession

    user_id = getattr(user, "pk", None)
    if not session_key or user_id is None:
        return
    UserSession.objects.update_or_create(session_key=session_key, defaults={"user_id": user_id})
    # Forget sessions that have expired anyway, so the table stays as small as the set of live sessions.
    cutoff = timezone.now() - timezone.timedelta(seconds=settings.SESSION_COOKIE_AGE)
    UserSession.objects.filter(user_id=user_id, created_at__lt=cutoff).delete()


def follow_key(old_key: str | None, new_key: str | None, user_id) -> None:
    """
    Keep the registry true after a session changed its key from ``old_key`` to ``new_key`` (``cycle_key()``,
    e.g. ``update_session_auth_hash`` on a password or account change). ``user_id`` is who the session now
    belongs to, or ``None`` if nobody. A row for a key that no longer exists is never left behind, and a
    signed-in session the registry had missed is added, so "end my other sessions" cannot miss it (SEC-36).
    """
    from django.db import transaction

    from .models import UserSession

    if not old_key or old_key == new_key:
        return  # a new session: the sign-in receiver registered it
    with transaction.atomic():
        old_rows = UserSession.objects.filter(session_key=old_key)
        # A row for the new key already exists when ``retrack`` followed it, or the sign-in registered it.
        # Otherwise move the row (keeping when the sign-in was), or add the session the registry had missed.
        if (
            new_key
            and user_id is not None
            and not UserSession.objects.filter(session_key=new_key).exists()
            and not old_rows.filter(user_id=user_id).update(session_key=new_key)
        ):
            UserSession.objects.create(session_key=new_key, user_id=user_id)
        old_rows.delete()


def retrack(request, old_key: str | None) -> None:
    """Follow the session to its new key after ``cycle_key()`` in this request."""
    follow_key(old_key, request.session.session_key, session_user_id(request.session))


def session_user_id(session):
    """The primary key of the user ``session`` is signed in as (as the user model's type), or ``None``."""
    from django.contrib.auth import SESSION_KEY, get_user_model
    from django.core.exceptions import ValidationError

    value = session.get(SESSION_KEY)
    if value is None:
        return None
    try:
        return get_user_model()._meta.pk.to_python(value)
    except ValidationError:  # a session the auth framework would not accept either
        return None


def forget(session_key: str | None) -> None:
    from .models import UserSession

    if session_key:
        UserSession.objects.filter(session_key=session_key).delete()


def end_sessions(user, *, keep: str | None = None) -> int:
    """
    End every session of ``user`` except the one with key ``keep``, whatever app server holds it: the session
    data is deleted from the session store, so its next request is anonymous. Returns how many were ended.
    """
    from .models import UserSession

    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    ended = 0
    for row in UserSession.objects.filter(user_id=user.pk).exclude(session_key=keep or ""):
        store_class(session_key=row.session_key).delete()
        row.delete()
        ended += 1
    return ended
