"""
Plain helpers for the tests: users, companies, memberships, enrolled authenticators, the sign-in steps as a
browser sends them, and the demo companies. Importable from any test module (``from factories import ...``);
the fixtures built on them live in conftest.py.

The demo companies are one set everywhere, as in the sandbox and the README: Acme Builders requires MFA
since a date in the past, Bluebird Contracting from a date ahead, and Cedar Homes does not require it.
"""

from __future__ import annotations

import datetime
import re
import time

import django
import time_machine
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from wagtail_company_mfa.models import AuthenticatorDevice, Company, CompanyMembership
from wagtail_company_mfa.recovery_codes import flows as recovery_flows
from wagtail_company_mfa.totp import algorithm as totp

PASSWORD = "correct horse battery staple"


# Users, companies and memberships ---------------------------------------------------------------------------


def make_user(
    username: str, *, password: str = PASSWORD, superuser: bool = False, admin: bool = True, **extra
):
    """A user who can reach the Wagtail admin. Works with the default and the email user model."""
    User = get_user_model()
    fields = {"email": f"{username}@example.com", **extra}
    if User.USERNAME_FIELD != "email":
        fields["username"] = username
    if superuser:
        return User.objects.create_superuser(password=password, **fields)
    user = User.objects.create_user(password=password, **fields)
    if admin:
        # Wagtail's "Editors" group: admin access plus page and document permissions, as real editors have.
        user.groups.add(Group.objects.get(name="Editors"))
    return user


def login_fields(user, password: str = PASSWORD) -> dict:
    return {"username": user.get_username(), "password": password}


def make_company(name: str, **policy) -> Company:
    slug = name.lower().replace(" ", "-")
    return Company.objects.create(name=name, slug=slug, time_zone=policy.pop("time_zone", "UTC"), **policy)


#: The policy editor's confirming button (wagtail_company_mfa.companies.confirmation.FIELD_NAME).
POLICY_CONFIRMATION_FIELD = "policy_confirmation"


def policy_confirmation_token(response) -> str | None:
    """The value of the company form's "Save and email N members" button, if the response asks for it."""
    match = re.search(
        rf'name="{POLICY_CONFIRMATION_FIELD}"\s+value="([^"]+)"', response.content.decode(errors="replace")
    )
    return match.group(1) if match else None


def post_company_form(client, url: str, data: dict, **kwargs):
    """
    Post the company form as an administrator does: if saving would email members, the form asks to
    confirm, and this confirms with the button's value (the same values, posted again).
    """
    response = client.post(url, data, **kwargs)
    token = policy_confirmation_token(response)
    if token is not None:
        response = client.post(url, {**data, POLICY_CONFIRMATION_FIELD: token}, **kwargs)
    return response


def days_from_today(days: int) -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=days)


def join(user, company, *, role=CompanyMembership.Role.MEMBER, joined_at=None, **extra) -> CompanyMembership:
    joined_at = joined_at or timezone.now() - datetime.timedelta(days=365)
    return CompanyMembership.objects.create(
        user=user, company=company, role=role, joined_at=joined_at, **extra
    )


# Authenticators and the sign-in steps -----------------------------------------------------------------------


class Authenticator:
    """The phone in a test: holds the secret and shows the code for any moment."""

    def __init__(self, key: bytes):
        self.key = key

    def code(self, at: float | None = None, *, steps: int = 0) -> str:
        moment = (time.time() if at is None else at) + steps * totp.STEP
        return totp.code_at(self.key, moment)


def enroll_user(user) -> tuple[Authenticator, list[str]]:
    """Give ``user`` an authenticator and recovery codes, as a finished enrollment would."""
    key = totp.generate_key()
    device = AuthenticatorDevice(user=user, name="Authenticator app")
    device.set_key(key)
    device.save()
    return Authenticator(key), recovery_flows.issue_recovery_codes(user)


def password_login(client, user, password: str = PASSWORD, next_url: str | None = None):
    """Wagtail's real password step, as a browser does it."""
    data = login_fields(user, password)
    if next_url:
        data["next"] = next_url
    response = client.post("/admin/login/", data)
    assert response.status_code == 302, response.content[:500]
    return response


def verify_with_code(client, code: str, next_url: str = ""):
    return client.post("/admin/company-mfa/verify/", {"code": code, "next": next_url})


def reauthenticate(client, password: str = PASSWORD, code: str | None = None, next_url: str = ""):
    """The "Enter your password" page (plus the current code for an enrolled user), as a browser sends it."""
    data = {"password": password, "next": next_url}
    if code is not None:
        data["mfa-code"] = code
    return client.post("/admin/company-mfa/reauthenticate/", data)


def sign_in(client, user):
    """
    A complete admin sign-in: Wagtail's password step, then the current code if ``user`` has an authenticator
    (``user.phone``). Signing the same user in twice in one test uses the next time step, as a phone would.
    """
    password_login(client, user)
    phone = getattr(user, "phone", None)
    if phone is not None:
        step = getattr(user, "_next_step", 0)
        user._next_step = step + 1
        response = verify_with_code(client, phone.code(steps=step))
        assert response.status_code == 302, response.content[:500]
    return client


def sign_in_at(client, user, at: datetime.datetime):
    """
    A complete admin sign-in at the frozen instant ``at``: ``user`` gets an authenticator, then Wagtail's
    password step and the authenticator's code for that instant.
    """
    phone, _codes = enroll_user(user)
    with time_machine.travel(at, tick=False):
        password_login(client, user, PASSWORD)
        assert verify_with_code(client, totp.code_at(phone.key, at.timestamp())).status_code == 302
    return client


def use_email_backend(settings, backend: str) -> None:
    """Point the default email backend at ``backend`` (Django 6.1 configures it as ``MAILERS``)."""
    if django.VERSION >= (6, 1):
        settings.MAILERS = {"default": {"BACKEND": backend}}
    else:
        settings.EMAIL_BACKEND = backend


# The demo companies -----------------------------------------------------------------------------------------


class DemoWorld:
    """
    The sandbox's demo accounts: Acme Builders (required since 7 days), Bluebird Contracting (required in 30
    days), Cedar Homes (off), a superuser administering all three, and five users:

    - alice: Acme; bob: Bluebird; carol: Cedar; dave: Cedar and Acme (the strictest company wins);
    - erin: Acme, with an authenticator (``.phone``) and recovery codes.
    """

    def __init__(self):
        self.acme = make_company("Acme Builders", require_mfa=True, enforcement_date=days_from_today(-7))
        self.bluebird = make_company(
            "Bluebird Contracting", require_mfa=True, enforcement_date=days_from_today(30)
        )
        self.cedar = make_company("Cedar Homes", require_mfa=False)
        self.admin = make_user("admin", superuser=True)
        for company in (self.acme, self.bluebird, self.cedar):
            join(self.admin, company, role=CompanyMembership.Role.ADMIN)
        self.alice = make_user("alice")
        join(self.alice, self.acme)
        self.bob = make_user("bob")
        join(self.bob, self.bluebird)
        self.carol = make_user("carol")
        join(self.carol, self.cedar)
        self.dave = make_user("dave")
        join(self.dave, self.cedar)
        join(self.dave, self.acme)
        self.erin = make_user("erin")
        join(self.erin, self.acme)
        self.erin.phone, self.erin.recovery_codes = enroll_user(self.erin)

    def user(self, name: str):
        return getattr(self, name)


class Tenants:
    """
    Two companies, each with an administrator and a member, a superuser and an editor in no company. The
    administrators, the superuser and both members have an authenticator (``.phone``), since resetting
    someone's MFA needs an MFA-verified session and something to reset.

    The names follow the demo companies (see the module docstring):

    - ``a``: Bluebird Contracting, Require MFA from 30 days ahead, time zone Europe/Amsterdam;
      administrator Bert Blue, member Bob Brown.
    - ``b``: Acme Builders, Require MFA since a week ago, UTC; administrator Anna Acme, member Alice Ames.
    """

    def __init__(self):
        self.a = make_company(
            "Bluebird Contracting",
            require_mfa=True,
            enforcement_date=days_from_today(30),
            time_zone="Europe/Amsterdam",
        )
        self.b = make_company("Acme Builders", require_mfa=True, enforcement_date=days_from_today(-7))
        self.superuser = make_user("root", superuser=True, first_name="Rory", last_name="Root")
        self.admin_a = make_user("bert", first_name="Bert", last_name="Blue")
        self.member_a = make_user("bob", first_name="Bob", last_name="Brown")
        self.admin_b = make_user("anna", first_name="Anna", last_name="Acme")
        self.member_b = make_user("alice", first_name="Alice", last_name="Ames")
        self.editor = make_user("eddie", first_name="Eddie", last_name="Editor")
        self.admin_a_membership = join(self.admin_a, self.a, role=CompanyMembership.Role.ADMIN)
        self.member_a_membership = join(self.member_a, self.a)
        self.admin_b_membership = join(self.admin_b, self.b, role=CompanyMembership.Role.ADMIN)
        self.member_b_membership = join(self.member_b, self.b)
        for person in (self.superuser, self.admin_a, self.member_a, self.admin_b, self.member_b):
            person.phone, person.recovery_codes = enroll_user(person)
