"""
The package's settings, read lazily from ``django.conf.settings``.

Every setting is prefixed ``WAGTAIL_COMPANY_MFA_`` and has a default that is safe to run with. Values are
read on each access (never cached, never written back to ``django.conf.settings``), so
``override_settings`` works in tests and nothing here runs at import time.

Use it as::

    from wagtail_company_mfa.conf import mfa_settings

    if mfa_settings.ENFORCE == "admin":
        ...
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

PREFIX = "WAGTAIL_COMPANY_MFA_"

#: The values of ``WAGTAIL_COMPANY_MFA_REQUIRE_SUPERUSERS`` (``True`` and ``False`` mean the first and last).
SUPERUSERS_ALWAYS = "always"
SUPERUSERS_WHEN_ANY_COMPANY_REQUIRES = "when_any_company_requires"
SUPERUSERS_NEVER = "never"


class MFASettings:
    """Typed, documented access to every ``WAGTAIL_COMPANY_MFA_*`` setting."""

    def _get(self, name: str, default: Any) -> Any:
        return getattr(settings, PREFIX + name, default)

    @property
    def EXEMPT_USER(self) -> Callable[[Any], bool] | None:
        """
        A callable ``(user) -> bool``, or its dotted path, that exempts a user from every company's
        requirement (for example users whose identity provider already did MFA). Default: ``None``.

        An exempt user is never *required* to enroll, but a user who has enrolled anyway is still asked for
        their code at login (no silent downgrade, SEC-26). An ``exempt_users`` attribute on the callable,
        ``(queryset of users) -> queryset of the exempt ones``, lets the enrollment report find them in SQL
        instead of asking the callable once per member (docs/settings.md).
        """
        value = self._get("EXEMPT_USER", None)
        if value is None or callable(value):
            return value
        if isinstance(value, str):
            try:
                func = import_string(value)
            except ImportError as exc:
                raise ImproperlyConfigured(
                    f"{PREFIX}EXEMPT_USER = {value!r} cannot be imported: {exc}"
                ) from exc
            if not callable(func):
                raise ImproperlyConfigured(f"{PREFIX}EXEMPT_USER = {value!r} is not callable.")
            return func
        raise ImproperlyConfigured(
            f"{PREFIX}EXEMPT_USER must be a callable or its dotted path, not {type(value).__name__}."
        )

    @property
    def REQUIRE_SUPERUSERS(self) -> str:
        """
        What MFA requires of those who govern every company: superusers and holders of the
        ``manage_all_companies`` permission, who can change any company's policy and reset anyone's MFA.

        - ``"when_any_company_requires"`` (the default): the strictest company applies to them, whether they
          belong to it or not: REQUIRED as soon as any company requires MFA and its enforcement date has
          passed, UPCOMING while the earliest such date is ahead.
        - ``True`` (or ``"always"``): REQUIRED now, whatever the companies say.
        - ``False`` (or ``"never"``): they follow their own companies like everyone else.

        Company administrators are covered by their own membership already. Read as one of the three strings.
        """
        value = self._get("REQUIRE_SUPERUSERS", SUPERUSERS_WHEN_ANY_COMPANY_REQUIRES)
        if value is True:
            return SUPERUSERS_ALWAYS
        if value is False:
            return SUPERUSERS_NEVER
        if value in (SUPERUSERS_ALWAYS, SUPERUSERS_WHEN_ANY_COMPANY_REQUIRES, SUPERUSERS_NEVER):
            return value
        raise ImproperlyConfigured(
            f"{PREFIX}REQUIRE_SUPERUSERS must be True, False, {SUPERUSERS_ALWAYS!r}, "
            f"{SUPERUSERS_WHEN_ANY_COMPANY_REQUIRES!r} or {SUPERUSERS_NEVER!r}, not {value!r}."
        )

    @property
    def DEFAULT_TIME_ZONE(self) -> str:
        """
        The time zone given to new companies, in which their enforcement date starts at 00:00 (UTC when it
        is not a time zone). Default: the project's ``TIME_ZONE``.
        """
        return self._get("DEFAULT_TIME_ZONE", None) or settings.TIME_ZONE

    @property
    def ENFORCE(self) -> str:
        """
        Where a password-only session is stopped: ``"site"`` (the default: every URL outside the allow-list,
        including the Django admin, private pages, documents and session-authenticated APIs) or ``"admin"``
        (only URLs under the Wagtail admin).
        """
        value = self._get("ENFORCE", "site")
        if value not in ("site", "admin"):
            raise ImproperlyConfigured(f'{PREFIX}ENFORCE must be "site" or "admin", not {value!r}.')
        return value

    @property
    def ALLOWED_URL_NAMES(self) -> frozenset[str]:
        """
        Extra URL names (``"namespace:name"`` or plain names) that a password-only session may reach, on top
        of the built-in allow-list (the MFA pages, Wagtail's login, logout, password reset, JavaScript
        catalogue and icon sprite). Default: none.
        """
        return frozenset(self._get("ALLOWED_URL_NAMES", ()))

    @property
    def ISSUER(self) -> str:
        """
        The issuer name authenticator apps show next to the account. Default: ``WAGTAIL_SITE_NAME``, or
        ``"Wagtail"``.
        """
        return self._get("ISSUER", None) or getattr(settings, "WAGTAIL_SITE_NAME", None) or "Wagtail"

    @property
    def ENCRYPTION_KEYS(self) -> list[str]:
        """
        Fernet keys that encrypt TOTP secrets at rest, newest first (SEC-43). Generate one with
        ``python -c "from wagtail_company_mfa.crypto import generate_key; print(generate_key())"``.
        Default: none, in which case a key is derived from ``SECRET_KEY`` and check ``W001`` warns outside
        ``DEBUG`` (``E012`` under ``check --deploy``). An entry that is not a Fernet key is reported by check
        ``E007``, by its position only.
        """
        keys = self._get("ENCRYPTION_KEYS", None) or []
        if isinstance(keys, (str, bytes)):
            keys = [keys]
        if not isinstance(keys, (list, tuple)):
            # A set has no "newest first", and a dict or a generator is a mistake, not a key list.
            raise ImproperlyConfigured(
                f"{PREFIX}ENCRYPTION_KEYS must be a list of Fernet keys, newest first, not a "
                f"{type(keys).__name__}."
            )
        for position, key in enumerate(keys, start=1):
            problem = fernet_key_problem(key)
            if problem:
                # The position and what is wrong with the entry, never the entry itself: this message ends
                # up in `manage.py check` output, logs and error pages (SEC-44).
                raise ImproperlyConfigured(
                    f"Entry {position} of {PREFIX}ENCRYPTION_KEYS is not a Fernet key: {problem}."
                )
        return list(keys)

    @property
    def THROTTLE_FACTOR(self) -> int:
        """
        Seconds of the growing delay after wrong codes: after *n* wrong codes in a row the next try must wait
        ``factor x 2^(n-1)`` seconds (1, 2, 4, 8... with the default ``1``). Counted per device in the
        database, so it holds across sessions and app servers (SEC-10, SEC-11).
        """
        return int(self._get("THROTTLE_FACTOR", 1))

    @property
    def RECOVERY_CODES_COUNT(self) -> int:
        """How many recovery codes are valid at a time. Default: ``1``, replaced one for one when used."""
        return max(1, int(self._get("RECOVERY_CODES_COUNT", 1)))

    @property
    def REPORT_COUNTS_MAX_AGE(self) -> int:
        """
        Seconds the counts at the top of the enrollment report may be kept between page views. They are
        recounted sooner after any change the package sees (a membership, an enrolling factor, the policy)
        and when a deadline passes; this bounds how long a change made around it (``QuerySet.update``, raw
        SQL) can go unseen. ``0`` counts on every page view. Default: ``3600`` (an hour).
        """
        value = self._get("REPORT_COUNTS_MAX_AGE", 3600)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ImproperlyConfigured(
                f"{PREFIX}REPORT_COUNTS_MAX_AGE must be a whole number of seconds, 0 or more, not {value!r}."
            )
        return value

    @property
    def PENDING_TIMEOUT(self) -> int:
        """
        Seconds a session may stay between the password step and the second factor (SEC-29); after that,
        the session is ended and the user signs in again. Default: ``900`` (15 minutes, enough to install
        an authenticator app during a forced enrollment).
        """
        return int(self._get("PENDING_TIMEOUT", 900))

    @property
    def REAUTH_TIMEOUT(self) -> int:
        """
        Seconds after entering the password during which enrollment and other sensitive changes do not ask
        for it again (SEC-25, SEC-33). Default: ``300``.
        """
        return int(self._get("REAUTH_TIMEOUT", 300))

    @property
    def SETUP_TIMEOUT(self) -> int:
        """
        Seconds a new, unconfirmed authenticator secret stays valid in the session (SEC-22). Reloading the
        setup page within this time shows the same QR code. Default: ``900``.
        """
        return int(self._get("SETUP_TIMEOUT", 900))

    @property
    def CONFIRM_FIRST_ENROLLMENT_BY_EMAIL(self) -> bool:
        """
        Before a user sets up their first second factor, they open a link emailed to their account's address
        in the same browser. Someone who has only the password then cannot enroll their own authenticator
        and take the account over (see "First enrollment" in docs/security.md). Default: ``False``. Users
        without an email address cannot enroll while it is on.
        """
        value = self._get("CONFIRM_FIRST_ENROLLMENT_BY_EMAIL", False)
        if not isinstance(value, bool):
            raise ImproperlyConfigured(
                f"{PREFIX}CONFIRM_FIRST_ENROLLMENT_BY_EMAIL must be True or False, not {value!r}."
            )
        return value

    @property
    def REMINDER_DAYS(self) -> tuple[int, ...]:
        """
        How many days before a member's deadline ``manage.py mfa_send_reminders`` emails a reminder to a
        member who has not enrolled yet, largest first. Default: ``[14, 3, 1]``. An empty list sends no
        reminders.
        """
        value = self._get("REMINDER_DAYS", (14, 3, 1))
        try:
            days = sorted({int(day) for day in value}, reverse=True)
        except (TypeError, ValueError) as exc:
            raise ImproperlyConfigured(f"{PREFIX}REMINDER_DAYS must be a list of whole numbers.") from exc
        if any(day < 1 for day in days):
            raise ImproperlyConfigured(f"{PREFIX}REMINDER_DAYS must contain only numbers of at least 1.")
        return tuple(days)

    @property
    def POLICY_NOTICE_SEND_LIMIT(self) -> int:
        """
        How many policy-notice emails are sent straight away when a company turns Require MFA on with a date
        or moves the date; the rest go out with the next run of ``manage.py mfa_send_reminders``. Default:
        ``100``. ``0`` leaves them all to the command.
        """
        return max(0, int(self._get("POLICY_NOTICE_SEND_LIMIT", 100)))


def fernet_key_problem(key: Any) -> str:
    """
    What makes ``key`` unusable as a Fernet key, in words that reveal nothing of it, or ``""`` if it is one.
    """
    import binascii

    if not isinstance(key, (str, bytes)):
        return f"it is of type {type(key).__name__}, not a string"
    if not key.strip():
        return "it is empty"
    if isinstance(key, str) and "," in key:
        return "it contains a comma (split a comma-separated environment variable into a list)"
    try:
        raw = base64.urlsafe_b64decode(key)
    except (binascii.Error, ValueError):
        return "it is not URL-safe base64 (a Fernet key is 44 characters ending in '=')"
    if len(raw) != 32:
        return f"it decodes to {len(raw)} bytes instead of 32 (a Fernet key is 44 characters ending in '=')"
    return ""


mfa_settings = MFASettings()
