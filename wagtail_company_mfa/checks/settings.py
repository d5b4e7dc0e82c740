"""The package's own settings, the apps and time zone support it needs, and the encryption keys."""

from __future__ import annotations

from django.apps import apps
from django.conf import settings
from django.core.checks import Error, Warning
from django.core.exceptions import ImproperlyConfigured

from ..conf import MFASettings, mfa_settings
from .ids import (
    E005_DJANGO_OTP_NOT_INSTALLED,
    E006_USE_TZ_OFF,
    E007_BAD_SETTING,
    E012_NO_ENCRYPTION_KEY_DEPLOY,
    W001_NO_ENCRYPTION_KEY,
)


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


def check_settings(app_configs=None, **kwargs):
    # Imported here: this module loads before the app registry is ready (apps.py imports it in ready(),
    # but a site may import it earlier), and models cannot.
    from ..models import validate_time_zone

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


def _encryption_keys_missing() -> bool:
    """No encryption keys outside ``DEBUG`` (an unusable list is check_settings' to report, as E007)."""
    try:
        keys = mfa_settings.ENCRYPTION_KEYS
    except ImproperlyConfigured:
        return False
    return not keys and not settings.DEBUG


def check_encryption_keys(app_configs=None, **kwargs):
    if not _encryption_keys_missing():
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


def check_encryption_keys_deploy(app_configs=None, **kwargs):
    """
    ``check --deploy``: no keys outside ``DEBUG`` is an error there, not a warning. The documented settings
    line leaves the list empty where the environment variable is missing, so that ``manage.py`` still runs in
    a shell without it; on a production server the same empty list would quietly encrypt new secrets with
    the ``SECRET_KEY`` fallback, which the other servers cannot read (SEC-43).
    """
    if not _encryption_keys_missing():
        return []
    return [
        Error(
            "WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS is empty on a deployment (DEBUG is off): TOTP secrets would "
            "be encrypted with a key derived from SECRET_KEY, which app servers with the keys set cannot "
            "read, and rotating SECRET_KEY would lock every enrolled user out.",
            hint="Set the environment variable the setting reads (the same key list on every app server) "
            "before deploying; see 'Encryption keys' in the installation guide.",
            id=E012_NO_ENCRYPTION_KEY_DEPLOY,
        )
    ]
