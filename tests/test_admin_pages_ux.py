"""
The company administration and the messages people keep, read off the real pages: the report's summary
lines up with its table, its exports are in sight, empty listings say what to do with the link to do it, and
the recovery-code file and the emails name the site and its address.
"""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup
from django.core import mail
from factories import make_company, password_login, sign_in

pytestmark = pytest.mark.django_db

COMPANIES = "/admin/company-mfa/companies"


def soup(response) -> BeautifulSoup:
    assert response.status_code == 200, response.content[:300]
    return BeautifulSoup(response.content.decode(), "html.parser")


def test_report_summary_lines_up_and_its_exports_are_in_sight(client, tenants):
    sign_in(client, tenants.admin_a)
    page = soup(client.get(f"{COMPANIES}/{tenants.a.pk}/report/?state=enrolled"))

    assert "nice-padding" in page.select_one("[data-mfa-summary]")["class"]
    exports = page.select_one("[data-mfa-exports]")
    links = {a.get_text(strip=True): a["href"] for a in exports.find_all("a")}
    assert set(links) == {"CSV", "Excel (XLSX)"}
    # The rows as filtered: the filter travels with the export.
    assert "state=enrolled" in links["CSV"]
    assert "export=csv" in links["CSV"]
    assert "export=xlsx" in links["Excel (XLSX)"]
    assert client.get(links["CSV"]).status_code == 200


@pytest.mark.parametrize("path", ["report", "members"])
def test_empty_company_says_what_to_do_with_the_link(client, tenants, path):
    empty = make_company("Dogwood Design", require_mfa=False)
    sign_in(client, tenants.superuser)
    page = soup(client.get(f"{COMPANIES}/{empty.pk}/{path}/"))

    message = page.select_one("[data-mfa-empty=no-members]")
    assert message.find("a", string="Add a member")["href"] == f"{COMPANIES}/{empty.pk}/members/add/"


def test_no_match_offers_every_member_again(client, tenants):
    sign_in(client, tenants.admin_a)
    page = soup(client.get(f"{COMPANIES}/{tenants.a.pk}/report/?q=nobody-at-all"))

    message = page.select_one("[data-mfa-empty=filtered]")
    assert message.find("a", string="Show every member")["href"] == f"{COMPANIES}/{tenants.a.pk}/report/"


def test_recovery_code_file_names_the_site_and_its_address(client, enrolled_user, settings):
    settings.WAGTAIL_COMPANY_MFA_ISSUER = "Acme CMS"
    password_login(client, enrolled_user)
    client.post("/admin/company-mfa/verify/recovery-code/", {"code": enrolled_user.recovery_codes[0]})

    text = client.get("/admin/company-mfa/recovery-code/download/").content.decode()

    assert "Site: Acme CMS, http://testserver/admin/" in text


def test_emails_name_the_site_and_its_address(
    client, enrolled_user, settings, django_capture_on_commit_callbacks
):
    settings.WAGTAIL_COMPANY_MFA_ISSUER = "Acme CMS"
    settings.WAGTAILADMIN_BASE_URL = "https://cms.acme.example"
    mail.outbox.clear()
    password_login(client, enrolled_user)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/admin/company-mfa/verify/recovery-code/", {"code": enrolled_user.recovery_codes[0]})

    (message,) = [m for m in mail.outbox if enrolled_user.email in m.to]
    assert "Acme CMS: https://cms.acme.example/admin/" in message.body
    html = message.alternatives[0][0]
    assert 'href="https://cms.acme.example/admin/"' in html
    assert "Acme CMS" in html


def test_report_gives_deadlines_as_the_companys_date_and_never_for_unused(client, tenants):
    """Bluebird is in Europe/Amsterdam: its deadline is its own calendar date, whatever the viewer's zone."""
    import datetime

    from django.utils import formats

    sign_in(client, tenants.admin_a)
    page = soup(client.get(f"{COMPANIES}/{tenants.a.pk}/report/"))
    text = page.select_one("table.listing").get_text(" ", strip=True)

    assert formats.date_format(tenants.a.enforcement_date, "DATE_FORMAT") in text
    assert "midnight" not in text
    assert "p.m." not in text  # 00:00 in Amsterdam is 11 p.m. (or 10 p.m.) the day before in UTC
    # Bob Brown enrolled but never signed in with it since.
    row = next(tr for tr in page.select("tbody tr") if "Bob Brown" in tr.get_text())
    assert "Never" in row.get_text(" ", strip=True)
    assert isinstance(tenants.a.enforcement_date, datetime.date)


@pytest.mark.parametrize(("admin", "company"), [("admin_a", "a"), ("admin_b", "b")])
def test_a_member_added_later_gets_the_policy_email(
    client, tenants, admin, company, django_capture_on_commit_callbacks
):
    """Bluebird's date is ahead, Acme's has passed: either way the newcomer is told, and only they are."""
    sign_in(client, getattr(tenants, admin))
    company = getattr(tenants, company)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"{COMPANIES}/{company.pk}/members/add/",
            {"identifier": tenants.editor.email, "role": "member"},
        )
    assert response.status_code == 302, response.content[:300]

    assert [message.to for message in mail.outbox] == [[tenants.editor.email]]
    assert company.name in mail.outbox[0].subject
