"""
The enrollment report decided in SQL (docs/performance.md, "Enrollment report"): each member's state, the
counts, the filters and the pagination come from the database, equal to the Python rules of
``companies.policy`` on random memberships, dates and time zones; the page and the exports cost the same
number of queries at 10 members as at 1,000, and the exports read their rows while they are downloaded.
"""

from __future__ import annotations

import datetime
import random

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from factories import (
    enroll_user,
    join,
    make_company,
    make_user,
    sign_in_at,
)

from wagtail_company_mfa.companies import enrollment
from wagtail_company_mfa.companies.policy import member_deadline
from wagtail_company_mfa.models import AuthenticatorDevice, CompanyMembership
from wagtail_company_mfa.totp import algorithm as totp

pytestmark = pytest.mark.django_db

UTC = datetime.timezone.utc
NOW = datetime.datetime(2027, 3, 10, 12, 0, tzinfo=UTC)
HOUR = datetime.timedelta(hours=1)
MICROSECOND = datetime.timedelta(microseconds=1)

#: DST zones both sides of the equator, 30-minute DST, the far east and the far west, and zones without DST.
ZONES = [
    "Europe/Amsterdam",
    "America/New_York",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Australia/Lord_Howe",
    "Australia/Sydney",
    "Pacific/Auckland",
    "Pacific/Chatham",
    "Pacific/Kiritimati",
    "Pacific/Pago_Pago",
    "Pacific/Apia",
    "Asia/Kathmandu",
    "America/St_Johns",
    "UTC",
]


def offset_changes(zone_name: str, year: int) -> list[datetime.datetime]:
    """The instants (to the hour) in ``year`` at which ``zone_name`` changes its UTC offset."""
    import zoneinfo

    zone = zoneinfo.ZoneInfo(zone_name)
    moment = datetime.datetime(year, 1, 1, tzinfo=UTC)
    changes, previous = [], moment.astimezone(zone).utcoffset()
    while moment.year == year:
        moment += HOUR
        offset = moment.astimezone(zone).utcoffset()
        if offset != previous:
            changes.append(moment)
            previous = offset
    return changes


def add_users(count: int, prefix: str) -> list:
    User = get_user_model()
    extra = (lambda n: {}) if User.USERNAME_FIELD == "email" else (lambda n: {"username": f"{prefix}{n}"})
    User.objects.bulk_create(
        User(email=f"{prefix}{n}@example.com", first_name=f"{prefix}{n}", password="!", **extra(n))
        for n in range(count)
    )
    return list(User.objects.filter(email__startswith=prefix).order_by("pk"))


def python_state(company, joined_at, now) -> tuple[str, bool]:
    deadline, grace_applied = member_deadline(
        enforcement_date=company.enforcement_date,
        time_zone=company.time_zone,
        joined_at=joined_at,
        grace_days=company.new_member_grace_days,
        company_id=company.pk,
    )
    return (enrollment.OVERDUE if deadline <= now else enrollment.DUE), grace_applied


@pytest.mark.parametrize("seed", range(6))
def test_sql_states_equal_the_python_rule_on_random_memberships(seed):
    """
    The report's SQL "overdue" and "grace" equal ``policy.member_deadline`` for random zones, grace periods
    and join times, with join times and "now" placed on and around DST changes (the wall-clock rule for late
    joiners) and on each deadline to the microsecond.
    """
    rng = random.Random(seed)
    users = add_users(40, f"p{seed}x")
    for trial in range(4):
        zone = rng.choice(ZONES)
        year = rng.choice([2026, 2027, 2031])
        changes = offset_changes(zone, year) or [datetime.datetime(year, 6, 1, tzinfo=UTC)]
        enforcement_date = (rng.choice(changes) - datetime.timedelta(days=rng.randint(0, 40))).date()
        grace_days = rng.choice([0, 1, 7, 30, rng.randint(0, 365)])
        company = make_company(
            f"Random {seed} {trial}",
            require_mfa=True,
            enforcement_date=enforcement_date,
            time_zone=zone,
            new_member_grace_days=grace_days,
        )
        enforced_at = company.enforcement_starts_at
        joins = []
        for _user in users:
            anchor = rng.choice([*changes, enforced_at])
            kind = rng.random()
            if kind < 0.4:  # inside the hour around an offset change, or around the enforcement instant
                joined_at = anchor + datetime.timedelta(seconds=rng.uniform(-3600, 3600))
            elif kind < 0.7:  # grace days before an offset change, so the deadline lands on it
                joined_at = anchor - datetime.timedelta(days=grace_days, seconds=rng.uniform(-5400, 5400))
            else:
                joined_at = enforced_at + datetime.timedelta(days=rng.uniform(-30, 60))
            joins.append(joined_at.replace(microsecond=rng.randrange(1_000_000)))
        CompanyMembership.objects.bulk_create(
            CompanyMembership(user=user, company=company, joined_at=joined_at)
            for user, joined_at in zip(users, joins, strict=True)
        )
        # "Now" on members' deadlines exactly, a microsecond either side, and around offset changes.
        deadlines = [
            member_deadline(
                enforcement_date=enforcement_date, time_zone=zone, joined_at=j, grace_days=grace_days
            )[0]
            for j in joins
        ]
        nows = []
        for deadline in rng.sample(deadlines, 3):
            nows += [deadline - MICROSECOND, deadline, deadline + MICROSECOND]
        nows += [rng.choice(changes) + datetime.timedelta(seconds=rng.uniform(-7200, 7200)) for _ in range(2)]
        for now in nows:
            sql = {
                membership.joined_at: (membership.state, membership.grace_applied)
                for membership in enrollment.member_queryset(company, now=now)
            }
            expected = {j: python_state(company, j, now) for j in joins}
            assert sql == expected, (zone, enforcement_date, grace_days, now)
            summary = enrollment.summarize(company, now=now)
            overdue = sum(state == enrollment.OVERDUE for state, _grace in expected.values())
            assert (summary.members, summary.overdue, summary.due) == (
                len(joins),
                overdue,
                len(joins) - overdue,
            )


def test_sql_states_of_an_unknown_time_zone_follow_the_python_rule_in_utc():
    # A zone written around the form's validation is taken as UTC, by the rule and by the SQL alike.
    company = make_company("Odd zone", require_mfa=True, enforcement_date=datetime.date(2027, 3, 1))
    type(company).objects.filter(pk=company.pk).update(time_zone="Mars/Olympus", new_member_grace_days=3)
    company.refresh_from_db()
    (user,) = add_users(1, "odd")
    joined_at = datetime.datetime(2027, 3, 5, 10, 0, tzinfo=UTC)
    join(user, company, joined_at=joined_at)
    for now, state in [
        (joined_at + datetime.timedelta(days=3) - MICROSECOND, enrollment.DUE),
        (joined_at + datetime.timedelta(days=3), enrollment.OVERDUE),
    ]:
        assert enrollment.member_queryset(company, now=now).get().state == state
        assert python_state(company, joined_at, now)[0] == state


def add_members(company, count: int, prefix: str) -> None:
    """``count`` more members who joined long ago, every third one enrolled, created in bulk."""
    users = add_users(count, prefix)
    CompanyMembership.objects.bulk_create(
        CompanyMembership(user=user, company=company, joined_at=datetime.datetime(2026, 6, 1, tzinfo=UTC))
        for user in users
    )
    devices = []
    for user in users[::3]:
        device = AuthenticatorDevice(user=user, name="Authenticator app", confirmed=True)
        device.set_key(totp.generate_key())
        devices.append(device)
    AuthenticatorDevice.objects.bulk_create(devices)


@pytest.fixture
def report_company(db):
    return make_company(
        "Scale Co",
        require_mfa=True,
        enforcement_date=datetime.date(2027, 3, 1),
        time_zone="Europe/Amsterdam",
        new_member_grace_days=7,
    )


@pytest.fixture
def superuser_client(client):
    # A superuser answers to every company's policy: signed in with password and authenticator code.
    return sign_in_at(client, make_user("root", superuser=True), NOW)


def count_queries(client, url) -> int:
    with time_machine.travel(NOW, tick=False), CaptureQueriesContext(connection) as queries:
        response = client.get(url)
        assert response.status_code == 200
        if response.streaming:
            b"".join(response.streaming_content)
    return len(queries)


@pytest.mark.parametrize(
    ("params", "limit"),
    # The page also asks once which members the viewer may reset (the rows' "Reset MFA").
    [("", 10), ("?state=overdue&p=2", 10), ("?export=csv", None), ("?export=xlsx", None)],
    ids=["page", "overdue-page-2", "csv", "xlsx"],
)
def test_report_query_count_at_10_and_1000_members(superuser_client, report_company, params, limit):
    url = f"/admin/company-mfa/companies/{report_company.pk}/report/{params}"
    add_members(report_company, 10, "ten")
    # The first view counts the members and keeps the counts; the next one reads them with the company.
    ten = count_queries(superuser_client, url), count_queries(superuser_client, url)
    add_members(report_company, 990, "more")
    assert CompanyMembership.objects.filter(company=report_company).count() == 1000
    thousand = count_queries(superuser_client, url), count_queries(superuser_client, url)
    assert ten == thousand, (ten, thousand)
    if limit is not None:
        counted, kept = thousand
        assert kept <= limit, kept
        # Counting is one query and keeping the counts one UPDATE, in a savepoint here (the test runs in a
        # transaction; a request in autocommit has none): 12 at most outside a test.
        assert counted == kept + 4, thousand


def test_report_page_builds_rows_only_for_its_page(superuser_client, report_company, monkeypatch):
    """The old report turned every member into a row (and a Python deadline) before showing 50."""
    add_members(report_company, 120, "page")
    calls = []
    original = enrollment.member_deadline

    def counting(**kwargs):
        calls.append(kwargs["joined_at"])
        return original(**kwargs)

    monkeypatch.setattr(enrollment, "member_deadline", counting)
    url = f"/admin/company-mfa/companies/{report_company.pk}/report/?state=not_enrolled&p=2"
    with time_machine.travel(NOW, tick=False):
        response = superuser_client.get(url)
    assert response.status_code == 200
    # 80 not enrolled members: page 2 holds the last 30, and only they get a deadline worked out.
    assert len(calls) == 30
    page = response.content.decode()
    assert "80 members must use MFA" not in page  # the summary counts the whole company: 120 members
    assert "120 members must use MFA; 40 have enrolled. 80 members are overdue." in page


def test_report_csv_download_starts_before_the_rows_are_read(superuser_client, report_company):
    """The old export built every row before the response started; now they are read as the file streams."""
    add_members(report_company, 30, "stream")
    url = f"/admin/company-mfa/companies/{report_company.pk}/report/?export=csv"
    with time_machine.travel(NOW, tick=False), CaptureQueriesContext(connection) as queries:
        response = superuser_client.get(url)
        before = len(queries)
        chunks = iter(response.streaming_content)
        heading = next(chunks).decode()
        assert len(queries) == before  # the heading needs no query
        body = b"".join(chunks).decode()
    assert heading.startswith("Name,")
    row_queries = [i for i, query in enumerate(queries.captured_queries) if '"enrolled_at"' in query["sql"]]
    # The members were read once, while the file streamed, not before the response started.
    assert len(row_queries) == 1, row_queries
    assert row_queries[0] >= before, (row_queries, before)
    assert body.count("\n") == 30


@pytest.mark.parametrize(
    ("params", "own_count"),
    [("", False), ("?state=not_enrolled&p=2", False), ("?state=enrolled", False), ("?role=admin", True)],
)
def test_the_page_takes_its_count_from_the_counts_at_the_top(
    superuser_client, report_company, params, own_count
):
    """No second count of a large company: the listing's length is one of the counts already made."""
    add_members(report_company, 120, "count")  # 40 enrolled, 80 overdue
    url = f"/admin/company-mfa/companies/{report_company.pk}/report/{params}"
    with time_machine.travel(NOW, tick=False), CaptureQueriesContext(connection) as queries:
        response = superuser_client.get(url)
    assert response.status_code == 200
    counts = [query["sql"] for query in queries.captured_queries if 'COUNT(*) AS "__count"' in query["sql"]]
    assert bool(counts) == own_count, counts
    paginator = response.context["paginator"]
    expected = {"": 120, "?state=not_enrolled&p=2": 80, "?state=enrolled": 40, "?role=admin": 0}[params]
    assert paginator.count == expected
    assert len(response.context["object_list"]) == {"?state=not_enrolled&p=2": 30}.get(
        params, min(expected, 50)
    )


def exempt_every_fifth(user) -> bool:
    return user.email.startswith("mix") and int(user.email[3:].split("@")[0]) % 5 == 0


@pytest.mark.parametrize("exempt", [None, "test_report_sql.exempt_every_fifth"])
@pytest.mark.parametrize("policy", ["set", "switched off"])
def test_summary_counts_equal_the_states_counted_one_by_one(settings, exempt, policy):
    """``summarize`` counts in one lean query what counting each member's ``state`` gives."""
    settings.WAGTAIL_COMPANY_MFA_EXEMPT_USER = exempt
    company = make_company(
        "Mix Co",
        require_mfa=policy == "set",
        enforcement_date=datetime.date(2027, 3, 1),
        time_zone="Pacific/Auckland",
        new_member_grace_days=10,
    )
    users = add_users(30, "mix")
    joins = [NOW - datetime.timedelta(days=days) for days in (400, 15, 5)]  # overdue, late overdue, due
    CompanyMembership.objects.bulk_create(
        CompanyMembership(user=user, company=company, joined_at=joins[n % 3], is_active=n != 29)
        for n, user in enumerate(users)
    )
    for user in users[::4]:
        enroll_user(user)
    expected = enrollment.EnrollmentSummary.of(enrollment.member_queryset(company, now=NOW))
    assert enrollment.summarize(company, now=NOW) == expected
    assert expected.members == 29
    if policy == "set":
        assert expected.enrolled
        assert expected.overdue
        assert expected.due
        assert bool(expected.exempt) == bool(exempt)
