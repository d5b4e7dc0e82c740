"""
What the MFA flow keeps in the session. All of it is server-side state tied to the session (SEC-29); none
of it is a password, and the secrets (the pending TOTP key, a freshly issued recovery code) are encrypted.
"""

from __future__ import annotations

import time
from importlib import import_module

from django.conf import settings
from django.utils import timezone

from . import crypto
from .conf import mfa_settings

PREFIX = "wagtail_company_mfa."
#: When the password was last entered in this session (login or re-authentication).
PASSWORD_AT = PREFIX + "password_at"
#: When the second factor was last completed in this session.
MFA_AT = PREFIX + "mfa_at"
#: The authenticator secret being set up, encrypted, with the user it belongs to.
PENDING_SETUP = PREFIX + "pending_setup"
#: Recovery codes just issued that the user has not yet confirmed saving, encrypted.
UNSAVED_CODES = PREFIX + "unsaved_codes"


def now() -> float:
    return time.time()


def mark_password(session) -> None:
    session[PASSWORD_AT] = now()


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
    """A password-only session older than ``PENDING_TIMEOUT`` (or of unknown age) has expired (SEC-29)."""
    age = seconds_since(session, PASSWORD_AT)
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


# Which sessions a user has, so they can be ended (SEC-36) --------------------------------------------------


def track(request) -> None:
    """Remember the current session as one of the signed-in user's sessions."""
    from .models import UserSession

    key = request.session.session_key
    if not key or not getattr(request.user, "pk", None):
        return
    UserSession.objects.update_or_create(session_key=key, defaults={"user_id": request.user.pk})
    # Forget sessions that have expired anyway, so the table stays as small as the set of live sessions.
    cutoff = timezone.now() - timezone.timedelta(seconds=settings.SESSION_COOKIE_AGE)
    UserSession.objects.filter(user_id=request.user.pk, created_at__lt=cutoff).delete()


def retrack(request, old_key: str | None) -> None:
    """Follow the session to its new key after ``cycle_key()``."""
    from .models import UserSession

    new_key = request.session.session_key
    if old_key and new_key and old_key != new_key:
        UserSession.objects.filter(session_key=old_key).update(session_key=new_key)


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
