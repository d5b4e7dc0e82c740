"""
The session registry follows every change of session key (SEC-36), not only the one at verification: saving
Wagtail's account page calls ``update_session_auth_hash``, which rotates the key with ``cycle_key()``.
"""

from __future__ import annotations

import re

import pytest
from django.test import Client
from factories import PASSWORD, days_from_today, enroll_user, join, make_company, make_user, sign_in

from wagtail_company_mfa.base import registry
from wagtail_company_mfa.models import UserSession

pytestmark = pytest.mark.django_db

ACCOUNT_URL = "/admin/account/"
REGENERATE_URL = "/admin/company-mfa/security/new-recovery-code/"


@pytest.fixture
def enrolled_upcoming_user(db):
    """Enrolled, in a company whose requirement is a month away (as in the Security tab tests)."""
    company = make_company("Bluebird Contracting", require_mfa=True, enforcement_date=days_from_today(30))
    user = make_user("early")
    join(user, company)
    user.phone, user.recovery_codes = enroll_user(user)
    return user


def save_account_page(client, user, **extra):
    """Wagtail's account page, saved as a browser does it (every panel's fields, as rendered)."""
    page = client.get(ACCOUNT_URL)
    assert page.status_code == 200
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    data = {
        "csrfmiddlewaretoken": token,
        "name_email-first_name": "Changed",
        "name_email-last_name": "Name",
        "name_email-email": user.email,
        "locale-preferred_language": "en",
        "locale-current_time_zone": "",
        "theme-theme": "system",
        "theme-density": "default",
        "theme-contrast": "system",
        "theme-keyboard_shortcuts": "on",
        **extra,
    }
    response = client.post(ACCOUNT_URL, data)
    assert response.status_code == 302, response.content[:2000]
    return response


def signed_out(client) -> bool:
    response = client.get("/admin/")
    return response.status_code == 302 and response.url.startswith("/admin/login/")


def registered_keys(user) -> set[str]:
    return set(UserSession.objects.filter(user_id=user.pk).values_list("session_key", flat=True))


def test_account_page_save_cannot_hide_a_session_from_end_other_sessions(enrolled_upcoming_user):  # SEC-36
    user = enrolled_upcoming_user
    mine, stolen = Client(), Client()
    sign_in(mine, user)
    sign_in(stolen, user)  # factories' sign_in uses the next time step for a second sign-in
    key_before = stolen.session.session_key

    save_account_page(stolen, user)  # update_session_auth_hash rotates the key of this session

    assert stolen.session.session_key != key_before
    assert registered_keys(user) == {mine.session.session_key, stolen.session.session_key}

    response = mine.post(REGENERATE_URL)  # a new recovery code ends the user's other sessions
    assert response.status_code == 302

    assert signed_out(stolen)
    assert not signed_out(mine)
    assert registered_keys(user) == {mine.session.session_key}


def test_password_change_on_the_account_page_keeps_the_registry_row(verified_client, enrolled_user):  # SEC-36
    key_before = verified_client.session.session_key
    row = UserSession.objects.get(session_key=key_before)

    save_account_page(
        verified_client,
        enrolled_user,
        **{
            "password-old_password": PASSWORD,
            "password-new_password1": "a different long passphrase",
            "password-new_password2": "a different long passphrase",
        },
    )

    enrolled_user.refresh_from_db()
    assert enrolled_user.check_password("a different long passphrase")
    new_key = verified_client.session.session_key
    assert new_key != key_before
    moved = UserSession.objects.get(session_key=new_key)
    assert (moved.pk, moved.user_id, moved.created_at) == (row.pk, enrolled_user.pk, row.created_at)
    assert not UserSession.objects.filter(session_key=key_before).exists()
    assert verified_client.get("/admin/").status_code == 200  # still signed in, still verified


def test_a_rotated_session_the_registry_had_missed_is_added(verified_client, enrolled_user):  # SEC-36
    UserSession.objects.all().delete()

    save_account_page(verified_client, enrolled_user)

    assert registered_keys(enrolled_user) == {verified_client.session.session_key}


def test_follow_key_drops_the_row_of_a_session_now_signed_out(enrolled_user):
    UserSession.objects.create(session_key="old-key-0123456789", user=enrolled_user)

    registry.follow_key("old-key-0123456789", None, None)

    assert not UserSession.objects.exists()


def test_follow_key_never_gives_the_new_key_to_the_previous_user(enrolled_user, other_user):
    # login() as someone else in a signed-in session flushes it: the sign-in registered the new key already.
    UserSession.objects.create(session_key="old-key-0123456789", user=enrolled_user)
    UserSession.objects.create(session_key="new-key-0123456789", user=other_user)

    registry.follow_key("old-key-0123456789", "new-key-0123456789", other_user.pk)

    assert list(UserSession.objects.values_list("session_key", "user_id")) == [
        ("new-key-0123456789", other_user.pk)
    ]
