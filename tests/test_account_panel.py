"""The Security tab of the Wagtail account page (SPEC §3.5), through the real login, middleware and views."""

from __future__ import annotations

import datetime
import html
import re
import zoneinfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import formats
from factories import enroll_user, join, make_company, make_user, password_login, verify_with_code
from wagtail import hooks
from wagtail.users.models import UserProfile

from wagtail_company_mfa import wagtail_hooks
from wagtail_company_mfa.models import AuthenticatorDevice, RecoveryCode

pytestmark = pytest.mark.django_db

ACCOUNT_URL = "/admin/account/"
TAB = 'id="tab-security"'
PANEL = "data-mfa-security-panel"


def text(response) -> str:
    return html.unescape(response.content.decode())


def words(response) -> str:
    """What a reader sees: tags removed, whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", text(response)).split()).replace(" :", ":")


def sign_in(client, user):
    """Password, then the code if the user has an authenticator: a fully signed-in browser."""
    password_login(client, user)
    if hasattr(user, "phone"):
        assert verify_with_code(client, user.phone.code()).status_code == 302


def day(date: datetime.date) -> str:
    return formats.date_format(date, "DATE_FORMAT")


def local(moment: datetime.datetime, zone: str) -> str:
    return formats.date_format(moment.astimezone(zoneinfo.ZoneInfo(zone)), "DATETIME_FORMAT")


# Visibility for each demo account of SPEC §6 ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["bob", "erin"])
def test_tab_is_shown_to_users_with_a_date_or_an_authenticator(client, demo, name):
    sign_in(client, demo.user(name))
    page = client.get(ACCOUNT_URL)
    assert page.status_code == 200
    assert TAB in page.text
    assert 'id="tab-label-security"' in page.text
    assert "Security" in text(page)
    assert PANEL in page.text


def test_tab_is_absent_for_a_company_without_the_requirement(client, demo):
    sign_in(client, demo.carol)
    page = client.get(ACCOUNT_URL)
    assert page.status_code == 200
    assert TAB not in page.text
    assert PANEL not in page.text


@pytest.mark.parametrize("name", ["admin", "alice", "dave"])
def test_required_users_reach_the_tab_only_once_enrolled(client, demo, name):
    user = demo.user(name)
    password_login(client, user)
    blocked = client.get(ACCOUNT_URL)
    assert blocked.status_code == 302
    assert blocked.url.startswith("/admin/company-mfa/required/")  # forced enrollment first (SPEC §3.2)

    user.phone, _codes = enroll_user(user)
    client.logout()
    sign_in(client, user)
    page = client.get(ACCOUNT_URL)
    assert TAB in page.text
    assert 'data-mfa-status="on"' in page.text
    assert "Acme Builders" in text(page)
    assert "data-mfa-cannot-disable" in page.text  # Acme requires it now


def test_not_enrolled_upcoming_user_sees_status_company_date_and_set_up_link(client, demo):
    sign_in(client, demo.bob)
    response = client.get(ACCOUNT_URL)
    page = words(response)
    assert "Two-factor authentication is off." in page
    # The company's calendar date, not an instant ("midnight (UTC)").
    assert f"Bluebird Contracting: required from {day(demo.bluebird.enforcement_date)}" in page
    assert "midnight" not in page
    assert 'data-mfa-action="enroll"' in response.text
    assert "/admin/company-mfa/enroll/choose/?next=%2Fadmin%2Faccount%2F%23tab-security" in response.text
    # Nothing to replace, regenerate or turn off yet.
    for action in ("replace", "regenerate", "disable"):
        assert f'data-mfa-action="{action}"' not in response.text


def field(response, name: str) -> str:
    """The text of the panel's ``data-mfa-<name>`` element."""
    match = re.search(rf"data-mfa-{name}>(.*?)</dd>", text(response), re.S)
    assert match, name
    return " ".join(match.group(1).split())


def test_enrolled_user_sees_since_when_last_used_codes_left_and_why_it_stays_on(client, demo):
    erin = demo.erin
    sign_in(client, erin)
    device = AuthenticatorDevice.objects.get(user=erin)
    response = client.get(ACCOUNT_URL)
    page = words(response)

    assert "Two-factor authentication is on." in page
    assert field(response, "enrolled-at") == local(device.created_at, "UTC")
    assert device.last_used_at is not None
    assert field(response, "last-used") == local(device.last_used_at, "UTC")
    assert field(response, "codes-left") == "1 left"
    assert "Recovery codes 1 left" in page  # reads as a phrase, term and value
    assert "Acme Builders: required since" in page
    for action in ("replace", "regenerate"):
        assert f'data-mfa-action="{action}"' in response.text
    assert 'data-mfa-action="disable"' not in response.text
    assert "You can't turn two-factor authentication off: Acme Builders requires it." in page


def test_no_codes_left_is_flagged(client, demo):
    RecoveryCode.objects.filter(device__user=demo.erin).update(
        used_at=datetime.datetime.now(datetime.timezone.utc)
    )
    sign_in(client, demo.erin)
    response = client.get(ACCOUNT_URL)
    assert field(response, "codes-left") == "None left"
    assert "You have no recovery code left." in words(response)


def test_voluntarily_enrolled_user_without_requirement_may_turn_it_off(client, db):
    user = make_user("volunteer")
    join(user, make_company("Cedar Homes"))
    user.phone, _codes = enroll_user(user)
    sign_in(client, user)
    page = client.get(ACCOUNT_URL)
    assert TAB in page.text  # enrolled: the tab is there although no company requires MFA
    assert 'data-mfa-action="disable"' in page.text
    assert "data-mfa-companies" not in page.text


def test_a_late_joiner_sees_their_own_date(client, db):
    company = make_company(
        "Acme Builders",
        require_mfa=True,
        enforcement_date=datetime.date(2026, 1, 1),
        new_member_grace_days=10,
    )
    user = make_user("newcomer")
    with time_machine.travel(datetime.datetime(2026, 3, 1, 12, tzinfo=datetime.timezone.utc), tick=False):
        join(user, company, joined_at=datetime.datetime(2026, 2, 25, 9, tzinfo=datetime.timezone.utc))
        sign_in(client, user)
        page = words(client.get(ACCOUNT_URL))
    # Joined 25 February + 10 days: the company's calendar date of the newcomer's own deadline.
    assert f"Acme Builders: required from {day(datetime.date(2026, 3, 7))}" in page
    assert "your own date, because you joined after the company's date" in page


# Time zones -------------------------------------------------------------------------------------------------


def test_dates_are_shown_in_the_users_own_time_zone(client, db):  # SEC-51
    company = make_company(
        "Bluebird Contracting",
        require_mfa=True,
        enforcement_date=datetime.date(2026, 6, 1),
        time_zone="America/Chicago",
    )
    user = make_user("traveller")
    join(user, company, joined_at=datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc))
    profile = UserProfile.get_for_user(user)
    profile.current_time_zone = "Asia/Tokyo"
    profile.save()

    with time_machine.travel(
        datetime.datetime(2026, 5, 20, 23, 30, tzinfo=datetime.timezone.utc), tick=False
    ):
        user.phone, _codes = enroll_user(user)
        sign_in(client, user)
        response = client.get(ACCOUNT_URL)
    page = words(response)

    # 00:00 in Chicago on 1 June is 05:00 UTC, which is 14:00 on 1 June in Tokyo.
    deadline = company.enforcement_starts_at
    assert deadline == datetime.datetime(2026, 6, 1, 5, tzinfo=datetime.timezone.utc)
    # The deadline is the company's calendar date (1 June in Chicago), not 14:00 in Tokyo; the times of what
    # happened (set up, last used) are in the user's own zone.
    assert "required from " + day(datetime.date(2026, 6, 1)) in page
    assert local(deadline, "Asia/Tokyo") not in page
    assert "Times are in your time zone, Asia/Tokyo." in page
    device = AuthenticatorDevice.objects.get(user=user)
    # Enrolled "now" (23:30 UTC on 20 May) is already 21 May in Tokyo.
    assert field(response, "enrolled-at") == local(device.created_at, "Asia/Tokyo")
    assert "May 21, 2026" in local(device.created_at, "Asia/Tokyo")


# The account page still works as a form, and what the panel costs -------------------------------------------


def test_saving_the_account_page_with_the_panel_still_works(client, demo):
    sign_in(client, demo.erin)
    page = client.get(ACCOUNT_URL)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    response = client.post(
        ACCOUNT_URL,
        {
            "csrfmiddlewaretoken": token,
            "name_email-first_name": "Erin",
            "name_email-last_name": "Example",
            "name_email-email": "erin@example.com",
            "locale-preferred_language": "en",
            "locale-current_time_zone": "",
            "theme-theme": "system",
            "theme-density": "default",
            "theme-contrast": "system",
            "theme-keyboard_shortcuts": "on",
        },
    )
    assert response.status_code == 302, text(response)[:2000]
    demo.erin.refresh_from_db()
    assert demo.erin.first_name == "Erin"
    assert AuthenticatorDevice.objects.filter(user=demo.erin).exists()


def account_page_queries(client, *, with_panel: bool, monkeypatch) -> int:
    if not with_panel:
        monkeypatch.setitem(
            hooks._hooks,
            "register_account_settings_panel",
            [
                entry
                for entry in hooks._hooks["register_account_settings_panel"]
                if entry[0] is not wagtail_hooks.register_security_panel
            ],
        )
    client.get(ACCOUNT_URL)  # warm caches (content types, site root) so only the panel differs
    with CaptureQueriesContext(connection) as queries:
        page = client.get(ACCOUNT_URL)
    assert page.status_code == 200
    monkeypatch.undo()
    return len(queries)


@pytest.mark.parametrize(
    ("name", "extra"),
    [
        # shown, enrolled: her companies, which factors she has, her codes left (the device comes with the
        # session)
        ("erin", 3),
        ("bob", 2),  # shown, not enrolled: the authenticator check, his companies
        ("carol", 2),  # hidden: the same two checks
    ],
)
def test_the_panel_costs_at_most_three_queries(client, demo, name, extra, monkeypatch):
    sign_in(client, demo.user(name))
    with_panel = account_page_queries(client, with_panel=True, monkeypatch=monkeypatch)
    without_panel = account_page_queries(client, with_panel=False, monkeypatch=monkeypatch)
    assert with_panel - without_panel == extra
