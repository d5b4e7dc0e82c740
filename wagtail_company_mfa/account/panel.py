"""
The "Security" tab of the Wagtail account page: the user's MFA status and links to change it.

All account panels sit inside one ``<form>``, so this panel shows status and *links* only; every change
happens in its own view with its own POST form (``account/views.py``, and each factor's own pages). What
the user has comes from the factor registry (``factors/``): each factor adds its own fragment.
"""

from __future__ import annotations

import zoneinfo
from functools import cached_property
from urllib.parse import urlencode

from django import forms
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy
from wagtail.admin.views.account import BaseSettingsPanel, SettingsTab

from .. import factors
from ..base.users import user_time_zone
from ..companies import policy
from ..conf import SUPERUSERS_ALWAYS, mfa_settings
from ..trusted import panel as trusted_panel

#: One tab object for the whole process: the account page groups panels into tabs by identity.
security_tab = SettingsTab("security", gettext_lazy("Security"), order=300)


def security_tab_url() -> str:
    return reverse("wagtailadmin_account") + "#tab-" + security_tab.name


def url_back_to_security_tab(url_name: str) -> str:
    """``url_name``'s URL, coming back to the Security tab when done."""
    return f"{reverse(url_name)}?{urlencode({'next': security_tab_url()})}"


def blocking_deadlines(user, deadlines, now) -> tuple[list[policy.CompanyDeadline], bool]:
    """
    Which of ``deadlines`` (from :func:`policy.company_deadlines`) require MFA of ``user`` right now, and
    whether the superuser rule does. The same decision as :func:`policy.requirement_for`, without a second
    query.
    """
    if policy.is_exempt(user):
        return [], False
    passed = [deadline for deadline in deadlines if deadline.deadline <= now]
    return passed, mfa_settings.REQUIRE_SUPERUSERS == SUPERUSERS_ALWAYS and user.is_superuser


class SecuritySettingsPanel(BaseSettingsPanel):
    """
    Shown when the user has an authenticator app, or one of their companies requires MFA with a date set
    (now or from a date ahead). Adds two queries to the account page, shown or hidden: the user's companies,
    and either the authenticator (not enrolled) or the recovery codes left (enrolled; the authenticator
    comes with the session django-otp verified).
    """

    name = "wagtail_company_mfa"
    title = gettext_lazy("Two-factor authentication")
    tab = security_tab
    order = 100
    template_name = "wagtail_company_mfa/account/security_panel.html"

    def get_form(self):
        # AccountView validates and saves every panel's form; this panel has no fields.
        return forms.Form(prefix=self.name)

    @cached_property
    def now(self):
        return timezone.now()

    @cached_property
    def deadlines(self) -> list[policy.CompanyDeadline]:
        return policy.company_deadlines(self.user)

    @cached_property
    def device(self):
        """The device that makes the user enrolled, or ``None`` (no query for a verified session)."""
        return factors.enrolled_device(self.user)

    def is_active(self) -> bool:
        return self.device is not None or bool(self.deadlines)

    @cached_property
    def time_zone(self) -> zoneinfo.ZoneInfo:
        return user_time_zone(self.user)

    def get_context_data(self) -> dict:
        passed, superuser_rule = blocking_deadlines(self.user, self.deadlines, self.now)
        # Each factor's fragment of the tab and what it needs (for recovery codes: how many are left).
        # Only the factors the user has: one query, then each factor's own (a verified session's device is
        # already loaded).
        keys = factors.factors_of(self.user) if self.device is not None else frozenset()
        factor_context = {}
        fragments = []
        for factor in factors.all_factors():
            if factor.key not in keys:
                continue
            context = factor.security_context_for(self.user, self.device)
            factor_context.update(context)
            if factor.security_template:
                fragments.append({"factor": factor, "template": factor.security_template, **context})
        # The ways to add a factor that makes a user enrolled: another passkey, an authenticator app.
        additions = [
            {
                "factor": factor,
                "url": url_back_to_security_tab(factor.enroll_url_name),
                "has": factor.key in keys,
            }
            for factor in factors.enrolling_factors()
            if factor.enroll_url_name
        ]
        # Trusted browsers: the requirement from the company rows this panel has already read.
        trust_hours = min((deadline.trust_hours for deadline in self.deadlines), default=0)
        # Only where trust is allowed: elsewhere no trusted browser lets anyone in (trusted/flows.py), and the
        # panel costs no query more.
        trust = (
            trusted_panel.context(self.request, self.user, trust_hours)
            if self.device is not None and trust_hours > 0
            else {}
        )
        return {
            **factor_context,
            **trust,
            "factors": fragments,
            "factor_keys": keys,
            "additions": additions,
            "device": self.device,
            "companies": [
                {
                    "name": deadline.company_name,
                    "deadline": deadline.deadline,
                    "date": deadline.date,
                    "required_now": deadline.deadline <= self.now,
                    "grace_applied": deadline.grace_applied,
                }
                for deadline in self.deadlines
            ],
            "time_zone": str(self.time_zone),
            "can_disable": not passed and not superuser_rule,
            "required_by": [deadline.company_name for deadline in passed],
            "superuser_rule": superuser_rule,
            "enroll_url": url_back_to_security_tab(
                "wagtail_company_mfa:choose_method"
                if len(factors.enrolling_factors()) > 1
                else "wagtail_company_mfa:enroll"
            ),
            "regenerate_url": reverse("wagtail_company_mfa:security_regenerate_codes"),
            "disable_url": reverse("wagtail_company_mfa:security_disable"),
        }

    def render(self) -> str:
        # Dates and times in the user's own time zone, whatever page renders the panel.
        with timezone.override(self.time_zone):
            return super().render()
