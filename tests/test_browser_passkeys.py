"""
Passkeys in a real browser: Debian's Chromium, headless, with its virtual authenticator (the DevTools
protocol's ``WebAuthn`` domain: an internal, user-verifying platform authenticator), against a live test
server at ``http://localhost``, which browsers treat as a secure origin.

Bob adds a passkey from the Security tab, names it, signs out, and signs in with his password and the passkey.
Alice, whose company is switched to "phishing-resistant only", signs in with her authenticator app and is
sent to add a passkey before she may go on.
"""

from __future__ import annotations

import pytest
from browser_support import shot, sign_in
from factories import days_from_today, enroll_user, join, make_company, make_user

from wagtail_company_mfa.models import AllowedMethods

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def passkey_site(settings, live_server):
    """The relying party is the live server's own host: localhost, at its port."""
    settings.OTP_WEBAUTHN_RP_ID = "localhost"
    settings.OTP_WEBAUTHN_ALLOWED_ORIGINS = [live_server.url]
    return live_server.url


def add_virtual_authenticator(page) -> dict:
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    created = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return {"cdp": cdp, "id": created["authenticatorId"]}


def credentials(authenticator) -> list:
    return authenticator["cdp"].send("WebAuthn.getCredentials", {"authenticatorId": authenticator["id"]})[
        "credentials"
    ]


@pytest.fixture
def bob(db):
    company = make_company("Bluebird Contracting", require_mfa=True, enforcement_date=days_from_today(30))
    bob = make_user("bob", first_name="Bob", last_name="Brown")
    join(bob, company)
    return bob


@pytest.fixture
def alice(db):
    company = make_company(
        "Acme Builders",
        require_mfa=True,
        enforcement_date=days_from_today(-7),
        allowed_methods=AllowedMethods.PHISHING_RESISTANT,
    )
    alice = make_user("alice", first_name="Alice", last_name="Archer")
    join(alice, company)
    alice.phone, _codes = enroll_user(alice)
    return alice


def test_bob_adds_a_passkey_and_signs_in_with_it(bob, passkey_site, browser_page):
    page, base = browser_page, passkey_site
    authenticator = add_virtual_authenticator(page)

    sign_in(page, base, bob.get_username())
    page.wait_for_url(f"{base}/admin/")
    page.goto(f"{base}/admin/account/#tab-security")
    page.click("[data-mfa-action=enroll]")

    # "Choose how to sign in": the app, or a passkey.
    page.wait_for_url("**/company-mfa/enroll/choose/**")
    shot(page, "passkey-01-choose")
    page.click("[data-mfa-method=passkeys] a")

    page.wait_for_url("**/company-mfa/passkeys/add/**")
    button = page.locator("#passkey-register-button")
    button.wait_for()
    shot(page, "passkey-02-add")
    button.click()

    # The first factor: "Almost there", then naming the passkey.
    page.wait_for_url("**/company-mfa/recovery-code/**")
    assert len(credentials(authenticator)) == 1
    page.check("#id_confirm")
    page.click("form.login-form button[type=submit]")  # (the admin layout has other forms)
    page.wait_for_url("**/security/passkeys/*/rename/**")
    shot(page, "passkey-03-name")
    page.fill("#id_name", "Work laptop")
    page.click("[data-mfa-confirm]")
    page.wait_for_url("**/admin/account/**")
    assert "Work laptop" in page.inner_text("[data-mfa-passkeys]")
    shot(page, "passkey-04-security-tab")

    # A new sign-in: the password, then the passkey.
    page.context.clear_cookies()
    sign_in(page, base, bob.get_username())
    page.wait_for_url("**/company-mfa/verify/passkey/**")
    assert "Verify your identity" in page.inner_text("h1")
    use = page.locator("#passkey-verification-button")
    use.wait_for()
    shot(page, "passkey-05-verify")
    use.click()
    page.wait_for_url(f"{base}/admin/")
    assert page.locator("h1").first.is_visible()


def test_alice_must_add_a_passkey_although_she_has_an_app(alice, passkey_site, browser_page):
    page, base = browser_page, passkey_site
    authenticator = add_virtual_authenticator(page)

    sign_in(page, base, alice.get_username())
    page.wait_for_url("**/company-mfa/verify/**")
    page.fill("#id_code", alice.phone.code())
    page.click("form button[type=submit]")

    # Her app signed her in, but Acme accepts only passkeys and security keys.
    page.wait_for_url("**/company-mfa/required/**")
    assert "A passkey or security key is required" in page.inner_text("h1")
    assert "Acme Builders" in page.inner_text("main")
    shot(page, "passkey-06-methods-required")
    page.goto(f"{base}/admin/pages/")
    page.wait_for_url("**/company-mfa/required/**")  # nowhere else until she adds one
    assert page.locator("[data-mfa-method=totp]").count() == 0  # the app is not a choice for Acme
    page.click("a[data-mfa-method=passkeys]")

    page.wait_for_url("**/company-mfa/passkeys/add/**")
    assert "Acme Builders accepts only passkeys" in page.inner_text("main")
    page.locator("#passkey-register-button").click()
    page.wait_for_url("**/security/passkeys/*/rename/**")  # not her first factor: no new recovery code
    assert len(credentials(authenticator)) == 1
    page.click('a.button-secondary:text-is("Skip")')
    page.goto(f"{base}/admin/pages/")
    page.wait_for_url(f"{base}/admin/pages/")
