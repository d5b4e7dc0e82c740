"""Login of an enrolled user through Wagtail's real login, the middleware and the verify page (SPEC §3.1)."""

from __future__ import annotations

import html
import time

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from factories import PASSWORD, Authenticator, enroll_user, make_user, password_login, verify_with_code

from wagtail_company_mfa import factors
from wagtail_company_mfa.base import verification
from wagtail_company_mfa.models import AuthenticatorDevice

pytestmark = pytest.mark.django_db

VERIFY_URL = "/admin/company-mfa/verify/"
WRONG = "That code didn't work. Check your authenticator app and try again."


def test_password_step_leads_to_verify_page_with_next(client, enrolled_user):
    # Straight to the code page, the target carried as next (the gated hop through it is skipped) ...
    response = password_login(client, enrolled_user, next_url="/admin/pages/")
    assert response.url == f"{VERIFY_URL}?next=%2Fadmin%2Fpages%2F"

    # ... and the target itself is still gated (SEC-28).
    response = client.get("/admin/pages/")

    assert response.status_code == 302
    assert response.url == f"{VERIFY_URL}?next=%2Fadmin%2Fpages%2F"
    page = client.get(response.url)
    assert page.status_code == 200
    assert "Verify your identity" in page.text
    assert 'autocomplete="one-time-code"' in page.text
    assert 'inputmode="numeric"' in page.text
    assert "Use a recovery code instead" in page.text


def test_good_code_verifies_and_lands_on_next(client, enrolled_user):
    password_login(client, enrolled_user)
    response = verify_with_code(client, enrolled_user.phone.code(), next_url="/admin/pages/")
    assert response.status_code == 302
    assert response.url == "/admin/pages/"
    assert client.get("/admin/pages/").status_code == 200


def test_wrong_code_is_refused_with_a_message(client, enrolled_user):
    password_login(client, enrolled_user)
    response = verify_with_code(client, wrong_code(enrolled_user.phone))
    assert response.status_code == 200
    assert WRONG in text(response)
    assert client.get("/admin/").status_code == 302


def test_malformed_code_gets_a_format_message_and_costs_no_attempt(client, enrolled_user):
    password_login(client, enrolled_user)
    response = verify_with_code(client, "12a456")
    assert "Enter the 6 digits your authenticator app shows" in text(response)
    assert AuthenticatorDevice.objects.get(user=enrolled_user).throttling_failure_count == 0


def test_replayed_code_gets_the_same_message_as_a_wrong_one(enrolled_user):  # SEC-05, decision 4
    first, second = Client(), Client()
    code = enrolled_user.phone.code()
    password_login(first, enrolled_user)
    assert verify_with_code(first, code).status_code == 302

    password_login(second, enrolled_user)
    response = verify_with_code(second, code)

    assert response.status_code == 200
    assert WRONG in text(response)


def test_older_code_after_a_newer_one_is_refused(enrolled_user):  # SEC-05
    phone: Authenticator = enrolled_user.phone
    now = time.time()
    with time_machine.travel(now, tick=False):
        newer, older = phone.code(now, steps=1), phone.code(now)
        first, second = Client(), Client()
        password_login(first, enrolled_user)
        assert verify_with_code(first, newer).status_code == 302
        password_login(second, enrolled_user)
        assert WRONG in text(verify_with_code(second, older))


def test_throttling_holds_across_two_sessions_and_refuses_the_right_code(enrolled_user):  # SEC-10..12
    laptop, phone_browser = Client(), Client()
    password_login(laptop, enrolled_user)
    password_login(phone_browser, enrolled_user)
    start = time.time()
    # Wrong codes from alternating browsers, each after the growing delay (1, 2, 4, 8 s) has passed.
    for offset, browser in zip((0, 1, 3, 7, 15), (laptop, phone_browser) * 2 + (laptop,), strict=True):
        with time_machine.travel(start + offset, tick=False):
            response = verify_with_code(browser, wrong_code(enrolled_user.phone))
            assert WRONG in text(response)
    assert AuthenticatorDevice.objects.get(user=enrolled_user).throttling_failure_count == 5  # per account

    with time_machine.travel(start + 16, tick=False):
        response = verify_with_code(phone_browser, enrolled_user.phone.code())  # right code, but locked

        assert response.status_code == 200
        assert "Too many wrong codes. You can try again in 15 seconds." in text(response)
        assert client_is_pending(phone_browser)
        # The refused attempt is not counted again.
        assert AuthenticatorDevice.objects.get(user=enrolled_user).throttling_failure_count == 5
        assert "Too many wrong codes" in text(phone_browser.get(VERIFY_URL))

    with time_machine.travel(start + 31, tick=False):
        assert verify_with_code(laptop, enrolled_user.phone.code()).status_code == 302
        assert AuthenticatorDevice.objects.get(user=enrolled_user).throttling_failure_count == 0


def test_a_wrong_code_right_after_another_is_refused_without_counting(client, enrolled_user):  # SEC-12
    start = time.time()
    password_login(client, enrolled_user)
    with time_machine.travel(start, tick=False):
        verify_with_code(client, wrong_code(enrolled_user.phone))
        verify_with_code(client, wrong_code(enrolled_user.phone))
        verify_with_code(client, enrolled_user.phone.code())  # within the 1-second delay: refused
        assert client_is_pending(client)
    assert AuthenticatorDevice.objects.get(user=enrolled_user).throttling_failure_count == 1


def wrong_code(phone) -> str:
    """A well-formed code that is none of the three the window accepts now."""
    valid = {phone.code(steps=step) for step in (-1, 0, 1)}
    return next(f"{n:06d}" for n in range(1_000_000) if f"{n:06d}" not in valid)


def text(response) -> str:
    return html.unescape(response.content.decode())


def client_is_pending(client) -> bool:
    response = client.get("/admin/")
    return response.status_code == 302 and response.url.startswith(VERIFY_URL)


def test_session_key_and_csrf_token_are_rotated_on_success(client, enrolled_user):  # SEC-30
    password_login(client, enrolled_user)
    client.get(VERIFY_URL)
    key_before = client.session.session_key
    csrf_before = client.cookies["csrftoken"].value
    verify_with_code(client, enrolled_user.phone.code())
    assert client.session.session_key != key_before
    assert client.cookies["csrftoken"].value != csrf_before


# Django's own unsafe redirect targets (django/tests/auth_tests/test_views.py, utils_tests/test_http.py).
UNSAFE_NEXT = [
    "http://example.com",
    "http:///example.com",
    "https://example.com",
    "ftp://example.com",
    "///example.com",
    "//example.com",
    'javascript:alert("XSS")',
    "\\\\example.com",
    "\\\\\\example.com",
    "/\\\\/example.com",
    "\\\\\\example.com",
    "\\//example.com",
    "/\\/example.com",
    "http:/\\/example.com",
    "http:\\/example.com",
    "http:/\\example.com",
    "javascript:alert('XSS')",
    "\njavascript:alert(x)",
    "\x08//example.com",
    r"http://otherserver\@example.com",
    r"http:\\testserver\@example.com",
    r"http://testserver\me:pass@example.com",
    r"http://testserver\@example.com",
    r"http:\\testserver\confirm\me@example.com",
    "http:999999999",
    "ftp:9999999999",
    "\n",
    "http://[2001:cdba:0000:0000:0000:0000:3257:9652/",
    "http://2001:cdba:0000:0000:0000:0000:3257:9652]/",
]


@pytest.mark.parametrize("unsafe", UNSAFE_NEXT)
def test_off_site_next_falls_back_to_the_dashboard(client, enrolled_user, unsafe):  # SEC-34
    password_login(client, enrolled_user)
    response = verify_with_code(client, enrolled_user.phone.code(), next_url=unsafe)
    assert response.status_code == 302
    assert response.url == reverse("wagtailadmin_home")


def test_logout_from_the_pending_state_wipes_the_session(client, enrolled_user):  # SEC-31
    password_login(client, enrolled_user, next_url="/admin/pages/")
    client.get("/admin/pages/")
    session_key = client.session.session_key

    response = client.post("/admin/logout/")

    assert response.status_code == 302
    assert client.session.session_key != session_key
    assert dict(client.session) == {}
    assert client.get("/admin/").url.startswith("/admin/login/")


def test_pending_state_expires(client, enrolled_user, settings):  # SEC-29
    settings.WAGTAIL_COMPANY_MFA_PENDING_TIMEOUT = 600
    start = time.time()
    with time_machine.travel(start, tick=False):
        password_login(client, enrolled_user)
    with time_machine.travel(start + 601, tick=False):
        response = client.get("/admin/pages/")
        assert response.status_code == 302
        assert response.url == "/admin/login/"
        assert "_auth_user_id" not in client.session
        assert "Your sign-in has expired" in text(client.get(response.url))


def test_user_with_a_device_is_asked_even_when_nothing_requires_it(client, company_off):  # SEC-26
    user = make_user("volunteer")
    phone, _codes = enroll_user(user)
    password_login(client, user)
    assert client_is_pending(client)
    assert verify_with_code(client, phone.code()).status_code == 302
    assert client.get("/admin/").status_code == 200


def test_verified_user_visiting_verify_goes_on(verified_client):
    response = verified_client.get(f"{VERIFY_URL}?next=/admin/pages/")
    assert response.status_code == 302
    assert response.url == "/admin/pages/"


def test_verify_page_without_a_device_sends_a_required_user_to_set_up(client, required_user):
    password_login(client, required_user)
    response = client.get(VERIFY_URL)
    assert response.status_code == 302
    assert response.url.startswith("/admin/company-mfa/required/")


def test_verify_page_requires_a_password_first(client):
    response = client.get(VERIFY_URL)
    assert response.status_code == 302
    assert response.url.startswith("/admin/login/")


def test_pages_send_no_store(client, enrolled_user):  # SEC-23, SEC-44
    password_login(client, enrolled_user)
    response = client.get(VERIFY_URL)
    assert "no-store" in response["Cache-Control"]


def test_password_reset_never_logs_in_past_mfa(client, enrolled_user):  # SEC-35
    from django.contrib.auth.tokens import default_token_generator
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    uid = urlsafe_base64_encode(force_bytes(enrolled_user.pk))
    token = default_token_generator.make_token(enrolled_user)
    confirm = client.get(f"/admin/password_reset/confirm/{uid}/{token}/")
    assert confirm.status_code == 302
    response = client.post(
        confirm.url, {"new_password1": "N3w-passw0rd!x", "new_password2": "N3w-passw0rd!x"}
    )
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/").url.startswith("/admin/login/")
    client.post("/admin/login/", {"username": enrolled_user.get_username(), "password": "N3w-passw0rd!x"})
    assert client_is_pending(client)


def test_verified_admin_request_costs_no_query_of_ours(verified_client, django_assert_max_num_queries):
    # The exact count is measured against plain Wagtail by benchmarks/; here: verified means passing.
    assert verified_client.get("/admin/").status_code == 200


def test_reset_takes_effect_on_the_next_request(verified_client, enrolled_user):  # SEC-36
    assert verified_client.get("/admin/").status_code == 200
    AuthenticatorDevice.objects.filter(user=enrolled_user).delete()
    response = verified_client.get("/admin/")
    assert response.status_code == 302
    assert response.url.startswith("/admin/company-mfa/required/")
    assert factors.is_enrolled(enrolled_user) is False


def test_wrong_password_never_reaches_the_code_step(client, enrolled_user):
    response = client.post(
        "/admin/login/", {"username": enrolled_user.get_username(), "password": PASSWORD + "x"}
    )
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_replay_is_audit_logged_as_a_replay(enrolled_user):  # SEC-05, SEC-45
    from wagtail.models import ModelLogEntry

    code = enrolled_user.phone.code()
    first, second = Client(), Client()
    password_login(first, enrolled_user)
    verify_with_code(first, code)
    password_login(second, enrolled_user)
    verify_with_code(second, code)
    assert (
        ModelLogEntry.objects.filter(
            action=verification.ACTION_REPLAYED, object_id=str(enrolled_user.pk)
        ).count()
        == 1
    )
    # A merely wrong code is not called a replay.
    verify_with_code(second, wrong_code(enrolled_user.phone))
    assert ModelLogEntry.objects.filter(action=verification.ACTION_REPLAYED).count() == 1


@pytest.mark.parametrize(
    ("url", "fields"),
    [
        ("/admin/company-mfa/verify/", {"code": "123456"}),
        ("/admin/company-mfa/reauthenticate/", {"password": "hunter2", "mfa-code": "654321"}),
    ],
)
def test_codes_and_passwords_are_hidden_from_error_reports(client, enrolled_user, url, fields):  # SEC-44
    from django.views.debug import SafeExceptionReporterFilter

    password_login(client, enrolled_user)
    response = client.post(url, fields)
    request = response.wsgi_request
    cleaned = SafeExceptionReporterFilter().get_post_parameters(request)
    for name, value in fields.items():
        assert cleaned[name] != value
        assert set(cleaned[name]) == {"*"}
