"""
First enrollment confirmed from an emailed link (WAGTAIL_COMPANY_MFA_CONFIRM_FIRST_ENROLLMENT_BY_EMAIL):
someone who has only the password of a user who must enroll cannot set up their own authenticator. Through
the real login, the gate and the views; SEC-22, SEC-25, SEC-27.
"""

from __future__ import annotations

import html
import re

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client, override_settings
from factories import PASSWORD, Authenticator, make_user, password_login, use_email_backend
from test_enroll import ENROLL_URL, setup_key

from wagtail_company_mfa.models import AuthenticatorDevice

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("confirm_by_email")]

CONFIRM_URL = "/admin/company-mfa/enroll/confirm-email/"


@pytest.fixture
def confirm_by_email():
    with override_settings(WAGTAIL_COMPANY_MFA_CONFIRM_FIRST_ENROLLMENT_BY_EMAIL=True):
        yield


def text(response) -> str:
    return html.unescape(response.content.decode())


def emailed_link() -> str:
    assert len(mail.outbox) == 1, [m.subject for m in mail.outbox]
    match = re.search(r"http://testserver/admin/company-mfa/enroll/confirm-email/\S+", mail.outbox[0].body)
    assert match, mail.outbox[0].body
    return match.group(0).removeprefix("http://testserver")


def ask_for_link(client):
    response = client.post(CONFIRM_URL, {"next": "/admin/"})
    assert response.status_code == 302
    return response


def test_first_enrollment_waits_for_the_emailed_link(client, required_user):
    password_login(client, required_user)

    response = client.get(ENROLL_URL)
    assert response.status_code == 302
    assert response.url.startswith(CONFIRM_URL)
    page = client.get(response.url)
    assert "Confirm it's you" in text(page)
    assert "m•••@example.com" in text(page)
    assert "member@example.com" not in text(page)  # the address is not given away to a password holder
    assert "no-store" in page["Cache-Control"]
    assert mail.outbox == []

    ask_for_link(client)
    link = emailed_link()
    assert mail.outbox[0].to == ["member@example.com"]
    # Still no setup key before the link is opened.
    assert client.get(ENROLL_URL).url.startswith(CONFIRM_URL)

    opened = client.get(link)
    assert opened.status_code == 302
    assert opened.url.startswith(ENROLL_URL)
    assert opened["Referrer-Policy"] == "no-referrer"
    page = client.get(opened.url)
    assert "Secure your account" in text(page)
    phone = Authenticator(setup_key(page))
    done = client.post(ENROLL_URL, {"code": phone.code(), "next": "/admin/"})
    assert done.status_code == 302
    assert AuthenticatorDevice.objects.filter(user=required_user, confirmed=True).count() == 1


def test_link_opened_in_another_browser_confirms_nothing(client, required_user):
    """The attacker's session asked; the owner opening the link in their own browser must not unlock it."""
    password_login(client, required_user)
    ask_for_link(client)
    link = emailed_link()

    owner = Client()
    password_login(owner, required_user)  # the owner's own session, which never asked for a link
    response = owner.get(link)
    assert response.url.startswith(CONFIRM_URL)
    assert "another browser" in text(owner.get(response.url))
    assert owner.get(ENROLL_URL).url.startswith(CONFIRM_URL)
    assert client.get(ENROLL_URL).url.startswith(CONFIRM_URL)  # and the asking session is not unlocked either


def test_link_signed_out_or_for_another_account_is_refused(client, required_user):
    password_login(client, required_user)
    ask_for_link(client)
    link = emailed_link()

    anonymous = Client()
    assert anonymous.get(link).url.startswith("/admin/login/")

    other = make_user("intruder")
    intruder = Client()
    password_login(intruder, other)
    response = intruder.get(link)
    assert "another account" in text(intruder.get(response.url, follow=True))


def test_tampered_and_expired_links_are_refused(client, required_user):
    with time_machine.travel("2027-03-01 09:00:00+00:00", tick=False) as traveller:
        password_login(client, required_user)
        ask_for_link(client)
        link = emailed_link()

        tampered = link.replace("/confirm-email/", "/confirm-email/x")
        assert "not valid" in text(client.get(tampered, follow=True))

        traveller.shift(16 * 60)  # SETUP_TIMEOUT is 15 minutes
        password_login(client, required_user, PASSWORD)
        assert "expired" in text(client.get(link, follow=True))
        assert client.get(ENROLL_URL).url.startswith(CONFIRM_URL)


def test_a_new_link_voids_the_earlier_one(client, required_user):
    with time_machine.travel("2027-03-01 09:00:00+00:00", tick=False) as traveller:
        password_login(client, required_user)
        ask_for_link(client)
        first = emailed_link()
        mail.outbox.clear()

        # Within a minute, no second email.
        ask_for_link(client)
        assert mail.outbox == []

        traveller.shift(61)
        ask_for_link(client)
        second = emailed_link()
        assert second != first
        assert client.get(first).url.startswith(CONFIRM_URL)
        assert client.get(second).url.startswith(ENROLL_URL)


def test_user_without_an_email_address_is_told_what_to_do(client, required_user):
    User = get_user_model()
    if User.USERNAME_FIELD == "email":
        pytest.skip("the email user model always has an address")
    User.objects.filter(pk=required_user.pk).update(email="")
    password_login(client, required_user)
    page = client.get(CONFIRM_URL)
    assert "has no email address" in text(page)
    client.post(CONFIRM_URL, {"next": "/admin/"})
    assert mail.outbox == []


def test_a_mail_server_failure_says_so_and_sends_nothing_half_way(client, required_user, settings):
    use_email_backend(settings, "test_policy_notices.DownBackend")
    password_login(client, required_user)
    response = client.post(CONFIRM_URL, {"next": "/admin/"}, follow=True)
    assert "couldn't send the email" in text(response)
    assert client.get(ENROLL_URL).url.startswith(CONFIRM_URL)


@override_settings(WAGTAIL_COMPANY_MFA_CONFIRM_FIRST_ENROLLMENT_BY_EMAIL=False)
def test_off_by_default_goes_straight_to_setup(client, required_user):
    password_login(client, required_user)
    assert client.get(ENROLL_URL).status_code == 200
    assert client.get(CONFIRM_URL).url.startswith(ENROLL_URL)


def test_replacing_an_authenticator_needs_no_email(verified_client, enrolled_user):
    """Only the first enrollment is confirmed by email; a replacement needs the current code (SEC-25)."""
    response = verified_client.get(ENROLL_URL)
    assert response.status_code == 200
    assert mail.outbox == []


@override_settings(WAGTAIL_COMPANY_MFA_CONFIRM_FIRST_ENROLLMENT_BY_EMAIL="yes")
def test_the_setting_must_be_a_boolean():
    from wagtail_company_mfa.checks import check_settings

    errors = check_settings()
    assert [e.id for e in errors] == ["wagtail_company_mfa.E007"]
    assert "CONFIRM_FIRST_ENROLLMENT_BY_EMAIL" in errors[0].msg
