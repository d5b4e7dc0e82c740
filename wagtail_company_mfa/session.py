"""
What the MFA flow keeps in the session. All of it is server-side state tied to the session (SEC-29); none
of it is a password, and the secrets (the pending TOTP key, a freshly issued recovery code) are encrypted.
"""

from __future__ import annotations

import time

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


# The pending authenticator secret ------------------------------------------------------------------------


def get_pending_key(session, user) -> bytes | None:
    """The secret being set up for ``user``, or ``None`` if there is none or it expired (SEC-22)."""
    data = session.get(PENDING_SETUP)
    if not isinstance(data, dict) or data.get("user") != str(user.pk):
        return None
    try:
        return crypto.decrypt(data["key"], ttl=mfa_settings.SETUP_TIMEOUT)
    except (crypto.InvalidToken, KeyError, TypeError, ValueError):
        return None


def set_pending_key(session, user, key: bytes) -> None:
    session[PENDING_SETUP] = {"user": str(user.pk), "key": crypto.encrypt(key)}


def clear_pending_key(session) -> None:
    session.pop(PENDING_SETUP, None)


# Recovery codes waiting for "I have safely recorded this code" --------------------------------------------


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
