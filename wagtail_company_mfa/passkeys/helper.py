"""
The WebAuthn ceremonies, on django-otp-webauthn's helper (which wraps py_webauthn): the relying party, the
origins, what is asked of the authenticator, and the checks of an assertion under a row lock
(docs/passkeys.md).

The package uses passkeys as a *second* factor only: there is no passwordless sign-in, so the options never
go to a visitor who has not passed the password step.
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django_otp_webauthn import exceptions
from django_otp_webauthn.helpers import WebAuthnHelper
from django_otp_webauthn.settings import app_settings
from django_otp_webauthn.utils import get_credential_model
from webauthn import base64url_to_bytes, verify_authentication_response
from webauthn.helpers import parse_authentication_credential_json
from webauthn.helpers.structs import ResidentKeyRequirement, UserVerificationRequirement

from ..conf import mfa_settings


def debug_origin(request) -> str | None:
    """
    With ``DEBUG`` on, the request's own origin when it is ``localhost`` (any port): browsers allow WebAuthn
    there over plain http, so the sandbox works wherever it is served. ``None`` otherwise.
    """
    if not settings.DEBUG:
        return None
    host = request.get_host()
    hostname = urlsplit(f"//{host}").hostname or ""
    if hostname != "localhost" and not hostname.endswith(".localhost"):
        return None
    return f"{request.scheme}://{host}"


def challenge_digest(challenge: str) -> str:
    return hashlib.sha256(challenge.encode()).hexdigest()


class PasskeyHelper(WebAuthnHelper):
    """django-otp-webauthn's helper with the package's rules."""

    def get_relying_party_domain(self) -> str:
        configured = super().get_relying_party_domain()
        if configured:
            return configured
        origin = debug_origin(self.request)
        return urlsplit(origin).hostname or "" if origin else ""

    def get_relying_party_name(self) -> str:
        return super().get_relying_party_name() or mfa_settings.ISSUER

    def get_allowed_origins(self) -> list[str]:
        origins = list(super().get_allowed_origins() or [])
        origin = debug_origin(self.request)
        if origin and origin not in origins:
            origins.append(origin)
        return origins

    def get_discoverable_credentials_preference(self) -> ResidentKeyRequirement:
        # A second factor after the password: a security key that cannot store the credential works as well
        # as a passkey that can. Resident keys are allowed, not required.
        return ResidentKeyRequirement.PREFERRED

    def get_generate_authentication_options_kwargs(self, *, user=None, require_user_verification: bool):
        kwargs = super().get_generate_authentication_options_kwargs(
            user=user, require_user_verification=require_user_verification
        )
        if not require_user_verification:
            # Asked for where the authenticator can do it (a PIN, a fingerprint), not required: the password
            # has been checked already.
            kwargs["user_verification"] = UserVerificationRequirement.PREFERRED
        return kwargs

    def authenticate_complete(self, user, state: dict, data: dict):
        """
        Check an assertion of ``user`` on one of their passkeys, on the credential's row locked for the
        transaction, so that two requests presenting the same assertion (or assertions with the same
        signature counter) cannot both pass (SEC-05). Raises django-otp-webauthn's API errors, or
        py_webauthn's on a signature, origin, RP id, challenge or counter mismatch.
        """
        WebAuthnCredential = get_credential_model()
        credential = parse_authentication_credential_json(data)
        digest = WebAuthnCredential.get_credential_id_sha256(credential.raw_id)
        with transaction.atomic():
            device = (
                WebAuthnCredential.objects.select_for_update()
                .filter(credential_id_sha256=digest, confirmed=True)
                .first()
            )
            if device is None:
                raise exceptions.CredentialNotFound()
            if user is None or device.user_id != user.pk:
                raise exceptions.CredentialUserMismatch()
            response = verify_authentication_response(
                credential=credential,
                credential_current_sign_count=device.sign_count,
                credential_public_key=device.public_key,
                expected_challenge=base64url_to_bytes(state["challenge"]),
                expected_rp_id=self.get_relying_party_domain(),
                expected_origin=self.get_allowed_origins(),
                require_user_verification=state["require_user_verification"],
            )
            device.sign_count = response.new_sign_count
            device.backup_state = response.credential_backed_up
            device.set_last_used_timestamp(commit=False)
            device.save(update_fields=["sign_count", "last_used_at", "backup_state"])
        return device


def helper_for(request) -> PasskeyHelper:
    return PasskeyHelper(request=request)


def timeout_seconds() -> int:
    return int(app_settings.OTP_WEBAUTHN_TIMEOUT_SECONDS)
