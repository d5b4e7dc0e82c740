"""How the package names a person and reads their address and time zone, wherever it needs them."""

from __future__ import annotations

import zoneinfo

from django.conf import settings


def display_name(user) -> str:
    """How a person is named in the administration and the audit log: full name, else username/email."""
    full_name = user.get_full_name().strip() if hasattr(user, "get_full_name") else ""
    return full_name or user.get_username()


def user_email(user) -> str:
    return getattr(user, user.get_email_field_name(), "") or ""


def user_time_zone(user) -> zoneinfo.ZoneInfo:
    """The time zone the user picked in their Wagtail account, else the site's ``TIME_ZONE``."""
    profile = getattr(user, "wagtail_userprofile", None)
    name = (profile.get_current_time_zone() if profile is not None else "") or settings.TIME_ZONE
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(settings.TIME_ZONE)
