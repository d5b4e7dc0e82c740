"""The "sudo" window: when the password, and the second factor, were last entered in this session (SEC-25)."""

from __future__ import annotations

from .. import factors
from ..conf import mfa_settings
from .session import PREFIX, now, seconds_since

#: When the password was last entered in this session (login or re-authentication): the "sudo" window.
PASSWORD_AT = PREFIX + "password_at"
#: When the second factor was last completed in this session.
MFA_AT = PREFIX + "mfa_at"


def mark_password(session) -> None:
    session[PASSWORD_AT] = now()


def mark_mfa(session) -> None:
    session[MFA_AT] = now()


def password_is_recent(session) -> bool:
    """The password was entered within ``REAUTH_TIMEOUT`` (the "sudo" window, SEC-25, SEC-33)."""
    age = seconds_since(session, PASSWORD_AT)
    return age is not None and age <= mfa_settings.REAUTH_TIMEOUT


def mfa_is_recent(session) -> bool:
    age = seconds_since(session, MFA_AT)
    return age is not None and age <= mfa_settings.REAUTH_TIMEOUT


def recently_authenticated(request) -> bool:
    """The password, and for an enrolled user the second factor, were entered within ``REAUTH_TIMEOUT``."""
    if not password_is_recent(request.session):
        return False
    return not factors.is_enrolled(request.user) or mfa_is_recent(request.session)
