"""
The authenticator app's life cycle: enrolling (or replacing) it, and signing in with a code from it. Each is
one function that makes the change in one transaction, then audits it and sends the signal once committed.
"""

from __future__ import annotations

from django.db import transaction

from .. import factors, signals
from ..audit import audit, client_details, send
from ..base import registry, verification
from ..models import AuthenticatorDevice
from ..recovery_codes import unsaved
from ..recovery_codes.flows import issue_recovery_codes
from . import pending_key
from .actions import ACTION_ENROLLED, ACTION_REPLACED


def authenticator_for(user) -> AuthenticatorDevice | None:
    return AuthenticatorDevice.objects.filter(user_id=user.pk, confirmed=True).first()


def verify_authenticator(request, token) -> verification.Attempt:
    # The device is read once, under the row lock of the check (SEC-10, SEC-12).
    attempt = verification.attempt(request, AuthenticatorDevice.objects.filter(confirmed=True), token)
    if attempt.ok:
        verification.complete_verification(request, attempt.device)
        audit(request.user, verification.ACTION_VERIFIED, request=request, method="authenticator")
        send(signals.mfa_verified, request.user, request, device=attempt.device)
    return attempt


def enroll(request, key: bytes, step: int) -> AuthenticatorDevice:
    """
    Save the authenticator the user just proved they have (a code from ``key`` at time step ``step``),
    replacing any earlier one, and issue fresh recovery codes, all in one transaction: nothing half-made is
    saved. The session is then verified with the new device and the codes wait in the session to be
    acknowledged.
    """
    user = request.user
    if len(key) < 16:  # SEC-03: never bind a secret shorter than 128 bits
        raise ValueError("TOTP secrets must be at least 128 bits.")
    client = client_details(request)
    with transaction.atomic():
        had_another = factors.is_enrolled(user)
        replaced = AuthenticatorDevice.objects.filter(user_id=user.pk).delete()[0] > 0
        device = AuthenticatorDevice(
            user=user,
            name="Authenticator app",
            confirmed=True,
            last_t=step,  # the confirmation code is spent (SEC-05)
            enrolled_ip=client.get("ip") or None,
            enrolled_user_agent=client.get("user_agent", ""),
        )
        device.set_key(key)
        device.save()
        codes = issue_recovery_codes(user)
        audit(user, ACTION_REPLACED if replaced else ACTION_ENROLLED, request=request)
        added = had_another and not replaced
        send(signals.mfa_enrolled, user, request, device=device, replaced=replaced, added=added)
    pending_key.clear_pending_key(request.session)
    verification.complete_verification(request, device)
    unsaved.set_unsaved_codes(request.session, user, codes, reason="enrolled")
    # SEC-36: a new (or replaced) authenticator ends every other session of the user.
    registry.end_sessions(user, keep=request.session.session_key)
    return device


def security_context(user, device) -> dict:
    """The Security tab's authenticator details: the user's app (``device`` when that is it: no query)."""
    if isinstance(device, AuthenticatorDevice) and device.confirmed:
        return {"authenticator": device}
    return {"authenticator": authenticator_for(user)}
