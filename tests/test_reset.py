"""
An administrator resets a member's MFA (SPEC §3.7, SEC-40, SEC-27, SEC-36, SEC-45): the confirmation page,
who may and may not, what is removed, the target's sessions, the email and the audit entries; and the MFA
state on Wagtail's Users page.
"""

from __future__ import annotations

import datetime
import json

import pytest
import time_machine
from django.contrib.auth import get_permission_codename, get_user_model
from django.contrib.auth.models import Permission
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from factories import join, make_user, password_login, sign_in
from wagtail.models import ModelLogEntry

from wagtail_company_mfa.companies import reset, reset_rule
from wagtail_company_mfa.models import (
    AuthenticatorDevice,
    CompanyMembership,
    RecoveryCode,
    RecoveryCodeDevice,
    UserSession,
)
from wagtail_company_mfa.recovery_codes import codes as recovery_codes
from wagtail_company_mfa.recovery_codes import flows as recovery_flows

pytestmark = pytest.mark.django_db

BASE = "/admin/company-mfa/companies"


def change_users_permission():
    """Wagtail's "can change users" (the Users page), for the default or the custom user model."""
    User = get_user_model()
    return Permission.objects.get(
        content_type__app_label=User._meta.app_label, codename=get_permission_codename("change", User._meta)
    )


def reset_url(user, company=None) -> str:
    url = f"{BASE}/reset/{user.pk}/"
    return f"{url}?company={company.pk}" if company is not None else url


def has_mfa(user) -> bool:
    return (
        AuthenticatorDevice.objects.filter(user_id=user.pk).exists()
        or RecoveryCodeDevice.objects.filter(user_id=user.pk).exists()
    )


def test_confirmation_page(client, tenants):
    sign_in(client, tenants.admin_a)
    response = client.get(reset_url(tenants.member_a, tenants.a))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Bob Brown" in page
    assert "I have verified this person&#x27;s request" in page
    assert 'name="confirm"' in page
    assert 'method="post"' in page
    assert "csrfmiddlewaretoken" in page
    assert response["Cache-Control"].startswith("max-age=0")
    assert has_mfa(tenants.member_a)  # SEC-42: looking is not resetting


def test_company_admin_resets_a_member(client, tenants, django_capture_on_commit_callbacks):
    # SEC-40: a company administrator, MFA-verified, resets a member of their company.
    target = tenants.member_a
    secrets = [target.phone.key.hex(), *target.recovery_codes]
    sign_in(client, tenants.admin_a)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reset_url(target, tenants.a),
            {"confirm": "on"},
            HTTP_USER_AGENT="Firefox test",
            REMOTE_ADDR="10.1.2.3",
        )
    assert response.status_code == 302
    assert response["Location"] == f"{BASE}/{tenants.a.pk}/members/"

    # Authenticator, recovery-code device and its codes: all gone, in one go.
    assert not has_mfa(target)
    assert not RecoveryCode.objects.filter(device__user_id=target.pk).exists()
    assert has_mfa(tenants.admin_a)
    assert has_mfa(tenants.member_b)

    # SEC-45: on the person, with actor, company, IP and browser; and on the company, under the same UUID.
    entry = ModelLogEntry.objects.get(action=reset.ACTION_RESET)
    assert entry.object_id == str(target.pk)
    assert entry.user_id == tenants.admin_a.pk
    assert entry.data["company"] == "Bluebird Contracting"
    assert entry.data["ip"] == "10.1.2.3"
    assert entry.data["user_agent"] == "Firefox test"
    assert entry.data["removed_authenticator"] is True
    company_entry = ModelLogEntry.objects.get(action=reset.ACTION_MEMBER_RESET)
    assert company_entry.object_id == str(tenants.a.pk)
    assert company_entry.uuid == entry.uuid
    assert company_entry.data["member"] == "Bob Brown"
    assert entry.formatter.format_message(entry) == (
        "Two-factor authentication reset by an administrator of Bluebird Contracting"
    )
    assert company_entry.formatter.format_message(company_entry) == (
        "Reset the two-factor authentication of Bob Brown"
    )
    # SEC-44: no code, secret or hash in the log.
    logged = json.dumps([e.data for e in ModelLogEntry.objects.all()])
    for secret in secrets:
        assert secret not in logged
        assert recovery_codes.normalize(secret) is None or recovery_codes.normalize(secret) not in logged

    # SEC-27: the person is told at once, by email, without any secret.
    assert [m.to for m in mail.outbox] == [[target.email]]
    message = mail.outbox[0]
    assert message.subject == "Your two-factor authentication was reset on Test site"
    assert "Bert Blue, an administrator of Bluebird Contracting" in message.body
    for secret in secrets:
        assert secret not in message.body


def test_target_verified_session_is_ended_everywhere(client, tenants):
    # SEC-36: the person's verified session is signed out on its very next request, on any server.
    target = tenants.member_b
    target_browser = sign_in(Client(), target)
    assert target_browser.get("/admin/").status_code == 200
    sign_in(client, tenants.admin_b)
    client.post(reset_url(target, tenants.b), {"confirm": "on"})
    response = target_browser.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    # And signing in again leads straight to setting MFA up: Acme requires it.
    password_login(target_browser, target)
    response = target_browser.get("/admin/")
    assert response["Location"].startswith("/admin/company-mfa/required/")


def test_a_session_the_registry_missed_must_enroll_on_its_next_request(client, tenants):
    # Defence in depth: even a session that escaped the session registry (e.g. from before it existed) is
    # no longer verified, because django-otp reloads the device it was verified with, which is gone.
    target = tenants.member_b
    target_browser = sign_in(Client(), target)
    UserSession.objects.filter(user_id=target.pk).delete()
    sign_in(client, tenants.admin_b)
    client.post(reset_url(target, tenants.b), {"confirm": "on"})
    response = target_browser.get("/admin/pages/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/company-mfa/required/")


def test_pending_enrollment_secret_dies_with_the_session(client, tenants):
    # The person had started replacing their authenticator: the half-made secret lives in their session,
    # which the reset ends.
    target = tenants.member_b
    target_browser = sign_in(Client(), target)
    session_key = target_browser.session.session_key
    from django.contrib.sessions.backends.db import SessionStore

    store = SessionStore(session_key)
    store["wagtail_company_mfa.pending_setup"] = {"user": str(target.pk), "key": "x"}
    store.save()
    sign_in(client, tenants.admin_b)
    client.post(reset_url(target, tenants.b), {"confirm": "on"})
    assert not SessionStore(session_key).exists(session_key)


def test_superuser_resets_from_the_users_page_without_a_company(client, tenants):
    sign_in(client, tenants.superuser)
    response = client.post(reset_url(tenants.member_b), {"confirm": "on"})
    assert response.status_code == 302
    assert response["Location"] == "/admin/users/"
    entry = ModelLogEntry.objects.get(action=reset.ACTION_RESET)
    assert entry.data["company"] == ""
    assert entry.formatter.format_message(entry) == "Two-factor authentication reset by an administrator"
    assert not ModelLogEntry.objects.filter(action=reset.ACTION_MEMBER_RESET).exists()


class TestRefused:
    """Each refusal leaves the person's MFA, the log and the mailbox untouched."""

    def assert_untouched(self, target):
        assert has_mfa(target)
        assert not ModelLogEntry.objects.filter(action=reset.ACTION_RESET).exists()
        assert mail.outbox == []

    def test_unticked_box(self, client, tenants):
        sign_in(client, tenants.admin_a)
        response = client.post(reset_url(tenants.member_a, tenants.a), {})
        assert response.status_code == 200
        assert "Tick the box to confirm you have verified this person" in response.content.decode()
        self.assert_untouched(tenants.member_a)

    def test_self(self, client, tenants):
        sign_in(client, tenants.admin_a)
        response = client.post(reset_url(tenants.admin_a, tenants.a), {"confirm": "on"})
        assert response.status_code == 403
        assert "cannot reset your own two-factor authentication" in response.content.decode()
        self.assert_untouched(tenants.admin_a)

    def test_self_even_for_a_superuser(self, client, tenants):
        sign_in(client, tenants.superuser)
        assert client.post(reset_url(tenants.superuser), {"confirm": "on"}).status_code == 403
        self.assert_untouched(tenants.superuser)

    def test_superuser_by_a_company_admin(self, client, tenants):
        join(tenants.superuser, tenants.a)
        sign_in(client, tenants.admin_a)
        response = client.post(reset_url(tenants.superuser, tenants.a), {"confirm": "on"})
        assert response.status_code == 403
        assert "Only a superuser can reset a superuser" in response.content.decode()
        self.assert_untouched(tenants.superuser)

    def test_member_of_another_company(self, client, tenants):
        sign_in(client, tenants.admin_a)
        # Not even the person's name is shown to an administrator of another company.
        response = client.get(reset_url(tenants.member_b))
        assert response.status_code == 404
        assert "Alice" not in response.content.decode()
        assert client.post(reset_url(tenants.member_b), {"confirm": "on"}).status_code == 404
        assert client.post(reset_url(tenants.member_b, tenants.a), {"confirm": "on"}).status_code == 404
        self.assert_untouched(tenants.member_b)

    def test_member_shared_with_another_company(self, client, tenants):
        join(tenants.member_a, tenants.b)
        sign_in(client, tenants.admin_a)
        response = client.post(reset_url(tenants.member_a, tenants.a), {"confirm": "on"})
        assert response.status_code == 403
        assert "also belongs to a company you do not administer" in response.content.decode()
        self.assert_untouched(tenants.member_a)

    def test_acting_session_not_verified(self, client, tenants):
        # SEC-40: an administrator who signed in with a password only cannot reset anyone's factor.
        admin = make_user("carl", first_name="Carl")
        join(admin, tenants.a, role=CompanyMembership.Role.ADMIN)
        password_login(client, admin)  # Bluebird's date is ahead, so no code is needed to sign in
        response = client.get(reset_url(tenants.member_a, tenants.a))
        assert response.status_code == 403
        page = response.content.decode()
        assert "you must have signed in with two-factor authentication yourself" in page
        assert "/admin/company-mfa/enroll/" in page
        assert client.post(reset_url(tenants.member_a, tenants.a), {"confirm": "on"}).status_code == 403
        self.assert_untouched(tenants.member_a)

    def test_without_csrf_token(self, tenants):
        # SEC-42
        browser = Client(enforce_csrf_checks=True)
        sign_in_with_csrf(browser, tenants.admin_a)
        response = browser.post(reset_url(tenants.member_a, tenants.a), {"confirm": "on"})
        assert response.status_code == 403
        self.assert_untouched(tenants.member_a)

    def test_password_not_entered_recently_asks_for_it_again(self, client, tenants):
        # SEC-25, SEC-33: a reset is a sensitive change; an old sign-in is asked to re-authenticate first.
        sign_in(client, tenants.admin_a)
        with time_machine.travel(timezone.now() + datetime.timedelta(minutes=10)):
            response = client.post(reset_url(tenants.member_a, tenants.a), {"confirm": "on"})
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/company-mfa/reauthenticate/?next=")
        self.assert_untouched(tenants.member_a)

    def test_get_never_resets(self, client, tenants):
        sign_in(client, tenants.admin_a)
        client.get(reset_url(tenants.member_a, tenants.a) + "&confirm=on")
        self.assert_untouched(tenants.member_a)


def sign_in_with_csrf(browser, user):
    """sign_in() for a client that enforces CSRF: fetch each form first for its token."""
    browser.get("/admin/login/")
    token = browser.cookies["csrftoken"].value
    browser.post(
        "/admin/login/",
        {
            "username": user.get_username(),
            "password": "correct horse battery staple",
            "csrfmiddlewaretoken": token,
        },
    )
    browser.get("/admin/company-mfa/verify/")
    token = browser.cookies["csrftoken"].value
    browser.post("/admin/company-mfa/verify/", {"code": user.phone.code(), "csrfmiddlewaretoken": token})
    assert browser.get("/admin/").status_code == 200


def test_nothing_to_reset(client, tenants):
    person = make_user("nina", first_name="Nina")
    join(person, tenants.a)
    sign_in(client, tenants.admin_a)
    page = client.get(reset_url(person, tenants.a)).content.decode()
    assert "has not set up two-factor authentication: there is nothing to reset" in page
    response = client.post(reset_url(person, tenants.a), {"confirm": "on"}, follow=True)
    assert "has no two-factor authentication to reset" in response.content.decode()
    assert not ModelLogEntry.objects.filter(action=reset.ACTION_RESET).exists()


def test_reset_flow_refuses_self_whatever_the_caller():
    user = type("U", (), {"pk": 1})()
    with pytest.raises(ValueError, match="their own MFA"):
        reset.reset_mfa(user, actor=user)


# The Users page ---------------------------------------------------------------------------------------------


def test_users_page_shows_mfa_state_and_reset_link_to_a_superuser(client, tenants):
    sign_in(client, tenants.superuser)
    page = client.get("/admin/users/").content.decode()
    assert f'href="{reset_url(tenants.member_b)}"' in page
    assert f'href="{reset_url(tenants.member_a)}"' in page
    assert "MFA on" in page
    assert "MFA off" in page  # the editor has not enrolled
    assert f'href="{reset_url(tenants.superuser)}"' not in page  # never themself


def test_users_page_shows_a_status_tag_and_reset_mfa_in_the_row_menu(client, tenants):
    """The state is a tag, not a button; "Reset MFA" is a link whose accessible name starts with its text."""
    from bs4 import BeautifulSoup

    sign_in(client, tenants.superuser)
    page = BeautifulSoup(client.get("/admin/users/").content.decode(), "html.parser")

    tags = page.select("span.w-status[data-mfa-user-state]")
    assert {tag.get_text(strip=True) for tag in tags} == {"MFA on", "MFA off"}
    assert not page.find(lambda tag: tag.name in ("a", "button") and tag.get_text(strip=True) == "MFA on")
    link = page.find("a", href=reset_url(tenants.member_b))
    assert link.get_text(strip=True) == "Reset MFA"
    assert link["aria-label"] == "Reset MFA for Alice Ames"  # WCAG 2.5.3: the visible text, then whose
    assert link.find_parent(attrs={"data-controller": lambda value: value and "w-dropdown" in value})


def test_report_and_members_page_offer_reset_mfa_for_each_enrolled_member(client, tenants):
    from bs4 import BeautifulSoup

    sign_in(client, tenants.admin_a)
    for path in ("report", "members"):
        page = BeautifulSoup(
            client.get(f"/admin/company-mfa/companies/{tenants.a.pk}/{path}/").content.decode(), "html.parser"
        )
        links = page.find_all("a", string=lambda text: text and text.strip() == "Reset MFA")
        assert [link["aria-label"] for link in links] == ["Reset MFA for Bob Brown"], path  # not themself
        assert f"/reset/{tenants.member_a.pk}/?company={tenants.a.pk}" in links[0]["href"]


def test_users_page_links_a_company_admin_to_their_members_only(client, tenants):
    tenants.admin_a.user_permissions.add(change_users_permission())
    sign_in(client, tenants.admin_a)
    page = client.get("/admin/users/").content.decode()
    assert f'href="{reset_url(tenants.member_a)}"' in page
    assert f'href="{reset_url(tenants.member_b)}"' not in page
    assert f'href="{reset_url(tenants.superuser)}"' not in page


def test_users_page_shows_nothing_to_someone_who_manages_no_company(client, tenants):
    tenants.editor.user_permissions.add(change_users_permission())
    sign_in(client, tenants.editor)
    page = client.get("/admin/users/").content.decode()
    assert "MFA on" not in page
    assert "/reset/" not in page


@pytest.mark.parametrize("viewer", ["superuser", "admin_a"])
def test_users_page_query_count_does_not_grow_with_users(client, tenants, viewer):
    from factories import enroll_user

    actor = getattr(tenants, viewer)
    actor.user_permissions.add(change_users_permission())
    sign_in(client, actor)

    def add_people(count, start):
        for number in range(start, start + count):
            person = make_user(f"person{number}")
            join(person, tenants.a)
            if number % 2:
                enroll_user(person)

    def count_queries():
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/admin/users/").status_code == 200
        return len(queries)

    add_people(3, 0)
    few = count_queries()
    add_people(12, 3)
    many = count_queries()
    assert few == many, (few, many)


def test_a_company_admin_cannot_reset_mfa_set_up_before_the_person_joined(db):  # SEC-40
    """Adding someone to your company must not be a way to strip the factor they set up on their own."""
    import datetime

    from django.utils import timezone
    from factories import enroll_user, join, make_company, make_user

    from wagtail_company_mfa.models import CompanyMembership

    company = make_company("Acme Builders", require_mfa=True, enforcement_date=datetime.date(2020, 1, 1))
    admin = make_user("acme-admin")
    join(admin, company, role=CompanyMembership.Role.ADMIN)
    volunteer = make_user("volunteer")
    enroll_user(volunteer)  # enrolled on their own, in no company
    join(volunteer, company, joined_at=timezone.now() + datetime.timedelta(seconds=1))

    assert "before joining your company" in reset_rule.reset_refusal(admin, volunteer, company)
    assert reset_rule.ResetChecker(admin).may_reset(volunteer) is False
    assert reset_rule.reset_refusal(make_user("root", superuser=True), volunteer, company) is None

    member = make_user("member")
    join(member, company, joined_at=timezone.now() - datetime.timedelta(days=30))
    enroll_user(member)  # enrolled as a member of the company
    assert reset_rule.reset_refusal(admin, member, company) is None
    assert reset_rule.ResetChecker(admin).may_reset(member) is True


def replace_authenticator(client, person):
    """The person replaces their authenticator app from the Security tab (new phone), as a browser does."""
    import base64
    import re

    from factories import Authenticator, reauthenticate

    link = "/admin/company-mfa/enroll/"
    sign_in(client, person)
    step = person._next_step
    person._next_step += 1
    assert reauthenticate(client, code=person.phone.code(steps=step), next_url=link).status_code == 302
    page = client.get(link).content.decode()
    key = re.search(r'id="mfa-setup-key" data-mfa-value="([A-Z2-7 ]+)"', page).group(1).replace(" ", "")
    new_phone = Authenticator(base64.b32decode(key))
    assert client.post(link, {"code": new_phone.code()}).status_code == 302
    person.phone = new_phone
    return new_phone


def test_reset_rule_bypassed_by_replacing_the_device(tenants):  # SEC-40
    """
    MFA set up before joining Acme stays out of an Acme administrator's reach when the person replaces the
    authenticator: the rule looks at when they first had MFA, not at the current device.
    """
    from factories import enroll_user

    from wagtail_company_mfa.models import MFAEnrollment

    pat = make_user("pat", first_name="Pat", last_name="Prior")
    pat.phone, pat.recovery_codes = enroll_user(pat)  # on their own, in no company
    first = MFAEnrollment.objects.get(user_id=pat.pk).first_enrolled_at
    join(pat, tenants.a, joined_at=timezone.now() + datetime.timedelta(seconds=1))
    admin = Client()
    sign_in(admin, tenants.admin_a)

    def refused_to_acme_admin():
        response = admin.get(reset_url(pat, tenants.a))
        if response.status_code != 403:
            return False
        assert "set up two-factor authentication before joining your company" in response.content.decode()
        assert admin.post(reset_url(pat, tenants.a), {"confirm": "on"}).status_code == 403
        return has_mfa(pat)

    assert refused_to_acme_admin()
    members_page = admin.get(f"{BASE}/{tenants.a.pk}/members/").content.decode()
    assert reset_url(pat, tenants.a).replace("&", "&amp;") not in members_page

    # A new phone, months later: still the factor Pat brought with them.
    with time_machine.travel(timezone.now() + datetime.timedelta(days=90)):
        replace_authenticator(Client(), pat)
        assert AuthenticatorDevice.objects.get(user=pat).created_at > first
        assert MFAEnrollment.objects.get(user_id=pat.pk).first_enrolled_at == first
        tenants.admin_a._next_step = 0
        admin = Client()
        sign_in(admin, tenants.admin_a)
        assert refused_to_acme_admin()

        # A superuser may reset it; everything goes, the record too.
        root = Client()
        sign_in(root, tenants.superuser)
        assert root.post(reset_url(pat, tenants.a), {"confirm": "on"}).status_code == 302
        assert not has_mfa(pat)
        assert not MFAEnrollment.objects.filter(user_id=pat.pk).exists()

    # Pat enrolls again, now as a member of Acme: that enrollment is Acme's to reset.
    with time_machine.travel(timezone.now() + datetime.timedelta(days=91)):
        pat.phone, pat.recovery_codes = enroll_user(pat)
        pat._next_step = tenants.admin_a._next_step = 0  # a new moment: each phone shows its current code
        admin = Client()
        sign_in(admin, tenants.admin_a)
        assert admin.get(reset_url(pat, tenants.a)).status_code == 200
        assert admin.post(reset_url(pat, tenants.a), {"confirm": "on"}).status_code == 302
        assert not has_mfa(pat)


def test_reset_rule_bypassed_by_replacing_the_device_member_enrolled_after_joining(client, tenants):  # SEC-40
    sign_in(client, tenants.admin_a)
    assert client.get(reset_url(tenants.member_a, tenants.a)).status_code == 200
    page = client.get(f"{BASE}/{tenants.a.pk}/members/").content.decode()
    assert reset_url(tenants.member_a, tenants.a).replace("&", "&amp;") in page


def test_reset_rule_bypassed_by_replacing_the_device_first_date_survives_regenerated_codes(tenants):  # SEC-40
    from wagtail_company_mfa.models import MFAEnrollment

    first = MFAEnrollment.objects.get(user_id=tenants.member_a.pk).first_enrolled_at
    with time_machine.travel(timezone.now() + datetime.timedelta(days=30)):
        recovery_flows.issue_recovery_codes(tenants.member_a)
    assert MFAEnrollment.objects.get(user_id=tenants.member_a.pk).first_enrolled_at == first


def test_reset_rule_bypassed_by_replacing_the_device_migration_fills_existing_users(tenants):  # SEC-40
    import importlib

    from django.apps import apps

    from wagtail_company_mfa.models import MFAEnrollment

    migration = importlib.import_module("wagtail_company_mfa.migrations.0002_mfa_enrollment_and_date_range")
    # Recovery codes issued before the authenticator count: the earlier device wins.
    RecoveryCodeDevice.objects.filter(user=tenants.member_a).update(
        created_at=timezone.now() - datetime.timedelta(days=400)
    )
    recovery = dict(RecoveryCodeDevice.objects.values_list("user_id", "created_at"))
    expected = {
        user_id: min(created, recovery.get(user_id, created))
        for user_id, created in AuthenticatorDevice.objects.values_list("user_id", "created_at")
    }
    assert expected[tenants.member_a.pk] == recovery[tenants.member_a.pk]
    MFAEnrollment.objects.all().delete()
    migration.record_first_enrollments(apps, connection.schema_editor())
    assert dict(MFAEnrollment.objects.values_list("user_id", "first_enrolled_at")) == expected
