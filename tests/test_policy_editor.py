"""
The policy editor's usability (docs/admin-guide.md, "The policy editor"; docs/policy.md, "Saving a new
date"): the Require MFA switch, the preview that follows the form (the preview URL gives the server's own
sentence for the edited values), the confirmation before saving a change that emails members, the slug filled
from the name on a new company, and the time zone a new company starts with.
"""

from __future__ import annotations

import datetime
import json

import pytest
import time_machine
from bs4 import BeautifulSoup
from django.core import mail
from django.test import override_settings
from factories import (
    POLICY_CONFIRMATION_FIELD,
    join,
    make_company,
    make_user,
    policy_confirmation_token,
    post_company_form,
    sign_in,
)
from wagtail.models import ModelLogEntry

from wagtail_company_mfa.companies import flows as company_flows
from wagtail_company_mfa.models import Company, MemberNotice
from wagtail_company_mfa.notices import planning

pytestmark = pytest.mark.django_db

BASE = "/admin/company-mfa/companies"
UTC = datetime.timezone.utc
NOW = datetime.datetime(2030, 6, 1, 10, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def form_data(company, **changes) -> dict:
    data = {
        "name": company.name,
        "slug": company.slug,
        "require_mfa": "on" if company.require_mfa else "",
        "enforcement_date": company.enforcement_date.isoformat() if company.enforcement_date else "",
        "time_zone": company.time_zone,
        "new_member_grace_days": str(company.new_member_grace_days),
        "allowed_methods": company.allowed_methods,
        "trust_browser_for": str(company.trust_browser_for),
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value != ""}


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.content.decode(), "html.parser")


# The Require MFA switch -------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["edit", "new"])
def test_require_mfa_is_wagtails_switch_with_its_label(client, tenants, url):
    sign_in(client, tenants.superuser)
    page = soup(client.get(f"{BASE}/edit/{tenants.a.pk}/" if url == "edit" else f"{BASE}/new/"))
    checkbox = page.select_one('input[name="require_mfa"]')
    assert checkbox["type"] == "checkbox"
    assert checkbox.find_parent("label")["class"] == ["switch"]
    assert checkbox.find_next_sibling("span")["class"] == ["switch__toggle"]
    label = page.select_one(f'label[for="{checkbox["id"]}"]:not(.switch)')
    assert label.get_text(strip=True).startswith("Require MFA")
    if url == "edit":
        assert checkbox.has_attr("checked")  # Bluebird requires MFA


# The preview follows the form -------------------------------------------------------------------------------


def preview(client, company, **values):
    url = f"{BASE}/{company.pk}/preview/" if company is not None else f"{BASE}/preview/"
    return client.get(url, values)


@pytest.mark.parametrize(
    ("values", "sentence", "details"),
    [
        (
            {"require_mfa": "on", "enforcement_date": "2031-03-03", "time_zone": "Europe/Amsterdam"},
            "From March 3, 2031, 2 members must use MFA; 2 have enrolled.",
            [
                "starts at 00:00 on March 3, 2031 in the company's time zone, Europe/Amsterdam.",
                "That is March 2, 2031, 11 p.m. in your own time zone (UTC).",
            ],
        ),
        (
            {"require_mfa": "on", "enforcement_date": "2031-03-03", "time_zone": "Pacific/Auckland"},
            "From March 3, 2031, 2 members must use MFA; 2 have enrolled.",
            [
                "in the company's time zone, Pacific/Auckland.",
                "That is March 2, 2031, 11 a.m. in your own time zone (UTC).",
            ],
        ),
        (
            {"require_mfa": "on", "enforcement_date": "2030-01-01", "time_zone": "UTC"},
            "Since Jan. 1, 2030, 2 members must use MFA; 2 have enrolled.",
            ["starts at 00:00 on Jan. 1, 2030 in the company's time zone, UTC."],
        ),
        (
            {"enforcement_date": "2031-03-03", "time_zone": "UTC"},  # the switch off
            "MFA is not required. 2 of 2 members have enrolled anyway.",
            [],
        ),
        (
            {"require_mfa": "on", "time_zone": "UTC"},  # on, no date yet
            "MFA will be required once you choose a date. 2 of 2 members have enrolled.",
            [],
        ),
        (
            {
                "require_mfa": "on",
                "enforcement_date": "2031-03-03",
                "time_zone": "UTC",
                "new_member_grace_days": "14",
            },
            "From March 3, 2031, 2 members must use MFA; 2 have enrolled.",
            ["People who join after that get 14 days from joining to set up MFA."],
        ),
    ],
    ids=["amsterdam", "auckland", "past", "off", "no-date", "grace"],
)
def test_preview_gives_the_servers_sentence_for_the_edited_values(client, tenants, values, sentence, details):
    sign_in(client, tenants.admin_a)
    saved = Company.objects.get(pk=tenants.a.pk)
    response = preview(
        client, tenants.a, **{"new_member_grace_days": "0", "allowed_methods": "any", **values}
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "no-store" in response["Cache-Control"]
    body = json.loads(response.content)
    assert body["sentence"] == sentence
    assert f"<strong>{sentence}</strong>" in body["html"]
    for detail in details:
        assert detail in body["html"]
    # Only a preview: nothing changed.
    assert company_flows.policy_values(Company.objects.get(pk=tenants.a.pk)) == company_flows.policy_values(
        saved
    )


def test_preview_is_the_text_the_page_shows_for_the_same_values(client, tenants):
    # One source of truth: the panel the server renders for posted values (here the confirmation page)
    # is exactly what the preview URL returns for them.
    sign_in(client, tenants.admin_a)
    values = form_data(tenants.a, enforcement_date="2031-03-03", new_member_grace_days="7")
    page = client.post(f"{BASE}/edit/{tenants.a.pk}/", values)
    panel = soup(page).select_one("#policy-preview")
    assert panel["aria-live"] == "polite"
    body = json.loads(preview(client, tenants.a, **values).content)
    assert "From March 3, 2031" in body["sentence"]
    assert BeautifulSoup(body["html"], "html.parser").get_text(" ", strip=True) == panel.get_text(
        " ", strip=True
    )


def test_preview_keeps_the_saved_value_for_an_invalid_one(client, tenants):
    sign_in(client, tenants.admin_a)
    saved_date = date_text(tenants.a.enforcement_date)
    response = preview(
        client, tenants.a, require_mfa="on", enforcement_date="not a date", time_zone="Mars/Olympus_Mons"
    )
    assert response.status_code == 200
    body = json.loads(response.content)
    assert body["sentence"].startswith(f"From {saved_date}, 2 members")
    assert "Europe/Amsterdam" in body["html"]


def date_text(day: datetime.date) -> str:
    from django.utils.formats import date_format

    return date_format(day, "DATE_FORMAT")


def test_preview_of_a_new_company(client, tenants):
    sign_in(client, tenants.superuser)
    body = json.loads(
        preview(client, None, require_mfa="on", enforcement_date="2031-03-03", time_zone="UTC").content
    )
    assert body["sentence"] == "From March 3, 2031, 0 members must use MFA; 0 have enrolled."
    assert "See who has enrolled" not in body["html"]


def test_preview_is_only_for_who_may_edit_the_company(client, tenants):
    # SEC-41: another company's administrator learns nothing (404), nor does someone who manages none.
    sign_in(client, tenants.admin_b)
    assert preview(client, tenants.a, require_mfa="on").status_code == 404
    assert preview(client, None, require_mfa="on").status_code in (302, 403)  # adding is for superusers
    client.logout()
    sign_in(client, tenants.editor)
    response = preview(client, tenants.b, require_mfa="on")
    assert response.status_code in (302, 403)
    assert b"members must use MFA" not in response.content
    client.logout()
    response = preview(client, tenants.a, require_mfa="on")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_the_form_loads_the_preview_script_from_static_files(client, tenants):
    sign_in(client, tenants.admin_a)
    page = soup(client.get(f"{BASE}/edit/{tenants.a.pk}/"))
    panel = page.select_one("#policy-preview")
    assert panel["data-policy-preview-url"] == f"{BASE}/{tenants.a.pk}/preview/"
    assert page.select_one('script[src$="wagtail_company_mfa/policy_preview.js"]') is not None
    # CSP: no inline script of ours (Wagtail's own JSON data blocks are not scripts that run).
    assert not [
        script
        for script in page.select("script:not([src])")
        if script.get("type") != "application/json" and "policy" in script.get_text()
    ]


# Confirming before members are emailed ----------------------------------------------------------------------


@pytest.fixture
def bluebird(db):
    """MFA on from a date ahead, three members with email addresses, one inactive, one without email."""
    company = make_company(
        "Bluebird Contracting", require_mfa=True, enforcement_date=datetime.date(2030, 9, 1)
    )
    for name in ("ann", "ben", "cat"):
        join(make_user(name), company)
    join(make_user("zed"), company, is_active=False)
    join(make_user("nomail", email=""), company)
    return company


@pytest.fixture
def root(client, db):
    user = make_user("root", superuser=True)
    sign_in(client, user)
    return user


def edit(client, company, data, **extra):
    return client.post(f"{BASE}/edit/{company.pk}/", {**data, **extra})


def test_a_new_date_asks_to_confirm_and_saves_nothing_before(
    client, root, bluebird, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = edit(client, bluebird, form_data(bluebird, enforcement_date="2030-10-01"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Saving will email 3 members about the new date." in page
    assert "Save and email 3 members" in page
    assert callbacks == []
    assert mail.outbox == []
    bluebird.refresh_from_db()
    assert bluebird.enforcement_date == datetime.date(2030, 9, 1)
    assert not ModelLogEntry.objects.filter(action=company_flows.ACTION_POLICY_CHANGED).exists()
    assert not MemberNotice.objects.exists()
    # The form keeps what was typed, and the preview already speaks of it.
    form = soup(response)
    assert form.select_one('input[name="enforcement_date"]')["value"] == "2030-10-01"
    assert "From Oct. 1, 2030" in form.select_one("#policy-preview").get_text()


def test_confirming_saves_and_emails(client, root, bluebird, django_capture_on_commit_callbacks):
    data = form_data(bluebird, enforcement_date="2030-10-01")
    token = policy_confirmation_token(edit(client, bluebird, data))
    assert token
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = edit(client, bluebird, data, **{POLICY_CONFIRMATION_FIELD: token})
    assert response.status_code == 302
    bluebird.refresh_from_db()
    assert bluebird.enforcement_date == datetime.date(2030, 10, 1)
    assert sorted(message.to[0] for message in mail.outbox) == [
        "ann@example.com",
        "ben@example.com",
        "cat@example.com",
    ]
    assert ModelLogEntry.objects.filter(action=company_flows.ACTION_POLICY_CHANGED).count() == 1


def test_turning_require_mfa_on_asks_to_confirm(client, root, django_capture_on_commit_callbacks):
    cedar = make_company("Cedar Homes", require_mfa=False)
    join(make_user("carol"), cedar)
    data = form_data(cedar, require_mfa="on", enforcement_date="2030-12-01")
    response = edit(client, cedar, data)
    assert "Saving will email 1 member about the new date." in response.content.decode()
    assert "Save and email 1 member" in response.content.decode()
    cedar.refresh_from_db()
    assert not cedar.require_mfa
    with django_capture_on_commit_callbacks(execute=True):
        response = post_company_form(client, f"{BASE}/edit/{cedar.pk}/", data)
    assert response.status_code == 302
    assert [message.to for message in mail.outbox] == [["carol@example.com"]]


@pytest.mark.parametrize(
    "changes",
    [
        {"new_member_grace_days": "14"},  # no new date: nobody is emailed
        {"require_mfa": ""},  # switched off
        {"time_zone": "Asia/Tokyo"},
        {"allowed_methods": "phishing_resistant"},
    ],
    ids=["grace-days", "off", "zone", "methods"],
)
def test_a_change_that_emails_nobody_saves_at_once(client, root, bluebird, changes):
    response = edit(client, bluebird, form_data(bluebird, **changes))
    assert response.status_code == 302, response.content.decode()[:500]
    assert policy_confirmation_token(response) is None


def test_a_new_date_when_nobody_can_be_emailed_saves_at_once(client, root):
    lonely = make_company("Lonely Ltd", require_mfa=True, enforcement_date=datetime.date(2030, 9, 1))
    join(make_user("nomail", email=""), lonely)
    join(make_user("gone"), lonely, is_active=False)
    response = edit(client, lonely, form_data(lonely, enforcement_date="2030-10-01"))
    assert response.status_code == 302
    lonely.refresh_from_db()
    assert lonely.enforcement_date == datetime.date(2030, 10, 1)


def test_a_new_company_with_a_date_saves_at_once(client, root):
    response = client.post(
        f"{BASE}/new/",
        {
            "name": "Delta Works",
            "slug": "delta-works",
            "require_mfa": "on",
            "enforcement_date": "2030-10-01",
            "time_zone": "UTC",
            "new_member_grace_days": "0",
            "allowed_methods": "any",
            "trust_browser_for": "0",
        },
    )
    assert response.status_code == 302
    assert Company.objects.filter(slug="delta-works").exists()


def test_a_confirmation_for_another_date_does_not_skip_the_count(client, root, bluebird):
    # The confirmation is bound to the values confirmed: confirming 1 October, then posting 1 November with
    # the same button value, asks again and saves nothing.
    token = policy_confirmation_token(
        edit(client, bluebird, form_data(bluebird, enforcement_date="2030-10-01"))
    )
    mail.outbox.clear()
    response = edit(
        client,
        bluebird,
        form_data(bluebird, enforcement_date="2030-11-01"),
        **{POLICY_CONFIRMATION_FIELD: token},
    )
    assert response.status_code == 200
    assert "Saving will email 3 members about the new date." in response.content.decode()
    assert policy_confirmation_token(response) not in (None, token)
    bluebird.refresh_from_db()
    assert bluebird.enforcement_date == datetime.date(2030, 9, 1)
    assert mail.outbox == []


@pytest.mark.parametrize("forged", ["", "0" * 64, "not-a-digest"])
def test_a_forged_confirmation_asks_again(client, root, bluebird, forged):
    response = edit(
        client,
        bluebird,
        form_data(bluebird, enforcement_date="2030-10-01"),
        **{POLICY_CONFIRMATION_FIELD: forged},
    )
    assert response.status_code == 200
    assert "Saving will email 3 members" in response.content.decode()
    bluebird.refresh_from_db()
    assert bluebird.enforcement_date == datetime.date(2030, 9, 1)


def test_another_administrators_confirmation_does_not_count(client, root, bluebird):
    data = form_data(bluebird, enforcement_date="2030-10-01")
    token = policy_confirmation_token(edit(client, bluebird, data))
    client.logout()
    other = make_user("chief", superuser=True)
    sign_in(client, other)
    response = edit(client, bluebird, data, **{POLICY_CONFIRMATION_FIELD: token})
    assert response.status_code == 200
    assert "Saving will email 3 members" in response.content.decode()


def test_a_policy_changed_meanwhile_needs_a_new_confirmation(client, root, bluebird):
    # Confirmed against the saved policy: if another administrator changed it in between, ask again.
    data = form_data(bluebird, enforcement_date="2030-10-01")
    token = policy_confirmation_token(edit(client, bluebird, data))
    Company.objects.filter(pk=bluebird.pk).update(new_member_grace_days=5)
    response = edit(
        client, bluebird, {**data, "new_member_grace_days": "0"}, **{POLICY_CONFIRMATION_FIELD: token}
    )
    assert response.status_code == 200
    assert "Saving will email 3 members" in response.content.decode()


def test_members_already_told_about_that_date_are_not_counted(client, root, bluebird):
    # Turning the switch off and on again with the same date: who was told about it is not emailed again.
    planning.queue_policy_notices(bluebird)
    Company.objects.filter(pk=bluebird.pk).update(require_mfa=False)
    bluebird.refresh_from_db()
    join(make_user("newcomer"), bluebird)
    response = edit(client, bluebird, form_data(bluebird, require_mfa="on"))
    assert "Saving will email 1 member about the new date." in response.content.decode()


def test_the_count_is_one_query(bluebird, django_assert_num_queries):
    bluebird.enforcement_date = datetime.date(2030, 10, 1)
    with django_assert_num_queries(1):
        assert planning.count_policy_notice_recipients(bluebird) == 3


def test_the_confirmation_step_refuses_bad_input_without_a_500(client, root, bluebird):
    response = edit(client, bluebird, form_data(bluebird, enforcement_date="2030-13-45"))
    assert response.status_code == 200
    assert "Saving will email" not in response.content.decode()
    assert "Enter a valid date." in response.content.decode()


# The slug and the time zone of a new company ----------------------------------------------------------------


def test_a_new_companys_slug_follows_its_name_with_wagtails_controllers(client, tenants):
    sign_in(client, tenants.superuser)
    page = soup(client.get(f"{BASE}/new/"))
    name = page.select_one('input[name="name"]')
    slug = page.select_one('input[name="slug"]')
    assert "w-sync" in name["data-controller"].split()
    assert name["data-w-sync-target-value"] == f"#{slug['id']}"
    assert "keyup->w-sync#apply" in name["data-action"]
    assert slug["data-controller"] == "w-slug"
    assert "w-sync:apply->w-slug#urlify:prevent" in slug["data-action"]


def test_an_existing_companys_slug_is_left_alone(client, tenants):
    sign_in(client, tenants.superuser)
    page = soup(client.get(f"{BASE}/edit/{tenants.a.pk}/"))
    name = page.select_one('input[name="name"]')
    assert "w-sync#apply" not in name.get("data-action", "")


@pytest.mark.parametrize(
    ("settings_zone", "mfa_zone", "expected"),
    [
        ("America/Chicago", None, "America/Chicago"),
        ("Asia/Tokyo", None, "Asia/Tokyo"),
        ("UTC", "Europe/Lisbon", "Europe/Lisbon"),
        ("America/Chicago", "Atlantis/Capital", "UTC"),  # not a zone: UTC (and a system check says so)
    ],
)
def test_a_new_company_starts_in_the_sites_time_zone(client, tenants, settings_zone, mfa_zone, expected):
    sign_in(client, tenants.superuser)
    with override_settings(TIME_ZONE=settings_zone, WAGTAIL_COMPANY_MFA_DEFAULT_TIME_ZONE=mfa_zone):
        page = soup(client.get(f"{BASE}/new/"))
    selected = page.select_one('select[name="time_zone"] option[selected]')
    assert selected["value"] == expected
