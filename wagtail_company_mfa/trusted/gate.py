"""
Where the gate meets trusted browsers (``middleware.py`` calls these two): a session that passed the
password step and still owes its second factor is let through on the browser's trust, before anything
reads the user; a password sign-in is checked right after it succeeds, so a trusted browser goes straight
to its target. A refused token's cookie is cleared on the response. Never the password: a session that has
not passed it is never looked at (SEC-38).
"""

from __future__ import annotations

import logging

from django_otp import DEVICE_ID_SESSION_KEY

from ..base.routes import is_login_match
from . import cookie, flows

logger = logging.getLogger(__name__)


def _use(request) -> flows.Outcome | None:
    try:
        return flows.use(request)
    except Exception:
        # SEC-46: an error never lets the request through: whatever was written is undone.
        logger.exception("wagtail-company-mfa could not check a trusted browser; the second factor is asked.")
        session = getattr(request, "session", None)
        if session is not None:
            session.pop(DEVICE_ID_SESSION_KEY, None)
        user = getattr(request, "user", None)
        if user is not None and hasattr(user, "otp_device"):
            user.otp_device = None
        return flows.Outcome(ok=False, reason="error")


def before_view(request) -> flows.Outcome | None:
    """On the way in: a pending session with the cookie (no cost without the cookie)."""
    if cookie.COOKIE_NAME not in request.COOKIES or not hasattr(request, "session"):
        return None
    return _use(request)


def after_view(request, response, outcome: flows.Outcome | None):
    """On the way out: a password sign-in that just succeeded here, and clearing a refused cookie."""
    if outcome is None and cookie.COOKIE_NAME in request.COOKIES and _signed_in_here(request, response):
        outcome = _use(request)
    if outcome is not None and not outcome.ok:
        cookie.clear_cookie(response)
    return response


def _signed_in_here(request, response) -> bool:
    match = getattr(request, "resolver_match", None)
    if request.method != "POST" or match is None or not is_login_match(match):
        return False
    session = getattr(request, "session", None)
    return response.status_code in (302, 303) and session is not None and DEVICE_ID_SESSION_KEY not in session
