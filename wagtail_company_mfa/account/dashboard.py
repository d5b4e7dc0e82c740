"""
Reminders in the admin while a deadline is ahead (docs/reminders.md): a dismissible panel on the dashboard
and a message once per session (not when the sign-in lands on the dashboard), both with "Set up now".

Neither adds a query to ordinary admin requests: the panel is built only for the dashboard (and not at all for
a session verified with a second factor, which means the user is enrolled), and the message is decided once,
when the user signs in.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from wagtail.admin import messages
from wagtail.admin.ui.components import Component

from ..base import gate
from ..base.session import PREFIX
from ..base.users import user_time_zone
from ..companies.policy import Requirement
from ..conf import mfa_settings
from ..notices.planning import due_stage

logger = logging.getLogger(__name__)

#: Set in the session once the sign-in message has been decided, so it is never shown twice in a session.
REMINDED = PREFIX + "reminded"


def _upcoming_requirement(request, user) -> Requirement | None:
    """The user's UPCOMING requirement if they have not enrolled, else ``None``."""
    if getattr(user, "is_verified", lambda: False)():
        return None  # verified means enrolled: no reminder, and no query
    # The gate asked already for this request (an unverified session): reuse its answer.
    known = gate.standing(request, user)
    if not known.requirement.is_upcoming or known.is_enrolled:
        return None
    return known.requirement


def setup_url(next_url: str = "") -> str:
    """The enrollment page, coming back to ``next_url`` when done (the dashboard by default)."""
    url = reverse("wagtail_company_mfa:enroll")
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


class UpcomingMFAPanel(Component):
    """The dashboard banner: the deadline, the companies behind it, and "Set up now"."""

    name = "wagtail_company_mfa_upcoming"
    template_name = "wagtail_company_mfa/home/upcoming_panel.html"
    #: Above Wagtail's own panels (100 and up): it is about being able to sign in at all.
    order = 50

    def __init__(self, requirement: Requirement, dismissible_id: str):
        self.requirement = requirement
        self.dismissible_id = dismissible_id

    def get_context_data(self, parent_context: Mapping[str, Any]) -> Mapping[str, Any]:
        request = parent_context["request"]
        zone = user_time_zone(request.user)
        return {
            "deadline": timezone.localtime(self.requirement.deadline, zone),
            # What people are told: each company's calendar date, not an instant in their own zone.
            "date": self.requirement.date,
            "companies": [
                {
                    "name": company.company_name,
                    "deadline": timezone.localtime(company.deadline, zone),
                    "date": company.date,
                }
                for company in self.requirement.companies
            ],
            "time_zone": str(zone),
            "setup_url": setup_url(request.get_full_path()),
            "dismissible_id": self.dismissible_id,
        }


def dismissible_id_for(requirement: Requirement) -> str:
    """
    The key under which a dismissal is remembered (in the user's Wagtail profile). It names the deadline and
    the reminder stage, so the banner comes back when the date moves or the next reminder day arrives.
    """
    deadline = requirement.deadline
    assert deadline is not None, "an upcoming requirement has a deadline"
    stage = due_stage(deadline, timezone.now(), mfa_settings.REMINDER_DAYS)
    return f"wagtail_company_mfa_upcoming_{int(deadline.timestamp())}_{stage or 'early'}"


def upcoming_panel_for(request) -> UpcomingMFAPanel | None:
    """The dashboard panel for this request's user, or ``None`` (not upcoming, enrolled, or dismissed)."""
    requirement = _upcoming_requirement(request, request.user)
    if requirement is None:
        return None
    dismissible_id = dismissible_id_for(requirement)
    profile = getattr(request.user, "wagtail_userprofile", None)
    if profile is not None and profile.dismissibles.get(dismissible_id):
        return None
    return UpcomingMFAPanel(requirement, dismissible_id)


#: From this long before the deadline, the sign-in reminder is a warning rather than information.
NEAR = datetime.timedelta(days=7)


def _lands_on_dashboard(request) -> bool:
    """Whether this sign-in goes on to the dashboard (Wagtail's default after the password)."""
    destination = request.POST.get("next") or request.GET.get("next") or ""
    return urlsplit(destination).path in ("", reverse("wagtailadmin_home"))


def remind_once_per_session(request, user) -> None:
    """
    At sign-in: if the user has a deadline ahead and no MFA yet, add a message with "Set up now" (information,
    a warning from ``NEAR`` before the deadline), unless the sign-in goes on to the dashboard, whose panel
    says it already (and was not dismissed).
    Decided once per session and never again (the decision is remembered in the session), so it costs nothing
    on later requests. Never lets a failure break the sign-in.
    """
    if request.session.get(REMINDED):
        return
    try:
        requirement = _upcoming_requirement(request, user)
        request.session[REMINDED] = True
        if requirement is None or requirement.deadline is None or requirement.date is None:
            return
        deadline, date = requirement.deadline, requirement.date
        profile = getattr(user, "wagtail_userprofile", None)
        if _lands_on_dashboard(request) and not (
            profile is not None and profile.dismissibles.get(dismissible_id_for(requirement))
        ):
            # The dashboard shows the panel: one reminder there, not two.
            return
        language = profile.get_preferred_language() if profile is not None else translation.get_language()
        names = [company.company_name for company in requirement.companies]
        with translation.override(language):
            text = ngettext(
                "%(companies)s requires two-factor authentication from %(date)s. Set it up now to be ready.",
                "%(companies)s require two-factor authentication, the first from %(date)s. Set it up now "
                "to be ready.",
                len(names),
            ) % {
                "companies": ", ".join(names),
                "date": formats.date_format(date, "DATE_FORMAT"),
            }
            # Information while the deadline is far; a warning once it is near.
            near = deadline - timezone.now() <= NEAR
            (messages.warning if near else messages.info)(
                request,
                text,
                buttons=[messages.button(setup_url(), _("Set up now"))],
            )
    except Exception:
        logger.exception(
            "Could not decide on the two-factor reminder for user %s.", getattr(user, "pk", None)
        )
