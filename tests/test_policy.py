"""The requirement of a user at an instant (SPEC §2), with frozen time."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.contrib.auth.models import AnonymousUser
from factories import join, make_company, make_user

from wagtail_company_mfa.models import CompanyMembership, start_of_day
from wagtail_company_mfa.policy import NOT_REQUIRED, Status, member_deadline, requirement_for

UTC = dt.timezone.utc
LONG_AGO = dt.datetime(2020, 1, 1, tzinfo=UTC)


def at(iso: str) -> dt.datetime:
    return dt.datetime.fromisoformat(iso).astimezone(UTC)


# The enforcement instant: 00:00 of the date in the company's zone ------------------------------------------

ENFORCEMENT_INSTANTS = [
    # zone, enforcement date, the instant it starts (UTC)
    ("UTC", "2027-03-01", "2027-03-01T00:00:00+00:00"),
    # UTC+14: the earliest midnight on Earth, the previous day in UTC.
    ("Pacific/Kiritimati", "2027-03-01", "2027-02-28T10:00:00+00:00"),
    # UTC-11: among the last; 25 hours after Kiritimati's.
    ("Pacific/Pago_Pago", "2027-03-01", "2027-03-01T11:00:00+00:00"),
    # Spring-forward day (02:00 -> 03:00): midnight itself exists, still at +01:00.
    ("Europe/Amsterdam", "2027-03-28", "2027-03-27T23:00:00+00:00"),
    # The day after: already summer time, +02:00.
    ("Europe/Amsterdam", "2027-03-29", "2027-03-28T22:00:00+00:00"),
    # Chile moves from 00:00 to 01:00 on its spring-forward day: the day starts at 01:00 -03 = 04:00 UTC.
    ("America/Santiago", "2026-09-06", "2026-09-06T04:00:00+00:00"),
]


@pytest.mark.parametrize(("zone", "day", "expected"), ENFORCEMENT_INSTANTS)
def test_start_of_day_is_local_midnight(zone, day, expected):
    assert start_of_day(dt.date.fromisoformat(day), zone) == at(expected)


@pytest.mark.django_db
@pytest.mark.parametrize(("zone", "day", "instant"), ENFORCEMENT_INSTANTS)
@pytest.mark.parametrize(
    ("offset", "status"),
    [
        (dt.timedelta(days=-1), Status.UPCOMING),
        (dt.timedelta(seconds=-1), Status.UPCOMING),
        (dt.timedelta(0), Status.REQUIRED),  # "from the date on": the instant itself is required
        (dt.timedelta(seconds=1), Status.REQUIRED),
        (dt.timedelta(days=40), Status.REQUIRED),
    ],
)
def test_requirement_around_the_enforcement_instant(zone, day, instant, offset, status):
    user = make_user("pat")
    company = make_company(
        "Zone Co", require_mfa=True, enforcement_date=dt.date.fromisoformat(day), time_zone=zone
    )
    join(user, company, joined_at=LONG_AGO)

    requirement = requirement_for(user, now=at(instant) + offset)

    assert requirement.status is status
    assert requirement.deadline == at(instant)
    assert [c.company_name for c in requirement.companies] == ["Zone Co"]


@pytest.mark.django_db
def test_current_time_is_used_by_default():
    user = make_user("pat")
    company = make_company(
        "Now Co", require_mfa=True, enforcement_date=dt.date(2027, 3, 1), time_zone="Europe/Amsterdam"
    )
    join(user, company, joined_at=LONG_AGO)
    with time_machine.travel(at("2027-02-28T22:59:59+00:00"), tick=False):
        assert requirement_for(user).status is Status.UPCOMING
    with time_machine.travel(at("2027-02-28T23:00:00+00:00"), tick=False):
        assert requirement_for(user).status is Status.REQUIRED


# Grace days for late joiners -------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("grace_days", "joined", "now", "status", "deadline"),
    [
        # Joined before the date: no grace, the company's instant applies.
        (
            10,
            "2027-02-01T12:00:00+01:00",
            "2027-03-01T00:00:00+01:00",
            Status.REQUIRED,
            "2027-03-01T00:00:00+01:00",
        ),
        # Joined after the date with no grace days: required at once.
        (
            0,
            "2027-03-10T09:30:00+01:00",
            "2027-03-10T09:30:00+01:00",
            Status.REQUIRED,
            "2027-03-10T09:30:00+01:00",
        ),
        # 5 grace days from 10 March 09:30: the same wall-clock time on 15 March.
        (
            5,
            "2027-03-10T09:30:00+01:00",
            "2027-03-15T09:29:59+01:00",
            Status.UPCOMING,
            "2027-03-15T09:30:00+01:00",
        ),
        (
            5,
            "2027-03-10T09:30:00+01:00",
            "2027-03-15T09:30:00+01:00",
            Status.REQUIRED,
            "2027-03-15T09:30:00+01:00",
        ),
        # Across the spring-forward night: still 09:30 local, now at +02:00 (23 hours shorter in UTC terms).
        (
            3,
            "2027-03-26T09:30:00+01:00",
            "2027-03-29T09:29:00+02:00",
            Status.UPCOMING,
            "2027-03-29T09:30:00+02:00",
        ),
        (
            3,
            "2027-03-26T09:30:00+01:00",
            "2027-03-29T09:30:00+02:00",
            Status.REQUIRED,
            "2027-03-29T09:30:00+02:00",
        ),
    ],
)
def test_grace_days_for_late_joiners(grace_days, joined, now, status, deadline):
    user = make_user("late")
    company = make_company(
        "Grace Co",
        require_mfa=True,
        enforcement_date=dt.date(2027, 3, 1),
        time_zone="Europe/Amsterdam",
        new_member_grace_days=grace_days,
    )
    join(user, company, joined_at=at(joined))

    requirement = requirement_for(user, now=at(now))

    assert requirement.status is status
    assert requirement.deadline == at(deadline)


def test_member_deadline_reports_whether_grace_applied():
    early, early_grace = member_deadline(
        enforcement_date=dt.date(2027, 3, 1),
        time_zone="UTC",
        joined_at=at("2027-01-01T00:00:00+00:00"),
        grace_days=9,
    )
    late, late_grace = member_deadline(
        enforcement_date=dt.date(2027, 3, 1),
        time_zone="UTC",
        joined_at=at("2027-03-02T08:00:00+00:00"),
        grace_days=9,
    )
    assert (early, early_grace) == (at("2027-03-01T00:00:00+00:00"), False)
    assert (late, late_grace) == (at("2027-03-11T08:00:00+00:00"), True)


@pytest.mark.django_db
def test_reactivated_member_is_treated_as_newly_joined():
    user = make_user("returning")
    company = make_company(
        "Return Co", require_mfa=True, enforcement_date=dt.date(2027, 3, 1), new_member_grace_days=14
    )
    membership = join(user, company, joined_at=LONG_AGO, is_active=False)

    with time_machine.travel(at("2027-04-01T10:00:00+00:00"), tick=False):
        assert requirement_for(user) is NOT_REQUIRED  # inactive counts for nothing
        membership = CompanyMembership.objects.get(pk=membership.pk)
        membership.is_active = True
        membership.save(update_fields=["is_active"])
        membership.refresh_from_db()
        assert membership.joined_at == at("2027-04-01T10:00:00+00:00")
        requirement = requirement_for(user)

    assert requirement.status is Status.UPCOMING
    assert requirement.deadline == at("2027-04-15T10:00:00+00:00")


@pytest.mark.django_db
def test_saving_an_active_membership_keeps_its_join_date():
    user = make_user("steady")
    membership = join(user, make_company("Steady Co"), joined_at=LONG_AGO)
    membership = CompanyMembership.objects.get(pk=membership.pk)
    membership.role = CompanyMembership.Role.ADMIN
    membership.save()
    membership.refresh_from_db()
    assert membership.joined_at == LONG_AGO


# Which memberships and companies count ---------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("policy", "active"),
    [
        ({"require_mfa": False, "enforcement_date": dt.date(2027, 1, 1)}, True),  # switch off, date set
        ({"require_mfa": True, "enforcement_date": None}, True),  # switch on, no date yet
        ({"require_mfa": False, "enforcement_date": None}, True),
        ({"require_mfa": True, "enforcement_date": dt.date(2027, 1, 1)}, False),  # inactive membership
    ],
)
def test_not_required(policy, active):
    user = make_user("free")
    join(user, make_company("Free Co", **policy), joined_at=LONG_AGO, is_active=active)
    assert requirement_for(user, now=at("2027-06-01T00:00:00+00:00")) is NOT_REQUIRED


@pytest.mark.django_db
def test_no_companies_at_all():
    assert requirement_for(make_user("loner"), now=at("2027-06-01T00:00:00+00:00")) is NOT_REQUIRED


@pytest.mark.django_db
def test_strictest_company_wins():
    user = make_user("dave")
    required = make_company("Acme", require_mfa=True, enforcement_date=dt.date(2027, 1, 10))
    upcoming = make_company("Bluebird", require_mfa=True, enforcement_date=dt.date(2027, 9, 1))
    off = make_company("Cedar")
    for company in (off, upcoming, required):
        join(user, company, joined_at=LONG_AGO)

    requirement = requirement_for(user, now=at("2027-02-01T00:00:00+00:00"))

    assert requirement.status is Status.REQUIRED
    assert [c.company_name for c in requirement.companies] == ["Acme"]
    assert requirement.deadline == at("2027-01-10T00:00:00+00:00")


@pytest.mark.django_db
def test_earliest_upcoming_deadline_is_the_deadline():
    user = make_user("bob")
    for name, day in [
        ("Later", dt.date(2027, 9, 1)),
        ("Sooner", dt.date(2027, 5, 1)),
        ("Middle", dt.date(2027, 7, 1)),
    ]:
        join(user, make_company(name, require_mfa=True, enforcement_date=day), joined_at=LONG_AGO)

    requirement = requirement_for(user, now=at("2027-02-01T00:00:00+00:00"))

    assert requirement.status is Status.UPCOMING
    assert requirement.deadline == at("2027-05-01T00:00:00+00:00")
    assert [c.company_name for c in requirement.companies] == ["Sooner", "Middle", "Later"]


@pytest.mark.django_db
def test_companies_in_different_zones_compare_by_instant():
    user = make_user("traveller")
    # Same calendar date; Kiritimati's midnight comes 25 hours before Pago Pago's.
    for name, zone in [("South Seas", "Pacific/Pago_Pago"), ("Line Islands", "Pacific/Kiritimati")]:
        join(
            user,
            make_company(name, require_mfa=True, enforcement_date=dt.date(2027, 3, 1), time_zone=zone),
            joined_at=LONG_AGO,
        )

    between = requirement_for(user, now=at("2027-03-01T00:00:00+00:00"))

    assert between.status is Status.REQUIRED
    assert [c.company_name for c in between.companies] == ["Line Islands"]


# Exemptions and superusers ---------------------------------------------------------------------------------


def exempt_everyone(user):
    return True


@pytest.fixture
def required_member(db):
    user = make_user("needs-mfa")
    join(
        user,
        make_company("Strict Co", require_mfa=True, enforcement_date=dt.date(2020, 6, 1)),
        joined_at=LONG_AGO,
    )
    return user


@pytest.mark.parametrize("setting", [exempt_everyone, "test_policy.exempt_everyone"])
def test_exempt_users_are_not_required_and_cost_no_query(
    required_member, settings, setting, django_assert_num_queries
):
    settings.WAGTAIL_COMPANY_MFA_EXEMPT_USER = setting
    with django_assert_num_queries(0):
        assert requirement_for(required_member) is NOT_REQUIRED


def test_exemption_callable_sees_the_user(required_member, settings):
    settings.WAGTAIL_COMPANY_MFA_EXEMPT_USER = lambda user: user.get_username().startswith("sso-")
    assert requirement_for(required_member).status is Status.REQUIRED


@pytest.mark.django_db
def test_superusers_are_not_required_while_no_company_requires_mfa():
    make_company("Cedar Homes", require_mfa=False)
    make_company("Undecided", require_mfa=True)  # no date yet
    root = make_user("root", superuser=True)
    assert requirement_for(root) is NOT_REQUIRED


@pytest.mark.django_db
def test_superusers_required_when_the_setting_says_so(settings):
    settings.WAGTAIL_COMPANY_MFA_REQUIRE_SUPERUSERS = True
    root = make_user("root", superuser=True)
    requirement = requirement_for(root)
    assert requirement.status is Status.REQUIRED
    assert requirement.superuser is True
    assert requirement.companies == ()


@pytest.mark.django_db
def test_superuser_setting_does_not_touch_other_users(settings):
    settings.WAGTAIL_COMPANY_MFA_REQUIRE_SUPERUSERS = True
    assert requirement_for(make_user("editor")) is NOT_REQUIRED


@pytest.mark.django_db
def test_anonymous_users_cost_no_query(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert requirement_for(AnonymousUser()) is NOT_REQUIRED


@pytest.mark.django_db
def test_naive_now_is_refused():
    with pytest.raises(ValueError, match="aware"):
        requirement_for(make_user("pat"), now=dt.datetime(2027, 1, 1))


# One query, however many companies -------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("company_count", [1, 50])
def test_one_query_however_many_companies(company_count, django_assert_num_queries):
    user = make_user("busy")
    zones = ["UTC", "Europe/Amsterdam", "Pacific/Kiritimati", "Pacific/Pago_Pago", "America/New_York"]
    for index in range(company_count):
        company = make_company(
            f"Company {index:02d}",
            require_mfa=index % 3 != 2,
            enforcement_date=dt.date(2027, 1, 1) + dt.timedelta(days=index * 7),
            time_zone=zones[index % len(zones)],
            new_member_grace_days=index % 4,
        )
        join(user, company, joined_at=LONG_AGO, is_active=index % 5 != 4)

    with django_assert_num_queries(1):
        requirement = requirement_for(user, now=at("2027-01-01T12:00:00+00:00"))

    assert requirement.status is Status.REQUIRED
    assert requirement.companies[0].company_name == "Company 00"


# Those who govern every company answer to the strictest company (SEC-39, SEC-40) ---------------------------

NOW = "2027-03-01T12:00:00+00:00"


def manage_all_holder(username="governor", *, through_group=True):
    from django.contrib.auth.models import Group, Permission

    user = make_user(username)
    permission = Permission.objects.get(
        content_type__app_label="wagtail_company_mfa", codename="manage_all_companies"
    )
    if through_group:
        group = Group.objects.create(name="Company governors")
        group.permissions.add(permission)
        user.groups.add(group)
    else:
        user.user_permissions.add(permission)
    return user


@pytest.fixture
def governed_world(db):
    """Acme requires MFA since 2027-02-22, Bluebird from 2027-03-31, Cedar not at all."""
    return {
        "acme": make_company("Acme Builders", require_mfa=True, enforcement_date=dt.date(2027, 2, 22)),
        "bluebird": make_company(
            "Bluebird Contracting", require_mfa=True, enforcement_date=dt.date(2027, 3, 31)
        ),
        "cedar": make_company("Cedar Homes", require_mfa=False),
    }


def test_superuser_in_no_company_is_required_when_any_company_requires(
    governed_world, django_assert_num_queries
):  # SEC-40
    root = make_user("root", superuser=True)
    with django_assert_num_queries(1):
        requirement = requirement_for(root, now=at(NOW))
    assert requirement.status is Status.REQUIRED
    assert [company.company_name for company in requirement.companies] == ["Acme Builders"]
    assert requirement.governs_all is True
    assert requirement.superuser is False
    assert requirement.deadline == start_of_day(dt.date(2027, 2, 22), "UTC")


def test_superuser_is_upcoming_until_the_earliest_company_date(governed_world):
    root = make_user("root", superuser=True)
    requirement = requirement_for(root, now=at("2027-02-01T00:00:00+00:00"))
    assert requirement.status is Status.UPCOMING
    assert requirement.deadline == start_of_day(dt.date(2027, 2, 22), "UTC")


@pytest.mark.parametrize("through_group", [True, False])
def test_manage_all_companies_holder_is_required_when_any_company_requires(
    governed_world, django_assert_num_queries, through_group
):  # SEC-40
    governor = manage_all_holder(through_group=through_group)
    with django_assert_num_queries(1):
        requirement = requirement_for(governor, now=at(NOW))
    assert requirement.status is Status.REQUIRED
    assert requirement.governs_all is True


def test_ordinary_user_is_not_governed_by_companies_they_are_not_in(
    governed_world, django_assert_num_queries
):
    editor = make_user("editor")
    join(editor, governed_world["cedar"])
    with django_assert_num_queries(1):
        assert requirement_for(editor, now=at(NOW)) is NOT_REQUIRED


def test_governor_grace_period_does_not_postpone_their_requirement(governed_world):
    root = make_user("root", superuser=True)
    governed_world["acme"].new_member_grace_days = 30
    governed_world["acme"].save()
    join(root, governed_world["acme"], joined_at=at("2027-02-28T00:00:00+00:00"))
    requirement = requirement_for(root, now=at(NOW))
    assert requirement.status is Status.REQUIRED
    assert requirement.companies[0].governed is True


def test_superuser_member_of_a_required_company_is_required_as_a_member(governed_world):
    root = make_user("root", superuser=True)
    join(root, governed_world["acme"], joined_at=at("2026-01-01T00:00:00+00:00"))
    requirement = requirement_for(root, now=at(NOW))
    assert requirement.status is Status.REQUIRED
    assert requirement.governs_all is False


@pytest.mark.parametrize("value", [False, "never"])
def test_superusers_follow_their_own_companies_when_the_setting_is_off(governed_world, settings, value):
    settings.WAGTAIL_COMPANY_MFA_REQUIRE_SUPERUSERS = value
    assert requirement_for(make_user("root", superuser=True), now=at(NOW)) is NOT_REQUIRED
    assert requirement_for(manage_all_holder(), now=at(NOW)) is NOT_REQUIRED


@pytest.mark.parametrize("value", [True, "always"])
def test_superusers_always_required_when_the_setting_says_always(db, settings, value):
    settings.WAGTAIL_COMPANY_MFA_REQUIRE_SUPERUSERS = value
    requirement = requirement_for(make_user("root", superuser=True))
    assert requirement.status is Status.REQUIRED
    assert requirement.superuser is True


def test_inactive_superuser_follows_their_companies(governed_world):
    root = make_user("root", superuser=True, is_active=False)
    assert requirement_for(root, now=at(NOW)) is NOT_REQUIRED
