"""
The whole forced enrollment in a real browser: Debian's Chromium, headless, driven by Playwright, against a
live test server. Alice (REQUIRED, not enrolled) signs in, reads the setup key off the page, types the code
her "phone" computes, saves her recovery code and lands on the dashboard; then signs in again with a code.

Screenshots of every page go to test-results/screenshots/, or to $MFA_SCREENSHOT_DIR: `make screenshots`
points it at docs/_static/screenshots/ to refresh the user guide's pictures.
"""

from __future__ import annotations

import base64

import pytest
from browser_support import shot, sign_in
from factories import Authenticator, enroll_user, join, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def alice(company_required):
    # Made before Playwright starts: database work inside its event loop would open a second connection.
    alice = make_user("alice", first_name="Alice", last_name="Archer")
    join(alice, company_required)
    return alice


def test_alice_enrolls_in_the_browser_and_signs_in_again(alice, live_server, browser_page):
    page, base = browser_page, live_server.url

    page.goto(f"{base}/admin/login/")
    shot(page, "01-login")
    sign_in(page, base, alice.get_username())

    # "Two-factor authentication required", naming the company.
    page.wait_for_url("**/company-mfa/required/**")
    assert "Two-factor authentication required" in page.inner_text("h1")
    assert "Acme Builders" in page.inner_text("main")
    shot(page, "02-required")
    page.click("[data-mfa-method=totp] a")  # "Select an authentication method": the app

    # "Secure your account": the QR code, then the setup key behind "Trouble scanning?".
    page.wait_for_url("**/company-mfa/enroll/**")
    assert page.locator("[data-mfa-qr] svg").is_visible()
    shot(page, "03-enroll-qr")
    page.click("summary:has-text('Trouble scanning?')")
    key_field = page.locator("#mfa-setup-key")
    assert key_field.is_visible()
    shot(page, "04-enroll-setup-key")
    setup_key = key_field.get_attribute("data-mfa-value").replace(" ", "")
    phone = Authenticator(base64.b32decode(setup_key))
    page.fill("#id_code", phone.code())
    page.click("form button[type=submit]")

    # "Almost there": no way on without ticking the box.
    page.wait_for_url("**/company-mfa/recovery-code/**")
    recovery_code = page.locator("#mfa-recovery-code-1").get_attribute("data-mfa-value")
    assert len(recovery_code) == 19
    shot(page, "05-almost-there")
    with page.expect_navigation():
        page.click("form button[type=submit]")
    assert "Tick the box to confirm" in page.inner_text("main")
    assert page.locator("#mfa-recovery-code-1").get_attribute("data-mfa-value") == recovery_code
    shot(page, "06-almost-there-unticked")
    page.check("#id_confirm")
    page.click("form button[type=submit]")

    # On the dashboard, verified.
    page.wait_for_url(f"{base}/admin/")
    assert "Two-factor authentication is on for your account." in page.inner_text("body")
    shot(page, "07-dashboard")

    # A new browser session, a new sign-in: "Verify your identity" asks for the code.
    page.context.clear_cookies()
    sign_in(page, base, alice.get_username())
    page.wait_for_url("**/company-mfa/verify/**")
    assert "Verify your identity" in page.inner_text("h1")
    code_input = page.locator("#id_code")
    assert code_input.get_attribute("autocomplete") == "one-time-code"
    assert code_input.get_attribute("inputmode") == "numeric"
    shot(page, "08-verify")
    page.click("text=Use a recovery code instead")
    page.wait_for_url("**/verify/recovery-code/**")
    shot(page, "09-recovery")
    page.click("text=Use your authenticator app instead")
    page.wait_for_url("**/company-mfa/verify/**")
    page.fill("#id_code", phone.code(steps=1))  # the next step: the enrollment code's step is spent
    page.click("form button[type=submit]")
    page.wait_for_url(f"{base}/admin/")
    assert page.locator("h1").first.is_visible()


@pytest.fixture
def erin(company_required):
    erin = make_user("erin", first_name="Erin", last_name="Evans")
    join(erin, company_required)
    erin.phone, erin.recovery_codes = enroll_user(erin)
    return erin


def test_security_tab_has_no_save_footer(erin, live_server, browser_page):
    """The account page's Save button saves nothing on the Security tab: it is hidden there, not elsewhere."""
    page, base = browser_page, live_server.url
    sign_in(page, base, erin.get_username())
    page.wait_for_url("**/company-mfa/verify/**")
    page.fill("#id_code", erin.phone.code())
    page.click("form button[type=submit]")
    page.wait_for_url(f"{base}/admin/")

    page.goto(f"{base}/admin/account/#tab-security")
    assert page.locator("[data-mfa-security-panel]").is_visible()
    assert not page.locator("footer.footer").is_visible()
    page.click("#tab-label-profile")
    assert page.locator("footer.footer").is_visible()


@pytest.fixture
def boss(company_upcoming):
    join(make_user("mia", first_name="Mia", last_name="Member"), company_upcoming)
    return make_user("boss", superuser=True)


def test_policy_editor_preview_follows_the_form_and_a_new_slug_follows_the_name(
    boss, company_upcoming, live_server, browser_page
):
    """policy_preview.js asks the server for the sentence as the form is edited; the slug is Wagtail's."""
    from playwright.sync_api import expect

    page, base = browser_page, live_server.url
    sign_in(page, base, boss.get_username())
    page.wait_for_url(f"{base}/admin/")

    page.goto(f"{base}/admin/company-mfa/companies/edit/{company_upcoming.pk}/")
    preview = page.locator("#policy-preview")
    expect(preview).to_have_attribute("aria-live", "polite")
    page.fill("#id_new_member_grace_days", "14")
    expect(preview).to_contain_text("People who join after that get 14 days from joining to set up MFA.")
    page.fill("#id_enforcement_date", "2031-03-03")
    page.locator("#id_enforcement_date").press("Escape")
    expect(preview).to_contain_text("From March 3, 2031, 1 member must use MFA; 0 have enrolled.")
    page.click("label.switch")  # Require MFA off
    expect(preview).to_contain_text("MFA is not required. 0 of 1 member has enrolled anyway.")
    shot(page, "policy-editor-live-preview")

    page.goto(f"{base}/admin/company-mfa/companies/new/")
    page.fill("#id_name", "Delta Works Ltd")
    page.locator("#id_name").blur()
    expect(page.locator("#id_slug")).to_have_value("delta-works-ltd")
