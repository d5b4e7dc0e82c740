"""
A trusted browser in a real browser (Debian's Chromium, headless, through Playwright): erin, of a company that
allows trust for 7 days, signs in with her password and code ticking "Trust this browser", signs out, signs in
again with her password only, stops trusting the browser on her Security tab, signs out, and is asked for her
code again (docs/user-guide.md, "Trusted browsers"; SEC-38).
"""

from __future__ import annotations

import pytest
from browser_support import from_the_database, shot, sign_in
from factories import enroll_user, join, make_user

from wagtail_company_mfa.models import TrustedBrowser, TrustPeriod
from wagtail_company_mfa.trusted.cookie import COOKIE_NAME

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def erin(company_required):
    # Made before Playwright starts: database work inside its event loop would open a second connection.
    company_required.trust_browser_for = TrustPeriod.DAYS_7
    company_required.save()
    erin = make_user("erin", first_name="Erin", last_name="Evans")
    join(erin, company_required)
    erin.phone, erin.recovery_codes = enroll_user(erin)
    return erin


def sign_out(page, base: str) -> None:
    """Wagtail's sign-out, a POST with the CSRF token, from this browser (its cookies)."""
    token = next(cookie["value"] for cookie in page.context.cookies() if cookie["name"] == "csrftoken")
    response = page.request.post(f"{base}/admin/logout/", headers={"X-CSRFToken": token, "Referer": base})
    assert response.ok


def test_erin_trusts_this_browser_then_stops_trusting_it(erin, live_server, browser_page):
    page, base = browser_page, live_server.url

    sign_in(page, base, erin.get_username())
    page.wait_for_url("**/company-mfa/verify/**")
    assert page.locator("label[for=id_trust_browser]").inner_text() == "Trust this browser for 7 days"
    page.fill("#id_code", erin.phone.code())
    page.check("#id_trust_browser")
    shot(page, "trust-01-verify-with-trust")
    page.click("form button[type=submit]")
    page.wait_for_url(f"{base}/admin/")
    trust_cookie = next(cookie for cookie in page.context.cookies() if cookie["name"] == COOKIE_NAME)
    assert trust_cookie["httpOnly"] is True
    assert trust_cookie["sameSite"] == "Lax"
    assert trust_cookie["path"] == "/admin/"

    # Signed out and in again: the password only, straight to the dashboard.
    sign_out(page, base)
    sign_in(page, base, erin.get_username())
    page.wait_for_url(f"{base}/admin/")
    assert "/company-mfa/verify/" not in page.url

    # The Security tab lists this browser; "Stop trusting" it.
    page.goto(f"{base}/admin/account/#tab-security")
    row = page.locator("[data-mfa-trusted-browser]")
    assert row.count() == 1
    assert row.locator("[data-mfa-this-browser]").is_visible()
    shot(page, "trust-02-security-tab")
    with page.expect_navigation():
        row.locator("[data-mfa-trust-revoke]").click()
    assert "That browser is no longer trusted." in page.inner_text("body")
    assert not from_the_database(TrustedBrowser.objects.filter(user=erin).exists)
    assert not any(cookie["name"] == COOKIE_NAME for cookie in page.context.cookies())

    # Signed out and in again: the code is asked.
    sign_out(page, base)
    sign_in(page, base, erin.get_username())
    page.wait_for_url("**/company-mfa/verify/**")
    assert "Verify your identity" in page.inner_text("h1")
