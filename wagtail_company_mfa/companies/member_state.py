"""
A company member's enrollment state in SQL (docs/performance.md, "Enrollment report"): enrolled, overdue, not
enrolled yet, exempt or not required, as annotations on the company's memberships, so that the report
filters, sorts, counts and pages in the database and a page costs the same at 10 members as at 100,000.

Whether a member is enrolled is an ``Exists`` per enrolling device model that the factor registry builds
(``factors/``); "overdue" is a condition on ``joined_at`` worked out once per company and request from the
Python rule itself (:func:`overdue_condition`); the exempt come from the site's setting
(:func:`exempt_condition`).
"""

from __future__ import annotations

import datetime
import itertools
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import BooleanField, Case, CharField, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext_lazy

from .. import factors
from ..base import methods
from ..conf import mfa_settings
from ..models import CompanyMembership, company_zone
from ..trusted.report import trusted_count
from .policy import grace_deadline, is_exempt

ENROLLED = "enrolled"
NOT_ENROLLED = "not_enrolled"
OVERDUE = "overdue"
DUE = "due"
EXEMPT = "exempt"
NOT_REQUIRED = "not_required"

#: Not a state: the enrolled members whose factors the company does not accept (it accepts only
#: phishing-resistant ones and they have only an authenticator app). A choice of the report's filter.
METHODS_UNMET = "methods_unmet"

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
    (METHODS_UNMET, gettext_lazy("Not meeting the company's methods")),
]


def meets_methods_condition(company) -> Q:
    """The members with a factor ``company`` accepts, as a condition on :func:`member_queryset`'s rows."""
    condition = Q(pk__in=[])
    for factor in methods.accepted_by_company(company):
        condition |= Q(**{factors.factor_annotation(factor): True})
    return condition


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


def exempt_condition(company) -> Q | None:
    """
    The memberships of ``company`` whose user the site's ``WAGTAIL_COMPANY_MFA_EXEMPT_USER`` exempts, as a
    condition on memberships; ``None`` when nobody can be (no setting, or no policy).

    When the callable has an ``exempt_users`` attribute, ``exempt_users(queryset of users)`` gives the
    exempt users as a queryset (docs/settings.md), and the condition is a subquery: no Python per member, so
    the report's counts, filters and pages cost the same with the setting as without. Otherwise the callable
    is asked for each member who is not enrolled (:func:`exempt_membership_ids`), on every page view.
    """
    exempt = mfa_settings.EXEMPT_USER
    if not exempt or not company.policy_is_set:
        return None
    exempt_users = getattr(exempt, "exempt_users", None)
    if exempt_users is not None:
        User = get_user_model()
        return Q(user_id__in=exempt_users(User._default_manager.all()).values("pk"))
    ids = exempt_membership_ids(company)
    return Q(pk__in=ids) if ids else None


#: "Work the exempt members out here" (the default of ``exempt`` below), as opposed to ``None``: nobody.
ASK = object()


def member_queryset(company, *, now: datetime.datetime | None = None, exempt: Any = ASK):
    """
    The active members of ``company`` with their user and, annotated in SQL: ``enrolled_at`` (their first
    enrolling device's creation), ``last_used_at``, ``is_enrolled``, ``grace_applied`` and ``state`` (one of
    the states above, at ``now``). One query however many members; filter, order and count on the
    annotations. ``exempt`` is :func:`exempt_condition` when the caller already has it.
    """
    now = now or timezone.now()
    queryset = (
        CompanyMembership.objects.filter(company_id=company.pk, is_active=True)
        .select_related("user")
        .annotate(
            enrolled_at=factors.enrolled_value("created_at", order_by="created_at"),
            last_used_at=factors.enrolled_value("last_used_at"),
            is_enrolled=factors.has_enrolled_factor(),
            trusted_browsers=trusted_count(now),
            # Which factors each member has (the report's "Methods"), one EXISTS per factor.
            **{
                factors.factor_annotation(factor): factors.has_factor(factor)
                for factor in factors.enrolling_factors()
            },
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
    if exempt is ASK:
        exempt = exempt_condition(company)
    whens = [When(is_enrolled=True, then=Value(ENROLLED))]
    if exempt is not None:
        whens.append(When(exempt, then=Value(EXEMPT)))
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
