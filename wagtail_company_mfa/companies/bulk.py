"""
Bulk actions on a company's members from the enrollment report (docs/admin-guide.md, "Bulk actions"): reset
MFA, require re-enrollment, or send a reminder, for the selected members of the company of the URL only.

Each selected person is checked as if acted on alone: ``ResetChecker`` for a reset or a re-enrollment,
loaded once for everyone selected (a fixed number of queries, however many), and the reminders' own rules.
Ids that are not active members of the company are skipped, never acted on, and named nowhere (SEC-40,
SEC-41: an id from another company teaches nothing).
"""

from __future__ import annotations

import datetime
import logging
import math
from dataclasses import dataclass, field

from django.db import DatabaseError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .. import factors
from ..access_codes import flows as toolkit_flows
from ..base import methods
from ..base.users import display_name
from ..models import CompanyMembership, MemberNotice
from ..notices import compose
from . import policy
from .reset import reset_mfa
from .reset_rule import ResetChecker

logger = logging.getLogger(__name__)

RESET = "reset"
REENROLL = "reenroll"
REMIND = "remind"
ACTIONS = {
    RESET: gettext_lazy("Reset MFA"),
    REENROLL: gettext_lazy("Require re-enrollment"),
    REMIND: gettext_lazy("Send a reminder"),
}
#: Actions that remove or replace someone's factors: confirmed with "I have verified".
NEEDS_VERIFICATION = frozenset({RESET, REENROLL})
#: At most this many people per bulk action (one confirmation page).
MAX_SELECTED = 500


@dataclass
class Plan:
    """Who the action applies to, and who is skipped and why (a person may be listed in one of them)."""

    action: str
    members: list = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    #: Selected ids that are not active members of the company: counted, never named.
    unknown: int = 0


def parse_ids(values) -> list[int] | None:
    """The selected user ids, or ``None`` for anything that is not a list of ids."""
    ids = []
    for value in values:
        if not str(value).isdigit() or len(str(value)) > 18:
            return None
        ids.append(int(value))
    return list(dict.fromkeys(ids))


def plan(actor, company, action: str, ids: list[int], *, now=None) -> Plan:
    """Whom ``action`` by ``actor`` applies to among ``ids``, in the company of the URL only."""
    result = Plan(action=action)
    memberships = list(
        CompanyMembership.objects.filter(company_id=company.pk, is_active=True, user_id__in=ids)
        .select_related("user")
        .annotate(enrolled=factors.has_enrolled_factor())
        .order_by("pk")
    )
    result.unknown = len(ids) - len(memberships)
    if action in NEEDS_VERIFICATION:
        checker = ResetChecker(actor, targets=[membership.user for membership in memberships])
        for membership in memberships:
            person = display_name(membership.user)
            refusal = checker.refusal(membership.user, company)
            if refusal is not None:
                result.skipped.append((person, refusal))
            elif not membership.enrolled:
                result.skipped.append((person, _("has not set up two-factor authentication")))
            else:
                result.members.append(membership)
        return result
    now = now or timezone.now()
    for membership in memberships:
        person = display_name(membership.user)
        if membership.enrolled:
            result.skipped.append((person, _("has set up two-factor authentication already")))
        elif not company.require_mfa or company.enforcement_date is None:
            result.skipped.append((person, _("this company does not require two-factor authentication")))
        else:
            result.members.append(membership)
    return result


def _reminder_for(membership, company, now) -> MemberNotice:
    deadline, _grace = policy.member_deadline(
        enforcement_date=company.enforcement_date,
        time_zone=company.time_zone,
        joined_at=membership.joined_at,
        grace_days=company.new_member_grace_days,
        company_id=company.pk,
    )
    # Counted as the reminder of the days left (0 once overdue): the outbox's unique rule then keeps any
    # person to one reminder of each stage, whoever asks for it.
    days_left = max(0, math.ceil((deadline - now) / datetime.timedelta(days=1)))
    return MemberNotice(
        user_id=membership.user_id,
        company_id=company.pk,
        kind=MemberNotice.Kind.REMINDER,
        enforcement_date=company.enforcement_date,
        deadline=deadline,
        days_before=days_left,
    )


@dataclass
class Summary:
    done: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    unknown: int = 0


def carry_out(actor, company, planned: Plan, *, request=None, now=None) -> Summary:
    """Do ``planned``: one transaction per person, so one failure leaves the others done and said so."""
    summary = Summary(skipped=list(planned.skipped), unknown=planned.unknown)
    if planned.action == REMIND:
        now = now or timezone.now()
        rows = [_reminder_for(membership, company, now) for membership in planned.members]
        already = set(
            MemberNotice.objects.filter(
                kind=MemberNotice.Kind.REMINDER,
                company_id=company.pk,
                user_id__in=[row.user_id for row in rows],
            ).values_list("user_id", "deadline", "days_before")
        )
        new = [row for row in rows if (row.user_id, row.deadline, row.days_before) not in already]
        for row in new:
            # Recorded as sent in the outbox's ledger, so the scheduled run does not send this stage again.
            row.status, row.sent_at = MemberNotice.Status.SENT, now
        MemberNotice.objects.bulk_create(new, ignore_conflicts=True)
        fresh = {row.user_id for row in new}
        people = {membership.user_id: membership.user for membership in planned.members}
        claimed = compose.Claimed(notices=new, factor_keys=methods.user_factor_keys(set(fresh)), joined={})
        for row in new:
            row.user, row.company = people[row.user_id], company
            try:
                message = compose.build(row, now, claimed)
                if message is not None:
                    message.send()
            except Exception:
                logger.exception("The reminder to user #%s could not be sent.", row.user_id)
        for membership in planned.members:
            person = display_name(membership.user)
            if membership.user_id in fresh:
                summary.done.append(person)
            else:
                summary.skipped.append((person, _("was sent this reminder already")))
        return summary
    for membership in planned.members:
        person = display_name(membership.user)
        try:
            with transaction.atomic():
                if planned.action == RESET:
                    reset_mfa(membership.user, actor=actor, request=request, company=company, via="bulk")
                else:
                    toolkit_flows.require_reenrollment(
                        membership.user, actor=actor, request=request, company=company
                    )
        except DatabaseError:
            logger.exception("A bulk %s of user #%s failed.", planned.action, membership.user_id)
            summary.skipped.append((person, _("could not be changed just now; try again")))
        else:
            summary.done.append(person)
    return summary
