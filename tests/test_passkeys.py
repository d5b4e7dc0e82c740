"""
Passkeys and security keys, through the real stack: Wagtail's password step, the gate, the pages and the
WebAuthn endpoints, with a software authenticator (tests/soft_authenticator.py) making real signatures.
Each attack its peers were tested against: wrong origin, wrong RP id, a replayed or regressed answer, an
unknown credential, another user's, malformed JSON, no CSRF token, no password step (SEC-05, SEC-10,
SEC-12, SEC-25, SEC-28, SEC-36).
"""

from __future__ import annotations

import io
import json
from urllib.parse import unquote

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.utils import timezone
from django_otp_webauthn.models import WebAuthnCredential
from factories import (
    PASSWORD,
    days_from_today,
    enroll_user,
    join,
    make_company,
    make_user,
    password_login,
    sign_in,
)
from soft_authenticator import SoftAuthenticator

from wagtail_company_mfa import factors
from wagtail_company_mfa.base import methods
from wagtail_company_mfa.models import AllowedMethods, PasskeyThrottle, RecoveryCodeDevice
from wagtail_company_mfa.passkeys.actions import ACTION_PASSKEY_ADDED, ACTION_PASSKEY_FAILED

ADD_URL = "/admin/company-mfa/passkeys/add/"
REGISTER_BEGIN = "/admin/company-mfa/passkeys/add/begin/"
REGISTER_COMPLETE = "/admin/company-mfa/passkeys/add/complete/"
VERIFY_URL = "/admin/company-mfa/verify/passkey/"
AUTH_BEGIN = "/admin/company-mfa/verify/passkey/begin/"
AUTH_COMPLETE = "/admin/company-mfa/verify/passkey/complete/"
SAVE_URL = "/admin/company-mfa/recovery-code/"
REQUIRED_URL = "/admin/company-mfa/required/"
ACCOUNT_URL = "/admin/account/"


def post_json(client, url: str, payload=None, **extra):
    body = "" if payload is None else json.dumps(payload)
    return client.post(url, body, content_type="application/json", **extra)


def register(client, authenticator: SoftAuthenticator | None = None, *, next_url: str = "/admin/", **create):
    """Both halves of a registration, as django-otp-webauthn's browser code sends them."""
    authenticator = authenticator or SoftAuthenticator()
    begin = post_json(client, REGISTER_BEGIN)
    assert begin.status_code == 200, begin.content
    answer = authenticator.create(begin.json(), **create)
    complete = post_json(client, f"{REGISTER_COMPLETE}?next={next_url}", answer)
    return authenticator, complete


def assertion(client, authenticator: SoftAuthenticator, **get):
    begin = post_json(client, AUTH_BEGIN)
    assert begin.status_code == 200, begin.content
    return begin.json(), authenticator.get(begin.json(), **get)


def sign_in_with_passkey(client, authenticator, *, next_url: str = "/admin/", **get):
    _options, answer = assertion(client, authenticator, **get)
    return post_json(client, f"{AUTH_COMPLETE}?next={next_url}", answer)


def with_passkey(user) -> SoftAuthenticator:
    """``user`` with a registered passkey (through the real endpoints, in a client of its own)."""
    client = Client()
    password_login(client, user)
    authenticator, complete = register(client)
    assert complete.status_code == 200, complete.content
    return authenticator


@pytest.fixture
def upcoming(db):
    company = make_company("Bluebird Contracting", require_mfa=True, enforcement_date=days_from_today(30))
    bob = make_user("bob")
    join(bob, company)
    return bob


@pytest.fixture
def acme(db):
    return make_company("Acme Builders", require_mfa=True, enforcement_date=days_from_today(-7))


# Adding a passkey -----------------------------------------------------------------------------------------


def test_first_passkey_issues_the_recovery_code_and_ends_other_sessions(client, upcoming):
    other = Client()
    password_login(other, upcoming)
    password_login(client, upcoming)
    page = client.get(f"{ADD_URL}?next=/admin/account/")
    assert page.status_code == 200
    assert 'id="otp_webauthn_config"' in page.text
    assert "django_otp_webauthn/otp_webauthn_register.js" in page.text
    assert "no-store" in page["Cache-Control"]

    authenticator, complete = register(client, next_url="/admin/account/")

    assert complete.status_code == 200, complete.content
    passkey = WebAuthnCredential.objects.get(user=upcoming)
    assert passkey.confirmed
    assert passkey.name == "Passkey"
    assert passkey.credential_id == authenticator.credential_id
    # "Almost there" first, then naming the passkey, then where the user was going.
    redirect_url = complete.json()["redirect_url"]
    assert redirect_url.startswith(SAVE_URL + "?next=")
    assert f"passkeys/{passkey.pk}/rename/" in unquote(redirect_url)
    assert RecoveryCodeDevice.objects.get(user=upcoming).codes.count() == 1
    assert factors.is_enrolled(upcoming)
    assert client.get("/admin/").url.startswith(SAVE_URL)  # the code must be saved first
    assert other.get("/admin/").url.startswith("/admin/login/")  # SEC-36


def test_adding_a_passkey_is_audited_and_emailed(client, upcoming, django_capture_on_commit_callbacks):
    from wagtail.models import ModelLogEntry

    password_login(client, upcoming)
    with django_capture_on_commit_callbacks(execute=True):
        register(client)
    assert ModelLogEntry.objects.filter(action=ACTION_PASSKEY_ADDED, object_id=str(upcoming.pk)).exists()
    assert [m.subject for m in mail.outbox] == ["Two-factor authentication is on for Test site"]


def test_a_second_passkey_asks_for_a_name_not_a_new_recovery_code(client, upcoming):
    password_login(client, upcoming)
    register(client)
    codes = list(RecoveryCodeDevice.objects.get(user=upcoming).codes.values_list("pk", flat=True))
    client.post(SAVE_URL, {"confirm": "on"})
    _authenticator, complete = register(client, next_url="/admin/account/")
    assert complete.status_code == 200, complete.content
    second = WebAuthnCredential.objects.filter(user=upcoming).latest("pk")
    assert second.name == "Passkey 2"
    rename = f"/admin/company-mfa/security/passkeys/{second.pk}/rename/"
    assert complete.json()["redirect_url"].startswith(rename)
    assert list(RecoveryCodeDevice.objects.get(user=upcoming).codes.values_list("pk", flat=True)) == codes


def test_registration_needs_a_recent_password(client, upcoming):
    password_login(client, upcoming)
    with time_machine.travel(timezone.now() + timezone.timedelta(hours=2)):
        page = client.get(ADD_URL)
        assert page.url.startswith("/admin/company-mfa/reauthenticate/")
        begin = post_json(client, REGISTER_BEGIN)
    assert begin.status_code == 403
    assert begin.json()["code"] == "refused"
    assert not WebAuthnCredential.objects.filter(user=upcoming).exists()


def test_an_enrolled_users_password_only_session_cannot_add_a_passkey(client, acme):
    """SEC-28: with an authenticator app, the way in is its code, not a new factor."""
    erin = make_user("erin")
    join(erin, acme)
    enroll_user(erin)
    password_login(client, erin)
    assert client.get(ADD_URL).url.startswith("/admin/company-mfa/verify/")
    begin = post_json(client, REGISTER_BEGIN)
    assert begin.status_code == 403
    assert not WebAuthnCredential.objects.filter(user=erin).exists()


@pytest.mark.parametrize(
    ("knob", "value"),
    [("origin", "https://evil.example"), ("rp_id", "evil.example"), ("origin", "http://testserver")],
)
def test_a_registration_for_another_site_is_refused_and_nothing_saved(client, upcoming, knob, value):
    password_login(client, upcoming)
    _authenticator, complete = register(client, **{knob: value})
    assert complete.status_code == 400
    assert complete.json()["code"] == "invalid_registration"
    assert not WebAuthnCredential.objects.filter(user=upcoming).exists()
    assert not RecoveryCodeDevice.objects.filter(user=upcoming).exists()


def test_a_registration_answer_is_used_once(client, upcoming):
    password_login(client, upcoming)
    authenticator = SoftAuthenticator()
    begin = post_json(client, REGISTER_BEGIN).json()
    answer = authenticator.create(begin)
    assert post_json(client, REGISTER_COMPLETE, answer).status_code == 200
    again = post_json(client, REGISTER_COMPLETE, answer)
    assert again.status_code == 400
    assert again.json()["code"] == "invalid_state"
    assert WebAuthnCredential.objects.filter(user=upcoming).count() == 1


def test_malformed_json_is_a_clear_error_not_a_server_error(client, upcoming):
    password_login(client, upcoming)
    post_json(client, REGISTER_BEGIN)
    response = client.post(REGISTER_COMPLETE, "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_request"
    post_json(client, REGISTER_BEGIN)
    garbage = post_json(client, REGISTER_COMPLETE, {"id": "x", "rawId": "!!", "response": {}})
    assert garbage.status_code == 400
    assert not WebAuthnCredential.objects.filter(user=upcoming).exists()


def test_the_endpoints_need_the_csrf_token(upcoming):
    client = Client(enforce_csrf_checks=True)
    client.force_login(upcoming)
    assert post_json(client, REGISTER_BEGIN).status_code == 403
    assert post_json(client, AUTH_BEGIN).status_code == 403


def test_a_database_error_while_saving_saves_nothing(client, upcoming, monkeypatch):
    from django.db import DatabaseError

    from wagtail_company_mfa.passkeys import flows

    def broken(user):
        raise DatabaseError("disk full")

    monkeypatch.setattr(flows, "issue_recovery_codes", broken)
    password_login(client, upcoming)
    _authenticator, complete = register(client)
    assert complete.status_code == 503
    assert "nothing was changed" in complete.json()["detail"]
    assert not WebAuthnCredential.objects.filter(user=upcoming).exists()


# Signing in with a passkey --------------------------------------------------------------------------------


@pytest.fixture
def member(acme):
    """Alice, of a company that requires MFA, with a passkey (and her recovery code)."""
    alice = make_user("alice")
    join(alice, acme)
    alice.passkey = with_passkey(alice)
    return alice


def test_the_password_step_leads_to_the_passkey_first(client, member):
    response = password_login(client, member, next_url="/admin/pages/")
    assert response.url == f"{VERIFY_URL}?next=%2Fadmin%2Fpages%2F"
    page = client.get(response.url)
    assert "Use your passkey" in page.content.decode()
    assert "django_otp_webauthn/otp_webauthn_auth.js" in page.text
    assert 'href="/admin/company-mfa/verify/recovery-code/?next=%2Fadmin%2Fpages%2F"' in page.text
    # The authenticator-app page sends a user without an app to their own way in.
    assert client.get("/admin/company-mfa/verify/").url.startswith(VERIFY_URL)


def test_sign_in_with_a_passkey(client, member):
    password_login(client, member)
    assert client.get("/admin/").status_code == 302
    old_session = client.session.session_key
    response = sign_in_with_passkey(client, member.passkey, next_url="/admin/pages/")
    assert response.status_code == 200, response.content
    assert response.json()["redirect_url"] == "/admin/pages/"
    assert client.get("/admin/pages/").status_code == 200
    assert client.session.session_key != old_session  # SEC-30
    passkey = WebAuthnCredential.objects.get(user=member)
    assert passkey.last_used_at is not None
    assert passkey.sign_count == member.passkey.sign_count


def test_no_passwordless_sign_in(client, member):
    """A passkey is a second factor here: without the password step there is nothing to answer (SEC-28)."""
    response = post_json(client, AUTH_BEGIN)
    assert response.status_code in (302, 403)
    assert "challenge" not in response.content.decode()


@pytest.mark.parametrize(
    ("knob", "value"),
    [("origin", "https://evil.example"), ("rp_id", "evil.example"), ("challenge", "c29tZXRoaW5nLWVsc2U")],
)
def test_an_answer_for_another_site_or_challenge_is_refused(client, member, knob, value):
    password_login(client, member)
    response = sign_in_with_passkey(client, member.passkey, **{knob: value})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_authentication"
    assert client.get("/admin/").status_code == 302
    assert PasskeyThrottle.objects.get(user=member).throttling_failure_count == 1  # counted (SEC-10)


def test_a_replayed_answer_is_refused(client, member):
    password_login(client, member)
    _options, answer = assertion(client, member.passkey)
    assert post_json(client, AUTH_COMPLETE, answer).status_code == 200
    client.logout()
    password_login(client, member)
    post_json(client, AUTH_BEGIN)  # a new challenge: the old answer is for the old one
    replay = post_json(client, AUTH_COMPLETE, answer)
    assert replay.status_code == 400
    assert client.get("/admin/").status_code == 302


def test_an_answer_to_a_challenge_already_answered_is_refused(rf, acme):
    """Two requests that both read the same challenge (say, sent at once): only the first passes (SEC-05)."""
    from django.contrib.sessions.backends.db import SessionStore

    from wagtail_company_mfa.passkeys import flows
    from wagtail_company_mfa.passkeys.helper import PasskeyHelper

    # A synced passkey: its counter stays 0, so only the challenge can tell a second use.
    synced = SoftAuthenticator(counts=False)
    member = make_user("frank")
    join(member, acme)
    client = Client()
    password_login(client, member)
    register(client, synced)
    options, answer = assertion(client, synced)
    state = {"challenge": options["challenge"], "require_user_verification": False}
    results = []
    for _ in range(2):
        request = rf.post(AUTH_COMPLETE)
        request.user = member
        request.session = SessionStore()
        request.user.is_verified = lambda: False
        helper = PasskeyHelper(request)
        results.append(flows.verify_passkey(request, helper, state, answer).ok)
    assert results == [True, False]


def test_a_counter_that_went_back_is_refused(client, member):
    """A cloned security key shows itself by a counter that does not grow (SEC-05)."""
    password_login(client, member)
    current = WebAuthnCredential.objects.get(user=member).sign_count
    assert current > 0
    response = sign_in_with_passkey(client, member.passkey, sign_count=current)
    assert response.status_code == 400
    assert client.get("/admin/").status_code == 302


def test_an_unknown_passkey_is_refused(client, member):
    password_login(client, member)
    response = sign_in_with_passkey(client, SoftAuthenticator())
    assert response.status_code == 400
    assert client.get("/admin/").status_code == 302


def test_another_users_passkey_is_refused(client, member, acme):
    dave = make_user("dave")
    join(dave, acme)
    with_passkey(dave)
    password_login(client, dave)
    response = sign_in_with_passkey(client, member.passkey)  # alice's passkey, on dave's sign-in
    assert response.status_code == 400
    assert client.get("/admin/").status_code == 302
    from wagtail.models import ModelLogEntry

    entry = ModelLogEntry.objects.filter(action=ACTION_PASSKEY_FAILED, object_id=str(dave.pk)).get()
    assert entry.data["problem"] == "credential_user_mismatch"


def test_failed_answers_are_throttled_per_user_across_sessions(client, member):
    """SEC-12: after a failure the next try waits, in another browser too, even with the right passkey."""
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        password_login(client, member)
        sign_in_with_passkey(client, SoftAuthenticator())
        other = Client()
        password_login(other, member)
        begin = post_json(other, AUTH_BEGIN)
        assert begin.status_code == 403
        assert begin.json()["code"] == "throttled"
        page = other.get(VERIFY_URL).content.decode()
        assert "You can try again in" in page
    with time_machine.travel(start + timezone.timedelta(seconds=5), tick=False):
        assert sign_in_with_passkey(other, member.passkey).status_code == 200
        assert PasskeyThrottle.objects.get(user=member).throttling_failure_count == 0


def test_repeated_failures_are_audited_as_throttling(client, member):
    from wagtail.models import ModelLogEntry

    from wagtail_company_mfa.base.verification import ACTION_THROTTLED

    start = timezone.now()
    password_login(client, member)
    for attempt in range(6):
        with time_machine.travel(start + timezone.timedelta(minutes=attempt), tick=False):
            sign_in_with_passkey(client, SoftAuthenticator())
    assert ModelLogEntry.objects.filter(action=ACTION_THROTTLED, object_id=str(member.pk)).exists()


def test_a_pending_sign_in_expires(client, member):
    password_login(client, member)
    with time_machine.travel(timezone.now() + timezone.timedelta(hours=1)):
        response = post_json(client, AUTH_BEGIN)
    assert response.status_code in (302, 403)
    assert "challenge" not in response.content.decode()


# The Security tab: list, rename, remove -------------------------------------------------------------------


def test_the_security_tab_lists_passkeys(client, member):
    password_login(client, member)
    sign_in_with_passkey(client, member.passkey)
    client.post(SAVE_URL, {"confirm": "on"})
    page = client.get(ACCOUNT_URL).text
    passkey = WebAuthnCredential.objects.get(user=member)
    assert f'data-mfa-passkey="{passkey.pk}"' in page
    assert "Passkey" in page
    assert "last used" in page
    assert 'data-mfa-action="add-passkeys"' in page
    assert 'data-mfa-action="add-totp"' in page  # an authenticator app can be added too


def test_rename_a_passkey(client, member):
    password_login(client, member)
    sign_in_with_passkey(client, member.passkey)
    passkey = WebAuthnCredential.objects.get(user=member)
    url = f"/admin/company-mfa/security/passkeys/{passkey.pk}/rename/"
    assert client.post(url, {"name": "  "}).status_code == 400
    response = client.post(url, {"name": "Work laptop"})
    assert response.status_code == 302
    passkey.refresh_from_db()
    assert passkey.name == "Work laptop"


def test_another_users_passkey_cannot_be_renamed_or_removed(client, member, acme):
    dave = make_user("dave")
    join(dave, acme)
    dave_key = with_passkey(dave)
    password_login(client, dave)
    sign_in_with_passkey(client, dave_key)
    alices = WebAuthnCredential.objects.get(user=member)
    assert client.get(f"/admin/company-mfa/security/passkeys/{alices.pk}/rename/").status_code == 404
    assert client.post(f"/admin/company-mfa/security/passkeys/{alices.pk}/remove/").status_code == 404
    assert WebAuthnCredential.objects.filter(pk=alices.pk).exists()


def test_the_only_second_factor_cannot_be_removed(client, member):
    password_login(client, member)
    sign_in_with_passkey(client, member.passkey)
    passkey = WebAuthnCredential.objects.get(user=member)
    response = client.post(f"/admin/company-mfa/security/passkeys/{passkey.pk}/remove/")
    assert response.status_code == 302
    assert WebAuthnCredential.objects.filter(pk=passkey.pk).exists()


def test_removing_needs_the_password_and_ends_other_sessions(client, member):
    enroll_user(member)  # an authenticator app besides the passkey
    password_login(client, member)
    sign_in_with_passkey(client, member.passkey)
    other = Client()
    password_login(other, member)
    passkey = WebAuthnCredential.objects.get(user=member)
    url = f"/admin/company-mfa/security/passkeys/{passkey.pk}/remove/"
    with time_machine.travel(timezone.now() + timezone.timedelta(hours=2)):
        stale = client.post(url)
        assert stale.url.startswith("/admin/company-mfa/reauthenticate/")
        assert WebAuthnCredential.objects.filter(pk=passkey.pk).exists()
    response = client.post(url)
    assert response.status_code == 302
    assert not WebAuthnCredential.objects.filter(pk=passkey.pk).exists()
    assert other.get("/admin/").url.startswith("/admin/login/")  # SEC-36


def test_reauthentication_of_a_passkey_only_user_asks_for_the_passkey(client, member):
    password_login(client, member)
    sign_in_with_passkey(client, member.passkey)
    with time_machine.travel(timezone.now() + timezone.timedelta(hours=2)):
        response = client.get("/admin/company-mfa/reauthenticate/?next=/admin/company-mfa/security/turn-off/")
        assert response.url.startswith(VERIFY_URL)
        page = client.get(response.url)
        assert "Confirm it's you" in page.content.decode()
        confirmed = sign_in_with_passkey(client, member.passkey, next_url=response.url.split("next=")[1])
        assert confirmed.status_code == 200, confirmed.content
        form = client.get(confirmed.json()["redirect_url"])
        assert form.status_code == 200
        assert 'name="password"' in form.text


# Companies that accept only phishing-resistant methods ----------------------------------------------------


def test_a_member_with_only_an_app_is_sent_to_add_a_passkey(client, acme):
    acme.allowed_methods = AllowedMethods.PHISHING_RESISTANT
    acme.save()
    alice = make_user("alice")
    join(alice, acme)
    alice.phone, _codes = enroll_user(alice)
    sign_in(client, alice)  # password and app code: the app still signs her in
    response = client.get("/admin/pages/")
    assert response.url.startswith(REQUIRED_URL)
    page = client.get(response.url).content.decode()
    assert "A passkey or security key is required" in page
    assert "Acme Builders accepts only passkeys and security keys" in page
    assert f'href="{ADD_URL}?next=' in page
    assert 'data-mfa-method="totp"' not in page
    _authenticator, complete = register(client)
    assert complete.status_code == 200, complete.content
    assert not complete.json()["redirect_url"].startswith(SAVE_URL)  # not her first factor
    assert methods.METHODS_DUE not in client.session
    assert client.get("/admin/pages/").status_code == 200


def test_the_last_passkey_of_a_phishing_resistant_member_stays(client, member, acme):
    enroll_user(member)
    acme.allowed_methods = AllowedMethods.PHISHING_RESISTANT
    acme.save()
    password_login(client, member)
    sign_in_with_passkey(client, member.passkey)
    passkey = WebAuthnCredential.objects.get(user=member)
    client.post(f"/admin/company-mfa/security/passkeys/{passkey.pk}/remove/")
    assert WebAuthnCredential.objects.filter(pk=passkey.pk).exists()


def test_a_new_member_of_a_phishing_resistant_company_is_offered_passkeys_only(client, acme):
    acme.allowed_methods = AllowedMethods.PHISHING_RESISTANT
    acme.save()
    carol = make_user("carol")
    join(carol, acme)
    password_login(client, carol)
    page = client.get(REQUIRED_URL).content.decode()
    assert "Your company accepts only passkeys and security keys." in page
    assert f'href="{ADD_URL}?next=' in page
    assert "/admin/company-mfa/enroll/?" not in page
    # The app's setup page sends her to the choice of accepted methods: here, straight to the passkey.
    assert client.get("/admin/company-mfa/enroll/").url.startswith("/admin/company-mfa/enroll/choose/")
    assert client.get("/admin/company-mfa/enroll/choose/").url.startswith(ADD_URL)


# Registry, reset and status -------------------------------------------------------------------------------


def test_the_registry_counts_passkeys_as_enrolled_and_phishing_resistant(member):
    assert factors.factors_of(member) == {"passkeys", "recovery_codes"}
    assert factors.is_enrolled(member)
    assert factors.FACTORS["passkeys"].phishing_resistant


def test_a_reset_removes_passkeys(member):
    from django.core.management import call_command

    call_command("mfa_reset", member.get_username(), "--no-input", stdout=io.StringIO())
    assert not WebAuthnCredential.objects.filter(user=member).exists()
    assert not factors.is_enrolled(member)


def test_wrong_password_is_still_wrong(client, member):
    response = client.post("/admin/login/", {"username": member.get_username(), "password": PASSWORD + "x"})
    assert response.status_code == 200


def test_emails_say_which_factor(client, upcoming, django_capture_on_commit_callbacks):
    password_login(client, upcoming)
    with django_capture_on_commit_callbacks(execute=True):
        register(client)
    client.post(SAVE_URL, {"confirm": "on"})
    with django_capture_on_commit_callbacks(execute=True):
        register(client)
    first, second = mail.outbox
    assert "sign in with your password and your passkey or security key" in first.body
    assert second.subject == "A second factor was added to your account on Test site"
    assert "A passkey or security key was just added to your account." in second.body


# The enrollment report --------------------------------------------------------------------------------------


def test_the_report_shows_methods_and_finds_members_not_meeting_them(client, acme):
    import csv as csv_module

    from wagtail_company_mfa.models import CompanyMembership

    acme.allowed_methods = AllowedMethods.PHISHING_RESISTANT
    acme.save()
    admin = make_user("anna", superuser=True)
    join(admin, acme, role=CompanyMembership.Role.ADMIN)
    app_only = make_user("olga", first_name="Olga", last_name="App")
    join(app_only, acme)
    enroll_user(app_only)
    with_key = make_user("pia", first_name="Pia", last_name="Key")
    join(with_key, acme)
    with_passkey(with_key)
    both = make_user("quinn", first_name="Quinn", last_name="Both")
    join(both, acme)
    with_passkey(both)
    enroll_user(both)
    admin_phone, _codes = enroll_user(admin)
    admin.phone = admin_phone
    sign_in(client, admin)
    url = f"/admin/company-mfa/companies/{acme.pk}/report/"
    assert client.get(url).url.startswith(REQUIRED_URL)  # Acme requires a passkey of its administrator too
    register(client)
    response = client.get(url)
    page = response.content.decode()
    assert "Methods" in page
    assert page.count("data-mfa-methods-unmet") == 1  # olga (the administrator has a passkey now)
    unmet = client.get(url, {"state": "methods_unmet"}).content.decode()
    assert "Olga App" in unmet
    assert "Pia Key" not in unmet
    assert "Quinn Both" not in unmet
    export = client.get(url, {"export": "csv"})
    rows = {
        row["Name"]: row
        for row in csv_module.DictReader(io.StringIO(b"".join(export.streaming_content).decode()))
    }
    assert rows["Olga App"]["Methods"] == "Authenticator app (not accepted by this company)"
    assert rows["Pia Key"]["Methods"] == "Passkey or security key"
    assert rows["Quinn Both"]["Methods"] == "Passkey or security key, Authenticator app"


def test_mfa_status_counts_a_member_with_only_a_passkey_as_enrolled(member, acme):
    from django.core.management import call_command

    out = io.StringIO()
    call_command("mfa_status", "--json", "--company", acme.slug, stdout=out)
    (company,) = json.loads(out.getvalue())  # one row per company
    assert company["enrolled"] == 1
