"""The Security tab's "Trusted browsers": what the panel adds to its context (account/panel.py)."""

from __future__ import annotations

import datetime

from django.urls import reverse

from . import flows


def context(request, user, requirement_hours: int) -> dict:
    """The user's trusted browsers (this one marked), with the URLs to stop trusting them; two queries."""
    browsers = flows.browsers_of(user)
    current = flows.current_browser_id(request) if browsers else None
    rows = []
    for trusted in browsers:
        expires = trusted.expires_at
        if requirement_hours > 0:
            # What the current policy allows, if it is stricter than when the browser was trusted.
            expires = min(expires, trusted.created_at + datetime.timedelta(hours=requirement_hours))
        rows.append(
            {
                "browser": trusted,
                "expires_at": expires,
                "is_current": trusted.pk == current,
                "revoke_url": reverse("wagtail_company_mfa:trust_revoke", args=[trusted.pk]),
            }
        )
    return {
        "trusted_browsers": rows,
        "trust_hours": requirement_hours,
        "trust_period": flows.period_label(requirement_hours) if requirement_hours > 0 else "",
        "trust_revoke_all_url": reverse("wagtail_company_mfa:trust_revoke_all"),
    }
