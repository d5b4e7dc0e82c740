"""
What a batch of claimed notices becomes (docs/reminders.md): each row checked against the database *now*
(still a member, still not enrolled, the same deadline, the reminder still due) and, if it still holds, its
email. :mod:`wagtail_company_mfa.notices.delivery` claims the rows, sends and marks them.
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass

from django.utils import timezone

from ..base import methods
from ..base.users import user_time_zone
from ..companies import policy
from ..conf import mfa_settings
from ..models import CompanyMembership, MemberNotice, start_of_day
from . import emails
from .planning import Kind, Status, due_stage, setup_url


@dataclass(frozen=True)
class Claimed:
    """The rows a run claimed for one batch, with what the checks need about them, read in three queries."""

    notices: list[MemberNotice]
    #: The enrolling factors of those rows' users (``base.methods.user_factor_keys``).
    factor_keys: dict[int, frozenset[str]]
    #: ``(user id, company id) -> joined_at`` of those rows' active memberships.
    joined: dict[tuple[int, int], datetime.datetime]


def read_claimed(token) -> Claimed:
    """The pending rows claimed with ``token``, their users (with profiles) and companies."""
    notices = list(
        MemberNotice.objects.filter(claim_token=token, status=Status.PENDING)
        .select_related("user", "user__wagtail_userprofile", "company")
        .order_by("pk")
    )
    user_ids = {notice.user_id for notice in notices}
    factor_keys = methods.user_factor_keys(user_ids)
    joined = {
        (user_id, company_id): joined_at
        for user_id, company_id, joined_at in CompanyMembership.objects.filter(
            user_id__in=user_ids,
            company_id__in={notice.company_id for notice in notices},
            is_active=True,
        ).values_list("user_id", "company_id", "joined_at")
    }
    return Claimed(notices=notices, factor_keys=factor_keys, joined=joined)


def _keys(notice: MemberNotice, claimed: Claimed) -> frozenset[str]:
    return claimed.factor_keys.get(notice.user_id, frozenset())


def why_not(notice: MemberNotice, now, claimed: Claimed) -> str | None:
    """Why ``notice`` must not be sent now, or ``None`` if it should be."""
    joined = claimed.joined
    user, company = notice.user, notice.company
    if not user.is_active:
        return "user inactive"
    if not getattr(user, user.get_email_field_name(), ""):
        return "no email address"
    if policy.is_exempt(user):
        return "user exempt"
    if not company.policy_is_set or company.enforcement_date != notice.enforcement_date:
        return "policy changed"
    joined_at = joined.get((notice.user_id, notice.company_id))
    if joined_at is None:
        return "no longer a member"
    deadline, _grace = policy.member_deadline(
        enforcement_date=company.enforcement_date,
        time_zone=company.time_zone,
        joined_at=joined_at,
        grace_days=company.new_member_grace_days,
        company_id=company.pk,
    )
    if deadline != notice.deadline:
        return "deadline moved"
    if notice.kind == Kind.REMINDER:
        if methods.company_accepts(company, _keys(notice, claimed)):
            return "enrolled"
        if due_stage(deadline, now, mfa_settings.REMINDER_DAYS) != notice.days_before:
            return "not the reminder due now"
    return None


def build(notice: MemberNotice, now, claimed: Claimed):
    """The email of ``notice`` (``None`` when the user has no address), in the user's own time zone."""
    keys = _keys(notice, claimed)
    user, company = notice.user, notice.company
    zone = user_time_zone(user)
    context = {
        "company_name": company.name,
        "enforcement_date": notice.enforcement_date,
        "enforcement_starts_at": start_of_day(
            notice.enforcement_date, company.time_zone, company_id=company.pk
        ),
        "deadline": notice.deadline,
        "grace_applied": notice.deadline
        != start_of_day(notice.enforcement_date, company.time_zone, company_id=company.pk),
        "required_now": notice.deadline <= now,
        "days_left": max(1, math.ceil((notice.deadline - now) / datetime.timedelta(days=1))),
        "enrolled": methods.company_accepts(company, keys),
        # Enrolled with a factor this company does not accept: the email asks for a passkey instead.
        "needs_accepted_method": bool(keys) and not methods.company_accepts(company, keys),
        "time_zone": str(zone),
        "setup_url": setup_url(),
    }
    name = "policy_notice" if notice.kind == Kind.POLICY else "reminder"
    with timezone.override(zone):
        return emails.build_email(user, name, context)
