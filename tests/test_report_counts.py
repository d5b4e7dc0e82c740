"""
The enrollment report's counts, kept between page views (companies/counts.py; docs/performance.md): kept
while nothing changes, forgotten by every change that can move them, recounted when time alone moves them,
never kept over a change made while counting, and a page that works whatever happens to the kept row.
"""

from __future__ import annotations

import datetime
import random
import zoneinfo

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.db import DatabaseError
from factories import enroll_user, join, make_company, make_user, sign_in_at

from wagtail_company_mfa.companies import counts, summary
from wagtail_company_mfa.companies.policy import member_deadline
from wagtail_company_mfa.models import (
    AuthenticatorDevice,
    Company,
    CompanyMembership,
    EnrollmentCounts,
)

pytestmark = pytest.mark.django_db

UTC = datetime.timezone.utc
NOW = datetime.datetime(2027, 3, 10, 12, 0, tzinfo=UTC)
EARLY = datetime.datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture
def company(db):
    """Required since 1 March 2027 (UTC), 7 grace days: two enrolled, one overdue, one late joiner due."""
    company = make_company(
        "Kept Co",
        require_mfa=True,
        enforcement_date=datetime.date(2027, 3, 1),
        time_zone="UTC",
        new_member_grace_days=7,
    )
    for name in ("anna", "alice", "olga"):
        join(make_user(name), company, joined_at=EARLY)
    # Joined on 8 March: due until 15 March, 08:00.
    join(make_user("lena"), company, joined_at=datetime.datetime(2027, 3, 8, 8, 0, tzinfo=UTC))
    for name in ("anna", "alice"):
        enroll_user(user(name))
    return company


def user(name):
    return get_user_model().objects.get(email=f"{name}@example.com")


@pytest.fixture
def admin_client(client, company):
    return sign_in_at(client, make_user("root", superuser=True), NOW)


@pytest.fixture
def counted(monkeypatch):
    """The number of times the report's page counted the members (instead of reading kept counts)."""
    calls = []
    original = counts.count_members

    def counting(*args, **kwargs):
        calls.append(kwargs.get("now"))
        return original(*args, **kwargs)

    monkeypatch.setattr(counts, "count_members", counting)
    return calls


def shown(client, company, at=NOW):
    """The summary the report's page shows at ``at``, as (members, enrolled, overdue, due)."""
    with time_machine.travel(at, tick=False):
        response = client.get(f"/admin/company-mfa/companies/{company.pk}/report/")
    assert response.status_code == 200
    shown = response.context["summary"]
    return shown.members, shown.enrolled, shown.overdue, shown.due


def kept(company) -> EnrollmentCounts:
    return EnrollmentCounts.objects.get(company=company)


def test_counts_are_kept_between_page_views_and_equal_a_fresh_count(admin_client, company, counted, settings):
    settings.WAGTAIL_COMPANY_MFA_REPORT_COUNTS_MAX_AGE = 30 * 24 * 3600
    assert shown(admin_client, company) == (4, 2, 1, 1)
    assert shown(admin_client, company) == (4, 2, 1, 1)
    assert len(counted) == 1
    row = kept(company)
    assert (row.members, row.enrolled, row.overdue, row.due, row.exempt) == (4, 2, 1, 1, 0)
    # Held until Lena's deadline (15 March, 08:00 UTC), the first moment time alone changes a count.
    assert row.valid_until == datetime.datetime(2027, 3, 15, 8, 0, tzinfo=UTC)
    assert summary.summarize(company, now=NOW) == counts.kept_summary(
        Company.objects.get(pk=company.pk), now=NOW
    )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        # Olga enrolls: a device is created (post_save).
        (lambda company: enroll_user(user("olga")), (4, 3, 0, 1)),
        # Alice's authenticator is removed, as a reset does (post_delete).
        (lambda company: AuthenticatorDevice.objects.filter(user=user("alice")).delete(), (4, 1, 2, 1)),
        # Anna's is unconfirmed with save(update_fields=...).
        (lambda company: _unconfirm(user("anna")), (4, 1, 2, 1)),
        # A new member through the ORM, and one with bulk_create (no signal: caught by the newest id).
        (lambda company: join(make_user("neve"), company, joined_at=EARLY), (5, 2, 2, 1)),
        (
            lambda company: CompanyMembership.objects.bulk_create(
                [CompanyMembership(user=make_user("bulk"), company=company, joined_at=EARLY)]
            ),
            (5, 2, 2, 1),
        ),
        # Olga's membership is deactivated, then deleted; Lena's account is deleted.
        (lambda company: _deactivate(company, "olga"), (3, 2, 0, 1)),
        (lambda company: CompanyMembership.objects.filter(user=user("olga")).delete(), (3, 2, 0, 1)),
        (lambda company: user("lena").delete(), (3, 2, 1, 0)),
        # A policy written around the form (no save, no signal): caught by the policy kept with the counts.
        (
            lambda company: Company.objects.filter(pk=company.pk).update(
                enforcement_date=datetime.date(2027, 4, 1)
            ),
            (4, 2, 0, 2),
        ),
        (lambda company: Company.objects.filter(pk=company.pk).update(require_mfa=False), (4, 2, 0, 0)),
    ],
    ids=[
        "enrolled",
        "device-deleted",
        "unconfirmed",
        "member-added",
        "member-bulk-created",
        "member-deactivated",
        "member-deleted",
        "user-deleted",
        "date-moved",
        "mfa-turned-off",
    ],
)
def test_every_change_that_moves_a_count_is_shown_on_the_next_view(admin_client, company, change, expected):
    assert shown(admin_client, company) == (4, 2, 1, 1)
    change(company)
    assert shown(admin_client, company) == expected
    # And what the page shows is what counting from scratch says.
    fresh = summary.summarize(Company.objects.get(pk=company.pk), now=NOW)
    assert (fresh.members, fresh.enrolled, fresh.overdue, fresh.due) == expected


def _unconfirm(person):
    device = AuthenticatorDevice.objects.get(user=person)
    device.confirmed = False
    device.save(update_fields=["confirmed"])


def _deactivate(company, name):
    membership = CompanyMembership.objects.get(company=company, user=user(name))
    membership.is_active = False
    membership.save()


def test_using_a_device_or_changing_a_role_keeps_the_counts(admin_client, company, counted):
    shown(admin_client, company)
    generation = kept(company).generation
    device = AuthenticatorDevice.objects.get(user=user("anna"))
    device.last_used_at = NOW
    device.save(update_fields=["last_used_at"])
    membership = CompanyMembership.objects.get(company=company, user=user("alice"))
    membership.role = CompanyMembership.Role.ADMIN
    membership.save(update_fields=["role"])
    assert kept(company).generation == generation
    shown(admin_client, company)
    assert len(counted) == 1


def test_a_change_forgets_only_the_companies_it_touches(admin_client, company):
    other = make_company("Other Co", require_mfa=True, enforcement_date=datetime.date(2027, 3, 1))
    join(make_user("otto"), other, joined_at=EARLY)
    shown(admin_client, company)
    with time_machine.travel(NOW, tick=False):
        assert admin_client.get(f"/admin/company-mfa/companies/{other.pk}/report/").status_code == 200
    before = kept(other).generation, kept(other).members
    enroll_user(user("olga"))
    assert kept(company).members is None
    assert (kept(other).generation, kept(other).members) == before


def test_a_deadline_passing_is_counted_at_once(admin_client, company, counted):
    deadline = datetime.datetime(2027, 3, 15, 8, 0, tzinfo=UTC)
    assert shown(admin_client, company, deadline - datetime.timedelta(microseconds=1)) == (4, 2, 1, 1)
    assert len(counted) == 1
    assert shown(admin_client, company, deadline) == (4, 2, 2, 0)
    assert len(counted) == 2
    # Nobody is due any more: nothing changes with time, and the counts hold for the age limit.
    assert kept(company).valid_until == deadline + datetime.timedelta(hours=1)


def test_the_enforcement_instant_is_counted_at_once(admin_client, company):
    Company.objects.filter(pk=company.pk).update(enforcement_date=datetime.date(2027, 3, 12))
    start = datetime.datetime(2027, 3, 12, tzinfo=UTC)
    assert shown(admin_client, company, start - datetime.timedelta(microseconds=1)) == (4, 2, 0, 2)
    assert kept(company).valid_until == start
    # Lena joined before the new date: no grace period, overdue with Olga.
    assert shown(admin_client, company, start) == (4, 2, 2, 0)


def test_the_age_limit_bounds_a_change_the_package_cannot_see(admin_client, company, settings, counted):
    settings.WAGTAIL_COMPANY_MFA_REPORT_COUNTS_MAX_AGE = 60
    Company.objects.filter(pk=company.pk).update(new_member_grace_days=30)
    assert shown(admin_client, company) == (4, 2, 1, 1)
    # Made around the signals, so not seen at once...
    CompanyMembership.objects.filter(user=user("olga")).update(is_active=False)
    assert shown(admin_client, company, NOW + datetime.timedelta(seconds=59)) == (4, 2, 1, 1)
    # ...but within the age limit.
    assert shown(admin_client, company, NOW + datetime.timedelta(seconds=60)) == (3, 2, 0, 1)
    assert len(counted) == 2


def test_zero_counts_on_every_view(admin_client, company, settings, counted):
    settings.WAGTAIL_COMPANY_MFA_REPORT_COUNTS_MAX_AGE = 0
    shown(admin_client, company)
    shown(admin_client, company)
    assert len(counted) == 2
    assert kept(company).members is None


def test_nothing_is_kept_with_an_exempt_rule(admin_client, company, settings, counted):
    settings.WAGTAIL_COMPANY_MFA_EXEMPT_USER = "test_report_counts.exempt_olga"
    assert shown(admin_client, company) == (4, 2, 0, 1)
    assert shown(admin_client, company) == (4, 2, 0, 1)
    assert len(counted) == 2
    assert kept(company).members is None


def exempt_olga(user) -> bool:
    return user.email.startswith("olga@")


def test_a_change_made_while_counting_is_never_hidden(admin_client, company, monkeypatch):
    """Olga enrolls after the page read the company and before it keeps its counts: they are not kept."""
    original = counts.count_members

    def count_then_change(*args, **kwargs):
        result = original(*args, **kwargs)
        enroll_user(user("olga"))
        return result

    monkeypatch.setattr(counts, "count_members", count_then_change)
    assert shown(admin_client, company) == (4, 2, 1, 1)
    assert kept(company).members is None
    monkeypatch.setattr(counts, "count_members", original)
    assert shown(admin_client, company) == (4, 3, 0, 1)


def test_a_company_without_a_row_gets_one(admin_client, company, counted):
    EnrollmentCounts.objects.all().delete()
    assert shown(admin_client, company) == (4, 2, 1, 1)
    assert kept(company).members is None
    assert shown(admin_client, company) == (4, 2, 1, 1)
    assert shown(admin_client, company) == (4, 2, 1, 1)
    assert len(counted) == 2


def test_a_new_company_has_a_row(db):
    company = make_company("Fresh Co")
    assert kept(company).generation == 0


def test_a_database_error_keeping_the_counts_still_shows_the_page(admin_client, company, monkeypatch, caplog):
    queryset_class = type(EnrollmentCounts.objects.all())
    update = queryset_class.update

    def refuse(self, **values):
        if self.model is EnrollmentCounts and "members" in values and values["members"] is not None:
            raise DatabaseError("read-only replica")
        return update(self, **values)

    monkeypatch.setattr(queryset_class, "update", refuse)
    assert shown(admin_client, company) == (4, 2, 1, 1)
    assert "could not be kept" in caplog.text
    monkeypatch.undo()
    assert kept(company).members is None


@pytest.mark.parametrize("value", [-1, "3600", 1.5, True])
def test_a_bad_age_limit_is_reported_by_check(settings, value):
    from wagtail_company_mfa.checks.settings import check_settings

    settings.WAGTAIL_COMPANY_MFA_REPORT_COUNTS_MAX_AGE = value
    errors = check_settings()
    assert [error.id for error in errors] == ["wagtail_company_mfa.E007"]
    assert "REPORT_COUNTS_MAX_AGE" in errors[0].msg


@pytest.mark.parametrize("zone", ["Europe/Amsterdam", "America/Sao_Paulo", "Australia/Lord_Howe", "UTC"])
def test_counts_are_never_kept_past_a_deadline_across_offset_changes(zone):
    """
    ``first_deadline_from`` is never later than the earliest deadline of the late joiners who joined at or
    after a given instant, on random joins around daylight saving changes (Lord Howe moves by 30 minutes).
    """
    rng = random.Random(zone)
    tz = zoneinfo.ZoneInfo(zone)
    for _ in range(200):
        grace = rng.choice([0, 1, 7, 30, 90, 365])
        company = Company(
            pk=1,
            require_mfa=True,
            # Long ago: everyone below is a late joiner.
            enforcement_date=datetime.date(2020, 1, 1),
            time_zone=zone,
            new_member_grace_days=grace,
        )
        now = datetime.datetime(2026, 1, 1, tzinfo=UTC) + datetime.timedelta(
            minutes=rng.randrange(0, 60 * 24 * 700)
        )
        first = now - datetime.timedelta(days=grace) + datetime.timedelta(minutes=rng.randrange(-1500, 1500))
        joins = [first] + [
            first + datetime.timedelta(minutes=rng.randrange(0, 60 * 24 * 3)) for _ in range(30)
        ]
        bound = summary.first_deadline_from(company, first, now)
        earliest = min(
            member_deadline(
                enforcement_date=company.enforcement_date, time_zone=zone, joined_at=joined, grace_days=grace
            )[0]
            for joined in joins
        )
        assert bound <= earliest, (zone, grace, first.astimezone(tz), bound, earliest)
        # And not needlessly early: within the zone's largest offset change.
        assert earliest - bound <= datetime.timedelta(hours=2)
