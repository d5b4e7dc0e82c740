"""
Passkeys' settings (docs/passkeys.md): the relying party id must be a host the site serves, every allowed
origin must be on it, and django-otp-webauthn's passwordless sign-in must stay off.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core import checks
from django.http.request import validate_host

from .ids import (
    E014_PASSKEY_RP_ID_NOT_SERVED,
    E015_PASSKEY_ORIGIN_OFF_RP_ID,
    E016_PASSWORDLESS_BACKEND,
    W005_PASSKEY_ORIGIN_NOT_SERVED,
)

PASSWORDLESS_BACKEND = "django_otp_webauthn.backends.WebAuthnBackend"


def _allowed_hosts() -> list[str]:
    hosts = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not hosts:
        # What Django itself allows with DEBUG on and ALLOWED_HOSTS empty.
        hosts = [".localhost", "127.0.0.1", "[::1]"]
    return hosts


def _on_rp_id(hostname: str, rp_id: str) -> bool:
    return hostname == rp_id or hostname.endswith("." + rp_id)


def check_passkey_settings(app_configs=None, **kwargs):
    # Imported here: the checks module must import without the app registry (and without DRF).
    from .. import factors

    if not factors.passkeys_installed():
        return []
    errors: list[checks.CheckMessage] = []
    if PASSWORDLESS_BACKEND in getattr(settings, "AUTHENTICATION_BACKENDS", ()):
        errors.append(
            checks.Error(
                f"AUTHENTICATION_BACKENDS includes {PASSWORDLESS_BACKEND}, django-otp-webauthn's "
                "passwordless sign-in, which signs people in without their password.",
                hint="Remove it: wagtail-company-mfa uses passkeys as a second factor after the password.",
                id=E016_PASSWORDLESS_BACKEND,
            )
        )
    rp_id = getattr(settings, "OTP_WEBAUTHN_RP_ID", "")
    if not isinstance(rp_id, str) or not rp_id or getattr(settings, "OTP_WEBAUTHN_RP_ID_CALLABLE", None):
        return errors  # django-otp-webauthn's own checks say what is missing
    hosts = _allowed_hosts()
    if not validate_host(rp_id, hosts) and not any(
        _on_rp_id(host.lstrip("."), rp_id) for host in hosts if host != "*"
    ):
        errors.append(
            checks.Error(
                f"OTP_WEBAUTHN_RP_ID is {rp_id!r}, but ALLOWED_HOSTS serves no host on it: no passkey could "
                "be added or used.",
                hint="Set OTP_WEBAUTHN_RP_ID to the host name people use for the Wagtail admin (or its "
                "parent domain), and make sure ALLOWED_HOSTS includes that host.",
                id=E014_PASSKEY_RP_ID_NOT_SERVED,
            )
        )
    trusted = set(getattr(settings, "CSRF_TRUSTED_ORIGINS", ()))
    for origin in getattr(settings, "OTP_WEBAUTHN_ALLOWED_ORIGINS", []) or []:
        hostname = urlsplit(str(origin)).hostname or ""
        if not _on_rp_id(hostname, rp_id):
            errors.append(
                checks.Error(
                    f"OTP_WEBAUTHN_ALLOWED_ORIGINS includes {origin!r}, which is not on the relying party id "
                    f"{rp_id!r}: browsers refuse passkeys for it.",
                    hint="Each allowed origin must be the RP id's host or a subdomain of it. A passkey works "
                    "on one site only: see docs/passkeys.md, “One host name”.",
                    id=E015_PASSKEY_ORIGIN_OFF_RP_ID,
                )
            )
            continue
        netloc = urlsplit(str(origin)).netloc
        if not validate_host(netloc, hosts) and not validate_host(hostname, hosts) and origin not in trusted:
            errors.append(
                checks.Warning(
                    f"OTP_WEBAUTHN_ALLOWED_ORIGINS includes {origin!r}, but neither ALLOWED_HOSTS nor "
                    "CSRF_TRUSTED_ORIGINS lets requests from it through.",
                    hint="Add its host to ALLOWED_HOSTS (or, behind a proxy that rewrites the host, the "
                    "origin to CSRF_TRUSTED_ORIGINS), or remove it.",
                    id=W005_PASSKEY_ORIGIN_NOT_SERVED,
                )
            )
    return errors
