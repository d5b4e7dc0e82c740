"""
The emailed link that confirms a first enrollment, as the session remembers it: whose it is, its nonce,
when it was sent and opened.
"""

from __future__ import annotations

import secrets

from django.utils.crypto import constant_time_compare

from .. import factors
from ..conf import mfa_settings
from .session import PREFIX, now

#: The emailed link that confirms a first enrollment: whose it is, its nonce, when it was sent and opened.
ENROLL_EMAIL = PREFIX + "enroll_email"


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


def needs_email_confirmation(request) -> bool:
    """A first enrollment that the setting asks to confirm, not yet confirmed in this session."""
    return (
        mfa_settings.CONFIRM_FIRST_ENROLLMENT_BY_EMAIL
        and not factors.is_enrolled(request.user)
        and not email_is_confirmed(request.session, request.user)
    )
