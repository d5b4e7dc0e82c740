"""Forced enrollment of a REQUIRED user (SPEC §3.2, §3.3), through the real login and middleware."""

from __future__ import annotations

import base64
import html
import re
import time

import pytest
import time_machine
from django.db import DatabaseError
from factories import Authenticator, make_company, password_login

from wagtail_company_mfa.models import AuthenticatorDevice, RecoveryCode, RecoveryCodeDevice
from wagtail_company_mfa.recovery_codes import codes as recovery_codes
from wagtail_company_mfa.totp import actions as totp_actions
from wagtail_company_mfa.totp import pending_key

pytestmark = pytest.mark.django_db

REQUIRED_URL = "/admin/company-mfa/required/"
ENROLL_URL = "/admin/company-mfa/enroll/"
SAVE_URL = "/admin/company-mfa/recovery-code/"


def text(response) -> str:
    return html.unescape(response.content.decode())


def setup_key(response) -> bytes:
    """Read the setup key off the page, as a person typing it into their app would."""
    match = re.search(r'id="mfa-setup-key" data-mfa-value="([A-Z2-7 ]+)"', response.content.decode())
    assert match, "setup key not on the page"
    return base64.b32decode(match.group(1).replace(" ", ""))


def shown_codes(response) -> list[str]:
    return re.findall(r'id="mfa-recovery-code-\d+" data-mfa-value="([0-9A-Z-]+)"', response.content.decode())


def test_required_user_is_stopped_after_the_password(client, required_user, company_required):
    password_login(client, required_user)
    for url in ("/admin/", "/admin/pages/", "/admin/account/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(REQUIRED_URL)

    page = client.get(REQUIRED_URL)

    assert "Two-factor authentication required" in text(page)
    assert "Acme Builders" in text(page)
    assert company_required.enforcement_date.strftime("%Y") in text(page)
    # "Select an authentication method": the authenticator app and a passkey, each explained.
    assert "Select an authentication method" in text(page)
    assert f'href="{ENROLL_URL}?next=%2Fadmin%2F' in page.text
    assert 'href="/admin/company-mfa/passkeys/add/?next=%2Fadmin%2F' in page.text


def test_forced_enrollment_from_start_to_finish(client, required_user):
    password_login(client, required_user, next_url="/admin/pages/")
    client.get("/admin/pages/")

    # "Enter your password" is skipped: the password was entered moments ago.
    page = client.get(f"{ENROLL_URL}?next=/admin/pages/")
    assert page.status_code == 200
    assert "Secure your account" in text(page)
    assert "<svg" in page.text
    assert "Trouble scanning?" in text(page)
    assert "no-store" in page["Cache-Control"]
    assert 'autocomplete="one-time-code"' in page.text
    phone = Authenticator(setup_key(page))
    assert not AuthenticatorDevice.objects.filter(user=required_user).exists()  # nothing saved yet

    response = client.post(ENROLL_URL, {"code": phone.code(), "next": "/admin/pages/"})
    assert response.status_code == 302
    assert response.url == f"{SAVE_URL}?next=%2Fadmin%2Fpages%2F"
    assert AuthenticatorDevice.objects.filter(user=required_user).exists()

    # "Almost there": the recovery code, and no way on without saving it.
    almost = client.get(response.url)
    assert "Almost there" in text(almost)
    codes = shown_codes(almost)
    assert len(codes) == 1
    assert client.get("/admin/").url.startswith(SAVE_URL)

    unticked = client.post(SAVE_URL, {"next": "/admin/pages/"})
    assert unticked.status_code == 200
    assert "Tick the box to confirm you have recorded your recovery code." in text(unticked)
    assert shown_codes(unticked) == codes  # the same code again

    done = client.post(SAVE_URL, {"confirm": "on", "next": "/admin/pages/"})
    assert done.status_code == 302
    assert done.url == "/admin/pages/"
    landing = client.get("/admin/pages/")
    assert landing.status_code == 200
    assert "Two-factor authentication is on for your account." in text(landing)

    # The saved code really is the user's recovery code.
    device = RecoveryCodeDevice.objects.get(user=required_user)
    stored = device.codes.get()
    assert recovery_codes.matches(recovery_codes.lookups(recovery_codes.normalize(codes[0])), stored.lookup)


def test_reloading_shows_the_same_secret(client, required_user):  # SEC-24, ADV-14
    password_login(client, required_user)
    first = setup_key(client.get(ENROLL_URL))
    second = setup_key(client.get(ENROLL_URL))
    assert first == second
    assert len(first) == 20


def test_wrong_confirmation_code_saves_nothing(client, required_user):  # SEC-22
    password_login(client, required_user)
    phone = Authenticator(setup_key(client.get(ENROLL_URL)))
    wrong = f"{(int(phone.code()) + 500_000) % 1_000_000:06d}"
    response = client.post(ENROLL_URL, {"code": wrong})
    assert response.status_code == 200
    assert "That code didn't match." in text(response)
    assert not AuthenticatorDevice.objects.filter(user=required_user).exists()
    assert not RecoveryCodeDevice.objects.filter(user=required_user).exists()


def test_client_supplied_secret_is_ignored(client, required_user):  # SEC-22
    password_login(client, required_user)
    real = setup_key(client.get(ENROLL_URL))
    attacker_key = b"A" * 20
    client.post(
        ENROLL_URL, {"code": Authenticator(attacker_key).code(), "key": base64.b32encode(attacker_key)}
    )
    assert not AuthenticatorDevice.objects.filter(user=required_user).exists()
    client.post(ENROLL_URL, {"code": Authenticator(real).code()})
    assert AuthenticatorDevice.objects.get(user=required_user).bin_key == real


def test_expired_setup_key_is_replaced_with_a_message(client, required_user, settings):  # SEC-22
    settings.WAGTAIL_COMPANY_MFA_SETUP_TIMEOUT = 60
    settings.WAGTAIL_COMPANY_MFA_REAUTH_TIMEOUT = 3600
    start = time.time()
    with time_machine.travel(start, tick=False):
        password_login(client, required_user)
        old = setup_key(client.get(ENROLL_URL))
    with time_machine.travel(start + 120, tick=False):
        response = client.post(ENROLL_URL, {"code": Authenticator(old).code()})
        assert response.status_code == 302
        page = client.get(response.url)
        assert "Your setup key expired" in text(page)
        assert setup_key(page) != old
    assert not AuthenticatorDevice.objects.filter(user=required_user).exists()


def test_database_error_mid_enrollment_saves_nothing(client, required_user, monkeypatch):
    password_login(client, required_user)
    phone = Authenticator(setup_key(client.get(ENROLL_URL)))

    def broken(*args, **kwargs):
        raise DatabaseError("disk full")

    monkeypatch.setattr(RecoveryCode.objects, "bulk_create", broken)
    response = client.post(ENROLL_URL, {"code": phone.code()})

    assert response.status_code == 200
    assert "We couldn't save your authenticator app, and nothing was changed." in text(response)
    assert not AuthenticatorDevice.objects.filter(user=required_user).exists()
    assert not RecoveryCodeDevice.objects.filter(user=required_user).exists()
    assert pending_key.PENDING_SETUP in client.session  # the same secret is still there to retry with


def test_password_is_asked_again_after_a_few_minutes(client, required_user, settings):  # SEC-25
    settings.WAGTAIL_COMPANY_MFA_REAUTH_TIMEOUT = 300
    start = time.time()
    with time_machine.travel(start, tick=False):
        password_login(client, required_user)
    with time_machine.travel(start + 301, tick=False):
        response = client.get(ENROLL_URL)
        assert response.status_code == 302
        assert response.url.startswith("/admin/company-mfa/reauthenticate/")
        form = client.get(response.url)
        assert "Enter your password" in text(form)
        wrong = client.post(response.url, {"password": "not it", "next": ENROLL_URL})
        assert "That password is not correct." in text(wrong)
        right = client.post(response.url, {"password": "correct horse battery staple", "next": ENROLL_URL})
        assert right.status_code == 302
        assert right.url == ENROLL_URL
        assert client.get(ENROLL_URL).status_code == 200


def test_enrolled_user_cannot_enroll_again_before_verifying(client, enrolled_user):  # SEC-28
    password_login(client, enrolled_user)
    response = client.get(ENROLL_URL)
    assert response.status_code == 302
    assert response.url.startswith("/admin/company-mfa/verify/")


def test_upcoming_user_passes_freely(client, upcoming_user):
    password_login(client, upcoming_user)
    assert client.get("/admin/").status_code == 200
    assert client.get(REQUIRED_URL).status_code == 302  # nothing required: sent on


def test_policy_switched_on_applies_on_the_next_request(client, user):  # SEC-37
    company = make_company("Late Switch", require_mfa=False)
    from factories import join

    join(user, company)
    password_login(client, user)
    assert client.get("/admin/").status_code == 200

    company.require_mfa = True
    company.enforcement_date = company.created_at.date().replace(year=2020)
    company.save()

    response = client.get("/admin/")
    assert response.status_code == 302
    assert response.url.startswith(REQUIRED_URL)


def test_enrollment_is_audited_without_secrets(client, required_user):  # SEC-44, SEC-45
    from wagtail.models import ModelLogEntry

    password_login(client, required_user)
    key = setup_key(client.get(ENROLL_URL))
    code = Authenticator(key).code()
    client.post(ENROLL_URL, {"code": code}, HTTP_USER_AGENT="TestBrowser/1.0", REMOTE_ADDR="203.0.113.9")

    entry = ModelLogEntry.objects.get(action=totp_actions.ACTION_ENROLLED)
    assert entry.object_id == str(required_user.pk)
    assert entry.data["ip"] == "203.0.113.9"
    assert entry.data["user_agent"] == "TestBrowser/1.0"
    dump = repr(entry.data) + entry.label
    assert code not in dump
    assert base64.b32encode(key).decode().rstrip("=") not in dump
    device = AuthenticatorDevice.objects.get(user=required_user)
    assert (device.enrolled_ip, device.enrolled_user_agent) == ("203.0.113.9", "TestBrowser/1.0")


def test_the_code_that_confirmed_enrollment_cannot_sign_in(client, required_user):  # SEC-05
    from django.test import Client

    password_login(client, required_user)
    phone = Authenticator(setup_key(client.get(ENROLL_URL)))
    code = phone.code()
    client.post(ENROLL_URL, {"code": code})

    other = Client()
    password_login(other, required_user)
    response = other.post("/admin/company-mfa/verify/", {"code": code})
    assert response.status_code == 200
    assert "That code didn't work." in text(response)


def test_guessing_the_password_on_reauthentication_ends_the_session(client, required_user, settings):
    settings.WAGTAIL_COMPANY_MFA_REAUTH_TIMEOUT = 0
    password_login(client, required_user)
    reauth = "/admin/company-mfa/reauthenticate/"
    for _ in range(4):
        assert "That password is not correct." in text(client.post(reauth, {"password": "guess"}))
    response = client.post(reauth, {"password": "guess"})
    assert response.status_code == 302
    assert response.url == "/admin/login/"
    assert "_auth_user_id" not in client.session
