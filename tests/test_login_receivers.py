"""
The package's ``user_logged_in`` / ``user_logged_out`` receivers with every kind of request Django sends them:
the test client's bare ``HttpRequest`` (``Client.login()``, ``force_login()``), a ``RequestFactory`` request
with or without a session, and none at all. A site that installs the package keeps a working test suite.
Run under both user models (``CUSTOM_USER_MODEL=1`` for the email user model).
"""

from __future__ import annotations

import logging
from importlib import import_module

import pytest
from django.conf import settings
from django.contrib.auth import login, logout
from django.contrib.auth.signals import user_logged_in, user_logged_out
from factories import PASSWORD, enroll_user

from wagtail_company_mfa.base import pending, reauth
from wagtail_company_mfa.models import UserSession

pytestmark = pytest.mark.django_db


def new_session_store():
    return import_module(settings.SESSION_ENGINE).SessionStore()


def registered_keys(user) -> list[str]:
    return list(UserSession.objects.filter(user_id=user.pk).values_list("session_key", flat=True))


def test_client_login_does_not_break_a_sites_test_suite(client, user):
    assert client.login(username=user.get_username(), password=PASSWORD)

    assert client.get("/admin/").status_code == 200
    # The receivers did their work with the signal's user, not request.user.
    assert registered_keys(user) == [client.session.session_key]
    assert reauth.PASSWORD_AT in client.session
    assert pending.PENDING_SINCE in client.session


def test_client_force_login_does_not_break_a_sites_test_suite(client, user):
    client.force_login(user)

    assert client.get("/admin/").status_code == 200
    assert registered_keys(user) == [client.session.session_key]


def test_force_login_does_not_skip_the_second_factor(client, enrolled_user):  # SEC-28
    client.force_login(enrolled_user)

    response = client.get("/admin/")

    assert response.status_code == 302
    assert response.url.startswith("/admin/company-mfa/verify/")


def test_client_logout_forgets_the_session(client, user):
    client.force_login(user)
    assert registered_keys(user)

    client.logout()

    assert registered_keys(user) == []


def test_login_reminder_with_the_test_client_logs_no_error(client, upcoming_user, caplog):
    # The reminder is a message; the test client's bare request has no message storage.
    with caplog.at_level(logging.WARNING, logger="wagtail_company_mfa"):
        client.force_login(upcoming_user)

    assert [record for record in caplog.records if record.levelno >= logging.ERROR] == []
    assert client.get("/admin/").status_code == 200


def test_login_with_a_request_factory_request_and_a_session(rf, user):
    request = rf.get("/")
    request.session = new_session_store()

    login(request, user, backend="django.contrib.auth.backends.ModelBackend")

    assert request.session.session_key
    assert registered_keys(user) == [request.session.session_key]
    assert pending.PENDING_SINCE in request.session

    logout(request)

    assert registered_keys(user) == []


@pytest.mark.parametrize("signal", [user_logged_in, user_logged_out])
def test_signals_with_a_request_factory_request_without_a_session(rf, user, signal):
    request = rf.get("/")  # no session, no user attribute

    signal.send(sender=type(user), request=request, user=user)

    assert registered_keys(user) == []


@pytest.mark.parametrize("signal", [user_logged_in, user_logged_out])
def test_signals_without_a_request(user, signal):
    signal.send(sender=type(user), request=None, user=user)

    assert registered_keys(user) == []


def test_login_with_a_request_factory_request_for_an_enrolled_user(rf, required_user):
    enroll_user(required_user)
    request = rf.post("/admin/login/")
    request.session = new_session_store()

    login(request, required_user, backend="django.contrib.auth.backends.ModelBackend")

    assert registered_keys(required_user) == [request.session.session_key]
