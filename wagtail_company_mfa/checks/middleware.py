"""
The middleware stack: the gate is installed, after OTPMiddleware, with nothing that reads the user in
between (SEC-28).
"""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error
from django.utils.module_loading import import_string

from .ids import (
    E001_MIDDLEWARE_MISSING,
    E002_OTP_MIDDLEWARE_MISSING,
    E003_MIDDLEWARE_ORDER,
    E004_OTP_BEFORE_AUTH,
    E013_MIDDLEWARE_BETWEEN,
)

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
                id=E013_MIDDLEWARE_BETWEEN,
            )
        )
    return errors
