"""
Trusted browsers (docs/user-guide.md, "Trusted browsers"; docs/security.md, SEC-38): a company may let its
members skip the second factor, never the password, on a browser they chose to trust. Through the real
stack: Wagtail's login, the gate, the verify pages and the Security tab.
"""

from __future__ import annotations

import csv
import datetime
import io

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from factories import (
    PASSWORD,
    days_from_today,
    enroll_user,
    join,
    make_company,
    make_user,
    password_login,
)
from wagtail.models import ModelLogEntry

from wagtail_company_mfa.companies import flows as company_flows
from wagtail_company_mfa.companies import policy
from wagtail_company_mfa.companies.reset import reset_mfa
from wagtail_company_mfa.models import AllowedMethods, AuthenticatorDevice, TrustedBrowser, TrustPeriod
from wagtail_company_mfa.trusted import actions, browsers, flows, tokens
from wagtail_company_mfa.trusted.cookie import COOKIE_NAME

VERIFY_URL = "/admin/company-mfa/verify/"
RECOVERY_URL = "/admin/company-mfa/verify/recovery-code/"
ACCOUNT_URL = "/admin/account/"
CHROME_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


@pytest.fixture
def trusting_company(company_required):
    company_required.trust_browser_for = TrustPeriod.DAYS_7
    company_required.save()
    return company_required


@pytest.fixture
def member(enrolled_user, trusting_company):
    return enrolled_user


def next_code(user) -> str:
    step = getattr(user, "_next_step", 0)
    user._next_step = step + 1
    return user.phone.code(steps=step)


def verify_trusting(client, user, *, trust: bool = True, next_url: str = ""):
    data = {"code": next_code(user), "next": next_url}
    if trust:
        data["trust_browser"] = "on"
    return client.post(VERIFY_URL, data, HTTP_USER_AGENT=CHROME_MAC)


def trust_this_browser(client, user):
    """Password, then the code with "Trust this browser" ticked; then sign out. Returns the cookie value."""
    password_login(client, user)
    response = verify_trusting(client, user)
    assert response.status_code == 302, response.content[:500]
    token = response.cookies[COOKIE_NAME].value
    assert token
    client.post("/admin/logout/")
    return token


def is_verified_on_dashboard(client) -> bool:
    response = client.get("/admin/")
    return response.status_code == 200


def cookie_cleared(response) -> bool:
    morsel = response.cookies.get(COOKIE_NAME)
    return morsel is not None and morsel.value == "" and morsel["max-age"] == 0


# Granting -------------------------------------------------------------------------------------------------


def test_the_box_names_the_period_and_the_cookie_has_every_flag(client, member):
    # SEC-32, SEC-38
    password_login(client, member)
    page = client.get(VERIFY_URL)
    assert "Trust this browser for 7 days" in page.text
    assert 'name="trust_browser"' in page.text
    response = verify_trusting(client, member)
    assert response.status_code == 302
    morsel = response.cookies[COOKIE_NAME]
    assert morsel["httponly"] is True
    assert morsel["samesite"] == "Lax"
    assert morsel["path"] == "/admin/"
    assert morsel["max-age"] == 7 * 24 * 3600
    assert not morsel["secure"]  # plain HTTP in the test client, SESSION_COOKIE_SECURE off
    trusted = TrustedBrowser.objects.get(user=member)
    # Only the keyed HMAC is stored, never the token itself.
    assert morsel.value not in trusted.lookup
    assert trusted.lookup == tokens.lookup(morsel.value)
    assert trusted.description == "Chrome on macOS"
    assert trusted.expires_at - trusted.created_at == datetime.timedelta(days=7)


def test_secure_under_session_cookie_secure(client, member, settings):
    # SEC-32
    settings.SESSION_COOKIE_SECURE = True
    password_login(client, member)
    response = verify_trusting(client, member)
    assert response.cookies[COOKIE_NAME]["secure"] is True


def test_secure_on_an_https_request(client, member):
    # SEC-32
    password_login(client, member)
    data = {"code": next_code(member), "trust_browser": "on"}
    response = client.post(VERIFY_URL, data, secure=True)
    assert response.cookies[COOKIE_NAME]["secure"] is True


def test_without_the_box_ticked_no_cookie_and_nothing_stored(client, member):
    password_login(client, member)
    response = verify_trusting(client, member, trust=False)
    assert response.status_code == 302
    assert COOKIE_NAME not in response.cookies
    assert not TrustedBrowser.objects.exists()


def test_no_box_when_the_company_asks_at_every_sign_in(client, enrolled_user):
    password_login(client, enrolled_user)
    page = client.get(VERIFY_URL)
    assert "Trust this browser" not in page.text
    # A box ticked anyway (a crafted POST) trusts nothing.
    response = verify_trusting(client, enrolled_user)
    assert response.status_code == 302
    assert COOKIE_NAME not in response.cookies
    assert not TrustedBrowser.objects.exists()


def test_recovery_code_can_trust_too(client, member):
    password_login(client, member)
    page = client.get(RECOVERY_URL)
    assert "Trust this browser for 7 days" in page.text
    response = client.post(RECOVERY_URL, {"code": member.recovery_codes[0], "trust_browser": "on"})
    assert response.status_code == 302
    assert response.cookies[COOKIE_NAME].value
    assert TrustedBrowser.objects.filter(user=member).count() == 1


def test_at_most_ten_browsers_the_oldest_dropped(client, member):
    tokens_seen = []
    start = timezone.now()
    for index in range(flows.MAX_PER_USER + 2):
        # A code of its own for each sign-in: 31 seconds apart.
        with time_machine.travel(start + datetime.timedelta(seconds=31 * index), tick=False):
            member._next_step = 0
            tokens_seen.append(trust_this_browser(Client(), member))
    assert TrustedBrowser.objects.filter(user=member).count() == flows.MAX_PER_USER
    assert not TrustedBrowser.objects.filter(lookup=tokens.lookup(tokens_seen[0])).exists()
    assert TrustedBrowser.objects.filter(lookup=tokens.lookup(tokens_seen[-1])).exists()


# The strictest company wins --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("periods", "expected"),
    [
        ((TrustPeriod.DAYS_30, TrustPeriod.HOURS_12), 12),
        ((TrustPeriod.DAYS_30, TrustPeriod.DAYS_7), 7 * 24),
        ((TrustPeriod.DAYS_30, TrustPeriod.NEVER), 0),
        ((TrustPeriod.DAYS_30,), 30 * 24),
        ((), 0),
    ],
)
def test_strictest_company_wins(user, periods, expected):
    for index, period in enumerate(periods):
        company = make_company(f"Company {index}", require_mfa=True, enforcement_date=days_from_today(-1))
        company.trust_browser_for = period
        company.save()
        join(user, company)
    assert policy.requirement_for(user).trust_hours == expected


def test_an_upcoming_company_counts_and_one_without_mfa_does_not(user, company_upcoming, company_off):
    company_off.trust_browser_for = TrustPeriod.DAYS_30
    company_off.save()
    join(user, company_off)
    # Cedar Homes does not require MFA: its setting means nothing, and nobody else allows trust.
    assert policy.requirement_for(user).trust_hours == 0
    company_upcoming.trust_browser_for = TrustPeriod.DAYS_7
    company_upcoming.save()
    join(user, company_upcoming)
    assert policy.requirement_for(user).trust_hours == 7 * 24


def test_superusers_answer_to_the_strictest_of_every_company(superuser, trusting_company):
    other = make_company("Stricter", require_mfa=True, enforcement_date=days_from_today(-1))
    assert policy.requirement_for(superuser).trust_hours == 0
    other.trust_browser_for = TrustPeriod.HOURS_12
    other.save()
    assert policy.requirement_for(superuser).trust_hours == 12


def test_the_box_and_the_cookie_follow_the_strictest_company(client, member):
    stricter = make_company("Stricter", require_mfa=True, enforcement_date=days_from_today(-1))
    stricter.trust_browser_for = TrustPeriod.HOURS_12
    stricter.save()
    join(member, stricter)
    password_login(client, member)
    assert "Trust this browser for 12 hours" in client.get(VERIFY_URL).text
    response = verify_trusting(client, member)
    assert response.cookies[COOKIE_NAME]["max-age"] == 12 * 3600


def test_phishing_resistant_company_may_still_allow_trust(user, trusting_company):
    trusting_company.allowed_methods = AllowedMethods.PHISHING_RESISTANT
    trusting_company.save()
    join(user, trusting_company)
    assert policy.requirement_for(user).trust_hours == 7 * 24


# Using the trust --------------------------------------------------------------------------------------------


def test_signing_in_again_skips_the_code_but_never_the_password(client, member):
    # SEC-38: the password is always asked.
    trust_this_browser(client, member)
    # With the cookie but no password: an anonymous visitor, sent to the login page.
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    # A wrong password with the cookie: still no entry.
    response = client.post("/admin/login/", {"username": member.get_username(), "password": "wrong"})
    assert response.status_code == 200
    assert not is_verified_on_dashboard(client)
    # The password: straight to the target, no code.
    response = client.post(
        "/admin/login/", {"username": member.get_username(), "password": PASSWORD, "next": "/admin/pages/"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/admin/pages/"
    assert is_verified_on_dashboard(client)
    trusted = TrustedBrowser.objects.get(user=member)
    assert trusted.last_used_at is not None


def test_a_pending_session_with_the_cookie_is_let_through_on_its_next_request(client, member):
    token = trust_this_browser(client, member)
    # Signed in somewhere the admin cookie does not reach (a site login at another path): the next admin
    # request carries it.
    client.cookies.pop(COOKIE_NAME)
    password_login(client, member)
    client.cookies[COOKIE_NAME] = token
    client.cookies[COOKIE_NAME]["path"] = "/admin/"
    assert is_verified_on_dashboard(client)


def test_trusted_sign_in_rotates_the_session_key_and_keeps_the_sudo_window_closed(client, member):
    # SEC-30: the same completion as a real verification; SEC-25: but no factor was given now.
    trust_this_browser(client, member)
    client.get("/admin/login/")
    before = client.cookies["sessionid"].value if "sessionid" in client.cookies else None
    response = client.post("/admin/login/", {"username": member.get_username(), "password": PASSWORD})
    assert response.status_code == 302
    after = client.cookies["sessionid"].value
    assert after != before
    # A sensitive change asks for the password *and* the code again.
    response = client.get("/admin/company-mfa/security/new-recovery-code/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/company-mfa/reauthenticate/")
    page = client.get(response["Location"])
    assert 'name="mfa-code"' in page.text


def test_query_count_of_a_trusted_sign_in(client, member):
    trust_this_browser(client, member)
    client.get("/admin/login/")
    with CaptureQueriesContext(connection) as queries:
        response = client.post("/admin/login/", {"username": member.get_username(), "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    # Wagtail's sign-in as before, then the trust: its lookup, the gate's one query, the device, the session's
    # new key, the registry, the audit entry and the last-used time, and whether an administrator required
    # the person to set MFA up again (read with the device on a code's sign-in; a query of its own here).
    assert len(queries) == 28, "\n".join(query["sql"] for query in queries.captured_queries)


# Refusals: the cookie is cleared, the code is asked -----------------------------------------------------


def sign_in_with_cookie(client, user, token):
    client.cookies[COOKIE_NAME] = token
    client.cookies[COOKIE_NAME]["path"] = "/admin/"
    return client.post("/admin/login/", {"username": user.get_username(), "password": PASSWORD})


def assert_refused(response):
    assert response.status_code == 302
    assert response["Location"].startswith(VERIFY_URL) or response["Location"].startswith(
        "/admin/company-mfa/required/"
    )
    assert cookie_cleared(response)


def test_expiry_just_before_and_just_after(member):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        token = trust_this_browser(Client(), member)
    with time_machine.travel(start + datetime.timedelta(days=7, seconds=-5), tick=False):
        client = Client()
        response = sign_in_with_cookie(client, member, token)
        assert response["Location"] == "/admin/"
    with time_machine.travel(start + datetime.timedelta(days=7, seconds=5), tick=False):
        client = Client()
        response = sign_in_with_cookie(client, member, token)
        assert_refused(response)
    assert not TrustedBrowser.objects.exists()  # an expired trust is deleted when it is refused


def test_a_shorter_period_after_the_grant_applies_at_once(member, trusting_company):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        token = trust_this_browser(Client(), member)
    # Shortened behind the policy editor's back (no receiver runs): the use-time rule still holds.
    type(trusting_company).objects.filter(pk=trusting_company.pk).update(
        trust_browser_for=TrustPeriod.HOURS_12
    )
    with time_machine.travel(start + datetime.timedelta(hours=11), tick=False):
        assert sign_in_with_cookie(Client(), member, token)["Location"] == "/admin/"
    with time_machine.travel(start + datetime.timedelta(hours=13), tick=False):
        assert_refused(sign_in_with_cookie(Client(), member, token))


def test_trust_switched_off_refuses(member, trusting_company):
    token = trust_this_browser(Client(), member)
    type(trusting_company).objects.filter(pk=trusting_company.pk).update(trust_browser_for=TrustPeriod.NEVER)
    assert_refused(sign_in_with_cookie(Client(), member, token))


def test_another_users_token_is_refused_cleared_and_left_to_its_owner(member, trusting_company):
    other = make_user("other")
    join(other, trusting_company)
    other.phone, other.recovery_codes = enroll_user(other)
    others_token = trust_this_browser(Client(), other)
    response = sign_in_with_cookie(Client(), member, others_token)
    assert_refused(response)
    assert TrustedBrowser.objects.filter(user=other).count() == 1


@pytest.mark.parametrize("value", ["garbage", "x" * 5000, "", "%C3%A9==", tokens.generate()])
def test_a_tampered_or_unknown_cookie_is_refused_without_an_error(member, value):
    trust_this_browser(Client(), member)
    response = sign_in_with_cookie(Client(), member, value)
    assert response.status_code == 302
    assert response["Location"].startswith(VERIFY_URL)
    if value:
        assert cookie_cleared(response)


@pytest.mark.parametrize("granted_with", ["authenticator", "recovery_code"])
def test_a_user_who_must_enroll_is_never_let_through(member, granted_with):
    client = Client()
    password_login(client, member)
    if granted_with == "authenticator":
        response = verify_trusting(client, member)
    else:
        # Its device (the recovery codes) survives the authenticator: trust must still not let them in.
        response = client.post(RECOVERY_URL, {"code": member.recovery_codes[0], "trust_browser": "on"})
    token = response.cookies[COOKIE_NAME].value
    # The authenticator no longer counts (no deletion, so no receiver revoked anything): they must enroll.
    AuthenticatorDevice.objects.filter(user=member).update(confirmed=False)
    response = sign_in_with_cookie(Client(), member, token)
    assert response["Location"].startswith("/admin/company-mfa/required/")
    assert cookie_cleared(response)


def test_a_methods_due_user_is_never_let_through(member, trusting_company):
    token = trust_this_browser(Client(), member)
    # Phishing-resistant only, and the member has only an app: trust does not stand in for a passkey.
    type(trusting_company).objects.filter(pk=trusting_company.pk).update(
        allowed_methods=AllowedMethods.PHISHING_RESISTANT
    )
    assert_refused(sign_in_with_cookie(Client(), member, token))


def test_a_new_password_set_around_every_receiver_is_refused(member):
    token = trust_this_browser(Client(), member)
    # Written straight to the database: only the password marker of the trust can notice.
    type(member).objects.filter(pk=member.pk).update(password="md5$x$" + "0" * 32)
    member.refresh_from_db()
    member.set_password(PASSWORD)
    type(member).objects.filter(pk=member.pk).update(password=member.password)
    assert_refused(sign_in_with_cookie(Client(), member, token))


# Revocation: each trigger, then the token is refused ----------------------------------------------------


def _reset(user):
    reset_mfa(user, actor=make_user("boss", superuser=True))


def _password(user):
    user.set_password("a new password for this account")
    user.save()


def _password_and_back(user):
    # A new password, then the old one again: the trust still ended.
    _password(user)
    user.set_password(PASSWORD)
    user.save(update_fields=["password"])


def _replace_factor(user):
    AuthenticatorDevice.objects.filter(user=user).delete()
    user.phone, _codes = enroll_user(user)


def _stricter_policy(user):
    company = user.company_memberships.get().company
    company.trust_browser_for = TrustPeriod.HOURS_12
    company_flows.save_company(company, actor=None)


def _policy_off(user):
    company = user.company_memberships.get().company
    company.trust_browser_for = TrustPeriod.NEVER
    company_flows.save_company(company, actor=None)


REVOCATIONS = {
    "reset": _reset,
    "password": _password,
    "password_and_back": _password_and_back,
    "replace_factor": _replace_factor,
    "stricter_policy": _stricter_policy,
    "policy_off": _policy_off,
}


@pytest.mark.parametrize("trigger", sorted(REVOCATIONS))
def test_every_security_event_revokes(trigger, member, django_capture_on_commit_callbacks):
    token = trust_this_browser(Client(), member)
    with django_capture_on_commit_callbacks(execute=True):
        REVOCATIONS[trigger](member)
    assert not TrustedBrowser.objects.filter(user=member).exists()
    entry = ModelLogEntry.objects.filter(action=actions.ACTION_TRUST_REVOKED).latest("pk")
    assert entry.object_id == str(member.pk)
    if trigger == "password":
        return  # the old password no longer signs in at all
    response = sign_in_with_cookie(Client(), member, token)
    assert response.status_code == 302
    assert response["Location"] != "/admin/"
    assert cookie_cleared(response)


def test_a_looser_policy_keeps_the_trust(member, django_capture_on_commit_callbacks):
    trust_this_browser(Client(), member)
    company = member.company_memberships.get().company
    company.trust_browser_for = TrustPeriod.DAYS_30
    with django_capture_on_commit_callbacks(execute=True):
        company_flows.save_company(company, actor=None)
    assert TrustedBrowser.objects.filter(user=member).exists()


def test_saving_the_user_without_a_new_password_keeps_the_trust(member):
    trust_this_browser(Client(), member)
    member.first_name = "Renamed"
    member.save()
    assert TrustedBrowser.objects.filter(user=member).exists()


def test_turning_mfa_off_revokes(verified_client, enrolled_user, company_required):
    company_required.require_mfa = False
    company_required.trust_browser_for = TrustPeriod.DAYS_7
    company_required.save()
    other = Client()
    upcoming = make_company("Bluebird", require_mfa=True, enforcement_date=days_from_today(30))
    upcoming.trust_browser_for = TrustPeriod.DAYS_7
    upcoming.save()
    join(enrolled_user, upcoming)
    enrolled_user._next_step = 1  # the fixture's sign-in spent the current code
    trust_this_browser(other, enrolled_user)
    assert TrustedBrowser.objects.filter(user=enrolled_user).exists()
    from factories import reauthenticate

    reauthenticate(verified_client, code=next_code(enrolled_user))
    response = verified_client.post("/admin/company-mfa/security/turn-off/")
    assert response.status_code == 302
    assert not TrustedBrowser.objects.filter(user=enrolled_user).exists()


# The Security tab ------------------------------------------------------------------------------------------


def test_security_tab_lists_marks_this_browser_and_stops_trusting_it(client, member):
    trust_this_browser(Client(), member)  # another browser
    password_login(client, member)
    verify_trusting(client, member)
    page = client.get(ACCOUNT_URL)
    assert page.text.count("data-mfa-trusted-browser=") == 2
    assert page.text.count("data-mfa-this-browser") == 1
    assert "Stop trusting all" in page.text
    mine = TrustedBrowser.objects.filter(user=member).latest("created_at")
    response = client.post(f"/admin/company-mfa/security/trusted-browsers/{mine.pk}/stop/")
    assert response.status_code == 302
    assert cookie_cleared(response)
    assert TrustedBrowser.objects.filter(user=member).count() == 1
    response = client.post("/admin/company-mfa/security/trusted-browsers/stop-all/")
    assert response.status_code == 302
    assert not TrustedBrowser.objects.filter(user=member).exists()
    entries = ModelLogEntry.objects.filter(action=actions.ACTION_TRUST_REVOKED, object_id=str(member.pk))
    assert [entry.data["reason"] for entry in entries.order_by("pk")] == ["user", "user"]


def test_another_users_browser_cannot_be_revoked(client, member, trusting_company):
    # SEC-40 (IDOR): only one's own.
    other = make_user("other")
    join(other, trusting_company)
    other.phone, other.recovery_codes = enroll_user(other)
    trust_this_browser(Client(), other)
    theirs = TrustedBrowser.objects.get(user=other)
    password_login(client, member)
    verify_trusting(client, member, trust=False)
    response = client.post(f"/admin/company-mfa/security/trusted-browsers/{theirs.pk}/stop/")
    assert response.status_code == 404
    client.post("/admin/company-mfa/security/trusted-browsers/stop-all/")
    assert TrustedBrowser.objects.filter(pk=theirs.pk).exists()


def test_revoking_needs_post_and_the_csrf_token(member):
    # SEC-42
    trust_this_browser(Client(), member)
    mine = TrustedBrowser.objects.get(user=member)
    client = Client(enforce_csrf_checks=True)
    password_login_csrf(client, member)
    url = f"/admin/company-mfa/security/trusted-browsers/{mine.pk}/stop/"
    assert client.get(url).status_code == 405
    assert client.post(url).status_code == 403
    assert client.post("/admin/company-mfa/security/trusted-browsers/stop-all/").status_code == 403
    assert TrustedBrowser.objects.filter(pk=mine.pk).exists()


def password_login_csrf(client, user):
    page = client.get("/admin/login/")
    assert page.status_code == 200
    token = client.cookies["csrftoken"].value
    response = client.post(
        "/admin/login/",
        {"username": user.get_username(), "password": PASSWORD, "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302
    verify_page = client.get(VERIFY_URL)
    token = client.cookies["csrftoken"].value
    response = client.post(
        VERIFY_URL, {"code": next_code(user), "csrfmiddlewaretoken": token}, HTTP_REFERER="http://testserver/"
    )
    assert response.status_code == 302, verify_page.status_code


def test_a_pending_session_cannot_reach_the_revoke_views(client, member):
    trust_this_browser(Client(), member)
    mine = TrustedBrowser.objects.get(user=member)
    password_login(client, member)
    response = client.post(f"/admin/company-mfa/security/trusted-browsers/{mine.pk}/stop/")
    assert response.status_code == 302
    assert response["Location"].startswith(VERIFY_URL)
    assert TrustedBrowser.objects.filter(pk=mine.pk).exists()


# Audit -----------------------------------------------------------------------------------------------------


def test_granted_and_used_are_audited_without_the_token(client, member):
    # SEC-44, SEC-45
    token = trust_this_browser(client, member)
    sign_in_with_cookie(client, member, token)
    granted = ModelLogEntry.objects.get(action=actions.ACTION_TRUST_GRANTED)
    used = ModelLogEntry.objects.get(action=actions.ACTION_TRUST_USED)
    assert granted.object_id == used.object_id == str(member.pk)
    assert granted.data["hours"] == 7 * 24
    for entry in (granted, used):
        assert token not in str(entry.data)
        assert TrustedBrowser.objects.get().lookup not in str(entry.data)


# Helpers ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("agent", "expected"),
    [
        (CHROME_MAC, "Chrome on macOS"),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
            "Firefox on Windows",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
            "Edge on Windows",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Version/18.1 Mobile/15E148 Safari/604.1",
            "Safari on iOS",
        ),
        ("", "Unknown browser"),
        ("x" * 10_000, "Unknown browser"),
    ],
)
def test_browser_descriptions(agent, expected):
    assert browsers.describe(agent) == expected


# Passkeys --------------------------------------------------------------------------------------------------


def test_a_passkey_sign_in_can_trust_the_browser_and_then_skip_it(trusting_company):
    from test_passkeys import AUTH_COMPLETE, assertion, post_json, sign_in_with_passkey, with_passkey
    from test_passkeys import VERIFY_URL as PASSKEY_VERIFY_URL

    alice = make_user("alice")
    join(alice, trusting_company)
    passkey = with_passkey(alice)
    client = Client()
    password_login(client, alice)
    page = client.get(PASSKEY_VERIFY_URL)
    assert "Trust this browser for 7 days" in page.text
    assert "data-mfa-trust-browser" in page.text
    # Without the header (the box not ticked): no cookie.
    response = sign_in_with_passkey(client, passkey)
    assert response.status_code == 200, response.content
    assert COOKIE_NAME not in response.cookies
    client.post("/admin/logout/")
    password_login(client, alice)
    _options, answer = assertion(client, passkey)
    response = post_json(client, f"{AUTH_COMPLETE}?next=/admin/", answer, HTTP_X_MFA_TRUST_BROWSER="1")
    assert response.status_code == 200, response.content
    token = response.cookies[COOKIE_NAME].value
    assert TrustedBrowser.objects.get(user=alice).device_id.startswith("django_otp_webauthn.")
    client.post("/admin/logout/")
    assert sign_in_with_cookie(Client(), alice, token)["Location"] == "/admin/"


# The policy editor and the report ----------------------------------------------------------------------


def test_the_policy_editor_offers_the_choice_and_audits_it(client, tenants):
    from factories import sign_in
    from test_company_admin import BASE, policy_form

    sign_in(client, tenants.superuser)
    page = client.get(f"{BASE}/edit/{tenants.a.pk}/").text
    assert 'name="trust_browser_for"' in page
    assert "Not again on a trusted browser for 7 days" in page
    response = client.post(f"{BASE}/edit/{tenants.a.pk}/", policy_form(tenants.a, trust_browser_for="168"))
    assert response.status_code == 302
    tenants.a.refresh_from_db()
    assert tenants.a.trust_browser_for == TrustPeriod.DAYS_7
    entry = ModelLogEntry.objects.filter(action=company_flows.ACTION_POLICY_CHANGED).latest("pk")
    assert entry.data["changes"]["trust_browser_for"] == {"old": 0, "new": 168}
    history = client.get(f"{BASE}/history/{tenants.a.pk}/").text
    assert "At every sign-in → Not again on a trusted browser for 7 days" in history


def test_the_report_counts_each_members_trusted_browsers_in_its_one_query(client, member, trusting_company):
    from factories import sign_in

    trust_this_browser(Client(), member)
    trust_this_browser(Client(), member)
    admin = make_user("boss", superuser=True)
    admin.phone, _codes = enroll_user(admin)
    sign_in(client, admin)
    url = f"/admin/company-mfa/companies/{trusting_company.pk}/report/"
    page = client.get(url)
    assert page.status_code == 200
    assert "Trusted browsers" in page.text
    content = b"".join(client.get(url + "?export=csv").streaming_content).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(content)))
    assert [row["Trusted browsers"] for row in rows] == ["2"]
