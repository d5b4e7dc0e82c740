"""
Checking a code on a device, for every factor: django-otp's ``verify_token`` with the row locked, the
growing delay after wrong codes (SEC-10, SEC-11, SEC-12), what a failure tells the user (nothing about the
comparison unless it was counted: SEC-06), and marking the session verified (SEC-30).
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import django_otp
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, transaction
from django.middleware.csrf import rotate_token
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_otp import DEVICE_ID_SESSION_KEY

from .. import crypto, factors, signals
from ..access_codes import setup_again
from ..audit import AuditAction, audit, send
from . import gate, methods, reauth, registry

if TYPE_CHECKING:
    from django_otp.models import Device

logger = logging.getLogger(__name__)

#: Audit-log action names (registered in ``wagtail_hooks.py``).
ACTION_VERIFIED = "wagtail_company_mfa.verified"
ACTION_THROTTLED = "wagtail_company_mfa.throttled"
ACTION_REPLAYED = "wagtail_company_mfa.replayed"
#: A stored authenticator secret that no configured key decrypts (different key lists on the app servers).
ACTION_SECRET_UNREADABLE = "wagtail_company_mfa.secret_unreadable"  # noqa: S105 (an action name)

ACTIONS = (
    AuditAction(ACTION_VERIFIED, _("Verify MFA"), _("Signed in with a second factor")),
    AuditAction(ACTION_THROTTLED, _("MFA throttled"), _("Wrong two-factor codes: further attempts delayed")),
    AuditAction(
        ACTION_REPLAYED, _("MFA code replayed"), _("A two-factor code was used a second time and refused")
    ),
    AuditAction(
        ACTION_SECRET_UNREADABLE,
        _("MFA secret unreadable"),
        _("The authenticator app could not be checked: no configured key decrypts its secret"),
    ),
)


@dataclass
class Attempt:
    """The outcome of a code entered at login."""

    ok: bool
    device: Device | None = None
    #: When the user may try again, if wrong codes have throttled the device for a while.
    locked_until: datetime.datetime | None = None
    #: True when the code was not even checked because the device was throttled (SEC-12).
    refused: bool = False
    #: For a recovery code: the replacement codes to show once.
    new_codes: list[str] = field(default_factory=list)
    #: True when a database error stopped the attempt: the user is told to try again in a moment, and the
    #: outcome of any comparison was never revealed (SEC-06, SEC-10).
    busy: bool = False


class AuthenticatorUnavailable(Exception):
    """
    The user's authenticator secret cannot be decrypted on this server: no code was checked or counted, the
    session stays unverified (SEC-46). Logged and audited by :func:`attempt`; views show a page saying so.
    """

    def __init__(self, device, cause: str):
        self.device = device
        self.cause = cause
        super().__init__(f"Authenticator #{device.pk} cannot be checked: {cause}")


def _secret_unreadable(request, device, exc: Exception) -> AuthenticatorUnavailable:
    if isinstance(exc, crypto.InvalidToken):
        cause = "no key in WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS decrypts its secret (InvalidToken)"
        code = "invalid_token"
    else:
        # The configuration message names the setting and the entry's position, never a key (SEC-44).
        cause = f"the encryption keys are not usable: {exc}"
        code = "improperly_configured"
    # No traceback: the cause is the configuration, not the code, and the operator needs one clear line.
    logger.error(
        "Authenticator #%s of user #%s cannot be checked: %s. Every app server must have the same "
        "WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS.",
        device.pk,
        device.user_id,
        cause,
    )
    try:
        audit(request.user, ACTION_SECRET_UNREADABLE, request=request, device_id=device.pk, cause=code)
    except DatabaseError:
        logger.error("The audit entry for authenticator #%s could not be written.", device.pk)
    return AuthenticatorUnavailable(device, cause)


def locked_until_for(device) -> datetime.datetime | None:
    allowed, info = device.verify_is_allowed()
    if allowed or not info:
        return None
    return info.get("locked_until")


#: From this many wrong codes in a row, each further failure is audit-logged and signalled (SEC-12, SEC-45).
THROTTLE_LOG_THRESHOLD = 5
#: A wait shorter than this is not worth telling the user about; the retry is quicker than reading it.
NOTABLE_WAIT = datetime.timedelta(seconds=10)


def attempt(request, devices, token) -> Attempt:
    """
    Check ``token`` on the user's device from ``devices`` (a queryset of one device model), as django-otp's
    ``verify_token`` does: the row is read once, locked (``select_for_update``) in one transaction, and the
    throttle (SEC-12), the count-first failure (SEC-10) and the comparison (SEC-05, SEC-06) all happen on
    that one locked row. A wrong and a replayed code look the same to the caller.
    """
    user = request.user
    device = None
    try:
        with transaction.atomic():
            device = (
                devices.select_for_update()
                .filter(user_id=user.pk)
                # Read with the device, so a sign-in learns it at no extra query (docs/admin-guide.md).
                .annotate(**{setup_again.REENROLL_SINCE: setup_again.reenrollment_since()})
                .first()
            )
            if device is None:
                return Attempt(ok=False)
            locked_until = locked_until_for(device)
            if locked_until is not None:
                # SEC-12: while throttled even the right code is refused, and the attempt is not counted
                # again. Decided under the lock, so a failure counted by a concurrent attempt applies too.
                return Attempt(ok=False, device=device, locked_until=locked_until, refused=True)
            verified = device.verify_token(token)
    except (crypto.InvalidToken, ImproperlyConfigured) as exc:
        # Raised before any comparison, and the transaction rolled back: nothing checked, nothing counted.
        raise _secret_unreadable(request, device, exc) from None
    except DatabaseError as exc:
        # SEC-06, SEC-10: the device counts a failure before it compares the code, in the same transaction.
        # Whatever failed ("database is locked" on SQLite, a lost connection), that transaction is rolled
        # back and the user is only told to try again, the same whether the code was right or wrong: no
        # comparison's outcome is ever revealed without being counted.
        logger.warning(
            "A database error stopped a code check for user #%s; the attempt was refused: %s", user.pk, exc
        )
        return Attempt(ok=False, device=device, refused=True, busy=True)
    if verified:
        return Attempt(ok=True, device=device)
    try:
        # In a savepoint of its own, so that a failure here cannot take the counted failure with it when a
        # caller's transaction surrounds this one (recovery codes).
        with transaction.atomic():
            return _after_failure(request, device, token)
    except DatabaseError as exc:
        # The failure is counted already; only the bookkeeping below (audit, signal) is missing.
        logger.warning("Recording a wrong code of user #%s failed: %s", user.pk, exc)
        return Attempt(ok=False, device=device)


def _after_failure(request, device, token) -> Attempt:
    """A wrong (or replayed) code, counted by the device: audit it, and say whether the user must wait."""
    user = request.user
    device.refresh_from_db()
    # Only a factor whose devices can tell a replayed code from a wrong one has ``is_replay``.
    is_replay = getattr(device, "is_replay", None)
    if is_replay is not None and is_replay(token):
        # A code that is valid right now but whose time step was already spent: a replay (SEC-05, SEC-45).
        # The user is told the same as for a wrong code; the audit log says what it was.
        audit(user, ACTION_REPLAYED, request=request)
    locked_until = locked_until_for(device)
    failures = device.throttling_failure_count
    if failures >= THROTTLE_LOG_THRESHOLD:
        audit(user, ACTION_THROTTLED, request=request, device=device.model_label(), failure_count=failures)
        send(
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


def complete_verification(request, device, *, fresh: bool = True) -> None:
    """
    Mark the session as having passed the second factor with ``device``.

    ``django_otp.login`` only writes the device id into the existing session, so the session key and the
    CSRF token are rotated here: the privilege of the session changes (SEC-30). ``fresh=False`` for a
    trusted browser: no factor was given now, so the "sudo" window of sensitive changes stays closed
    (SEC-25).
    """
    # The session has passed no second factor yet (read from the session: on a trusted browser's way in,
    # the user is not django-otp's yet and has no ``is_verified``).
    signing_in = DEVICE_ID_SESSION_KEY not in request.session
    django_otp.login(request, device)
    if signing_in:
        # An administrator may have required this person to set MFA up again (docs/admin-guide.md).
        setup_again.note_at_sign_in(request, device)
    # Whether the user's companies accept the factors they have (the answer this sign-in already asked).
    # The device's own factor counts even when this request added it after asking.
    known = gate.standing(request, request.user)
    used = factors.factor_of(device)
    keys = known.factors | {used.key} if used is not None else known.factors
    methods.note_after_verification(request.session, known.requirement, keys)
    gate.forget_standing(request)
    old_key = request.session.session_key
    request.session.cycle_key()
    registry.retrack(request, old_key)
    rotate_token(request)
    if fresh:
        reauth.mark_mfa(request.session)
