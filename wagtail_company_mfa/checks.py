"""
Django system checks for the mistakes that would silently switch MFA off (SPEC §4).

Run with ``manage.py check`` (``--deploy`` adds the deployment-only ones).
"""

from __future__ import annotations

from django.apps import apps
from django.conf import settings
from django.core.checks import Error, Tags, Warning
from django.utils.module_loading import import_string

MIDDLEWARE_PATH = "wagtail_company_mfa.middleware.CompanyMFAMiddleware"
OTP_MIDDLEWARE_PATH = "django_otp.middleware.OTPMiddleware"
AUTH_MIDDLEWARE_PATH = "django.contrib.auth.middleware.AuthenticationMiddleware"
MESSAGE_MIDDLEWARE_PATH = "django.contrib.messages.middleware.MessageMiddleware"

#: Middleware that may sit between OTPMiddleware and ours because it never reads ``request.user``. Anything
#: else there would read the user before the gate wraps it, so it would see the real user of a session that
#: still owes its second factor (SEC-28).
USER_BLIND_MIDDLEWARE = frozenset(
    {
        "django.middleware.security.SecurityMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.common.BrokenLinkEmailsMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.middleware.locale.LocaleMiddleware",
        "django.middleware.gzip.GZipMiddleware",
        "django.middleware.http.ConditionalGetMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
        "wagtail.contrib.redirects.middleware.RedirectMiddleware",
    }
)

E001_MIDDLEWARE_MISSING = "wagtail_company_mfa.E001"
E002_OTP_MIDDLEWARE_MISSING = "wagtail_company_mfa.E002"
E003_MIDDLEWARE_ORDER = "wagtail_company_mfa.E003"
E004_OTP_BEFORE_AUTH = "wagtail_company_mfa.E004"
E005_DJANGO_OTP_NOT_INSTALLED = "wagtail_company_mfa.E005"
E006_USE_TZ_OFF = "wagtail_company_mfa.E006"
E007_BAD_SETTING = "wagtail_company_mfa.E007"
E008_COOKIE_SESSIONS = "wagtail_company_mfa.E008"
E009_MIDDLEWARE_BETWEEN = "wagtail_company_mfa.E009"
W001_NO_ENCRYPTION_KEY = "wagtail_company_mfa.W001"


def _middleware_index(middleware: list[str], target: str) -> int | None:
    """Position of ``target`` (or a subclass of it) in ``middleware``, or ``None``."""
    try:
        target_cls = import_string(target)
    except ImportError:
        target_cls = None
    for index, path in enumerate(middleware):
        if path == target:
            return index
        if target_cls is None:
            continue
        try:
            cls = import_string(path)
        except ImportError:
            continue
        if isinstance(cls, type) and issubclass(cls, target_cls):
            return index
    return None


def check_middleware(app_configs=None, **kwargs):
    middleware = list(getattr(settings, "MIDDLEWARE", None) or [])
    ours = _middleware_index(middleware, MIDDLEWARE_PATH)
    otp = _middleware_index(middleware, OTP_MIDDLEWARE_PATH)
    auth = _middleware_index(middleware, AUTH_MIDDLEWARE_PATH)
    errors = []
    if ours is None:
        errors.append(
            Error(
                "CompanyMFAMiddleware is not installed, so MFA is not enforced.",
                hint=f"Add '{MIDDLEWARE_PATH}' to MIDDLEWARE, right after '{OTP_MIDDLEWARE_PATH}'.",
                id=E001_MIDDLEWARE_MISSING,
            )
        )
    if otp is None:
        errors.append(
            Error(
                "django-otp's OTPMiddleware is not installed, so no session can ever be verified.",
                hint=f"Add '{OTP_MIDDLEWARE_PATH}' to MIDDLEWARE after '{AUTH_MIDDLEWARE_PATH}'.",
                id=E002_OTP_MIDDLEWARE_MISSING,
            )
        )
    elif ours is not None and ours < otp:
        errors.append(
            Error(
                "CompanyMFAMiddleware comes before django-otp's OTPMiddleware.",
                hint=f"Move '{MIDDLEWARE_PATH}' below '{OTP_MIDDLEWARE_PATH}' in MIDDLEWARE.",
                id=E003_MIDDLEWARE_ORDER,
            )
        )
    if otp is not None and (auth is None or otp < auth):
        errors.append(
            Error(
                "django-otp's OTPMiddleware must come after Django's AuthenticationMiddleware.",
                hint=f"Place '{OTP_MIDDLEWARE_PATH}' below '{AUTH_MIDDLEWARE_PATH}' in MIDDLEWARE.",
                id=E004_OTP_BEFORE_AUTH,
            )
        )
    if ours is not None and otp is not None and otp < ours:
        errors.extend(_gate_position_errors(middleware, ours, otp))
    return errors


def _gate_position_errors(middleware: list[str], ours: int, otp: int) -> list[Error]:
    """
    The gate must wrap ``request.user`` before anything reads it: directly after OTPMiddleware, or with only
    middleware in between that never reads the user, and before MessageMiddleware (whose storage the gate
    writes to when it ends an expired sign-in).
    """
    errors = []
    messages_index = _middleware_index(middleware, MESSAGE_MIDDLEWARE_PATH)
    if messages_index is not None and messages_index < ours:
        errors.append(
            Error(
                "CompanyMFAMiddleware comes after Django's MessageMiddleware.",
                hint=f"Move '{MIDDLEWARE_PATH}' up, right after '{OTP_MIDDLEWARE_PATH}' and before "
                f"'{MESSAGE_MIDDLEWARE_PATH}'.",
                id=E003_MIDDLEWARE_ORDER,
            )
        )
    between = [
        path
        for path in middleware[otp + 1 : ours]
        # MessageMiddleware and AuthenticationMiddleware misplaced have their own errors (above, and E004).
        if path not in USER_BLIND_MIDDLEWARE and path not in (MESSAGE_MIDDLEWARE_PATH, AUTH_MIDDLEWARE_PATH)
    ]
    if between:
        errors.append(
            Error(
                "Middleware between OTPMiddleware and CompanyMFAMiddleware may read request.user before "
                "the MFA gate wraps it, and see the real user of a half-signed-in session: "
                f"{', '.join(between)}.",
                hint=f"Move '{MIDDLEWARE_PATH}' up, right after '{OTP_MIDDLEWARE_PATH}'. If you are sure "
                "that middleware never reads the user, silence this check in SILENCED_SYSTEM_CHECKS.",
                id=E009_MIDDLEWARE_BETWEEN,
            )
        )
    return errors


check_middleware.tags = (Tags.security,)


def check_installed_apps(app_configs=None, **kwargs):
    if not apps.is_installed("django_otp"):
        return [
            Error(
                "'django_otp' is not in INSTALLED_APPS.",
                hint="wagtail-company-mfa stores its devices through django-otp: add 'django_otp' to "
                "INSTALLED_APPS, then run migrate.",
                id=E005_DJANGO_OTP_NOT_INSTALLED,
            )
        ]
    return []


check_installed_apps.tags = (Tags.security,)


def check_time_zone_support(app_configs=None, **kwargs):
    if not settings.USE_TZ:
        return [
            Error(
                "USE_TZ is False. Enforcement dates start at midnight in each company's time zone, which "
                "needs aware datetimes.",
                hint="Set USE_TZ = True (the default since Django 5.0).",
                id=E006_USE_TZ_OFF,
            )
        ]
    return []


check_time_zone_support.tags = (Tags.security,)


def check_settings(app_configs=None, **kwargs):
    from django.core.exceptions import ImproperlyConfigured

    from .conf import MFASettings, mfa_settings
    from .models import validate_time_zone

    errors = []
    # Read every setting once: each property raises ImproperlyConfigured for a value it cannot use.
    for name, attribute in vars(MFASettings).items():
        if not isinstance(attribute, property):
            continue
        try:
            getattr(mfa_settings, name)
        except (ImproperlyConfigured, TypeError, ValueError) as exc:
            errors.append(
                Error(
                    str(exc) or f"WAGTAIL_COMPANY_MFA_{name} has a value that cannot be used.",
                    hint=f"See WAGTAIL_COMPANY_MFA_{name} in the settings reference of the documentation.",
                    id=E007_BAD_SETTING,
                )
            )
    if errors:
        return errors
    if mfa_settings.THROTTLE_FACTOR < 1:
        errors.append(
            Error(
                "WAGTAIL_COMPANY_MFA_THROTTLE_FACTOR is below 1, which turns off the delay after wrong codes "
                "and lets anyone who knows a password guess the second factor.",
                hint="Leave it unset (1 second, doubling) or set a larger whole number of seconds.",
                id=E007_BAD_SETTING,
            )
        )
    try:
        validate_time_zone(mfa_settings.DEFAULT_TIME_ZONE)
    except Exception:
        errors.append(
            Error(
                f"WAGTAIL_COMPANY_MFA_DEFAULT_TIME_ZONE = {mfa_settings.DEFAULT_TIME_ZONE!r} is not a known "
                "time zone.",
                hint="Use an IANA time zone name such as 'Europe/Amsterdam' or 'UTC'.",
                id=E007_BAD_SETTING,
            )
        )
    return errors


check_settings.tags = (Tags.security,)


def check_sessions(app_configs=None, **kwargs):
    if settings.SESSION_ENGINE == "django.contrib.sessions.backends.signed_cookies":
        return [
            Error(
                "Signed-cookie sessions keep session data in the browser, where a reset or sign-out "
                "elsewhere cannot reach it and half-finished MFA steps could be replayed.",
                hint="Use a server-side SESSION_ENGINE: db (the default), cache or cached_db.",
                id=E008_COOKIE_SESSIONS,
            )
        ]
    return []


check_sessions.tags = (Tags.security,)


def check_encryption_keys(app_configs=None, **kwargs):
    from .conf import mfa_settings

    if mfa_settings.ENCRYPTION_KEYS or settings.DEBUG:
        return []
    return [
        Warning(
            "WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS is not set, so TOTP secrets are encrypted with a key "
            "derived from SECRET_KEY: rotating SECRET_KEY would lock every enrolled user out.",
            hint='Generate a key with `python -c "from wagtail_company_mfa.crypto import generate_key; '
            'print(generate_key())"`, set WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS = [key] from your '
            "secrets store, then run `manage.py mfa_rotate_keys`.",
            id=W001_NO_ENCRYPTION_KEY,
        )
    ]


check_encryption_keys.tags = (Tags.security,)


ALL_CHECKS = (
    check_middleware,
    check_installed_apps,
    check_time_zone_support,
    check_settings,
    check_sessions,
    check_encryption_keys,
)
