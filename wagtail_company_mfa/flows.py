"""
Every security-relevant change, one function each (STYLE §5.4): do the change in one transaction, then write
the audit log entry and send the signal once it is committed. Views, management commands and admin screens
all go through here, so they behave the same.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

import django_otp
from django.contrib.auth import get_user_model
from django.db import transaction
from django.middleware.csrf import rotate_token
from django.utils import timezone
from django.utils.functional import LazyObject, empty
from wagtail.log_actions import log

from . import recovery_codes, session, signals
from .conf import mfa_settings
from .models import AuthenticatorDevice, RecoveryCode, RecoveryCodeDevice

#: Audit-log action names (registered in ``wagtail_hooks.py``).
ACTION_ENROLLED = "wagtail_company_mfa.enrolled"
ACTION_REPLACED = "wagtail_company_mfa.replaced"
ACTION_VERIFIED = "wagtail_company_mfa.verified"
ACTION_THROTTLED = "wagtail_company_mfa.throttled"
ACTION_RECOVERY_USED = "wagtail_company_mfa.recovery_code_used"
ACTION_RECOVERY_REGENERATED = "wagtail_company_mfa.recovery_codes_regenerated"
ACTION_DISABLED = "wagtail_company_mfa.disabled"
ACTION_RESET = "wagtail_company_mfa.reset"


def client_details(request) -> dict:
    """Who did it from where, for the audit log (SEC-45). The address is ``REMOTE_ADDR`` only (SEC-14)."""
    if request is None:
        return {}
    return {
        "ip": request.META.get("REMOTE_ADDR", ""),
        "user_agent": request.META.get("HTTP_USER_AGENT", "")[:255],
    }


def _unwrap(user):
    """
    The model instance behind ``request.user``. OTPMiddleware wraps Django's lazy user in a second lazy object,
    and Wagtail's audit log looks the logger up by the *type* of what it is given, unwrapping only one level.
    """
    while isinstance(user, LazyObject):
        if user._wrapped is empty:
            user._setup()
        user = user._wrapped
    return user


def _audit(user, action: str, *, actor=None, request=None, **data) -> None:
    user = _unwrap(user)
    actor = _unwrap(actor) if actor is not None else user
    log(user, action, user=actor, data={**client_details(request), **data})


def _send(signal, user, request, **kwargs) -> None:
    transaction.on_commit(
        lambda: signal.send(sender=get_user_model(), user=user, request=request, **kwargs)
    )


def authenticator_for(user) -> AuthenticatorDevice | None:
    return AuthenticatorDevice.objects.filter(user_id=user.pk, confirmed=True).first()


def is_enrolled(user) -> bool:
    """Whether ``user`` has a confirmed authenticator app (recovery codes alone do not count)."""
    return AuthenticatorDevice.objects.filter(user_id=user.pk, confirmed=True).exists()


# Verification ------------------------------------------------------------------------------------------------


@dataclass
class Attempt:
    """The outcome of a code entered at login."""

    ok: bool
    device: object = None
    #: When the user may try again, if wrong codes have throttled the device for a while.
    locked_until: datetime.datetime | None = None
    #: True when the code was not even checked because the device was throttled (SEC-12).
    refused: bool = False
    #: For a recovery code: the replacement codes to show once.
    new_codes: list[str] = field(default_factory=list)


def locked_until_for(device) -> datetime.datetime | None:
    allowed, info = device.verify_is_allowed()
    if allowed or not info:
        return None
    return info.get("locked_until")


#: From this many wrong codes in a row, each further failure is audit-logged and signalled (SEC-12, SEC-45).
THROTTLE_LOG_THRESHOLD = 5
#: A wait shorter than this is not worth telling the user about; the retry is quicker than reading it.
NOTABLE_WAIT = datetime.timedelta(seconds=10)


def _attempt(request, device, token) -> Attempt:
    """
    Check ``token`` on ``device`` through django-otp's ``verify_token`` (row locked for the check).
    A wrong and a replayed code look the same to the caller (SECURITY decision 4).
    """
    user = request.user
    locked_until = locked_until_for(device)
    if locked_until is not None:
        # SEC-12: while throttled even the right code is refused, and the attempt is not counted again.
        return Attempt(ok=False, device=device, locked_until=locked_until, refused=True)
    verified = django_otp.verify_token(user, device.persistent_id, token)
    if verified is not None:
        return Attempt(ok=True, device=verified)
    device.refresh_from_db()
    locked_until = locked_until_for(device)
    failures = device.throttling_failure_count
    if failures >= THROTTLE_LOG_THRESHOLD:
        _audit(user, ACTION_THROTTLED, request=request, device=device.model_label(), failure_count=failures)
        _send(
            signals.mfa_throttled,
            user,
            request,
            device=device,
            failure_count=failures,
            locked_until=locked_until,
            first=failures == THROTTLE_LOG_THRESHOLD,
        )
    if locked_until is not None and locked_until - timezone.now() < NOTABLE_WAIT:
        locked_until = None
    return Attempt(ok=False, device=device, locked_until=locked_until)


def complete_verification(request, device) -> None:
    """
    Mark the session as having passed the second factor with ``device``.

    ``django_otp.login`` only writes the device id into the existing session, so the session key and the
    CSRF token are rotated here: the privilege of the session changes (SEC-30).
    """
    django_otp.login(request, device)
    old_key = request.session.session_key
    request.session.cycle_key()
    session.retrack(request, old_key)
    rotate_token(request)
    session.mark_mfa(request.session)


def verify_authenticator(request, token) -> Attempt:
    device = authenticator_for(request.user)
    if device is None:
        return Attempt(ok=False)
    attempt = _attempt(request, device, token)
    if attempt.ok:
        complete_verification(request, attempt.device)
        _audit(request.user, ACTION_VERIFIED, request=request, method="authenticator")
        _send(signals.mfa_verified, request.user, request, device=attempt.device)
    return attempt


def use_recovery_code(request, token) -> Attempt:
    """
    Spend a recovery code at login and issue its replacement in the same transaction (SEC-18, SEC-19): the
    number of valid codes never changes. The new code is kept (encrypted) in the session until the user
    confirms they saved it.
    """
    user = request.user
    device = RecoveryCodeDevice.objects.filter(user_id=user.pk).first()
    if device is None:
        return Attempt(ok=False)
    with transaction.atomic():
        attempt = _attempt(request, device, token)
        if attempt.ok:
            attempt.new_codes = _add_codes(attempt.device, 1)
    if attempt.ok:
        complete_verification(request, attempt.device)
        session.set_unsaved_codes(request.session, user, attempt.new_codes, reason="used")
        remaining = attempt.device.unused_count
        _audit(user, ACTION_RECOVERY_USED, request=request, remaining=remaining)
        _send(signals.recovery_code_used, user, request, remaining=remaining)
    return attempt


# Recovery codes ----------------------------------------------------------------------------------------------


def _add_codes(device: RecoveryCodeDevice, count: int) -> list[str]:
    codes = [recovery_codes.generate() for _ in range(count)]
    RecoveryCode.objects.bulk_create(
        RecoveryCode(device=device, code_hash=recovery_codes.make_hash(code)) for code in codes
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
    return _add_codes(device, mfa_settings.RECOVERY_CODES_COUNT)


# Enrollment --------------------------------------------------------------------------------------------------


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
    with transaction.atomic():
        replaced = AuthenticatorDevice.objects.filter(user_id=user.pk).delete()[0] > 0
        device = AuthenticatorDevice(
            user=user,
            name="Authenticator app",
            confirmed=True,
            last_t=step,  # the confirmation code is spent (SEC-05)
            enrolled_ip=client_details(request).get("ip") or None,
            enrolled_user_agent=client_details(request).get("user_agent", ""),
        )
        device.set_key(key)
        device.save()
        codes = issue_recovery_codes(user)
        _audit(user, ACTION_REPLACED if replaced else ACTION_ENROLLED, request=request)
        _send(signals.mfa_enrolled, user, request, device=device, replaced=replaced)
    session.clear_pending_key(request.session)
    complete_verification(request, device)
    session.set_unsaved_codes(request.session, user, codes, reason="enrolled")
    return device
