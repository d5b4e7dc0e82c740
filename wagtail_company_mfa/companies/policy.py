"""
What MFA requires of a user at an instant (docs/policy.md). Pure: no request, no side effects.

The requirement is computed from all the user's active memberships in one SQL query, however many companies
the user belongs to, and the strictest company wins. For those who govern every company (superusers and
holders of ``manage_all_companies``), every company counts by default, member or not
(``WAGTAIL_COMPANY_MFA_REQUIRE_SUPERUSERS``):

- ``REQUIRED`` if any company requires MFA and its (grace-adjusted) deadline has passed;
- else ``UPCOMING`` if any company requires MFA with a deadline in the future (the earliest one counts);
- else ``NOT_REQUIRED``.
"""

from __future__ import annotations

import datetime
import enum
import zoneinfo
from dataclasses import dataclass

from django.db import router
from django.utils import timezone

from .. import factors
from ..base import admin_access
from ..conf import SUPERUSERS_ALWAYS, mfa_settings
from ..models import MAX_ENFORCEMENT_DATE, AllowedMethods, CompanyMembership, company_zone, start_of_day
from .company_rows import COMPANY_KEYS, FACTOR_KEY_COLUMN, ROW_KIND_COLUMN, STANDING, company_rows, variant_of


class Status(str, enum.Enum):
    NOT_REQUIRED = "not_required"
    UPCOMING = "upcoming"
    REQUIRED = "required"


def calendar_date(moment: datetime.datetime, time_zone: str) -> datetime.date:
    """``moment`` as a calendar date in ``time_zone`` (a company's); UTC for a zone this system lacks."""
    try:
        zone = zoneinfo.ZoneInfo(time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")
    return moment.astimezone(zone).date()


@dataclass(frozen=True)
class CompanyDeadline:
    """One company's claim on a user: by when that user must use MFA."""

    company_id: int
    company_name: str
    #: The company's enforcement date (a calendar date in ``time_zone``).
    enforcement_date: datetime.date
    time_zone: str
    #: When this user must use MFA for this company: the enforcement instant, or later for a late joiner.
    deadline: datetime.datetime
    #: True when the deadline was moved past the enforcement date by the company's new-member grace period.
    grace_applied: bool = False
    #: True when the company counts because the user governs every company (a superuser or a holder of
    #: ``manage_all_companies``), not (or not this early) through a membership of their own.
    governed: bool = False
    #: True when the company accepts only phishing-resistant factors (passkeys and security keys).
    phishing_resistant_only: bool = False
    #: How long the company lets a member trust a browser, in hours (0: ask at every sign-in).
    trust_hours: int = 0

    @property
    def date(self) -> datetime.date:
        """The deadline as the company's calendar date (what people are told: "from 1 January 2027")."""
        return calendar_date(self.deadline, self.time_zone)


@dataclass(frozen=True)
class Requirement:
    """The outcome of :func:`requirement_for`."""

    status: Status
    #: The companies behind the status, earliest deadline first: for ``REQUIRED`` those whose deadline has
    #: passed, for ``UPCOMING`` those whose deadline is ahead.
    companies: tuple[CompanyDeadline, ...] = ()
    #: True when ``WAGTAIL_COMPANY_MFA_REQUIRE_SUPERUSERS`` is what makes this superuser's MFA required.
    superuser: bool = False
    #: How long a browser may be trusted, in hours, under the strictest of *all* the user's companies that
    #: require MFA (with a date passed or ahead); 0 when one of them asks at every sign-in or there is none
    #: (docs/policy.md, "Trusted browsers").
    trust_hours: int = 0

    @property
    def is_required(self) -> bool:
        return self.status is Status.REQUIRED

    @property
    def is_upcoming(self) -> bool:
        return self.status is Status.UPCOMING

    @property
    def deadline(self) -> datetime.datetime | None:
        """The earliest deadline among :attr:`companies`, or ``None``."""
        return self.companies[0].deadline if self.companies else None

    @property
    def methods_companies(self) -> tuple[CompanyDeadline, ...]:
        """Of :attr:`companies`, those that accept only phishing-resistant factors."""
        return tuple(company for company in self.companies if company.phishing_resistant_only)

    @property
    def phishing_resistant_only(self) -> bool:
        """Whether one of :attr:`companies` accepts only phishing-resistant factors (the strictest wins)."""
        return bool(self.methods_companies)

    @property
    def date(self) -> datetime.date | None:
        """:attr:`deadline` as the calendar date of its company, or ``None``."""
        return self.companies[0].date if self.companies else None

    @property
    def governs_all(self) -> bool:
        """True when a company counts only because the user governs every company."""
        return any(company.governed for company in self.companies)


NOT_REQUIRED = Requirement(Status.NOT_REQUIRED)


def member_deadline(
    *,
    enforcement_date: datetime.date,
    time_zone: str,
    joined_at: datetime.datetime,
    grace_days: int,
    company_id: int | None = None,
) -> tuple[datetime.datetime, bool]:
    """
    When a member must use MFA for a company, and whether the grace period moved it.

    The deadline is 00:00 of the enforcement date in the company's time zone. Someone who joined after that
    instant gets ``grace_days`` from joining instead: the same wall-clock time ``grace_days`` calendar days
    later in the company's zone (so a DST change in between does not shift it by an hour). With no grace days
    a late joiner is required at once.

    Never raises, so that no listing, gate, command or email fails on a bad stored value: an enforcement
    date outside the supported range is clamped into it and an unknown zone is taken as UTC, each logged
    with ``company_id`` (:func:`~wagtail_company_mfa.models.start_of_day`); a grace period that would run
    past the end of the calendar ends at the latest supported instant.
    """
    enforced_at = start_of_day(enforcement_date, time_zone, company_id=company_id)
    if joined_at <= enforced_at:
        return enforced_at, False
    zone = company_zone(time_zone, company_id=company_id)
    return grace_deadline(joined_at, zone, grace_days, time_zone=time_zone, company_id=company_id), True


def grace_deadline(
    joined_at: datetime.datetime,
    zone: datetime.tzinfo,
    grace_days: int,
    *,
    time_zone: str,
    company_id: int | None = None,
) -> datetime.datetime:
    """
    A late joiner's deadline (see :func:`member_deadline`): the wall-clock time of ``joined_at`` in ``zone``,
    ``grace_days`` calendar days later, as a UTC instant. ``zone`` is the resolved ``time_zone``, so that a
    caller asking for many members resolves (and logs a bad name) once.
    """
    local_join = joined_at.astimezone(zone)
    try:
        return (local_join + datetime.timedelta(days=grace_days)).astimezone(datetime.timezone.utc)
    except OverflowError:
        return start_of_day(MAX_ENFORCEMENT_DATE, time_zone, company_id=company_id)


def company_deadlines(user) -> list[CompanyDeadline]:
    """
    Every company that requires MFA of ``user`` (switch on, date set), with the user's own deadline in each,
    earliest first. One query.

    A company counts through an active membership, and, unless ``WAGTAIL_COMPANY_MFA_REQUIRE_SUPERUSERS`` is
    ``False``, for an active superuser or holder of ``manage_all_companies`` every company counts from its
    enforcement date: they can change any company's policy and reset anyone's MFA, so the strictest company
    applies to them.
    """
    return _deadlines_from(company_rows(user))


def _deadlines_from(rows) -> list[CompanyDeadline]:
    deadlines = []
    for row in rows:
        values = dict(zip(COMPANY_KEYS, row, strict=True))
        company_id, name, time_zone = values["company_id"], values["name"], values["time_zone"]
        enforcement_date, grace_days = values["enforcement_date"], values["grace_days"]
        joined_at, governs = values["joined_at"], values["governs"]
        allowed, trust_hours = values["allowed_methods"], values["trust_hours"]
        grace_applied = governed = False
        if joined_at is not None:
            deadline, grace_applied = member_deadline(
                enforcement_date=enforcement_date,
                time_zone=time_zone,
                joined_at=joined_at,
                grace_days=grace_days,
                company_id=company_id,
            )
        if governs:
            enforced_at = start_of_day(enforcement_date, time_zone, company_id=company_id)
            if joined_at is None or enforced_at < deadline:
                deadline, grace_applied, governed = enforced_at, False, True
        deadlines.append(
            CompanyDeadline(
                company_id=company_id,
                company_name=name,
                enforcement_date=enforcement_date,
                time_zone=time_zone,
                deadline=deadline,
                grace_applied=grace_applied,
                governed=governed,
                phishing_resistant_only=allowed == AllowedMethods.PHISHING_RESISTANT,
                trust_hours=trust_hours or 0,
            )
        )
    deadlines.sort(key=lambda d: (d.deadline, d.company_name))
    return deadlines


def is_exempt(user) -> bool:
    """True when the site's ``WAGTAIL_COMPANY_MFA_EXEMPT_USER`` callable exempts ``user``."""
    exempt = mfa_settings.EXEMPT_USER
    return bool(exempt and exempt(user))


def requirement_for(user, *, now: datetime.datetime | None = None) -> Requirement:
    """
    The MFA requirement of ``user`` at ``now`` (default: the current time), as docs/policy.md defines it.

    Anonymous and exempt users are ``NOT_REQUIRED`` without touching the database; everyone else costs
    exactly one query. Superusers and ``manage_all_companies`` holders answer to every company (see
    :func:`company_deadlines`); with ``WAGTAIL_COMPANY_MFA_REQUIRE_SUPERUSERS = True`` an active superuser is
    ``REQUIRED`` whatever the companies say.
    """
    if user is None or not user.is_authenticated or is_exempt(user):
        return NOT_REQUIRED
    now = _instant(now)
    return _requirement(user, company_deadlines(user), now)


def standing_for(user, *, now: datetime.datetime | None = None) -> tuple[Requirement, frozenset[str]]:
    """
    ``(requirement_for(user), factors.factors_of(user))`` in one query instead of two: the company rows and
    the factor rows of the registry (``factors.tagged_rows``) as one ``UNION ALL``, compiled to SQL once per
    process (``base/compiled.py``). What the gate asks of a session that has not passed the second factor,
    on every request (docs/performance.md). An anonymous or exempt user costs only the factor query (the
    requirement needs none).
    """
    requirement, keys, _permissions = _standing(user, now, permissions=False)
    return requirement, keys


def standing_with_permissions(
    user, *, now: datetime.datetime | None = None
) -> tuple[Requirement, frozenset[str], dict[str, set[str]] | None]:
    """
    :func:`standing_for`, and in the same query the user's permissions as Django's ``ModelBackend`` reads
    them, by source (``base.admin_access``): for the MFA pages, whose Wagtail access check would read them
    again. ``None`` for the permissions when they were not read (an exempt user).
    """
    return _standing(user, now, permissions=True)


def _standing(user, now, *, permissions: bool):
    if user is None or not user.is_authenticated:
        return NOT_REQUIRED, frozenset(), None
    if is_exempt(user):
        return NOT_REQUIRED, factors.factors_of(user), None
    now = _instant(now)
    using = router.db_for_read(CompanyMembership)
    rows = STANDING.rows((variant_of(user), permissions), user.pk, using=using)
    requiring, keys = [], set()
    read: dict[str, set[str]] = {admin_access.USER: set(), admin_access.GROUP: set()}
    for row in rows:
        if row[0] is not None:
            requiring.append(row)
        elif row[ROW_KIND_COLUMN] is None:
            keys.add(row[FACTOR_KEY_COLUMN])
        else:
            read[row[ROW_KIND_COLUMN]].add(row[FACTOR_KEY_COLUMN])
    requirement = _requirement(user, _deadlines_from(requiring), now)
    return requirement, frozenset(keys), read if permissions else None


def _instant(now: datetime.datetime | None) -> datetime.datetime:
    if now is None:
        return timezone.now()
    if timezone.is_naive(now):
        raise ValueError("requirement_for() needs an aware datetime for `now`.")
    return now


def _requirement(user, deadlines: list[CompanyDeadline], now: datetime.datetime) -> Requirement:
    passed = tuple(d for d in deadlines if d.deadline <= now)
    ahead = tuple(d for d in deadlines if d.deadline > now)
    # The strictest company wins: the shortest period, and "at every sign-in" (0) over any period.
    trust = min((d.trust_hours for d in deadlines), default=0)

    if mfa_settings.REQUIRE_SUPERUSERS == SUPERUSERS_ALWAYS and user.is_superuser:
        return Requirement(Status.REQUIRED, passed, superuser=True, trust_hours=trust)
    if passed:
        return Requirement(Status.REQUIRED, passed, trust_hours=trust)
    if ahead:
        return Requirement(Status.UPCOMING, ahead, trust_hours=trust)
    return NOT_REQUIRED
