"""
The accessibility gate: axe-core (shipped inside axe-playwright-python, nothing downloaded) on every page of
the package, in Debian's headless Chromium, in light and dark mode at 1280 and 390 px. Any serious or
critical violation fails the test, unless Wagtail's own markup causes it and ``WAGTAIL_OWN`` says why.

Each mode and width is one test with one browser context; the signed-in sessions are made once per test with
Django's test client (through Wagtail's real login and the middleware) and handed to the browser as cookies,
so each page is one navigation.

Adding a page is one line in ``SCREENS``: its name, its path (``{mfa}`` is the package's admin URLs,
``{companies}`` the Companies viewset's, ``{w.…}`` reads the ``World``), the session that visits it, and a
text that proves the page is the one meant (not a redirect). ``act`` does something on the page first (a
wrong code, a click); ``settings`` are overridden while it is visited. A page that needs a new kind of
visitor gets a session in ``World.sessions``.

Set ``MFA_A11Y_SCREENSHOT_DIR`` to keep a screenshot of every page in every mode; the findings of each run
(every impact, not only the failing ones) go to test-results/accessibility/.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS
from django.test import Client, override_settings
from django_otp_webauthn.models import WebAuthnCredential
from factories import (
    DemoWorld,
    enroll_user,
    join,
    make_company,
    make_user,
    password_login,
    sign_in,
)
from soft_authenticator import SoftAuthenticator

from wagtail_company_mfa.access_codes import flows as access_code_flows
from wagtail_company_mfa.models import AllowedMethods, CompanyMembership

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

RESULTS = Path(__file__).resolve().parents[1] / "test-results" / "accessibility"
SCREENSHOTS = os.environ.get("MFA_A11Y_SCREENSHOT_DIR")
#: Only these screens (comma-separated names), for a quicker run while working on a few pages.
ONLY = frozenset(filter(None, os.environ.get("MFA_A11Y_SCREENS", "").split(",")))

#: The impacts that fail the gate.
FAILING = {"serious", "critical"}

#: Violations caused by Wagtail's own markup, not the package's: (axe rule id, a regular expression that the
#: offending element's CSS selector matches) and why it is Wagtail's. Keep each entry narrow.
WAGTAIL_OWN: dict[tuple[str, str], str] = {}

# A setup key other than the test settings' one: the stored secrets cannot be decrypted with it.
FOREIGN_KEYS = ["bH1vKDn7o1mZr3B1Wn8Q3KQ7l0m4y0rP5k2aO6cY8eU="]


def wrong_code(page) -> None:
    page.fill("#id_code", "000000")
    page.click("form.login-form button[type=submit]")
    page.wait_for_load_state()


def wrong_recovery_code(page) -> None:
    page.fill("#id_code", "ABCD")
    page.click("form.login-form button[type=submit]")
    page.wait_for_load_state()


def submit(selector: str = "main form[method=post] button[type=submit]") -> Callable:
    def act(page) -> None:
        with page.expect_navigation():
            page.click(selector)

    return act


submit_main_form = submit()


save_admin_form = submit("#w-editor-form button[type=submit]")


def move_the_date(page) -> None:
    """Save the policy with a new date: the editor asks to confirm emailing the members first."""
    page.fill("#id_enforcement_date", "2031-01-15")
    save_admin_form(page)


def issue_access_code(page) -> None:
    page.check("input[name=confirm]")
    submit_main_form(page)


def bulk_confirm(page) -> None:
    page.check("input[name=user] >> nth=0")
    submit_main_form(page)


def bulk_summary(page) -> None:
    page.check("input[name=action][value=remind]")
    page.check("input[aria-label='Select alice']")
    submit_main_form(page)
    submit_main_form(page)


def open_trouble_scanning(page) -> None:
    page.click("summary:has-text('Trouble scanning?')")


MFA = "/admin/company-mfa"
COMPANIES = f"{MFA}/companies"
# Every short animation (a fade-in) has ended; long or endless ones (Wagtail's badge "ping", a spinner) are
# not transitions of colour and do not count.
ANIMATIONS_DONE = """document.getAnimations().every((animation) =>
    animation.playState !== "running" || animation.effect.getComputedTiming().endTime > 2000)"""


@dataclass(frozen=True)
class Screen:
    name: str
    path: str
    session: str
    expect: str
    act: Callable | None = None
    settings: dict = field(default_factory=dict)


SCREENS = [
    # Signing in with a second factor (the sign-in layout).
    Screen("verify", "{mfa}/verify/", "erin_pending", "Verify your identity"),
    Screen("unavailable", "{mfa}/verify/", "erin_pending", "can't be checked right now",
           act=wrong_code, settings={"WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS": FOREIGN_KEYS}),
    Screen("verify-wrong-code", "{mfa}/verify/", "erin_pending", "didn't work", act=wrong_code),
    Screen("recovery", "{mfa}/verify/recovery-code/", "erin_pending", "Use a recovery code"),
    Screen("recovery-wrong-code", "{mfa}/verify/recovery-code/", "erin_pending", "16 letters",
           act=wrong_recovery_code),
    Screen("save-code-after-recovery", "{mfa}/recovery-code/", "hank_recovered", "Almost there"),
    # Enrolling (a user whose company requires MFA, after the password step).
    Screen("required", "{mfa}/required/", "alice_pending", "Two-factor authentication required"),
    Screen("reauthenticate", "{mfa}/reauthenticate/", "alice_pending", "Enter your password"),
    Screen("reauthenticate-wrong", "{mfa}/reauthenticate/", "alice_pending", "not correct",
           act=lambda page: (page.fill("#id_password", "wrong"), submit_main_form(page))),
    Screen("enroll-email", "{mfa}/enroll/confirm-email/", "alice_pending", "Confirm it's you",
           settings={"WAGTAIL_COMPANY_MFA_CONFIRM_FIRST_ENROLLMENT_BY_EMAIL": True}),
    Screen("enroll-email-sent", "{mfa}/enroll/confirm-email/", "alice_pending", "We sent a link",
           act=submit_main_form, settings={"WAGTAIL_COMPANY_MFA_CONFIRM_FIRST_ENROLLMENT_BY_EMAIL": True}),
    Screen("enroll-email-bad-link", "{mfa}/enroll/confirm-email/not-a-token/", "alice_pending",
           "not valid", settings={"WAGTAIL_COMPANY_MFA_CONFIRM_FIRST_ENROLLMENT_BY_EMAIL": True}),
    Screen("enroll", "{mfa}/enroll/", "alice_pending", "Secure your account",
           act=open_trouble_scanning),
    Screen("enroll-wrong-code", "{mfa}/enroll/", "alice_pending", "didn't match", act=wrong_code),
    Screen("save-code", "{mfa}/recovery-code/", "ivy_saving", "Almost there"),
    Screen("save-code-unticked", "{mfa}/recovery-code/", "ivy_saving", "Tick the box",
           act=submit_main_form),
    # Signed in: the dashboard reminder, the Security tab and its actions.
    Screen("dashboard-reminder", "/admin/", "bob", "will be required from"),
    Screen("security-tab-off", "/admin/account/#tab-security", "bob", "Two-factor authentication is off."),
    Screen("security-tab-on", "/admin/account/#tab-security", "erin", "Two-factor authentication is on."),
    Screen("new-recovery-code", "{mfa}/security/new-recovery-code/", "erin",
           "stops working as soon as you continue"),
    Screen("turn-off-refused", "{mfa}/security/turn-off/", "erin", "You can't turn"),
    Screen("turn-off", "{mfa}/security/turn-off/", "carol", "will stop working"),
    Screen("replace-authenticator", "{mfa}/enroll/", "erin", "keeps working until you confirm"),
    # Passkeys: choosing a method, adding one, signing in with one, the Security tab's list and changes, and
    # a company that accepts only passkeys.
    Screen("choose-method", "{mfa}/enroll/choose/", "bob", "Select an authentication method"),
    Screen("passkey-add", "{mfa}/passkeys/add/", "bob", "Add a passkey or security key"),
    Screen("passkey-verify", "{mfa}/verify/passkey/", "pia_pending", "Use your passkey"),
    Screen("security-tab-passkeys", "/admin/account/#tab-security", "pia", "Passkeys and security keys"),
    Screen("passkey-rename", "{mfa}/security/passkeys/{w.pia_passkey.pk}/rename/", "pia",
           "Name your passkey"),
    Screen("passkey-remove", "{mfa}/security/passkeys/{w.pia_passkey.pk}/remove/", "pia",
           "will stop working"),
    Screen("methods-required", "{mfa}/required/", "quinn_methods_due",
           "A passkey or security key is required"),
    # Company administration.
    Screen("companies", "{companies}/", "admin", "Bluebird Contracting"),
    Screen("company-create", "{companies}/new/", "admin", "Require MFA"),
    Screen("company-create-errors", "{companies}/new/", "admin",
           "could not be saved", act=save_admin_form),
    Screen("policy-editor", "{companies}/edit/{w.bluebird.pk}/", "admin", "Require MFA"),
    Screen("policy-editor-confirm", "{companies}/edit/{w.bluebird.pk}/", "admin", "about the new date",
           act=move_the_date),
    Screen("company-history", "{companies}/history/{w.acme.pk}/", "admin", "History"),
    Screen("company-delete", "{companies}/delete/{w.cedar.pk}/", "admin", "Delete"),
    Screen("members", "{companies}/{w.acme.pk}/members/", "admin", "erin"),
    Screen("members-empty", "{companies}/{w.empty.pk}/members/", "admin", "no members"),
    Screen("add-member", "{companies}/{w.acme.pk}/members/add/", "admin", "Search"),
    Screen("add-member-results", "{companies}/{w.acme.pk}/members/add/?q=bob", "admin",
           "People found"),
    Screen("add-member-by-address", "{companies}/{w.bluebird.pk}/members/add/", "frank",
           "exact email address"),
    Screen("edit-member", "{companies}/{w.acme.pk}/members/{w.erin_membership.pk}/", "admin",
           "Person"),
    Screen("report", "{companies}/{w.acme.pk}/report/", "admin", "enrolled"),
    Screen("report-empty", "{companies}/{w.empty.pk}/report/", "admin", "no active members"),
    Screen("reset", "{companies}/reset/{w.erin.pk}/?company={w.acme.pk}", "admin",
           "I have verified"),
    Screen("reset-unticked", "{companies}/reset/{w.erin.pk}/?company={w.acme.pk}", "admin",
           "Tick the box", act=submit("main form button.no")),
    Screen("reset-nothing", "{companies}/reset/{w.alice.pk}/?company={w.acme.pk}", "admin",
           "nothing to reset"),
    Screen("reset-refused", "{companies}/reset/{w.admin.pk}/", "admin", "your own two-factor"),
    Screen("users", "/admin/users/", "admin", "MFA"),
    # The recovery toolkit: access codes, re-enrollment, bulk actions.
    Screen("access-code-verify", "{mfa}/verify/access-code/", "erin_pending", "Use an access code"),
    Screen("setup-again", "{mfa}/setup-again/", "jack_access_code", "Set up two-factor authentication again"),
    Screen("issue-access-code", "{companies}/access-code/{w.erin.pk}/?company={w.acme.pk}", "admin",
           "Valid for"),
    Screen("access-code-shown", "{companies}/access-code/{w.erin.pk}/?company={w.acme.pk}", "admin",
           "The access code", act=issue_access_code),
    Screen("reenroll", "{companies}/reenroll/{w.erin.pk}/?company={w.acme.pk}", "admin",
           "Requiring re-enrollment"),
    Screen("bulk-select", "{companies}/{w.acme.pk}/report/bulk/", "admin", "Send a reminder"),
    Screen("bulk-confirm", "{companies}/{w.acme.pk}/report/bulk/", "admin", "This applies to",
           act=bulk_confirm),
    Screen("bulk-summary", "{companies}/{w.acme.pk}/report/bulk/", "admin", "Done for", act=bulk_summary),
]  # fmt: skip


class World:
    """The demo companies and accounts, and a signed-in session for each kind of visitor of ``SCREENS``."""

    def __init__(self):
        demo = DemoWorld()
        self.acme, self.bluebird, self.cedar = demo.acme, demo.bluebird, demo.cedar
        self.empty = make_company("Dogwood Design", require_mfa=False)
        self.admin, self.alice, self.bob, self.carol, self.erin = (
            demo.admin,
            demo.alice,
            demo.bob,
            demo.carol,
            demo.erin,
        )
        self.admin.phone, self.admin.recovery_codes = enroll_user(self.admin)
        self.carol.phone, self.carol.recovery_codes = enroll_user(self.carol)
        # Showing a new recovery code ends the user's other sessions: someone else than erin.
        self.ivy = make_user("ivy")
        join(self.ivy, self.acme)
        self.ivy.phone, self.ivy.recovery_codes = enroll_user(self.ivy)
        self.hank = make_user("hank")
        join(self.hank, self.acme)
        self.hank.phone, self.hank.recovery_codes = enroll_user(self.hank)
        self.frank = make_user("frank")
        join(self.frank, self.bluebird, role=CompanyMembership.Role.ADMIN)
        self.frank.phone, self.frank.recovery_codes = enroll_user(self.frank)
        self.erin_membership = CompanyMembership.objects.get(user=self.erin, company=self.acme)
        # pia signs in with a passkey; quinn's company accepts only passkeys, and she has an app.
        self.pia = make_user("pia")
        join(self.pia, self.acme)
        self.pia_authenticator = SoftAuthenticator()
        self._signed_in(self._added_passkey)
        self.pia_passkey = WebAuthnCredential.objects.get(user=self.pia)

        # jack signed in with an access code from his administrator, and must set MFA up again.
        self.jack = make_user("jack")
        join(self.jack, self.acme)
        self.jack.phone, self.jack.recovery_codes = enroll_user(self.jack)

        self.sessions = {
            "erin_pending": self._signed_in(lambda c: password_login(c, self.erin)),
            "erin": self._signed_in(lambda c: sign_in(c, self.erin)),
            "ivy_saving": self._signed_in(self._regenerated_codes),
            "hank_recovered": self._signed_in(self._used_recovery_code),
            "alice_pending": self._signed_in(lambda c: password_login(c, self.alice)),
            "bob": self._signed_in(lambda c: password_login(c, self.bob)),
            "carol": self._signed_in(lambda c: sign_in(c, self.carol)),
            "admin": self._signed_in(lambda c: sign_in(c, self.admin)),
            "frank": self._signed_in(lambda c: sign_in(c, self.frank)),
            "pia_pending": self._signed_in(lambda c: password_login(c, self.pia)),
            "pia": self._signed_in(self._signed_in_with_passkey),
            "jack_access_code": self._signed_in(self._used_access_code),
        }
        # Made after the others signed in: the superuser answers to every company, and this one accepts only
        # passkeys (a rule that reaches a session when it next signs in).
        self.elm = make_company(
            "Elm Works",
            require_mfa=True,
            enforcement_date=self.acme.enforcement_date,
            allowed_methods=AllowedMethods.PHISHING_RESISTANT,
        )
        self.quinn = make_user("quinn")
        join(self.quinn, self.elm)
        self.quinn.phone, self.quinn.recovery_codes = enroll_user(self.quinn)
        self.sessions["quinn_methods_due"] = self._signed_in(lambda c: sign_in(c, self.quinn))

    @staticmethod
    def _signed_in(steps) -> list[dict]:
        client = Client()
        steps(client)
        return [{"name": name, "value": morsel.value} for name, morsel in client.cookies.items()]

    def _added_passkey(self, client) -> None:
        password_login(client, self.pia)
        begin = client.post(f"{MFA}/passkeys/add/begin/", "", content_type="application/json")
        answer = self.pia_authenticator.create(begin.json())
        added = client.post(
            f"{MFA}/passkeys/add/complete/", json.dumps(answer), content_type="application/json"
        )
        assert added.status_code == 200, added.content[:500]

    def _signed_in_with_passkey(self, client) -> None:
        password_login(client, self.pia)
        begin = client.post(f"{MFA}/verify/passkey/begin/", "", content_type="application/json")
        answer = self.pia_authenticator.get(begin.json())
        done = client.post(
            f"{MFA}/verify/passkey/complete/", json.dumps(answer), content_type="application/json"
        )
        assert done.status_code == 200, done.content[:500]

    def _regenerated_codes(self, client) -> None:
        sign_in(client, self.ivy)
        response = client.post(f"{MFA}/security/new-recovery-code/")
        assert response.status_code == 302, response.content[:500]

    def _used_access_code(self, client) -> None:
        code, _row = access_code_flows.issue_access_code(self.jack, actor=self.admin, hours=24)
        password_login(client, self.jack)
        response = client.post(f"{MFA}/verify/access-code/", {"code": code})
        assert response.status_code == 302, response.content[:500]

    def _used_recovery_code(self, client) -> None:
        password_login(client, self.hank)
        response = client.post(f"{MFA}/verify/recovery-code/", {"code": self.hank.recovery_codes[0]})
        assert response.status_code == 302, response.content[:500]


def offending(violation: dict) -> list[str]:
    """The elements behind ``violation`` that are not Wagtail's own (``WAGTAIL_OWN``), and what is wrong."""
    found = []
    for node in violation["nodes"]:
        selector = " ".join(map(str, node["target"]))
        if any(rule == violation["id"] and re.search(pattern, selector) for rule, pattern in WAGTAIL_OWN):
            continue
        summary = " ".join(node.get("failureSummary", "").split())
        found.append(f"{selector} ({summary[:200]})")
    return found


@pytest.fixture
def world(settings):
    # The pages are visited over a minute or two: no re-authentication or pending window may run out.
    settings.WAGTAIL_COMPANY_MFA_REAUTH_TIMEOUT = 3600
    settings.WAGTAIL_COMPANY_MFA_PENDING_TIMEOUT = 3600
    # Made before Playwright starts: database work inside its event loop would open a second connection.
    return World()


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_page_passes_axe(world, live_server, monkeypatch, scheme, width):
    sync_api = pytest.importorskip("playwright.sync_api")
    axe_module = pytest.importorskip("axe_playwright_python.sync_playwright")
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (apt-get install chromium chromium-driver)")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    axe = axe_module.Axe()
    mode = f"{scheme}-{width}"
    findings, failures = {}, []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        # Wagtail's default theme follows the system's colour scheme: the emulated one here.
        context = browser.new_context(
            viewport={"width": width, "height": 900}, locale="en-GB", color_scheme=scheme
        )
        page = context.new_page()
        page.set_default_timeout(15_000)
        for screen in SCREENS:
            if ONLY and screen.name not in ONLY:
                continue
            page.goto("about:blank")  # a fragment-only change of URL would not load the page again
            context.clear_cookies()
            context.add_cookies(
                [{**cookie, "url": live_server.url} for cookie in world.sessions[screen.session]]
            )
            with override_settings(**screen.settings):
                page.goto(live_server.url + screen.path.format(w=world, mfa=MFA, companies=COMPANIES))
                if screen.act is not None:
                    screen.act(page)
                # Wagtail's messages fade in: a colour measured halfway is neither the real one nor a finding.
                page.wait_for_function(ANIMATIONS_DONE)
                text = page.inner_text("body")
                assert screen.expect in text, f"{screen.name} ({mode}) is not the page meant: {page.url}"
                results = axe.run(page).response
            if SCREENSHOTS:
                Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
                page.screenshot(path=f"{SCREENSHOTS}/{screen.name}-{mode}.png", full_page=True)
            findings[screen.name] = [
                {"id": v["id"], "impact": v["impact"], "targets": [n["target"] for n in v["nodes"]]}
                for v in results["violations"]
            ]
            for violation in results["violations"]:
                if violation["impact"] in FAILING and (selectors := offending(violation)):
                    failures.append(
                        f"{screen.name}: {violation['id']} ({violation['impact']}) {violation['help']}: "
                        + "\n    ".join(["", *selectors])
                    )
        context.close()
        browser.close()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{mode}.json").write_text(json.dumps(findings, indent=2))
    assert len(findings) == len([screen for screen in SCREENS if not ONLY or screen.name in ONLY])
    assert not failures, f"{len(failures)} serious or critical violations ({mode}):\n" + "\n".join(failures)
