"""
The enrollment flow in each shipped language on a phone (390 x 844): the "required" page with its choice of
method, the authenticator app's setup, "Almost there" and the Security tab. Translations run longer than
English (German and French above all): on every page no button, link-button or label may overflow its box,
and the page may not scroll sideways.

Screenshots go to $MFA_SCREENSHOT_DIR (or test-results/screenshots/) as ``locales/<language>-<step>.png``;
the user guide shows the required page and the setup page of each (docs/user-guide.md, "In your language").
"""

from __future__ import annotations

import base64

import pytest
from browser_support import shot, sign_in
from django.utils import translation
from factories import Authenticator, join, make_user
from wagtail.users.models import UserProfile

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

#: Wagtail's language codes (a user's "preferred language") of the shipped translations.
LANGUAGES = ["nl", "de", "fr", "es", "pt-br"]

PHONE = {"width": 390, "height": 844}

#: Every button, link styled as a button and label whose content is wider than its box, and how much wider;
#: and how far the page scrolls sideways.
OVERFLOW_SCRIPT = """
() => {
    const overflowing = [];
    for (const element of document.querySelectorAll("button, .button, label")) {
        const style = window.getComputedStyle(element);
        if (style.display === "none" || style.visibility === "hidden" || element.offsetParent === null) {
            continue;
        }
        if (element.scrollWidth > element.clientWidth + 1) {
            overflowing.push({
                element: element.outerHTML.slice(0, 160),
                text: element.innerText.trim().slice(0, 80),
                scrollWidth: element.scrollWidth,
                clientWidth: element.clientWidth,
            });
        }
    }
    // What sticks out on the right, or holds content wider than itself, to say why a page scrolls sideways.
    const width = document.documentElement.clientWidth;
    const wide = [...document.querySelectorAll("body *")]
        .filter((element) => element.getBoundingClientRect().right > width + 1
            || (element.clientWidth > 0 && element.scrollWidth > element.clientWidth + 1))
        .slice(-5)
        .map((element) => element.outerHTML.slice(0, 120));
    return {overflowing, wide, pageWidth: document.documentElement.scrollWidth};
}
"""


def assert_fits(page, where: str) -> None:
    result = page.evaluate(OVERFLOW_SCRIPT)
    assert result["overflowing"] == [], f"{where}: {result['overflowing']}"
    assert result["pageWidth"] <= PHONE["width"], (
        f"{where}: the page is {result['pageWidth']} px wide: {result['wide']}"
    )


def heading(language: str, text: str) -> str:
    with translation.override(language):
        return translation.gettext(text)


@pytest.fixture
def people(company_required):
    # Made before Playwright starts: database work inside its event loop would open a second connection.
    people = {}
    for language in LANGUAGES:
        person = make_user(f"user-{language}", first_name="Ana", last_name="Ortega")
        join(person, company_required)
        profile = UserProfile.get_for_user(person)
        profile.preferred_language = language
        profile.save()
        people[language] = person
    return people


@pytest.mark.parametrize("language", LANGUAGES)
def test_enrollment_fits_a_phone_in_each_language(people, language, live_server, browser_page):
    base = live_server.url
    context = browser_page.context.browser.new_context(viewport=PHONE, locale=language)
    page = context.new_page()
    page.set_default_timeout(15_000)
    name = language.replace("-", "_")
    try:
        sign_in(page, base, people[language].get_username())

        # Required, with the choice of method.
        page.wait_for_url("**/company-mfa/required/**")
        title = heading(language, "Two-factor authentication required")
        assert title != "Two-factor authentication required"  # the catalogue has it
        assert title in page.inner_text("h1")
        assert page.locator("[data-mfa-method=totp] a").is_visible()
        shot(page, f"locales/{name}-required")
        assert_fits(page, "required")
        page.click("[data-mfa-method=totp] a")

        # The authenticator app's setup, with the setup key shown.
        page.wait_for_url("**/company-mfa/enroll/**")
        assert page.locator("[data-mfa-qr] svg").is_visible()
        page.click("details summary")
        key_field = page.locator("#mfa-setup-key")
        assert key_field.is_visible()
        shot(page, f"locales/{name}-setup")
        assert_fits(page, "setup")
        phone = Authenticator(base64.b32decode(key_field.get_attribute("data-mfa-value").replace(" ", "")))
        page.fill("#id_code", phone.code())
        page.click("form button[type=submit]")

        # "Almost there": the recovery code, also with the error for an unticked box.
        page.wait_for_url("**/company-mfa/recovery-code/**")
        shot(page, f"locales/{name}-almost-there")
        assert_fits(page, "almost there")
        with page.expect_navigation():
            page.click("form button[type=submit]")
        assert_fits(page, "almost there, unticked")
        page.check("#id_confirm")
        page.click("form button[type=submit]")
        page.wait_for_url(f"{base}/admin/")

        # The Security tab of the account page.
        page.goto(f"{base}/admin/account/#tab-security")
        assert page.locator("[data-mfa-security-panel]").is_visible()
        shot(page, f"locales/{name}-security")
        assert_fits(page, "security tab")
    finally:
        context.close()
