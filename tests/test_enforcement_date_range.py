"""
An enforcement date far in the past or the future (SEC-51): the form refuses it, and one stored around the
form (``.update()``) never raises in a listing, the gate, a command or an email; the company requires MFA
from the nearest supported instant, and the bad value is logged with the company's id.
"""

from __future__ import annotations

import datetime
import io
import json
import logging

import pytest
from django.core.management import call_command
from factories import join, make_user, password_login, post_company_form, sign_in

from wagtail_company_mfa import policy
from wagtail_company_mfa.models import (
    MAX_ENFORCEMENT_DATE,
    MIN_ENFORCEMENT_DATE,
    Company,
    CompanyMembership,
    start_of_day,
)

pytestmark = pytest.mark.django_db

BASE = "/admin/company-mfa/companies"
UTC = datetime.timezone.utc
MESSAGE = "Choose an enforcement date between the years 2000 and 9000."

FAR_DATES = [
    (datetime.date(1, 1, 1), "Asia/Tokyo", MIN_ENFORCEMENT_DATE),
    (datetime.date(9999, 12, 31), "Pacific/Kiritimati", MAX_ENFORCEMENT_DATE),
]


@pytest.mark.parametrize("day", ["0001-01-01", "1999-12-31", "9001-01-01", "9999-12-31"])
def test_far_past_enforcement_date_is_refused_by_the_form(client, tenants, day):
    sign_in(client, tenants.admin_a)
    company = tenants.a
    response = post_company_form(
        client,
        f"{BASE}/edit/{company.pk}/",
        {
            "require_mfa": "on",
            "enforcement_date": day,
            "time_zone": "Asia/Tokyo",
            "new_member_grace_days": "0",
            "allowed_methods": "any",
            "trust_browser_for": "0",
        },
    )
    assert response.status_code == 200
    assert MESSAGE in response.content.decode()
    company.refresh_from_db()
    assert company.time_zone == "Europe/Amsterdam"  # nothing half-saved
    assert company.enforcement_date != datetime.date.fromisoformat(day)


@pytest.mark.parametrize("day", [MIN_ENFORCEMENT_DATE, MAX_ENFORCEMENT_DATE])
def test_far_past_enforcement_date_bounds_themselves_are_accepted(client, tenants, day):
    sign_in(client, tenants.admin_a)
    response = post_company_form(
        client,
        f"{BASE}/edit/{tenants.a.pk}/",
        {
            "require_mfa": "on",
            "enforcement_date": day.isoformat(),
            "time_zone": "UTC",
            "new_member_grace_days": "0",
            "allowed_methods": "any",
            "trust_browser_for": "0",
        },
    )
    assert response.status_code == 302
    tenants.a.refresh_from_db()
    assert tenants.a.enforcement_date == day


def test_far_past_enforcement_date_model_validation_names_the_range():
    from django.core.exceptions import ValidationError

    company = Company(
        name="Far", slug="far", time_zone="UTC", require_mfa=True, enforcement_date=datetime.date(1, 1, 1)
    )
    with pytest.raises(ValidationError) as error:
        company.full_clean()
    assert error.value.message_dict["enforcement_date"] == [MESSAGE]


@pytest.fixture(params=FAR_DATES, ids=["0001-01-01 Tokyo", "9999-12-31 Kiritimati"])
def far_company(request, tenants):
    """Bluebird's date overwritten around the form, as a bad import or a shell session could."""
    day, zone, clamped = request.param
    Company.objects.filter(pk=tenants.a.pk).update(
        enforcement_date=day, time_zone=zone, new_member_grace_days=30
    )
    tenants.a.refresh_from_db()
    tenants.a.clamped_to = clamped
    return tenants.a


def test_far_past_enforcement_date_start_of_day_is_clamped_and_logged(far_company, caplog):
    with caplog.at_level(logging.WARNING, logger="wagtail_company_mfa.models"):
        instant = far_company.enforcement_starts_at
    assert instant == start_of_day(far_company.clamped_to, far_company.time_zone)
    assert f"Company {far_company.pk} has the enforcement date" in caplog.text


def test_far_past_enforcement_date_admin_pages_answer(client, tenants, far_company):
    sign_in(client, tenants.admin_a)
    for url in (
        f"{BASE}/",
        f"{BASE}/edit/{far_company.pk}/",
        f"{BASE}/{far_company.pk}/members/",
        f"{BASE}/{far_company.pk}/report/",
        f"{BASE}/{far_company.pk}/report/?export=csv",
        f"{BASE}/{far_company.pk}/report/?export=xlsx",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        if url.endswith(("csv", "xlsx")):
            assert b"".join(response.streaming_content)
    # The administrator can repair it.
    response = post_company_form(
        client,
        f"{BASE}/edit/{far_company.pk}/",
        {
            "require_mfa": "on",
            "enforcement_date": "2030-01-01",
            "time_zone": "UTC",
            "new_member_grace_days": "0",
            "allowed_methods": "any",
            "trust_browser_for": "0",
        },
    )
    assert response.status_code == 302
    far_company.refresh_from_db()
    assert far_company.enforcement_date == datetime.date(2030, 1, 1)


def test_far_past_enforcement_date_mfa_status_works(far_company):
    out = io.StringIO()
    call_command("mfa_status", "--json", stdout=out)
    rows = {row["slug"]: row for row in json.loads(out.getvalue())}
    expected = "required" if far_company.clamped_to == MIN_ENFORCEMENT_DATE else "upcoming"
    assert rows[far_company.slug]["policy"] == expected
    out = io.StringIO()
    call_command("mfa_status", stdout=out)
    assert far_company.name in out.getvalue()


def test_far_past_enforcement_date_reminders_command_works(far_company, mailoutbox):
    call_command("mfa_send_reminders", verbosity=0)


def test_far_past_enforcement_date_member_is_gated_not_signed_out(client, far_company):
    newcomer = make_user("newcomer")
    join(newcomer, far_company)
    password_login(client, newcomer)
    requirement = policy.requirement_for(newcomer)
    if far_company.clamped_to == MIN_ENFORCEMENT_DATE:
        # Required since the earliest supported instant: sent to set up MFA on every request, still signed in.
        assert requirement.is_required
        for _ in range(3):
            response = client.get("/admin/")
            assert response.status_code == 302
            assert response["Location"].startswith("/admin/company-mfa/required/")
            assert "_auth_user_id" in client.session
    else:
        assert requirement.is_upcoming
        assert client.get("/admin/").status_code == 200
        assert "_auth_user_id" in client.session


def test_far_past_enforcement_date_policy_notice_email_builds(far_company, mailoutbox):
    from wagtail_company_mfa.notices import delivery as reminders

    member = make_user("noticed")
    join(member, far_company, joined_at=datetime.datetime(2026, 1, 1, tzinfo=UTC))
    reminders.queue_policy_notices(far_company)
    reminders.announce_policy(far_company.pk)
    assert any("noticed@example.com" in message.to for message in mailoutbox)
    assert CompanyMembership.objects.filter(user=member).exists()
