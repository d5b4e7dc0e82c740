"""
A passkey's life cycle: adding one (the first of a user's factors also issues the recovery code), signing in
with one, renaming and removing one. Each change is made in one transaction, then audited and signalled once
committed, as for the other factors (docs/architecture.md).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp_webauthn import exceptions as webauthn_errors
from django_otp_webauthn.utils import get_credential_model
from webauthn.helpers.exceptions import WebAuthnException

from .. import factors, signals
from ..audit import audit, send
from ..base import gate, methods, reauth, registry, verification
from ..models import MFAEnrollment, PasskeyThrottle
from ..recovery_codes import unsaved
from ..recovery_codes.flows import issue_recovery_codes
from .actions import (
    ACTION_PASSKEY_ADDED,
    ACTION_PASSKEY_FAILED,
    ACTION_PASSKEY_REMOVED,
    ACTION_PASSKEY_RENAMED,
)
from .helper import PasskeyHelper, challenge_digest

logger = logging.getLogger(__name__)

#: The most passkeys one user may register (each is a row the sign-in options list).
MAX_PASSKEYS = 20
#: The longest name a passkey may have (django-otp's ``Device.name``).
MAX_NAME_LENGTH = 64

#: What can go wrong with what a browser sent: a malformed or tampered answer, the wrong origin or RP id, an
#: unknown credential, another user's, a replayed or regressed counter. Never a server error.
CEREMONY_ERRORS = (webauthn_errors.OTPWebAuthnApiError, WebAuthnException, ValueError, TypeError, KeyError)


def credential_model():
    return get_credential_model()


def passkeys_of(user) -> list:
    """The user's passkeys, oldest first."""
    passkeys = credential_model().objects.filter(user_id=user.pk, confirmed=True)
    return list(passkeys.order_by("created_at", "pk"))


def default_name(user) -> str:
    count = credential_model().objects.filter(user_id=user.pk).count()
    return _("Passkey %(number)s") % {"number": count + 1} if count else _("Passkey")


@dataclass
class Added:
    device: Any
    #: True when this passkey made the user enrolled: the recovery code was issued with it.
    first: bool


def add_passkey(request, helper: PasskeyHelper, state: dict, data: dict) -> Added:
    """
    Verify a new credential (``data``, the browser's answer to the options in ``state``) and save it, with the
    recovery code when it is the user's first factor, in one transaction: nothing half-made is saved. The
    session is verified with it if it was not already, and the user's other sessions end (SEC-36).
    """
    user = request.user
    with transaction.atomic():
        first = not factors.is_enrolled(user)
        name = default_name(user)[:MAX_NAME_LENGTH]
        device = helper.register_complete(user=user, state=state, data=data)
        device.name = name
        device.confirmed = True
        device.save(update_fields=["name", "confirmed"])
        MFAEnrollment.objects.get_or_create(
            user_id=user.pk, defaults={"first_enrolled_at": device.created_at}
        )
        codes = issue_recovery_codes(user) if first else []
        audit(user, ACTION_PASSKEY_ADDED, request=request, passkey_id=device.pk, first=first)
        send(signals.mfa_enrolled, user, request, device=device, replaced=False, added=not first)
    gate.forget_standing(request)
    if not user.is_verified():
        verification.complete_verification(request, device)
    else:
        reauth.mark_mfa(request.session)
    if codes:
        unsaved.set_unsaved_codes(request.session, user, codes, reason="enrolled")
    methods.clear_due(request.session)
    registry.end_sessions(user, keep=request.session.session_key)
    return Added(device=device, first=first)


def verify_passkey(request, helper: PasskeyHelper, state: dict, data: dict) -> verification.Attempt:
    """
    Check a passkey assertion at sign-in (or to confirm it is still the user, for a verified session). The
    failure is counted before anything is checked (SEC-10), on the user's throttle row, locked for the
    transaction, which also refuses an answer to a challenge already answered (SEC-05, SEC-12).
    """
    user = request.user
    PasskeyThrottle.objects.get_or_create(user_id=user.pk)
    digest = challenge_digest(str(state.get("challenge", "")))
    with transaction.atomic():
        throttle = PasskeyThrottle.objects.select_for_update().get(user_id=user.pk)
        locked_until = verification.locked_until_for(throttle)
        if locked_until is not None:
            return verification.Attempt(ok=False, locked_until=locked_until, refused=True)
        throttle.throttle_increment()
        device = None
        problem = "replayed" if throttle.last_challenge == digest else ""
        if not problem:
            try:
                with transaction.atomic():
                    device = helper.authenticate_complete(user=user, state=state, data=data)
            except CEREMONY_ERRORS as exc:
                problem = getattr(exc, "code", "") or type(exc).__name__
                logger.info("A passkey assertion of user #%s was refused: %s", user.pk, exc)
        if device is not None:
            PasskeyThrottle.objects.filter(pk=throttle.pk).update(
                throttling_failure_count=0, throttling_failure_timestamp=None, last_challenge=digest
            )
    if device is None:
        return _after_failure(request, problem)
    if user.is_verified():
        # Confirming it is still them (before a change to their MFA): the session was verified already.
        reauth.mark_mfa(request.session)
    else:
        verification.complete_verification(request, device)
        audit(user, verification.ACTION_VERIFIED, request=request, method="passkey")
        send(signals.mfa_verified, user, request, device=device)
    return verification.Attempt(ok=True, device=device)


def _after_failure(request, problem: str) -> verification.Attempt:
    user = request.user
    throttle = PasskeyThrottle.objects.get(user_id=user.pk)
    audit(user, ACTION_PASSKEY_FAILED, request=request, problem=problem[:64])
    if problem == "replayed":
        audit(user, verification.ACTION_REPLAYED, request=request, method="passkey")
    failures = throttle.throttling_failure_count
    locked_until = verification.locked_until_for(throttle)
    if failures >= verification.THROTTLE_LOG_THRESHOLD:
        audit(user, verification.ACTION_THROTTLED, request=request, device="passkeys", failure_count=failures)
        send(
            signals.mfa_throttled,
            user,
            request,
            device=None,
            failure_count=failures,
            locked_until=locked_until,
            first=failures == verification.THROTTLE_LOG_THRESHOLD,
        )
    if locked_until is not None and locked_until - timezone.now() < verification.NOTABLE_WAIT:
        locked_until = None
    return verification.Attempt(ok=False, locked_until=locked_until)


def rename(request, device, name: str) -> None:
    with transaction.atomic():
        old = device.name
        device.name = name
        device.save(update_fields=["name"])
        audit(request.user, ACTION_PASSKEY_RENAMED, request=request, passkey_id=device.pk, old=old, new=name)


class RemovalRefused(Exception):
    """Removing the passkey would leave the user without a second factor, or without one their companies
    accept while they require MFA."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


#: Why a removal was refused.
LAST_FACTOR = "last_factor"
NOT_ALLOWED = "not_allowed"


def remove(request, device) -> None:
    """
    Remove one of the user's passkeys, unless that would leave them with no second factor (turning MFA off
    is its own page), or, while their companies require MFA, with none their companies accept. Decided on the
    user's passkeys locked for the transaction, so two removals at once cannot both pass.
    """
    user = request.user
    with transaction.atomic():
        model = credential_model()
        mine = list(model.objects.select_for_update().filter(user_id=user.pk, confirmed=True))
        if device.pk not in {other.pk for other in mine}:
            raise model.DoesNotExist
        keys = factors.factors_of(user) - ({"passkeys"} if len(mine) == 1 else set())
        if not factors.enrolls(keys):
            raise RemovalRefused(LAST_FACTOR)
        requirement = gate.standing(request, user).requirement
        if requirement.is_required and not methods.meets(requirement, keys):
            raise RemovalRefused(NOT_ALLOWED)
        passkey_id, name = device.pk, device.name
        device.delete()
        audit(user, ACTION_PASSKEY_REMOVED, request=request, passkey_id=passkey_id, name=name)
    gate.forget_standing(request)
    # SEC-36: a change to the user's factors ends their other sessions.
    registry.end_sessions(user, keep=request.session.session_key)


def security_context(user, device) -> dict:
    """The Security tab's list of passkeys (one query)."""
    return {"passkeys": passkeys_of(user)}
