"""
The recovery toolkit's changes, each in one transaction and audited (SEC-45), with the person told by email
once committed (SEC-27): issuing an access code, signing in with one, requiring re-enrollment, and finishing
the new setup. Who may issue a code or require re-enrollment is ``companies.reset_rule.ResetChecker``'s to
decide, before.
"""

from __future__ import annotations

import datetime
import logging

from django.db import DatabaseError, transaction
from django.middleware.csrf import rotate_token
from django.utils import timezone

from .. import factors
from ..audit import audit, unwrap
from ..base import gate, pending, registry, verification
from ..base.session import now as session_now
from ..base.users import display_name
from ..models import AccessCode, AccessCodeThrottle, MFAEnrollment, RecoveryCode, ReenrollmentRequest
from ..notices import emails
from . import codes, setup_again
from .actions import (
    ACTION_ACCESS_CODE_ISSUED,
    ACTION_ACCESS_CODE_USED,
    ACTION_REENROLLED,
    ACTION_REENROLLMENT_REQUIRED,
)

logger = logging.getLogger(__name__)

#: The lifetimes an administrator may choose for an access code, in hours (1 hour to 7 days).
VALIDITY_HOURS = (1, 8, 24, 72, 168)


def _company_data(company) -> dict:
    return {
        "company_id": company.pk if company is not None else None,
        "company": company.name if company is not None else "",
    }


def _email_on_commit(user, name: str, context: dict) -> None:
    transaction.on_commit(lambda: emails.send(user, name, context))


def issue_access_code(target, *, actor, hours: int, request=None, company=None) -> tuple[str, AccessCode]:
    """
    A new access code for ``target``, valid for ``hours``: any unused earlier one is deleted in the same
    transaction (one valid code at a time). Returns the code in canonical form, the only time it exists in
    clear text, and its row. ``target`` is emailed that a code was issued, never the code (SEC-44).
    """
    if hours not in VALIDITY_HOURS:
        raise ValueError(f"An access code is valid for one of {VALIDITY_HOURS} hours.")
    target, actor = unwrap(target), unwrap(actor)
    if actor.pk == target.pk:
        raise ValueError("Nobody issues themself an access code.")
    now = timezone.now()
    code = codes.generate()
    with transaction.atomic():
        replaced = AccessCode.objects.filter(user_id=target.pk, used_at__isnull=True).delete()[0]
        row = AccessCode.objects.create(
            user=target,
            lookup=codes.lookup(code),
            issued_by=actor,
            company=company,
            created_at=now,
            expires_at=now + datetime.timedelta(hours=hours),
        )
        # The throttle row exists before the code can be tried, so that concurrent attempts lock one row.
        AccessCodeThrottle.objects.get_or_create(user_id=target.pk)
        audit(
            target,
            ACTION_ACCESS_CODE_ISSUED,
            actor=actor,
            request=request,
            valid_hours=hours,
            expires_at=row.expires_at.isoformat(),
            replaced=replaced,
            **_company_data(company),
        )
        _email_on_commit(
            target,
            "access_code_issued",
            {"actor_name": display_name(actor), "company": company, "expires_at": row.expires_at},
        )
    return code, row


def use_access_code(request, token) -> verification.Attempt:
    """
    Sign in with an access code after the password step (SEC-20): the code is spent by one conditional
    ``UPDATE ... WHERE used_at IS NULL AND expires_at > now`` whose row count decides (SEC-18), under the
    user's throttle row, locked (SEC-10, SEC-11, SEC-12). A wrong, spent, expired or replaced code counts
    as a failure and reads the same to the person. On success, in the same transaction, every earlier factor
    is removed and every other session ended, as an administrator's reset does (SEC-36); the session must
    then set MFA up again before anything else.
    """
    user = request.user
    code = codes.normalize(token)
    now = timezone.now()
    try:
        with transaction.atomic():
            throttle = AccessCodeThrottle.objects.select_for_update().filter(user_id=user.pk).first()
            if throttle is None:
                # No code was ever issued to this person: nothing can match, and nothing to count on.
                return verification.Attempt(ok=False)
            allowed, info = throttle.verify_is_allowed()
            if not allowed:
                locked_until = (info or {}).get("locked_until")
                return verification.Attempt(ok=False, locked_until=locked_until, refused=True)
            spent = None
            if code is not None:
                candidates = codes.lookups(code)
                for row in AccessCode.objects.filter(user_id=user.pk, lookup__in=candidates):
                    if codes.matches(candidates, row.lookup):
                        spent = row
                won = (
                    spent is not None
                    and AccessCode.objects.filter(
                        pk=spent.pk, used_at__isnull=True, expires_at__gt=now
                    ).update(used_at=now)
                    == 1
                )
            else:
                won = False
            if not won or spent is None:
                throttle.throttle_increment()
                throttle.refresh_from_db()
                return verification.Attempt(ok=False, locked_until=verification.locked_until_for(throttle))
            throttle.throttle_reset()
            removed = factors.remove_all(user)
            MFAEnrollment.objects.filter(user_id=user.pk).delete()
            ReenrollmentRequest.objects.filter(user_id=user.pk).delete()
            ended = registry.end_sessions(user, keep=request.session.session_key)
            audit(
                user,
                ACTION_ACCESS_CODE_USED,
                request=request,
                issued_by_id=spent.issued_by_id,
                removed={key: count for key, count in removed.items() if count},
                sessions_ended=ended,
                company_id=spent.company_id,
            )
            _email_on_commit(user, "access_code_used", {})
    except DatabaseError as exc:
        # Rolled back as a whole: the code stays unspent, and only "try again" is said (SEC-06).
        logger.warning("A database error stopped an access code for user #%s: %s", user.pk, exc)
        return verification.Attempt(ok=False, refused=True, busy=True)
    session = request.session
    setup_again.start(session, setup_again.ACCESS_CODE, now)
    # A fresh clock for setting up: the code proved as much as a second factor (SEC-29).
    session[pending.PENDING_SINCE] = session_now()
    gate.forget_standing(request)
    # The session may now do more than before: a new key and CSRF token (SEC-30).
    old_key = session.session_key
    session.cycle_key()
    registry.retrack(request, old_key)
    rotate_token(request)
    return verification.Attempt(ok=True)


def require_reenrollment(target, *, actor, request=None, company=None) -> ReenrollmentRequest:
    """
    Ask ``target`` to set MFA up again at their next sign-in. Their factors keep working, and so do the
    sessions they are signed in with now, until that sign-in (docs/admin-guide.md).
    """
    target, actor = unwrap(target), unwrap(actor)
    if actor.pk == target.pk:
        raise ValueError("Nobody requires their own re-enrollment here.")
    with transaction.atomic():
        row, _created = ReenrollmentRequest.objects.update_or_create(
            user_id=target.pk, defaults={"requested_at": timezone.now(), "requested_by": actor}
        )
        audit(target, ACTION_REENROLLMENT_REQUIRED, actor=actor, request=request, **_company_data(company))
        _email_on_commit(
            target, "reenrollment_required", {"actor_name": display_name(actor), "company": company}
        )
    return row


def new_device(user, since) -> object | None:
    """The newest device of an enrolling factor ``user`` set up at or after ``since``, or ``None``."""
    newest = None
    for factor in factors.enrolling_factors():
        for queryset in factor.devices(user_id=user.pk):
            device = queryset.filter(created_at__gte=since).order_by("-created_at").first()
            if device is not None and (newest is None or device.created_at > newest.created_at):
                newest = device
    return newest


def has_new_recovery_code(user, since) -> bool:
    return RecoveryCode.objects.filter(
        device__user_id=user.pk, used_at__isnull=True, created_at__gte=since
    ).exists()


def finish_setup(request, since, device) -> dict[str, int]:
    """
    The new factor (``device``) and recovery code are in place: every device of an enrolling factor set up
    before ``since`` is removed, the re-enrollment request with them, and the session stays verified with
    the new device. Returns ``{factor key: devices removed}``.
    """
    user = request.user
    reason = setup_again.reason(request.session)
    with transaction.atomic():
        removed = {}
        for factor in factors.enrolling_factors():
            count = 0
            for queryset in factor.devices(confirmed=False, user_id=user.pk):
                model = queryset.model
                _total, per_model = queryset.filter(created_at__lt=since).delete()
                count += per_model.get(model._meta.label, 0)
            if count:
                removed[factor.key] = count
        ReenrollmentRequest.objects.filter(user_id=user.pk).delete()
        audit(user, ACTION_REENROLLED, request=request, reason=reason, removed=removed)
    setup_again.clear(request.session)
    current = getattr(user, "otp_device", None)
    if current is None or (current._meta.label, current.pk) != (device._meta.label, device.pk):
        # The device this session was verified with may be one of the removed: the new one instead.
        verification.complete_verification(request, device)
    gate.forget_standing(request)
    return removed
