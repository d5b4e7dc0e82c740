"""
Recovery codes' life cycle: issuing a full set (at enrollment, or when the user asks for new ones) and
spending one at sign-in, which issues its replacement in the same transaction (SEC-18, SEC-19, SEC-21).
"""

from __future__ import annotations

import logging
from typing import cast

from django.db import DatabaseError, transaction

from .. import signals
from ..audit import audit, send
from ..base import verification
from ..conf import mfa_settings
from ..models import RecoveryCode, RecoveryCodeDevice
from . import codes as recovery_codes
from . import unsaved
from .actions import ACTION_RECOVERY_USED

logger = logging.getLogger(__name__)


def add_codes(device: RecoveryCodeDevice, count: int) -> list[str]:
    codes = [recovery_codes.generate() for _ in range(count)]
    RecoveryCode.objects.bulk_create(
        RecoveryCode(device=device, lookup=recovery_codes.lookup(code)) for code in codes
    )
    return codes


@transaction.atomic
def issue_recovery_codes(user) -> list[str]:
    """
    Replace every recovery code of ``user`` with ``RECOVERY_CODES_COUNT`` new ones and return them in
    canonical form. This is the only time they exist in clear text (SEC-17, SEC-21).
    """
    device, _created = RecoveryCodeDevice.objects.select_for_update().get_or_create(
        user=user, defaults={"name": "Recovery codes"}
    )
    device.codes.all().delete()
    device.throttle_reset(commit=False)
    device.save()
    return add_codes(device, mfa_settings.RECOVERY_CODES_COUNT)


def use_recovery_code(request, token) -> verification.Attempt:
    """
    Spend a recovery code at login and issue its replacement in the same transaction (SEC-18, SEC-19): the
    number of valid codes never changes. The new code is kept (encrypted) in the session until the user
    confirms they saved it.
    """
    user = request.user
    try:
        with transaction.atomic():
            attempt = verification.attempt(request, RecoveryCodeDevice.objects.all(), token)
            if attempt.ok:
                # An accepted code names the device django-otp checked it on: this one, re-read.
                attempt.new_codes = add_codes(cast(RecoveryCodeDevice, attempt.device), 1)
    except DatabaseError as exc:
        # As in verification.attempt: rolled back as a whole (the code stays unspent), and only "try again"
        # is said.
        logger.warning("A database error stopped a recovery code for user #%s: %s", user.pk, exc)
        return verification.Attempt(ok=False, refused=True, busy=True)
    if attempt.ok:
        spent = cast(RecoveryCodeDevice, attempt.device)
        verification.complete_verification(request, spent)
        unsaved.set_unsaved_codes(request.session, user, attempt.new_codes, reason="used")
        remaining = spent.unused_count
        audit(user, ACTION_RECOVERY_USED, request=request, remaining=remaining)
        send(signals.recovery_code_used, user, request, remaining=remaining)
    return attempt


def unused_count(user) -> int:
    """How many of ``user``'s recovery codes are still unused (one query)."""
    return RecoveryCode.objects.filter(device__user_id=user.pk, used_at__isnull=True).count()


def security_context(user, device) -> dict:
    """The Security tab's recovery-code details: how many are left, for an enrolled user."""
    return {"codes_left": unused_count(user) if device is not None else None}
