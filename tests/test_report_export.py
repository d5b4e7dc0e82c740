"""
The enrollment report's exports read plain tuples (docs/performance.md, "Enrollment report"): no model
instance per member, the same cells as the report's own rows, and a column list that a new column (one from
the factor registry, say) joins with its own SQL annotation.
"""

from __future__ import annotations

import csv
import datetime
import io
import zoneinfo

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.db.models import Exists, OuterRef
from django.db.models.signals import post_init
from factories import PASSWORD, enroll_user, join, make_company, make_user, password_login, verify_with_code
from wagtail.users.models import UserProfile

from wagtail_company_mfa import factors
from wagtail_company_mfa.companies import enrollment, export, report_export
from wagtail_company_mfa.models import CompanyMembership
from wagtail_company_mfa.totp import algorithm as totp

pytestmark = pytest.mark.django_db

UTC = datetime.timezone.utc
NOW = datetime.datetime(2027, 3, 10, 12, 0, tzinfo=UTC)
ADMIN_ZONE = "America/New_York"


@pytest.fixture
def company(db):
    # A DST zone and a grace period, so that late joiners' deadlines are the Python rule's, shifted.
    company = make_company(
        "Export Co",
        require_mfa=True,
        enforcement_date=datetime.date(2027, 3, 1),
        time_zone="Europe/Amsterdam",
        new_member_grace_days=30,
    )
    joined = [
        datetime.datetime(2026, 6, 1, 9, 0, tzinfo=UTC),  # before the date: overdue unless enrolled
        datetime.datetime(2027, 3, 5, 23, 30, tzinfo=UTC),  # late joiner, across the March DST change
        datetime.datetime(2027, 2, 28, 23, 0, tzinfo=UTC),  # exactly at the enforcement instant
    ]
    for number in range(9):
        user = make_user(
            f"member{number}", first_name=f"Member{number}", last_name="" if number % 4 else "Tester"
        )
        join(user, company, joined_at=joined[number % 3], role="admin" if number == 4 else "member")
        if number % 2:
            enroll_user(user)
    return company


@pytest.fixture
def admin_client(client, company):
    superuser = make_user("root", superuser=True)
    UserProfile.objects.update_or_create(user=superuser, defaults={"current_time_zone": ADMIN_ZONE})
    phone, _codes = enroll_user(superuser)
    with time_machine.travel(NOW, tick=False):
        password_login(client, superuser, PASSWORD)
        assert verify_with_code(client, totp.code_at(phone.key, NOW.timestamp())).status_code == 302
    return client


def csv_rows(client, company) -> list[dict]:
    url = f"/admin/company-mfa/companies/{company.pk}/report/?export=csv"
    with time_machine.travel(NOW, tick=False):
        response = client.get(url)
        assert response.status_code == 200
        content = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(content)))


def test_the_export_builds_no_model_instance_per_member(admin_client, company):
    built = []

    def count(sender, instance, **kwargs):
        if isinstance(instance, CompanyMembership | get_user_model()):
            built.append(instance)

    # The request itself loads the signed-in user (and a page would load its 50 rows); the export's 10
    # members must not add any.
    post_init.connect(count)
    try:
        rows = csv_rows(admin_client, company)
    finally:
        post_init.disconnect(count)
    assert len(rows) == 9
    assert not [instance for instance in built if isinstance(instance, CompanyMembership)]
    users = [instance for instance in built if isinstance(instance, get_user_model())]
    if get_user_model().get_full_name is AbstractUser.get_full_name:
        assert len(users) <= 1
    else:
        # A user model with its own get_full_name is asked, through an object built from the row (no query).
        assert len(users) <= 1 + len(rows)


def test_the_export_has_the_cells_of_the_report_rows(admin_client, company):
    """The tuples give the same names, states and deadlines as the report's own rows (Python's rule)."""
    zone = zoneinfo.ZoneInfo(ADMIN_ZONE)
    expected = {}
    for row in enrollment.member_rows(enrollment.member_queryset(company, now=NOW), company):

        def local(value):
            return value.astimezone(zone).strftime("%Y-%m-%d %H:%M") if value else ""

        expected[row.email] = {
            "Name": row.name,
            "Username": row.username,
            "Email": row.email,
            "Role": row.role_label,
            "MFA": row.state_label,
            "Methods": row.methods_label,
            "Overdue": row.overdue_label,
            f"Deadline ({ADMIN_ZONE})": local(row.deadline),
            f"Enrolled since ({ADMIN_ZONE})": local(row.enrolled_at),
            f"Last used ({ADMIN_ZONE})": local(row.last_used_at),
            "Trusted browsers": str(row.trusted_browsers),
            f"Joined ({ADMIN_ZONE})": local(row.joined_at),
        }
    exported = {row["Email"]: row for row in csv_rows(admin_client, company)}
    for email, row in expected.items():
        assert exported[email] == row, (email, exported[email], row)
    assert set(exported) == set(expected)
    # The late joiner's deadline keeps the wall-clock time of joining in Amsterdam across the DST change.
    late = next(row for row in exported.values() if row[f"Joined ({ADMIN_ZONE})"] == "2027-03-05 18:30")
    assert late[f"Deadline ({ADMIN_ZONE})"] == "2027-04-04 18:30"


def test_a_column_with_its_own_annotation_joins_the_pipeline(company):
    """How a column from the factor registry is added: its SQL annotation and a value made from it."""
    keys = [factor.key for factor in factors.all_factors()]
    labels = {factor.key: str(factor.label) for factor in factors.all_factors()}

    def methods(*flags):
        return ", ".join(labels[key] for key, flag in zip(keys, flags, strict=True) if flag)

    annotations = {}
    for factor in factors.all_factors():
        [queryset] = factor.devices(user_id=OuterRef("user_id"))
        annotations[f"has_{factor.key}"] = Exists(queryset)
    column = export.ExportColumn(
        "methods",
        lambda zone: "Methods",
        tuple(annotations),
        export.LABEL,
        methods,
        annotations=annotations,
    )
    columns = [*report_export.report_columns(company)[:1], column]
    stream = export.stream_csv(
        enrollment.member_queryset(company, now=NOW).order_by("pk"), columns, zone=UTC, zone_name="UTC"
    )
    rows = list(csv.reader(io.StringIO("".join(stream))))
    assert rows[0] == ["Name", "Methods"]
    assert rows[1:] == [
        [
            f"Member{n} Tester" if n % 4 == 0 else f"Member{n}",
            "Authenticator app, Recovery codes" if n % 2 else "",
        ]
        for n in range(9)
    ]


def test_a_user_model_with_its_own_full_name_is_asked_without_a_query(company, django_assert_num_queries):
    """A custom ``get_full_name`` gets a user object built from the row's values (no query per member)."""
    columns = [column for column in report_export.report_columns(company) if column.key in ("name", "email")]
    queryset = enrollment.member_queryset(company, now=NOW).order_by("pk")
    with django_assert_num_queries(1):
        rows = list(
            csv.reader(io.StringIO("".join(export.stream_csv(queryset, columns, zone=UTC, zone_name="UTC"))))
        )
    by_email = {row[1]: row[0] for row in rows[1:]}
    for membership in CompanyMembership.objects.filter(company=company).select_related("user"):
        user = membership.user
        full_name = user.get_full_name().strip()
        assert by_email[user.email] == (full_name or user.get_username())
