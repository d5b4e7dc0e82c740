"""
Who of a company's members has enrolled, and who is overdue: the rows and counts of the enrollment report
(docs/admin-guide.md), the policy preview and ``manage.py mfa_status``.

Everything that decides a member's state is SQL (docs/performance.md, "Enrollment report"), so that the report
filters, sorts, counts and pages in the database and a page costs the same at 10 members as at 100,000:
whether a member is enrolled is an ``Exists`` per enrolling device model that the factor registry builds
(``factors.py``), and "overdue" is a condition on ``joined_at`` worked out once per company and request from
the Python rule itself (:func:`overdue_condition`). Only the deadline *shown* on a row is computed in Python,
for the rows on the page or in the export, from the values already loaded
(:func:`wagtail_company_mfa.companies.policy.member_deadline`).
"""

from __future__ import annotations

import datetime
import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist
from django.db.models import BooleanField, Case, CharField, Count, Q, Value, When
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext, gettext_lazy, ngettext

from .. import factors
from ..base.users import display_name, user_email
from ..conf import mfa_settings
from ..models import CompanyMembership, company_zone
from .policy import calendar_date, grace_deadline, is_exempt, member_deadline

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser

# Members and their enrollment state -------------------------------------------------------------------------

ENROLLED = "enrolled"
NOT_ENROLLED = "not_enrolled"
OVERDUE = "overdue"
DUE = "due"
EXEMPT = "exempt"
NOT_REQUIRED = "not_required"

STATE_LABELS = {
    ENROLLED: gettext_lazy("Enrolled"),
    OVERDUE: gettext_lazy("Overdue"),
    DUE: gettext_lazy("Not enrolled yet"),
    EXEMPT: gettext_lazy("Exempt"),
    NOT_REQUIRED: gettext_lazy("Not enrolled"),
}

#: Member states in the order the report's filter offers them. "Not enrolled" covers overdue, due,
#: exempt and not required.
STATE_FILTER_CHOICES = [
    (ENROLLED, gettext_lazy("Enrolled")),
    (NOT_ENROLLED, gettext_lazy("Not enrolled")),
    (OVERDUE, gettext_lazy("Overdue")),
    (DUE, gettext_lazy("Not enrolled, deadline ahead")),
]


def _late_joiner_overdue(company, now: datetime.datetime) -> Q:
    """
    The late joiners (``joined_at`` after the enforcement instant) whose grace period has run out at ``now``,
    as a condition on ``joined_at``, exactly as :func:`~wagtail_company_mfa.companies.policy.grace_deadline`
    decides it.

    The rule keeps the wall-clock time of joining in the company's zone, so the deadline is
    ``joined_at + grace_days`` shifted by the difference between the zone's offset when the member joined and
    its offset at the deadline: a shift that changes only at a DST (or other offset) change. Neither SQLite
    nor every PostgreSQL time zone database does that arithmetic as Python's ``zoneinfo`` does (a wall time
    that a DST change skips or repeats), so the condition is not an expression of the zone: it is a set of
    ``joined_at`` ranges computed here from the Python rule. Offsets differ by less than
    :data:`_SHIFT_BOUND`, so everyone who joined more than that before ``now - grace_days`` is overdue and no
    one who joined more than that after it; in between, the shift is constant except where it changes, and
    those points are found to the microsecond (timestamps in the database have microseconds, no finer).
    """
    zone = company_zone(company.time_zone, company_id=company.pk)
    grace_days = company.new_member_grace_days

    def shift(joined_at):
        deadline = grace_deadline(
            joined_at, zone, grace_days, time_zone=company.time_zone, company_id=company.pk
        )
        return deadline - joined_at

    centre = now - datetime.timedelta(days=grace_days)
    low, high = centre - _SHIFT_BOUND, centre + _SHIFT_BOUND
    # Where the shift changes, found by sampling and then bisecting between samples that differ.
    breaks = []
    previous, previous_shift = low, shift(low)
    step = _SAMPLE_STEP
    while previous < high:
        current = min(previous + step, high)
        current_shift = shift(current)
        if current_shift != previous_shift:
            before, after = previous, current
            while after - before > _RESOLUTION:
                middle = before + (after - before) // 2
                if shift(middle) == previous_shift:
                    before = middle
                else:
                    after = middle
            breaks.append(after)
        previous, previous_shift = current, current_shift
    # On each piece [start, end) the deadline is joined_at + shift: overdue while joined_at <= now - shift.
    bounds = [low, *breaks, high + _RESOLUTION]
    ranges: list[tuple[datetime.datetime, datetime.datetime]] = []
    for start, end in itertools.pairwise(bounds):
        last_overdue = now - shift(start)
        stop = min(end, last_overdue + _RESOLUTION)
        if stop > start:
            if ranges and ranges[-1][1] == start:
                ranges[-1] = (ranges[-1][0], stop)
            else:
                ranges.append((start, stop))
    condition = Q(joined_at__lt=low)
    for start, stop in ranges:
        if start == low:
            condition = Q(joined_at__lt=stop)
        else:
            condition |= Q(joined_at__gte=start, joined_at__lt=stop)
    return condition


#: More than any difference between two UTC offsets of one zone (offsets run from -12:00 to +14:00, and
#: historical local mean times stay within about ±16 hours).
_SHIFT_BOUND = datetime.timedelta(days=2)
#: Offsets never change twice within this time in one zone (DST changes are months apart).
_SAMPLE_STEP = datetime.timedelta(minutes=15)
_RESOLUTION = datetime.timedelta(microseconds=1)


def overdue_condition(company, now: datetime.datetime) -> Q | None:
    """
    The members (of any state) whose deadline for ``company`` has passed at ``now``, as a condition on
    ``joined_at``: the same answer as ``member_deadline(...)[0] <= now`` for every member. ``None`` when
    nobody's has (before the enforcement instant, since a late joiner's deadline is later still).
    """
    enforced_at = company.enforcement_starts_at
    if enforced_at > now:
        return None
    return Q(joined_at__lte=enforced_at) | (Q(joined_at__gt=enforced_at) & _late_joiner_overdue(company, now))


def exempt_membership_ids(company) -> list[int]:
    """
    The active, not enrolled memberships of ``company`` whose user the site's
    ``WAGTAIL_COMPANY_MFA_EXEMPT_USER`` callable exempts (none without the setting). The callable is Python,
    so it is asked for each of those members, read in chunks in one query.
    """
    if not mfa_settings.EXEMPT_USER or not company.policy_is_set:
        return []
    memberships = (
        CompanyMembership.objects.filter(company_id=company.pk, is_active=True)
        .exclude(factors.has_enrolled_factor())
        .select_related("user")
        .order_by()
    )
    return [
        membership.pk for membership in memberships.iterator(chunk_size=2000) if is_exempt(membership.user)
    ]


def member_queryset(company, *, now: datetime.datetime | None = None, exempt_ids=None):
    """
    The active members of ``company`` with their user and, annotated in SQL: ``enrolled_at`` (their first
    enrolling device's creation), ``last_used_at``, ``is_enrolled``, ``grace_applied`` and ``state`` (one of
    the states above, at ``now``). One query however many members; filter, order and count on the
    annotations. ``exempt_ids`` is :func:`exempt_membership_ids` when the caller already has it.
    """
    now = now or timezone.now()
    queryset = (
        CompanyMembership.objects.filter(company_id=company.pk, is_active=True)
        .select_related("user")
        .annotate(
            enrolled_at=factors.enrolled_value("created_at", order_by="created_at"),
            last_used_at=factors.enrolled_value("last_used_at"),
            is_enrolled=factors.has_enrolled_factor(),
        )
    )
    if not company.policy_is_set:
        return queryset.annotate(
            grace_applied=Value(False, output_field=BooleanField()),
            state=Case(
                When(is_enrolled=True, then=Value(ENROLLED)),
                default=Value(NOT_REQUIRED),
                output_field=CharField(),
            ),
        )
    if exempt_ids is None:
        exempt_ids = exempt_membership_ids(company)
    whens = [When(is_enrolled=True, then=Value(ENROLLED))]
    if exempt_ids:
        whens.append(When(pk__in=exempt_ids, then=Value(EXEMPT)))
    overdue = overdue_condition(company, now)
    if overdue is not None:
        whens.append(When(overdue, then=Value(OVERDUE)))
    return queryset.annotate(
        grace_applied=Case(
            When(joined_at__gt=company.enforcement_starts_at, then=Value(True)),
            default=Value(False),
            output_field=BooleanField(),
        ),
        state=Case(*whens, default=Value(DUE), output_field=CharField()),
    )


@dataclass
class MemberRow:
    """One line of the report: a member, their enrollment and their deadline."""

    membership: CompanyMembership
    user: AbstractBaseUser
    state: str
    enrolled_at: datetime.datetime | None
    last_used_at: datetime.datetime | None
    #: When this member must use MFA for the company (``None`` when the company does not require it).
    deadline: datetime.datetime | None
    grace_applied: bool = False
    #: The company's time zone, in which the report shows the deadline's date.
    time_zone: str = "UTC"

    @property
    def deadline_date(self) -> datetime.date | None:
        """The deadline as the company's calendar date (the report shows dates in the company's zone)."""
        return calendar_date(self.deadline, self.time_zone) if self.deadline else None

    @property
    def name(self) -> str:
        return display_name(self.user)

    @property
    def email(self) -> str:
        return user_email(self.user)

    @property
    def username(self) -> str:
        return self.user.get_username()

    @property
    def role(self) -> str:
        return self.membership.role

    @property
    def role_label(self) -> str:
        return str(self.membership.get_role_display())

    @property
    def joined_at(self) -> datetime.datetime:
        return self.membership.joined_at

    @property
    def is_enrolled(self) -> bool:
        return self.state == ENROLLED

    @property
    def is_overdue(self) -> bool:
        return self.state == OVERDUE

    @property
    def overdue_label(self) -> str:
        return gettext("Yes") if self.is_overdue else gettext("No")

    @property
    def state_label(self) -> str:
        return str(STATE_LABELS[self.state])


def member_row(membership, company) -> MemberRow:
    """
    The :class:`MemberRow` of one membership from :func:`member_queryset`: its state as SQL decided it, and
    the deadline to show, from the Python rule.
    """
    deadline = None
    if company.policy_is_set:
        deadline, _grace_applied = member_deadline(
            enforcement_date=company.enforcement_date,
            time_zone=company.time_zone,
            joined_at=membership.joined_at,
            grace_days=company.new_member_grace_days,
            company_id=company.pk,
        )
    return MemberRow(
        membership=membership,
        user=membership.user,
        state=membership.state,
        enrolled_at=membership.enrolled_at,
        last_used_at=membership.last_used_at,
        deadline=deadline,
        grace_applied=bool(membership.grace_applied),
        time_zone=company.time_zone,
    )


def member_rows(memberships, company) -> list[MemberRow]:
    """A :class:`MemberRow` for each membership of ``memberships`` (a page of :func:`member_queryset`)."""
    return [member_row(membership, company) for membership in memberships]


@dataclass(frozen=True)
class EnrollmentSummary:
    """The counts at the top of the report, in the policy preview and in ``manage.py mfa_status``."""

    members: int = 0
    enrolled: int = 0
    overdue: int = 0
    due: int = 0
    exempt: int = 0

    @property
    def not_enrolled(self) -> int:
        return self.members - self.enrolled

    @property
    def must_enroll(self) -> int:
        """Members the policy applies to: everyone but the exempt."""
        return self.members - self.exempt

    @classmethod
    def of(cls, queryset) -> EnrollmentSummary:
        """The counts of ``queryset`` (from :func:`member_queryset`), in one SQL query."""
        counts = queryset.order_by().aggregate(
            members=Count("pk"),
            **{state: Count("pk", filter=Q(state=state)) for state in (ENROLLED, OVERDUE, DUE, EXEMPT)},
        )
        return cls(
            members=counts["members"],
            enrolled=counts[ENROLLED],
            overdue=counts[OVERDUE],
            due=counts[DUE],
            exempt=counts[EXEMPT],
        )


def summarize(company, *, now: datetime.datetime | None = None, exempt_ids=None) -> EnrollmentSummary:
    """The :class:`EnrollmentSummary` of ``company``'s active members (one query, counted in SQL)."""
    return EnrollmentSummary.of(member_queryset(company, now=now, exempt_ids=exempt_ids))


def user_fields(*names: str) -> list[str]:
    """Those of ``names`` that the user model has (a custom user model may lack a username or names)."""
    User = get_user_model()
    present = []
    for name in names:
        try:
            User._meta.get_field(name)
        except FieldDoesNotExist:
            continue
        if name not in present:
            present.append(name)
    return present


def user_search_fields() -> list[str]:
    User = get_user_model()
    return user_fields(User.USERNAME_FIELD, User.get_email_field_name(), "first_name", "last_name")


def user_name_ordering() -> list[str]:
    User = get_user_model()
    return user_fields("first_name", "last_name", User.USERNAME_FIELD)


def summary_sentence(company, summary: EnrollmentSummary, *, now: datetime.datetime | None = None) -> str:
    """
    The policy and its effect in one or two sentences, e.g. "From 3 March 2027, 42 members must use MFA;
    17 have enrolled." Used by the policy preview and the report.
    """
    now = now or timezone.now()
    members = summary.must_enroll
    enrolled = summary.enrolled
    if not company.policy_is_set:
        if not company.require_mfa:
            text = ngettext(
                "MFA is not required. %(enrolled)d of %(members)d member has enrolled anyway.",
                "MFA is not required. %(enrolled)d of %(members)d members have enrolled anyway.",
                summary.members,
            )
        else:
            text = ngettext(
                "MFA will be required once you choose a date. %(enrolled)d of %(members)d member has "
                "enrolled.",
                "MFA will be required once you choose a date. %(enrolled)d of %(members)d members have "
                "enrolled.",
                summary.members,
            )
        return text % {"enrolled": enrolled, "members": summary.members}
    date = date_format(company.enforcement_date, "DATE_FORMAT")
    if company.enforcement_starts_at > now:
        must = ngettext(
            "From %(date)s, %(members)d member must use MFA",
            "From %(date)s, %(members)d members must use MFA",
            members,
        )
    else:
        must = ngettext(
            "Since %(date)s, %(members)d member must use MFA",
            "Since %(date)s, %(members)d members must use MFA",
            members,
        )
    have_enrolled = ngettext("%(count)d has enrolled", "%(count)d have enrolled", enrolled)
    sentence = gettext("%(first)s; %(second)s.") % {
        "first": must % {"date": date, "members": members},
        "second": have_enrolled % {"count": enrolled},
    }
    extra = []
    if summary.overdue:
        extra.append(
            ngettext("%(count)d member is overdue.", "%(count)d members are overdue.", summary.overdue)
            % {"count": summary.overdue}
        )
    if summary.exempt:
        extra.append(
            ngettext(
                "%(count)d member is exempt by the site's settings.",
                "%(count)d members are exempt by the site's settings.",
                summary.exempt,
            )
            % {"count": summary.exempt}
        )
    return " ".join([sentence, *extra])
