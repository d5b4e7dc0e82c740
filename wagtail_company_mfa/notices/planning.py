"""
Planning policy notices and deadline reminders (:class:`~wagtail_company_mfa.models.MemberNotice` rows);
:mod:`wagtail_company_mfa.notices.delivery` sends them, each once. See docs/reminders.md.

- a **policy notice** to every active member when a company turns Require MFA on with a date, or moves the
  date (:func:`queue_policy_notices`, run when the ``policy_changed`` signal arrives); one per (user,
  company, enforcement date);
- a **reminder** ``N`` days before a member's own deadline, for each ``N`` in ``REMINDER_DAYS``, to members
  who have not enrolled (:func:`plan_reminders`, run by ``manage.py mfa_send_reminders``); one per
  (user, company, deadline, N). A late joiner's deadline is their own (``policy.member_deadline``).

Rows are inserted with ``INSERT ... ON CONFLICT DO NOTHING`` (``bulk_create(ignore_conflicts=True)``)
against unique constraints, so planning twice, or from two processes at once, makes one row.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils import timezone

from ..base import methods
from ..companies import policy
from ..conf import mfa_settings
from ..models import Company, CompanyMembership, MemberNotice

logger = logging.getLogger(__name__)

#: Rows planned per query while scanning memberships.
PLAN_BATCH_SIZE = 2000

Kind = MemberNotice.Kind
Status = MemberNotice.Status


def due_stage(deadline: datetime.datetime, now: datetime.datetime, days: Iterable[int]) -> int | None:
    """
    The reminder due at ``now`` for ``deadline``: the smallest ``N`` in ``days`` whose moment
    (``deadline - N days``) has come, or ``None`` if none has or the deadline has passed. Only the most urgent
    one counts, so a sender that was down for a while sends "3 days left" rather than a late "14 days left".
    """
    if deadline <= now:
        return None
    due = [day for day in days if deadline - datetime.timedelta(days=day) <= now]
    return min(due) if due else None


def setup_url() -> str:
    """Where an email's "Set up now" points: the enrollment page (through sign-in), absolute if possible."""
    base = (getattr(settings, "WAGTAILADMIN_BASE_URL", "") or "").rstrip("/")
    return base + reverse("wagtail_company_mfa:enroll") if base else ""


# Planning ---------------------------------------------------------------------------------------------------


def _not_enrolled():
    # Not enrolled with a factor the member's company accepts (docs/policy.md, "Allowed methods").
    return ~methods.membership_has_accepted_factor()


def _keyset(queryset, batch_size: int):
    """Yield ``queryset`` (a ``values_list`` starting with the pk) in pk order, one batch at a time."""
    last = 0
    while True:
        batch = list(queryset.filter(pk__gt=last).order_by("pk")[:batch_size])
        if not batch:
            return
        yield batch
        last = batch[-1][0]


def plan_reminders(now: datetime.datetime | None = None, *, batch_size: int = PLAN_BATCH_SIZE) -> int:
    """
    Insert the reminder rows due at ``now`` that do not exist yet, for every active, not enrolled member of
    a company that requires MFA with a date. Returns how many are due (new or already planned).
    """
    days = mfa_settings.REMINDER_DAYS
    if not days:
        return 0
    now = now or timezone.now()
    # A deadline is never before its company's enforcement date starts (00:00 there, at most a day from UTC),
    # so companies whose date is further away than the largest N cannot have a reminder due. Nor can a
    # company whose date has passed, unless late joiners get grace days.
    horizon = (now + datetime.timedelta(days=max(days) + 2)).date()
    memberships = (
        CompanyMembership.objects.filter(
            is_active=True,
            user__is_active=True,
            company__require_mfa=True,
            company__enforcement_date__isnull=False,
            company__enforcement_date__lte=horizon,
        )
        .filter(
            Q(company__enforcement_date__gte=(now - datetime.timedelta(days=2)).date())
            | Q(company__new_member_grace_days__gt=0)
        )
        .filter(_not_enrolled())
        .values_list(
            "pk",
            "user_id",
            "company_id",
            "company__enforcement_date",
            "company__time_zone",
            "company__new_member_grace_days",
            "joined_at",
        )
    )
    due = 0
    for batch in _keyset(memberships, batch_size):
        rows = []
        for _pk, user_id, company_id, enforcement_date, time_zone, grace_days, joined_at in batch:
            deadline, _grace = policy.member_deadline(
                enforcement_date=enforcement_date,
                time_zone=time_zone,
                joined_at=joined_at,
                grace_days=grace_days,
                company_id=company_id,
            )
            stage = due_stage(deadline, now, days)
            if stage is not None:
                rows.append(
                    MemberNotice(
                        user_id=user_id,
                        company_id=company_id,
                        kind=Kind.REMINDER,
                        enforcement_date=enforcement_date,
                        deadline=deadline,
                        days_before=stage,
                    )
                )
        if rows:
            due += len(rows)
            # Most runs find every due reminder planned already: reading the batch's keys is cheaper than
            # inserting rows only to have them ignored. The insert still ignores conflicts, for a run racing
            # this one.
            planned = set(
                MemberNotice.objects.filter(
                    kind=Kind.REMINDER, user_id__in={row.user_id for row in rows}, deadline__gt=now
                ).values_list("user_id", "company_id", "deadline", "days_before")
            )
            rows = [
                row
                for row in rows
                if (row.user_id, row.company_id, row.deadline, row.days_before) not in planned
            ]
            MemberNotice.objects.bulk_create(rows, ignore_conflicts=True)
    return due


def policy_change_needs_notice(company: Company, changes: dict) -> bool:
    """True when ``changes`` turned Require MFA on (with a date set) or moved the date while it is on."""
    if not (company.require_mfa and company.enforcement_date):
        return False
    turned_on = "require_mfa" in changes and not changes["require_mfa"][0]
    moved = "enforcement_date" in changes and changes["enforcement_date"][0] != changes["enforcement_date"][1]
    return turned_on or moved


def count_policy_notice_recipients(company: Company) -> int:
    """
    How many members :func:`queue_policy_notices` would email for ``company``'s (possibly unsaved) date, in
    one query: the active members with an email address who have no live notice for that date yet. The
    policy editor asks the administrator to confirm this number before it saves (docs/policy.md).
    """
    date = company.enforcement_date
    if company.pk is None or date is None:
        return 0
    email_field = get_user_model().get_email_field_name()
    told = MemberNotice.objects.filter(
        user_id=OuterRef("user_id"), company_id=company.pk, kind=Kind.POLICY, enforcement_date=date
    ).exclude(status=Status.SUPERSEDED)
    return (
        CompanyMembership.objects.filter(company_id=company.pk, is_active=True, user__is_active=True)
        .exclude(**{f"user__{email_field}": ""})
        .exclude(**{f"user__{email_field}__isnull": True})
        .exclude(Exists(told))
        .count()
    )


@transaction.atomic
def queue_policy_notices(company: Company, *, batch_size: int = PLAN_BATCH_SIZE) -> int:
    """
    Insert a policy notice for the company's current enforcement date for each active member, unless they
    already have one for that date, in one transaction. Notices for the company's earlier dates are marked
    superseded (pending ones will not be sent; a later move back to such a date announces it again).
    """
    date = company.enforcement_date
    if date is None:  # no date, nothing to announce: callers only queue for a company whose policy is set
        return 0
    MemberNotice.objects.filter(company=company, kind=Kind.POLICY).exclude(enforcement_date=date).exclude(
        status=Status.SUPERSEDED
    ).update(status=Status.SUPERSEDED, claim_token=None)
    memberships = CompanyMembership.objects.filter(
        company=company, is_active=True, user__is_active=True
    ).values_list("pk", "user_id", "joined_at")
    queued = 0
    for batch in _keyset(memberships, batch_size):
        rows = []
        for _pk, user_id, joined_at in batch:
            deadline, _grace = policy.member_deadline(
                enforcement_date=date,
                time_zone=company.time_zone,
                joined_at=joined_at,
                grace_days=company.new_member_grace_days,
                company_id=company.pk,
            )
            rows.append(
                MemberNotice(
                    user_id=user_id,
                    company=company,
                    kind=Kind.POLICY,
                    enforcement_date=date,
                    deadline=deadline,
                )
            )
        MemberNotice.objects.bulk_create(rows, ignore_conflicts=True)
        queued += len(rows)
    return queued


def queue_policy_notice_for(company: Company, membership: CompanyMembership) -> int:
    """
    The policy notice of ``company``'s current date for one member who joined (or rejoined) after the others
    were told, unless they have it already: 1 if queued, else 0.
    """
    date = company.enforcement_date
    if date is None or not company.require_mfa:
        return 0
    deadline, _grace = policy.member_deadline(
        enforcement_date=date,
        time_zone=company.time_zone,
        joined_at=membership.joined_at,
        grace_days=company.new_member_grace_days,
        company_id=company.pk,
    )
    created = MemberNotice.objects.bulk_create(
        [
            MemberNotice(
                user_id=membership.user_id,
                company=company,
                kind=Kind.POLICY,
                enforcement_date=date,
                deadline=deadline,
            )
        ],
        ignore_conflicts=True,
    )
    return len(created)
