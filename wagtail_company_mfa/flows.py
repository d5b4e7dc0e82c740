"""
Every security-relevant change, one function each (STYLE §5.4): do the change in one transaction, then write
the audit log entry and send the signal once it is committed. Views, management commands and admin screens
all go through here, so they behave the same.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass, field

import django_otp
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, transaction
from django.middleware.csrf import rotate_token
from django.utils import timezone
from django.utils.functional import LazyObject, empty
from wagtail.log_actions import log

from . import crypto, session, signals
from .conf import mfa_settings
from .models import AuthenticatorDevice, MFAEnrollment, RecoveryCode, RecoveryCodeDevice, last_verify_outcome
from .recovery_codes import codes as recovery_codes
from .totp import algorithm as totp

logger = logging.getLogger(__name__)

#: Audit-log action names (registered in ``wagtail_hooks.py``).
ACTION_ENROLLED = "wagtail_company_mfa.enrolled"
ACTION_REPLACED = "wagtail_company_mfa.replaced"
ACTION_VERIFIED = "wagtail_company_mfa.verified"
ACTION_THROTTLED = "wagtail_company_mfa.throttled"
ACTION_REPLAYED = "wagtail_company_mfa.replayed"
ACTION_RECOVERY_USED = "wagtail_company_mfa.recovery_code_used"
ACTION_RECOVERY_REGENERATED = "wagtail_company_mfa.recovery_codes_regenerated"
ACTION_DISABLED = "wagtail_company_mfa.disabled"
ACTION_RESET = "wagtail_company_mfa.reset"
#: A stored authenticator secret that no configured key decrypts (different key lists on the app servers).
ACTION_SECRET_UNREADABLE = "wagtail_company_mfa.secret_unreadable"  # noqa: S105 (an action name)


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
    The model instance behind ``request.user``. OTPMiddleware wraps Django's lazy user in a second lazy
    object, and Wagtail's audit log looks the logger up by the *type* of what it is given, unwrapping only one
    level.
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
    transaction.on_commit(lambda: signal.send(sender=get_user_model(), user=user, request=request, **kwargs))


def authenticator_for(user) -> AuthenticatorDevice | None:
    return AuthenticatorDevice.objects.filter(user_id=user.pk, confirmed=True).first()


def is_enrolled(user) -> bool:
    """Whether ``user`` has a confirmed authenticator app (recovery codes alone do not count)."""
    return AuthenticatorDevice.objects.filter(user_id=user.pk, confirmed=True).exists()


# Verification ----------------------------------------------------------------------------------------------


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
    #: True when a database error stopped the attempt: the user is told to try again in a moment, and the
    #: outcome of any comparison was never revealed (SEC-06, SEC-10).
    busy: bool = False


class AuthenticatorUnavailable(Exception):
    """
    The user's authenticator secret cannot be decrypted on this server: no code was checked or counted, the
    session stays unverified (SEC-46). Logged and audited by :func:`_attempt`; views show a page saying so.
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
        _audit(request.user, ACTION_SECRET_UNREADABLE, request=request, device_id=device.pk, cause=code)
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
    last_verify_outcome.set("")
    try:
        verified = django_otp.verify_token(user, device.persistent_id, token)
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
    if verified is not None:
        return Attempt(ok=True, device=verified)
    if last_verify_outcome.get() == "refused":
        # Another attempt got the row lock first and its failure throttles this one: not compared, not
        # counted, so the user must not be told the code was wrong (it may have been right).
        device.refresh_from_db()
        return Attempt(ok=False, device=device, locked_until=locked_until_for(device), refused=True)
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
    if isinstance(device, AuthenticatorDevice) and totp.matching_step(device.bin_key, token) is not None:
        # A code that is valid right now but whose time step was already spent: a replay (SEC-05, SEC-45).
        # The user is told the same as for a wrong code; the audit log says what it was.
        _audit(user, ACTION_REPLAYED, request=request)
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
    try:
        with transaction.atomic():
            attempt = _attempt(request, device, token)
            if attempt.ok:
                attempt.new_codes = _add_codes(attempt.device, 1)
    except DatabaseError as exc:
        # As in _attempt: rolled back as a whole (the code stays unspent), and only "try again" is said.
        logger.warning("A database error stopped a recovery code for user #%s: %s", user.pk, exc)
        return Attempt(ok=False, device=device, refused=True, busy=True)
    if attempt.ok:
        complete_verification(request, attempt.device)
        session.set_unsaved_codes(request.session, user, attempt.new_codes, reason="used")
        remaining = attempt.device.unused_count
        _audit(user, ACTION_RECOVERY_USED, request=request, remaining=remaining)
        _send(signals.recovery_code_used, user, request, remaining=remaining)
    return attempt


# Recovery codes --------------------------------------------------------------------------------------------


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


# Enrollment ------------------------------------------------------------------------------------------------


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
        _audit(user, ACTION_REPLACED if replaced else ACTION_ENROLLED, request=request)
        _send(signals.mfa_enrolled, user, request, device=device, replaced=replaced)
    session.clear_pending_key(request.session)
    complete_verification(request, device)
    session.set_unsaved_codes(request.session, user, codes, reason="enrolled")
    # SEC-36: a new (or replaced) authenticator ends every other session of the user.
    session.end_sessions(user, keep=request.session.session_key)
    return device


# Self-service changes from the Security tab (issue 4) -------------------------------------------------------


class MFAChangeRefused(Exception):
    """A self-service change that the user's situation does not allow. Nothing was changed."""


class NotEnrolled(MFAChangeRefused):
    def __init__(self):
        super().__init__("This user has no authenticator app: there is nothing to change.")


class MFAStillRequired(MFAChangeRefused):
    """MFA cannot be turned off: a company (or the superuser rule) requires it now."""

    def __init__(self, requirement):
        self.requirement = requirement
        names = ", ".join(company.company_name for company in requirement.companies)
        reason = f"required by {names}" if names else "required of every superuser on this site"
        super().__init__(f"Two-factor authentication cannot be turned off: it is {reason}.")


def end_other_sessions(request) -> int:
    """End every session of the signed-in user except this one, on every app server (SEC-36)."""
    return session.end_sessions(request.user, keep=request.session.session_key)


def regenerate_recovery_codes(request) -> list[str]:
    """
    Replace the user's recovery code(s) with new ones; every earlier code stops working in the same
    transaction (SEC-21). The new codes wait in the session for "I have safely recorded this code", as after
    enrollment, and the user's other sessions are ended.
    """
    user = request.user
    if not is_enrolled(user):
        raise NotEnrolled()
    with transaction.atomic():
        codes = issue_recovery_codes(user)
        _audit(user, ACTION_RECOVERY_REGENERATED, request=request, count=len(codes))
        _send(signals.recovery_codes_regenerated, user, request)
    session.set_unsaved_codes(request.session, user, codes, reason="regenerated")
    end_other_sessions(request)
    return codes


def disable_mfa(request) -> None:
    """
    Turn two-factor authentication off for the signed-in user: their authenticator app and recovery codes
    are removed in one transaction, and their other sessions are ended (SEC-36). Refused with
    :class:`MFAStillRequired` while any company (or the superuser rule) requires MFA of them now; an upcoming
    deadline does not prevent it.
    """
    from .policy import requirement_for

    user = request.user
    with transaction.atomic():
        requirement = requirement_for(user)
        if requirement.is_required:
            raise MFAStillRequired(requirement)
        removed = AuthenticatorDevice.objects.filter(user_id=user.pk).delete()[0]
        removed += RecoveryCodeDevice.objects.filter(user_id=user.pk).delete()[0]
        if not removed:
            raise NotEnrolled()
        # Nothing is left: a later enrollment is a new one (SEC-40).
        MFAEnrollment.objects.filter(user_id=user.pk).delete()
        _audit(user, ACTION_DISABLED, request=request)
        _send(signals.mfa_disabled, user, request)
    request.session.pop(django_otp.DEVICE_ID_SESSION_KEY, None)
    session.clear_unsaved_codes(request.session)
    session.clear_pending_key(request.session)
    end_other_sessions(request)


# Company administration (issue 5): policy, members, admin reset ---------------------------------------------

ACTION_POLICY_CHANGED = "wagtail_company_mfa.policy_changed"
ACTION_MEMBER_ADDED = "wagtail_company_mfa.member_added"
ACTION_MEMBER_REMOVED = "wagtail_company_mfa.member_removed"
ACTION_MEMBER_ROLE_CHANGED = "wagtail_company_mfa.member_role_changed"
#: Logged against the company when one of its members' MFA is reset (``ACTION_RESET`` goes on the member).
ACTION_MEMBER_RESET = "wagtail_company_mfa.member_reset"

#: The company fields that make up its MFA policy, in the order they are reported.
POLICY_FIELDS = ("require_mfa", "enforcement_date", "time_zone", "new_member_grace_days")


def policy_values(company) -> dict:
    return {name: getattr(company, name) for name in POLICY_FIELDS}


def _log_value(value):
    """A policy value as it is stored in the audit log (JSON): dates as ISO 8601 strings."""
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return value


def _audit_company(company, action: str, *, actor, request=None, uuid=None, **data) -> None:
    actor = _unwrap(actor) if actor is not None else None
    log(company, action, user=actor, uuid=uuid, data={**client_details(request), **data})


def _send_company(signal, company, **kwargs) -> None:
    transaction.on_commit(lambda: signal.send(sender=type(company), company=company, **kwargs))


def save_company(company, *, actor, request=None, save=None) -> dict:
    """
    Save ``company`` (new or edited) and record any change to its MFA policy (SPEC §3.7, SEC-39, SEC-45).

    ``save`` does the saving (default: ``company.save``); the admin passes Wagtail's own, which also writes
    the ``wagtail.create``/``wagtail.edit`` entry. The previous policy is read from the database with the row
    locked, so two administrators saving at once each see the other's result. When the policy changed, an
    audit entry with the old and new values goes on the company and, once committed,
    :data:`~wagtail_company_mfa.signals.policy_changed` is sent (the member notices listen to it).

    Returns the changes as ``{field: (old, new)}``; a new company counts as changed from "MFA off, no date,
    no grace days".
    """
    with transaction.atomic():
        if company.pk is None:
            previous = {
                "require_mfa": False,
                "enforcement_date": None,
                "time_zone": company.time_zone,
                "new_member_grace_days": 0,
            }
        else:
            previous = policy_values(type(company).objects.select_for_update().get(pk=company.pk))
        (save or company.save)()
        current = policy_values(company)
        changes = {
            name: (previous[name], current[name]) for name in POLICY_FIELDS if previous[name] != current[name]
        }
        if changes:
            _audit_company(
                company,
                ACTION_POLICY_CHANGED,
                actor=actor,
                request=request,
                changes={
                    name: {"old": _log_value(old), "new": _log_value(new)}
                    for name, (old, new) in changes.items()
                },
                policy={name: _log_value(value) for name, value in current.items()},
            )
            _send_company(signals.policy_changed, company, changes=changes, actor=actor, request=request)
    return changes


class MembershipExists(Exception):
    """The person is already an active member of the company; nothing was changed."""


def _member_data(user) -> dict:
    from .permissions import display_name

    return {"member_id": user.pk, "member": display_name(user)}


def add_member(company, user, *, role, actor, request=None):
    """
    Make ``user`` an active member of ``company`` with ``role``: a new membership, or a former member's
    reactivated (their grace period restarts, SPEC §2). Raises :class:`MembershipExists` if they are an
    active member already.
    """
    from .models import CompanyMembership

    with transaction.atomic():
        membership = (
            CompanyMembership.objects.select_for_update()
            .filter(company_id=company.pk, user_id=user.pk)
            .first()
        )
        if membership is not None and membership.is_active:
            raise MembershipExists(user)
        reactivated = membership is not None
        if reactivated:
            changes = {"is_active": (False, True), "role": (membership.role, role)}
            membership.is_active, membership.role = True, role
            membership.save(update_fields=["is_active", "role"])
        else:
            changes = {"is_active": (None, True), "role": (None, role)}
            membership = CompanyMembership.objects.create(company=company, user=user, role=role)
        _audit_company(
            company,
            ACTION_MEMBER_ADDED,
            actor=actor,
            request=request,
            role=role,
            reactivated=reactivated,
            **_member_data(user),
        )
        _send_company(
            signals.membership_changed,
            company,
            membership=membership,
            change="added",
            changes=changes,
            actor=actor,
            request=request,
        )
    return membership


def change_membership(membership, *, actor, request=None, role=None, is_active=None) -> dict:
    """
    Change a member's ``role`` and/or deactivate (remove) or reactivate them. Only those two fields: the
    company and the person of a membership never change (SEC-41). Returns ``{field: (old, new)}``.
    """
    from .models import CompanyMembership

    with transaction.atomic():
        current = CompanyMembership.objects.select_for_update().get(pk=membership.pk)
        changes = {}
        if role is not None and role != current.role:
            changes["role"] = (current.role, role)
            current.role = role
        if is_active is not None and is_active != current.is_active:
            changes["is_active"] = (current.is_active, is_active)
            current.is_active = is_active
        if not changes:
            return {}
        current.save(update_fields=list(changes))
        company, data = membership.company, _member_data(membership.user)
        if "is_active" in changes:
            action = ACTION_MEMBER_ADDED if is_active else ACTION_MEMBER_REMOVED
            extra = {"role": current.role, "reactivated": True} if is_active else {"role": current.role}
            _audit_company(company, action, actor=actor, request=request, **extra, **data)
        if "role" in changes:
            old, new = changes["role"]
            _audit_company(
                company,
                ACTION_MEMBER_ROLE_CHANGED,
                actor=actor,
                request=request,
                old_role=old,
                new_role=new,
                **data,
            )
        change = "role_changed"
        if "is_active" in changes:
            change = "added" if is_active else "removed"
        _send_company(
            signals.membership_changed,
            company,
            membership=current,
            change=change,
            changes=changes,
            actor=actor,
            request=request,
        )
    membership.role, membership.is_active = current.role, current.is_active
    membership.joined_at = current.joined_at
    return changes


@dataclass
class ResetResult:
    """What :func:`reset_mfa` removed."""

    removed_authenticator: bool
    removed_recovery_codes: bool
    sessions_ended: int

    @property
    def removed_anything(self) -> bool:
        return self.removed_authenticator or self.removed_recovery_codes


def reset_mfa(
    target, *, actor, request=None, company=None, via: str = "admin", details: dict | None = None
) -> ResetResult:
    """
    An administrator's reset of ``target``'s MFA (SPEC §3.7, SEC-40): in one transaction their authenticator
    app and recovery codes are deleted and every session of theirs is ended on every app server, which also
    discards any half-done enrollment (the pending secret lives in the session). A session that escaped the
    session registry is no longer verified on its next request either: django-otp reloads the device it was
    verified with, which is gone.

    The audit entry goes on ``target`` (and, with ``company``, one on the company, under the same log
    UUID), with the actor, company, IP and browser; :data:`~wagtail_company_mfa.signals.mfa_reset` is sent
    once committed, and its receiver emails ``target`` (SEC-27).

    Who may reset whom is decided by :mod:`wagtail_company_mfa.permissions` before calling this; ``actor`` is
    ``None`` for ``manage.py mfa_reset`` (``via="command"``). Nobody resets their own MFA here. ``details``
    go into the audit entry as they are (never put a secret there).
    """
    import uuid

    target = _unwrap(target)
    actor = _unwrap(actor) if actor is not None else None
    if actor is not None and actor.pk == target.pk:
        raise ValueError("An administrator cannot reset their own MFA; use manage.py mfa_reset.")
    with transaction.atomic():
        _count, removed = AuthenticatorDevice.objects.filter(user_id=target.pk).delete()
        removed_authenticator = removed.get(AuthenticatorDevice._meta.label, 0) > 0
        _count, removed = RecoveryCodeDevice.objects.filter(user_id=target.pk).delete()
        removed_recovery_codes = removed.get(RecoveryCodeDevice._meta.label, 0) > 0
        # Everything is gone, so the person's next enrollment is a new one: set up as a member of their
        # companies, a company administrator may reset it (SEC-40).
        MFAEnrollment.objects.filter(user_id=target.pk).delete()
        ended = session.end_sessions(target)
        result = ResetResult(removed_authenticator, removed_recovery_codes, ended)
        data = {
            **(details or {}),
            **client_details(request),
            "via": via,
            "company_id": company.pk if company is not None else None,
            "company": company.name if company is not None else "",
            "removed_authenticator": removed_authenticator,
            "removed_recovery_codes": removed_recovery_codes,
            "sessions_ended": ended,
        }
        log_uuid = uuid.uuid4()
        log(target, ACTION_RESET, user=actor, uuid=log_uuid, data=data)
        if company is not None:
            _audit_company(
                company,
                ACTION_MEMBER_RESET,
                actor=actor,
                request=request,
                uuid=log_uuid,
                via=via,
                removed_authenticator=removed_authenticator,
                **_member_data(target),
            )
        _send(signals.mfa_reset, target, request, actor=actor, company=company)
    return result
