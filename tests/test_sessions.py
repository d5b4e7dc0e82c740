"""The registry of a user's sessions, so security changes can end them everywhere (SEC-36)."""

import pytest
from django.test import Client
from factories import password_login, verify_with_code

from wagtail_company_mfa.base import registry
from wagtail_company_mfa.models import UserSession

pytestmark = pytest.mark.django_db


def test_sign_in_and_verification_keep_the_registry_current(client, enrolled_user):
    password_login(client, enrolled_user)
    first_key = client.session.session_key
    assert list(UserSession.objects.values_list("session_key", flat=True)) == [first_key]

    verify_with_code(client, enrolled_user.phone.code())  # rotates the key (SEC-30)

    assert client.session.session_key != first_key
    assert list(UserSession.objects.values_list("session_key", flat=True)) == [client.session.session_key]

    client.post("/admin/logout/")
    assert not UserSession.objects.exists()


def test_end_sessions_signs_out_every_other_browser(verified_client, enrolled_user):
    other = Client()
    password_login(other, enrolled_user)
    assert other.get("/admin/").status_code == 302  # pending, but signed in
    keep = verified_client.session.session_key

    ended = registry.end_sessions(enrolled_user, keep=keep)

    assert ended == 1
    assert verified_client.get("/admin/").status_code == 200
    response = other.get("/admin/")
    assert response.status_code == 302
    assert response.url.startswith("/admin/login/")
    assert list(UserSession.objects.values_list("session_key", flat=True)) == [keep]


def test_other_users_sessions_are_untouched(verified_client, enrolled_user, other_user):
    bystander = Client()
    password_login(bystander, other_user)
    registry.end_sessions(enrolled_user)
    assert bystander.get("/admin/").status_code == 200
    assert verified_client.get("/admin/").url.startswith("/admin/login/")
