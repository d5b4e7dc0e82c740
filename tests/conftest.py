"""Fixtures named after the states they create: companies in each policy state, users, clients. The plain
helpers they are built on are in factories.py."""

from __future__ import annotations

import os

import pytest
from browser_support import browser_page  # noqa: F401 (a fixture, for the browser tests)
from django.contrib.auth.models import Group
from factories import (
    DemoWorld,
    Tenants,
    days_from_today,
    enroll_user,
    join,
    make_company,
    make_user,
    password_login,
    verify_with_code,
)


def pytest_report_header(config):
    import django
    import wagtail

    from wagtail_company_mfa import __file__ as package_file

    return [
        f"Django {django.get_version()}, Wagtail {wagtail.__version__}",
        f"wagtail_company_mfa from {os.path.dirname(package_file)}",
        f"database: {os.environ.get('DATABASE_URL', 'sqlite (in memory)')}",
        f"user model: {'testapp.EmailUser' if os.environ.get('CUSTOM_USER_MODEL') == '1' else 'auth.User'}",
    ]


def pytest_configure(config):
    # Under tox the suite must test the built wheel, not the checkout next to it.
    if os.environ.get("MFA_EXPECT_INSTALLED") == "1":
        import wagtail_company_mfa

        assert "site-packages" in wagtail_company_mfa.__file__, wagtail_company_mfa.__file__


# Users and companies ----------------------------------------------------------------------------------------


@pytest.fixture
def user(db):
    return make_user("member")


@pytest.fixture
def other_user(db):
    return make_user("colleague")


@pytest.fixture
def superuser(db):
    return make_user("root", superuser=True)


@pytest.fixture
def company_required(db):
    """Require MFA on, enforcement date a week ago."""
    return make_company("Acme Builders", require_mfa=True, enforcement_date=days_from_today(-7))


@pytest.fixture
def company_upcoming(db):
    """Require MFA on, enforcement date a month ahead."""
    return make_company("Bluebird Contracting", require_mfa=True, enforcement_date=days_from_today(30))


@pytest.fixture
def company_off(db):
    return make_company("Cedar Homes", require_mfa=False)


@pytest.fixture
def required_user(user, company_required):
    join(user, company_required)
    return user


@pytest.fixture
def upcoming_user(user, company_upcoming):
    join(user, company_upcoming)
    return user


@pytest.fixture
def enrolled_user(required_user):
    phone, codes = enroll_user(required_user)
    required_user.phone = phone
    required_user.recovery_codes = codes
    return required_user


@pytest.fixture
def editors_group(db):
    return Group.objects.get(name="Editors")


@pytest.fixture
def verified_client(client, enrolled_user):
    """A browser that passed the password and the code steps."""
    password_login(client, enrolled_user)
    response = verify_with_code(client, enrolled_user.phone.code())
    assert response.status_code == 302, response.content[:500]
    return client


@pytest.fixture
def demo(db):
    return DemoWorld()


@pytest.fixture
def tenants(db):
    return Tenants()
