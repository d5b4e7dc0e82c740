"""
The pending state: a session past its password step that still owes its second factor (SEC-29), the pages
it may reach, and how long it may wait.
"""

from __future__ import annotations

from .. import factors
from ..conf import mfa_settings
from .session import PREFIX, now, seconds_since

#: When this sign-in's password step was done: the start of the pending state (SEC-29). Re-entering the
#: password does not move it; only completing the second factor ends the pending state.
PENDING_SINCE = PREFIX + "pending_since"

#: The pages a session may reach before its second factor is done: the shared ones, and each factor's own
#: (``Factor.pending_url_names``). Each one checks for itself what the session may do there (for example,
#: enrolling is refused to a user who already has an authenticator).
PENDING_URL_NAMES = frozenset(
    {
        "wagtail_company_mfa:required",
        "wagtail_company_mfa:choose_method",
        "wagtail_company_mfa:reauth",
        "wagtail_company_mfa:enroll_email",
        "wagtail_company_mfa:enroll_email_confirm",
        "wagtail_company_mfa:access_code",
        "wagtail_company_mfa:setup_again",
        *(name for factor in factors.all_factors() for name in factor.pending_url_names),
    }
)


def mark_pending_start(session) -> None:
    """
    Start the pending state's clock at the password step, unless it is already running in this session: a
    second password sign-in on a session that has not passed the second factor yet must not buy it more time.
    A new sign-in starts from an empty session (logging out flushes it), so it gets a fresh clock; so does a
    password sign-in after the clock ran out, which is no more than signing out and in again.
    """
    if pending_has_expired(session):
        session[PENDING_SINCE] = now()


def pending_has_expired(session) -> bool:
    """
    A session that has been waiting for its second factor longer than ``PENDING_TIMEOUT`` since the password
    step (or for an unknown time) has expired (SEC-29). Measured from ``PENDING_SINCE``, not from the last
    re-authentication, so entering the password again never extends the wait.
    """
    age = seconds_since(session, PENDING_SINCE)
    return age is None or age > mfa_settings.PENDING_TIMEOUT
