"""
Reminders in the admin while a deadline is ahead (SPEC §3.6): the dismissible dashboard panel and the warning
message once per session, for the demo accounts of SPEC §6.
"""

from __future__ import annotations

import datetime
import html
import json
import re
import zoneinfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import formats, timezone
from factories import days_from_today, password_login, verify_with_code
from wagtail import hooks
from wagtail.users.models import UserProfile

from wagtail_company_mfa import wagtail_hooks

pytestmark = pytest.mark.django_db

PANEL = "data-mfa-upcoming"


def words(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html.unescape(response.content.decode())).split())


def sign_in(client, user, next_url=None):
    password_login(client, user, next_url=next_url)
    if hasattr(user, "phone"):
        assert verify_with_code(client, user.phone.code()).status_code == 302


def day(date) -> str:
    return formats.date_format(date, "DATE_FORMAT")


def local(moment, zone="UTC") -> str:
    return formats.date_format(moment.astimezone(zoneinfo.ZoneInfo(zone)), "DATETIME_FORMAT")


def dismissible_id(response) -> str:
    return re.search(r'data-w-dismissible-id-value="([^"]+)"', response.text).group(1)


# The panel -------------------------------------------------------------------------------------------------


def test_upcoming_user_sees_the_deadline_the_company_and_set_up_now(client, demo):
    sign_in(client, demo.bob)
    response = client.get("/admin/")
    assert response.status_code == 200
    assert PANEL in response.text
    page = words(response)
    date = day(demo.bluebird.enforcement_date)
    assert f"Two-factor authentication will be required from {date}" in page
    assert f"Bluebird Contracting , from {date}" in page
    assert "midnight" not in page
    assert 'href="/admin/company-mfa/enroll/?next=%2Fadmin%2F"' in response.text
    assert 'data-controller="w-dismissible"' in response.text
    assert dismissible_id(response).startswith("wagtail_company_mfa_upcoming_")


@pytest.mark.parametrize("name", ["carol", "erin"])
def test_no_panel_without_an_upcoming_deadline_or_once_enrolled(client, demo, name):
    sign_in(client, demo.user(name))
    response = client.get("/admin/")
    assert response.status_code == 200
    assert PANEL not in response.text


def test_an_enrolled_user_with_a_deadline_ahead_sees_no_panel(client, demo):
    bob = demo.bob
    from factories import enroll_user

    bob.phone, _codes = enroll_user(bob)
    sign_in(client, bob)
    assert PANEL not in client.get("/admin/").text


@pytest.mark.parametrize("name", ["admin", "alice", "dave"])
def test_required_users_are_stopped_before_the_dashboard(client, demo, name):
    password_login(client, demo.user(name))
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response.url.startswith("/admin/company-mfa/required/")


def test_the_panel_shows_the_companys_date_whatever_the_users_time_zone(client, demo):
    profile = UserProfile.get_for_user(demo.bob)
    profile.current_time_zone = "Pacific/Auckland"
    profile.save()
    sign_in(client, demo.bob)
    page = words(client.get("/admin/"))
    deadline = demo.bluebird.enforcement_starts_at
    # 00:00 UTC is 13:00 in Auckland: people are told the company's calendar day, not "1 p.m.".
    assert f"required from {day(demo.bluebird.enforcement_date)}" in page
    assert local(deadline, "Pacific/Auckland") not in page


def test_dismissing_hides_it_until_the_next_reminder_day(client, demo):
    bob = demo.bob
    sign_in(client, bob)
    key = dismissible_id(client.get("/admin/"))

    # What Wagtail's w-dismissible controller sends when the close button is clicked.
    response = client.patch("/admin/dismissibles/", json.dumps({key: True}), content_type="application/json")
    assert response.status_code == 200
    assert PANEL not in client.get("/admin/").text

    # 14 days before the deadline the banner comes back, once more dismissible.
    fourteen_days_before = demo.bluebird.enforcement_starts_at - datetime.timedelta(days=14, hours=-1)
    with time_machine.travel(fourteen_days_before, tick=False):
        client.post("/admin/logout/")
        sign_in(client, bob)  # the old session has long expired
        response = client.get("/admin/")
        assert PANEL in response.text
        assert dismissible_id(response) != key


# What it costs ----------------------------------------------------------------------------------------------


def dashboard_queries(client, *, with_hook: bool, monkeypatch) -> int:
    if not with_hook:
        monkeypatch.setitem(
            hooks._hooks,
            "construct_homepage_panels",
            [
                entry
                for entry in hooks._hooks["construct_homepage_panels"]
                if entry[0] is not wagtail_hooks.add_upcoming_mfa_panel
            ],
        )
    client.get("/admin/")
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/admin/").status_code == 200
    monkeypatch.undo()
    return len(queries)


def test_verified_users_pay_nothing_for_the_panel(client, demo, monkeypatch):
    sign_in(client, demo.erin)
    assert dashboard_queries(client, with_hook=True, monkeypatch=monkeypatch) == dashboard_queries(
        client, with_hook=False, monkeypatch=monkeypatch
    )


def test_other_admin_pages_pay_nothing_for_the_reminders(client, demo, monkeypatch):
    """The reminders live on the dashboard and at sign-in; any other admin page is untouched."""
    sign_in(client, demo.bob)
    client.get("/admin/pages/")
    with CaptureQueriesContext(connection) as with_hooks:
        client.get("/admin/pages/")
    monkeypatch.setitem(hooks._hooks, "construct_homepage_panels", [])
    with CaptureQueriesContext(connection) as without:
        client.get("/admin/pages/")
    assert len(with_hooks) == len(without)


# The message once per session -----------------------------------------------------------------------------


MESSAGE = "Bluebird Contracting requires two-factor authentication from"


def test_message_with_set_up_now_once_per_session(client, demo):
    bob = demo.bob
    sign_in(client, bob, next_url="/admin/pages/")
    first = client.get("/admin/pages/")
    page = words(first)
    assert f"{MESSAGE} {day(demo.bluebird.enforcement_date)}. Set it up now to be ready." in page
    assert re.search(r'<a href="/admin/company-mfa/enroll/"[^>]*>\s*Set up now\s*</a>', first.text)
    assert MESSAGE not in words(client.get("/admin/pages/"))
    assert MESSAGE not in words(client.get("/admin/"))

    client.post("/admin/logout/")
    sign_in(client, bob, next_url="/admin/pages/")
    assert MESSAGE in words(client.get("/admin/pages/"))  # a new session, a new reminder


def test_one_reminder_on_the_dashboard_after_sign_in(client, demo):
    """Landing on the dashboard: its panel, not the message as well (with other words and colours)."""
    sign_in(client, demo.bob)
    dashboard = client.get("/admin/")
    assert PANEL in dashboard.text
    assert MESSAGE not in words(dashboard)
    assert MESSAGE not in words(client.get("/admin/pages/"))  # decided once, at sign-in


def test_dismissed_panel_leaves_the_message_on_the_dashboard(client, demo):
    sign_in(client, demo.bob)
    panel_id = dismissible_id(client.get("/admin/"))
    profile = UserProfile.get_for_user(demo.bob)
    profile.dismissibles[panel_id] = True
    profile.save()
    client.post("/admin/logout/")
    sign_in(client, demo.bob)
    dashboard = client.get("/admin/")
    assert PANEL not in dashboard.text
    assert MESSAGE in words(dashboard)


@pytest.mark.parametrize(("days_ahead", "level"), [(30, "info"), (7, "warning"), (2, "warning")])
def test_message_is_information_until_the_deadline_is_near(client, demo, days_ahead, level):
    demo.bluebird.enforcement_date = days_from_today(days_ahead)
    demo.bluebird.save()
    sign_in(client, demo.bob, next_url="/admin/pages/")
    page = client.get("/admin/pages/").text
    message = re.search(r'<li class="([^"]*)"[^>]*>(?:(?!</li>).)*requires two-factor', page, re.S)
    assert message is not None
    assert level in message.group(1).split()


@pytest.mark.parametrize("name", ["carol", "erin"])
def test_no_message_for_others(client, demo, name):
    sign_in(client, demo.user(name))
    assert "requires two-factor authentication from" not in words(client.get("/admin/"))


def test_message_gives_the_companys_date_not_a_time_in_the_users_zone(client, demo):
    profile = UserProfile.get_for_user(demo.bob)
    profile.current_time_zone = "Asia/Kolkata"
    profile.save()
    sign_in(client, demo.bob, next_url="/admin/pages/")
    page = words(client.get("/admin/pages/"))
    deadline = demo.bluebird.enforcement_starts_at
    assert timezone.localtime(deadline, zoneinfo.ZoneInfo("Asia/Kolkata")).hour == 5  # 00:00 UTC is 05:30
    assert f"{MESSAGE} {day(demo.bluebird.enforcement_date)}." in page
    assert "a.m." not in page
