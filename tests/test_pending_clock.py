"""
The pending state's clock (SEC-29): ``PENDING_TIMEOUT`` holds on the MFA pages themselves, a code posted too
late is not even checked, and entering the password again does not restart the clock. Frozen time throughout.
"""

from __future__ import annotations

import html
import time

import pytest
import time_machine
from django.test import Client
from factories import PASSWORD, join, make_user, password_login, reauthenticate, verify_with_code
from wagtail.models import ModelLogEntry

from wagtail_company_mfa.base import verification
from wagtail_company_mfa.models import AuthenticatorDevice, RecoveryCode, UserSession

pytestmark = pytest.mark.django_db

VERIFY_URL = "/admin/company-mfa/verify/"
RECOVERY_URL = "/admin/company-mfa/verify/recovery-code/"
REQUIRED_URL = "/admin/company-mfa/required/"
ENROLL_URL = "/admin/company-mfa/enroll/"
REAUTH_URL = "/admin/company-mfa/reauthenticate/"
REGENERATE_URL = "/admin/company-mfa/security/new-recovery-code/"
SAVE_URL = "/admin/company-mfa/recovery-code/"
EXPIRED = "Your sign-in has expired. Please sign in again."
SIX_HOURS = 6 * 60 * 60


@pytest.fixture
def start():
    return time.time()


@pytest.fixture
def timeout(settings):
    settings.WAGTAIL_COMPANY_MFA_PENDING_TIMEOUT = 900
    return 900


def assert_signed_out_as_expired(client, response):
    assert response.status_code == 302
    assert response.url == "/admin/login/"
    assert "_auth_user_id" not in client.session
    assert html.unescape(client.get(response.url).content.decode()).count(EXPIRED) == 1


def code_was_checked(user) -> bool:
    device = AuthenticatorDevice.objects.get(user=user)
    return device.last_t != -1 or device.throttling_failure_count != 0


def test_code_posted_six_hours_after_the_password_is_refused(client, enrolled_user, timeout, start):
    with time_machine.travel(start, tick=False):
        password_login(client, enrolled_user)
    with time_machine.travel(start + SIX_HOURS, tick=False):
        response = verify_with_code(client, enrolled_user.phone.code())

        assert_signed_out_as_expired(client, response)
    assert not code_was_checked(enrolled_user)  # refused before the code was looked at
    assert not ModelLogEntry.objects.filter(action=verification.ACTION_VERIFIED).exists()
    assert not UserSession.objects.filter(user=enrolled_user).exists()


def test_code_posted_just_inside_the_pending_timeout_is_accepted(client, enrolled_user, timeout, start):
    with time_machine.travel(start, tick=False):
        password_login(client, enrolled_user)
    with time_machine.travel(start + timeout - 1, tick=False):
        response = verify_with_code(client, enrolled_user.phone.code(), next_url="/admin/pages/")

        assert response.status_code == 302
        assert response.url == "/admin/pages/"
        assert client.get("/admin/pages/").status_code == 200


def test_recovery_code_posted_after_the_timeout_is_not_spent(client, enrolled_user, timeout, start):
    with time_machine.travel(start, tick=False):
        password_login(client, enrolled_user)
    with time_machine.travel(start + timeout + 1, tick=False):
        response = client.post(RECOVERY_URL, {"code": enrolled_user.recovery_codes[0]})

        assert_signed_out_as_expired(client, response)
    assert not RecoveryCode.objects.filter(device__user=enrolled_user, used_at__isnull=False).exists()


@pytest.mark.parametrize("url", [VERIFY_URL, RECOVERY_URL])
def test_verify_pages_of_an_expired_pending_session_sign_out(client, enrolled_user, timeout, start, url):
    with time_machine.travel(start, tick=False):
        password_login(client, enrolled_user)
    with time_machine.travel(start + timeout + 1, tick=False):
        assert_signed_out_as_expired(client, client.get(url))


@pytest.mark.parametrize("url", [REQUIRED_URL, ENROLL_URL, REAUTH_URL])
def test_enrollment_pages_of_an_expired_pending_session_sign_out(client, required_user, timeout, start, url):
    with time_machine.travel(start, tick=False):
        password_login(client, required_user)
    with time_machine.travel(start + timeout + 1, tick=False):
        assert_signed_out_as_expired(client, client.get(url))


def test_expired_pending_session_gets_json_from_the_verify_page(client, enrolled_user, timeout, start):
    with time_machine.travel(start, tick=False):
        password_login(client, enrolled_user)
    with time_machine.travel(start + timeout + 1, tick=False):
        response = client.post(
            VERIFY_URL, {"code": enrolled_user.phone.code()}, headers={"x-requested-with": "XMLHttpRequest"}
        )

        assert response.status_code == 403
        assert response.json()["error"] == "mfa_expired_required"
    assert not code_was_checked(enrolled_user)


def test_reauthentication_does_not_restart_the_pending_clock(client, enrolled_user, timeout, start):
    with time_machine.travel(start, tick=False):
        password_login(client, enrolled_user)
    with time_machine.travel(start + 14 * 60, tick=False):
        response = reauthenticate(client, PASSWORD)
        assert response.status_code == 302  # the password is right; the page goes on
    with time_machine.travel(start + 16 * 60, tick=False):
        response = verify_with_code(client, enrolled_user.phone.code())

        assert_signed_out_as_expired(client, response)
    assert not code_was_checked(enrolled_user)


def test_a_second_password_sign_in_does_not_restart_the_pending_clock(client, enrolled_user, timeout, start):
    with time_machine.travel(start, tick=False):
        password_login(client, enrolled_user)
    with time_machine.travel(start + 14 * 60, tick=False):
        password_login(client, enrolled_user)  # Wagtail's login form posted again by the pending session
    with time_machine.travel(start + 16 * 60, tick=False):
        assert_signed_out_as_expired(client, verify_with_code(client, enrolled_user.phone.code()))


def test_a_new_sign_in_after_expiry_gets_a_fresh_clock(client, enrolled_user, timeout, start):
    with time_machine.travel(start, tick=False):
        password_login(client, enrolled_user)
    with time_machine.travel(start + SIX_HOURS, tick=False):
        assert_signed_out_as_expired(client, client.get("/admin/"))
        password_login(client, enrolled_user)
    with time_machine.travel(start + SIX_HOURS + timeout - 1, tick=False):
        assert verify_with_code(client, enrolled_user.phone.code()).status_code == 302
        assert client.get("/admin/").status_code == 200


def test_verified_users_reauthentication_for_a_security_action_still_works(
    client, enrolled_user, timeout, start
):
    with time_machine.travel(start, tick=False):
        password_login(client, enrolled_user)
        assert verify_with_code(client, enrolled_user.phone.code()).status_code == 302
    # Long past the pending timeout: a verified session is not pending, and its clock does not apply.
    with time_machine.travel(start + SIX_HOURS, tick=False):
        assert client.get("/admin/").status_code == 200
        response = client.post(REGENERATE_URL)
        assert response.status_code == 302
        assert response.url.startswith(REAUTH_URL)  # the sudo window has passed, as before

        response = reauthenticate(client, PASSWORD, code=enrolled_user.phone.code(), next_url=REGENERATE_URL)
        assert response.status_code == 302
        assert response.url == REGENERATE_URL

        response = client.post(REGENERATE_URL)
        assert response.status_code == 302
        assert response.url.startswith(SAVE_URL)


def test_enroll_page_does_not_expire_a_user_who_owes_no_second_factor(client, company_off, start, timeout):
    # Not pending (nothing requires MFA, no authenticator): setting it up hours later asks for the password.
    user = make_user("volunteer")
    join(user, company_off)
    with time_machine.travel(start, tick=False):
        password_login(client, user)
    with time_machine.travel(start + SIX_HOURS, tick=False):
        response = client.get(ENROLL_URL)

        assert response.status_code == 302
        assert response.url.startswith(REAUTH_URL)
        assert "_auth_user_id" in client.session


def test_pending_pages_expire_for_every_browser_on_its_own_clock(enrolled_user, timeout, start):
    early, late = Client(), Client()
    with time_machine.travel(start, tick=False):
        password_login(early, enrolled_user)
    with time_machine.travel(start + timeout - 60, tick=False):
        password_login(late, enrolled_user)
    with time_machine.travel(start + timeout + 1, tick=False):
        assert_signed_out_as_expired(early, early.get(VERIFY_URL))
        assert late.get(VERIFY_URL).status_code == 200


def test_signing_in_again_after_the_clock_ran_out_starts_a_fresh_one(client, enrolled_user, timeout, start):
    """A password sign-in posted after expiry, before any gated request ended the session, is a new start."""
    with time_machine.travel(start, tick=False):
        password_login(client, enrolled_user)
    with time_machine.travel(start + 20 * 60, tick=False):
        password_login(client, enrolled_user)
    with time_machine.travel(start + 20 * 60 + timeout - 1, tick=False):
        assert verify_with_code(client, enrolled_user.phone.code()).status_code == 302
        assert client.get("/admin/").status_code == 200
