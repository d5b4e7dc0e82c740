"""
The company administration (SPEC §3.7, §3.8): the policy form and its preview, time zones, the audit trail and
the policy_changed signal, members and roles, and mass assignment refused (SEC-41).
"""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.utils.formats import date_format
from factories import enroll_user, join, make_company, make_user, post_company_form, sign_in
from wagtail.models import ModelLogEntry
from wagtail.users.models import UserProfile

from wagtail_company_mfa import signals
from wagtail_company_mfa.companies import flows as company_flows
from wagtail_company_mfa.models import Company, CompanyMembership

pytestmark = pytest.mark.django_db

BASE = "/admin/company-mfa/companies"
UTC = datetime.timezone.utc


def policy_form(company, **changes) -> dict:
    data = {
        "name": company.name,
        "slug": company.slug,
        "require_mfa": "on" if company.require_mfa else "",
        "enforcement_date": company.enforcement_date.isoformat() if company.enforcement_date else "",
        "time_zone": company.time_zone,
        "new_member_grace_days": str(company.new_member_grace_days),
        "allowed_methods": "any",
        "trust_browser_for": "0",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value != ""}


@pytest.fixture
def policy_signals():
    received = []

    def receiver(**kwargs):
        received.append(kwargs)

    signals.policy_changed.connect(receiver, dispatch_uid="test-policy-changed")
    yield received
    signals.policy_changed.disconnect(dispatch_uid="test-policy-changed")


# The policy -------------------------------------------------------------------------------------------------


def test_policy_change_is_logged_with_old_and_new_values(
    client, tenants, policy_signals, django_capture_on_commit_callbacks
):
    # SEC-39, SEC-45: the change, by whom, old → new, readable in the company's history.
    company = tenants.a
    old_date = company.enforcement_date
    sign_in(client, tenants.admin_a)
    with django_capture_on_commit_callbacks(execute=True):
        response = post_company_form(
            client,
            f"{BASE}/edit/{company.pk}/",
            policy_form(company, enforcement_date="2031-03-03", new_member_grace_days="14"),
            REMOTE_ADDR="10.9.8.7",
        )
    assert response.status_code == 302
    company.refresh_from_db()
    assert company.enforcement_date == datetime.date(2031, 3, 3)
    assert company.new_member_grace_days == 14

    entry = ModelLogEntry.objects.get(action=company_flows.ACTION_POLICY_CHANGED)
    assert entry.object_id == str(company.pk)
    assert entry.user_id == tenants.admin_a.pk
    assert entry.data["ip"] == "10.9.8.7"
    assert entry.data["changes"] == {
        "enforcement_date": {"old": old_date.isoformat(), "new": "2031-03-03"},
        "new_member_grace_days": {"old": 0, "new": 14},
    }
    old = date_format(old_date, "DATE_FORMAT")
    assert entry.formatter.format_message(entry) == (
        f"Changed the MFA policy: Enforcement date: {old} → March 3, 2031; Grace days for new members: 0 → 14"
    )
    history = client.get(f"{BASE}/history/{company.pk}/").content.decode()
    assert "Changed the MFA policy: Enforcement date:" in history

    # The member notices (issue 4) hear about it through the signal, once committed.
    (sent,) = policy_signals
    assert sent["sender"] is Company
    assert sent["company"] == company
    assert sent["changes"] == {
        "enforcement_date": (old_date, datetime.date(2031, 3, 3)),
        "new_member_grace_days": (0, 14),
    }
    assert sent["actor"] == tenants.admin_a
    assert sent["request"] is not None


def test_saving_without_a_policy_change_logs_and_signals_nothing(
    client, tenants, policy_signals, django_capture_on_commit_callbacks
):
    sign_in(client, tenants.superuser)
    with django_capture_on_commit_callbacks(execute=True):
        post_company_form(
            client, f"{BASE}/edit/{tenants.a.pk}/", policy_form(tenants.a, name="Bluebird Contracting Ltd")
        )
    assert not ModelLogEntry.objects.filter(action=company_flows.ACTION_POLICY_CHANGED).exists()
    assert ModelLogEntry.objects.filter(action="wagtail.edit", object_id=str(tenants.a.pk)).exists()
    assert policy_signals == []


def test_turning_mfa_on_without_a_date_is_refused(client, tenants):
    company = make_company("Dormant Ltd")
    sign_in(client, tenants.superuser)
    response = post_company_form(client, f"{BASE}/edit/{company.pk}/", policy_form(company, require_mfa="on"))
    assert response.status_code == 200
    assert "Choose the date from which members must use MFA." in response.content.decode()
    company.refresh_from_db()
    assert not company.require_mfa


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("time_zone", "Mars/Olympus_Mons", "is not a time zone this site knows"),
        ("new_member_grace_days", "-3", "Ensure this value is greater than or equal to 0."),
        ("new_member_grace_days", "366", "The grace period can be at most 365 days."),
    ],
)
def test_invalid_policy_values_are_refused_and_the_preview_shows_the_saved_policy(
    client, tenants, field, value, error
):
    sign_in(client, tenants.admin_a)
    response = post_company_form(
        client, f"{BASE}/edit/{tenants.a.pk}/", policy_form(tenants.a, **{field: value})
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert error in page
    assert "From " in page  # the preview still renders, for the saved policy
    assert Company.objects.get(pk=tenants.a.pk).time_zone == "Europe/Amsterdam"
    assert not ModelLogEntry.objects.filter(action=company_flows.ACTION_POLICY_CHANGED).exists()


def test_creating_a_company_with_a_policy_logs_it(
    client, tenants, policy_signals, django_capture_on_commit_callbacks
):
    sign_in(client, tenants.superuser)
    with django_capture_on_commit_callbacks(execute=True):
        response = post_company_form(
            client,
            f"{BASE}/new/",
            {
                "name": "Delta Works",
                "slug": "delta-works",
                "require_mfa": "on",
                "enforcement_date": "2031-05-01",
                "time_zone": "Europe/London",
                "new_member_grace_days": "7",
                "allowed_methods": "any",
                "trust_browser_for": "0",
            },
        )
    assert response.status_code == 302
    company = Company.objects.get(slug="delta-works")
    entry = ModelLogEntry.objects.get(action=company_flows.ACTION_POLICY_CHANGED)
    assert entry.object_id == str(company.pk)
    assert entry.data["changes"]["require_mfa"] == {"old": False, "new": True}
    assert policy_signals[0]["company"] == company


@pytest.mark.parametrize(
    ("admin_zone", "expected_local"),
    [("America/New_York", "March 2, 2031, 6 p.m."), ("Pacific/Auckland", "March 3, 2031, noon")],
)
def test_date_entered_in_another_admin_time_zone_is_the_right_instant(
    client, tenants, admin_zone, expected_local
):
    # SEC-51: the enforcement date is a calendar date in the *company's* zone (Europe/Amsterdam), whatever the
    # Wagtail time zone of the administrator who types it.
    UserProfile.objects.update_or_create(user=tenants.admin_a, defaults={"current_time_zone": admin_zone})
    sign_in(client, tenants.admin_a)
    response = post_company_form(
        client, f"{BASE}/edit/{tenants.a.pk}/", policy_form(tenants.a, enforcement_date="2031-03-03")
    )
    assert response.status_code == 302
    company = Company.objects.get(pk=tenants.a.pk)
    assert company.enforcement_date == datetime.date(2031, 3, 3)
    assert company.enforcement_starts_at == datetime.datetime(2031, 3, 2, 23, 0, tzinfo=UTC)
    page = client.get(f"{BASE}/edit/{company.pk}/").content.decode()
    assert "starts at 00:00 on March 3, 2031 in the company's time zone, Europe/Amsterdam." in page
    assert f"That is {expected_local} in your own time zone ({admin_zone})." in page


def test_same_time_zone_needs_no_translation(client, tenants):
    UserProfile.objects.update_or_create(
        user=tenants.admin_a, defaults={"current_time_zone": "Europe/Amsterdam"}
    )
    sign_in(client, tenants.admin_a)
    page = client.get(f"{BASE}/edit/{tenants.a.pk}/").content.decode()
    assert "in the company's time zone, Europe/Amsterdam." in page
    assert "in your own time zone" not in page


class TestPreview:
    """'From 3 March 2027, 42 members must use MFA; 17 have enrolled', computed on the server."""

    @pytest.fixture
    def company(self, db):
        company = make_company("Preview Ltd", require_mfa=True, enforcement_date=datetime.date(2027, 3, 3))
        joined = datetime.datetime(2026, 1, 1, tzinfo=UTC)
        for number in range(42):
            person = make_user(f"p{number}")
            join(person, company, joined_at=joined)
            if number < 17:
                enroll_user(person)
        for number in range(3):  # inactive members count for nothing
            join(make_user(f"gone{number}"), company, is_active=False)
        return company

    def page(self, client, company):
        superuser = make_user("boss", superuser=True)
        # After the date a superuser must use MFA too (they govern every company).
        superuser.phone, _codes = enroll_user(superuser)
        sign_in(client, superuser)
        return client.get(f"{BASE}/edit/{company.pk}/").content.decode()

    def test_before_the_date(self, client, company):
        with time_machine.travel(datetime.datetime(2027, 1, 10, 12, tzinfo=UTC)):
            page = self.page(client, company)
        assert "From March 3, 2027, 42 members must use MFA; 17 have enrolled." in page

    def test_after_the_date(self, client, company):
        with time_machine.travel(datetime.datetime(2027, 3, 10, 12, tzinfo=UTC)):
            page = self.page(client, company)
        assert (
            "Since March 3, 2027, 42 members must use MFA; 17 have enrolled. 25 members are overdue." in page
        )

    def test_a_late_joiner_in_grace_is_not_overdue(self, client, company):
        company.new_member_grace_days = 14
        company.save()
        late = make_user("late")
        join(late, company, joined_at=datetime.datetime(2027, 3, 8, tzinfo=UTC))
        with time_machine.travel(datetime.datetime(2027, 3, 10, 12, tzinfo=UTC)):
            page = self.page(client, company)
        assert (
            "Since March 3, 2027, 43 members must use MFA; 17 have enrolled. 25 members are overdue." in page
        )
        assert "get 14 days from joining to set up MFA" in page

    def test_switched_off(self, client, company):
        company.require_mfa = False
        company.save()
        with time_machine.travel(datetime.datetime(2027, 1, 10, 12, tzinfo=UTC)):
            page = self.page(client, company)
        assert "MFA is not required. 17 of 42 members have enrolled anyway." in page

    def test_success_message_repeats_the_effect(self, client, company):
        superuser = make_user("boss", superuser=True)
        with time_machine.travel(datetime.datetime(2027, 1, 10, 12, tzinfo=UTC)):
            sign_in(client, superuser)
            response = post_company_form(
                client,
                f"{BASE}/edit/{company.pk}/",
                policy_form(company, enforcement_date="2027-04-01"),
                follow=True,
            )
        assert "From April 1, 2027, 42 members must use MFA; 17 have enrolled." in response.content.decode()


# Members ----------------------------------------------------------------------------------------------------


def member_url(company, membership=None) -> str:
    base = f"{BASE}/{company.pk}/members/"
    return f"{base}{membership.pk}/" if membership is not None else base


def test_members_page(client, tenants):
    gone = make_user("gina", first_name="Gina")
    join(gone, tenants.a, is_active=False)
    sign_in(client, tenants.admin_a)
    page = client.get(member_url(tenants.a)).content.decode()
    assert "Bob Brown" in page
    assert "Gina" in page
    assert "Inactive" in page
    assert "Alice Ames" not in page
    # Reset offered for an enrolled member; no "Edit" of their own membership for the administrator.
    assert f"{BASE}/reset/{tenants.member_a.pk}/?company={tenants.a.pk}" in page
    assert member_url(tenants.a, tenants.member_a_membership) in page
    assert member_url(tenants.a, tenants.admin_a_membership) not in page


def test_member_search_finds_people_by_name_or_email(client, tenants):
    # Only those who manage every company may search the site's users (see TestUserDirectory).
    sign_in(client, tenants.superuser)
    add = f"{BASE}/{tenants.a.pk}/members/add/"
    assert "Eddie Editor" in client.get(add, {"q": "eddie@example"}).content.decode()
    assert "Eddie Editor" in client.get(add, {"q": "Eddie Ed"}).content.decode()
    # Active members are not offered again; one letter finds nobody.
    assert "Bob Brown" not in client.get(add, {"q": "bob"}).content.decode()
    assert "at least two characters" in client.get(add, {"q": "e"}).content.decode()


def test_member_added_removed_and_role_changed_are_logged(client, tenants):
    sign_in(client, tenants.admin_a)
    client.post(f"{BASE}/{tenants.a.pk}/members/add/", {"identifier": "eddie@example.com", "role": "member"})
    membership = CompanyMembership.objects.get(user=tenants.editor, company=tenants.a)
    assert membership.is_active
    assert membership.role == "member"

    client.post(member_url(tenants.a, membership), {"role": "admin", "is_active": "on"})
    client.post(member_url(tenants.a, membership), {"role": "admin"})  # unticked: deactivated
    membership.refresh_from_db()
    assert (membership.role, membership.is_active) == ("admin", False)

    with time_machine.travel(datetime.datetime.now(tz=UTC) + datetime.timedelta(days=1)):
        client.post(member_url(tenants.a, membership), {"role": "member", "is_active": "on"})
    membership.refresh_from_db()
    assert membership.is_active
    assert membership.joined_at > datetime.datetime.now(tz=UTC)  # reactivated = newly joined (SPEC §2)

    messages = [
        entry.formatter.format_message(entry)
        for entry in ModelLogEntry.objects.filter(object_id=str(tenants.a.pk)).order_by("timestamp", "pk")
        if entry.action.startswith("wagtail_company_mfa.")
    ]
    assert messages == [
        "Added Eddie Editor as member",
        "Changed the role of Eddie Editor from member to administrator",
        "Removed Eddie Editor (membership deactivated)",
        "Reactivated Eddie Editor as member",
        "Changed the role of Eddie Editor from administrator to member",
    ]
    history = client.get(f"{BASE}/history/{tenants.a.pk}/").content.decode()
    assert "Removed Eddie Editor (membership deactivated)" in history


def test_site_history_report_shows_company_entries_to_a_superuser(client, tenants):
    sign_in(client, tenants.superuser)
    client.post(f"{BASE}/{tenants.a.pk}/members/add/", {"user": tenants.editor.pk, "role": "member"})
    page = client.get("/admin/reports/site-history/").content.decode()
    assert "Added Eddie Editor as member" in page


def test_company_admin_cannot_change_their_own_membership(client, tenants):
    sign_in(client, tenants.admin_a)
    url = member_url(tenants.a, tenants.admin_a_membership)
    assert client.get(url).status_code == 302  # Wagtail's "Sorry, you do not have permission"
    client.post(url, {"role": "member"})
    tenants.admin_a_membership.refresh_from_db()
    assert tenants.admin_a_membership.role == "admin"
    assert tenants.admin_a_membership.is_active


class TestMassAssignment:
    """SEC-41: only the role and the active flag of a membership change, and only in the URL's company."""

    def test_membership_form_ignores_company_and_user(self, client, tenants):
        sign_in(client, tenants.admin_a)
        client.post(
            member_url(tenants.a, tenants.member_a_membership),
            {
                "role": "admin",
                "is_active": "on",
                "company": tenants.b.pk,
                "company_id": tenants.b.pk,
                "user": tenants.superuser.pk,
                "joined_at": "2000-01-01",
            },
        )
        membership = CompanyMembership.objects.get(pk=tenants.member_a_membership.pk)
        assert (membership.company_id, membership.user_id) == (tenants.a.pk, tenants.member_a.pk)
        assert membership.role == "admin"
        assert membership.joined_at.year != 2000

    def test_membership_of_another_company_through_my_company_url(self, client, tenants):
        sign_in(client, tenants.admin_a)
        url = f"{BASE}/{tenants.a.pk}/members/{tenants.member_b_membership.pk}/"
        assert client.get(url).status_code == 404
        assert client.post(url, {"role": "admin", "is_active": "on"}).status_code == 404
        tenants.member_b_membership.refresh_from_db()
        assert tenants.member_b_membership.role == "member"

    def test_even_a_superuser_cannot_mix_company_and_membership(self, client, tenants):
        sign_in(client, tenants.superuser)
        url = f"{BASE}/{tenants.a.pk}/members/{tenants.member_b_membership.pk}/"
        assert client.post(url, {"role": "admin", "is_active": "on"}).status_code == 404

    def test_add_member_ignores_a_submitted_company(self, client, tenants):
        sign_in(client, tenants.admin_a)
        client.post(
            f"{BASE}/{tenants.a.pk}/members/add/",
            {"identifier": "eddie@example.com", "role": "member", "company": tenants.b.pk},
        )
        assert list(
            CompanyMembership.objects.filter(user=tenants.editor).values_list("company_id", flat=True)
        ) == [tenants.a.pk]

    @pytest.mark.parametrize("role", ["superuser", "owner", ""])
    def test_unknown_role_is_refused(self, client, tenants, role):
        sign_in(client, tenants.admin_a)
        client.post(f"{BASE}/{tenants.a.pk}/members/add/", {"identifier": "eddie@example.com", "role": role})
        client.post(member_url(tenants.a, tenants.member_a_membership), {"role": role, "is_active": "on"})
        assert not CompanyMembership.objects.filter(user=tenants.editor).exists()
        tenants.member_a_membership.refresh_from_db()
        assert tenants.member_a_membership.role == "member"

    def test_active_members_and_inactive_accounts_cannot_be_added(self, client, tenants):
        locked = make_user("locked")
        get_user_model().objects.filter(pk=locked.pk).update(is_active=False)
        sign_in(client, tenants.admin_a)
        client.post(
            f"{BASE}/{tenants.a.pk}/members/add/", {"identifier": "locked@example.com", "role": "member"}
        )
        client.post(f"{BASE}/{tenants.a.pk}/members/add/", {"identifier": "bob@example.com", "role": "admin"})
        assert not CompanyMembership.objects.filter(user=locked).exists()
        tenants.member_a_membership.refresh_from_db()
        assert tenants.member_a_membership.role == "member"
        assert CompanyMembership.objects.filter(user=tenants.member_a).count() == 1


def test_company_list_counts_members_and_enrolled(client, tenants):
    join(tenants.editor, tenants.a)
    sign_in(client, tenants.admin_a)
    page = client.get(f"{BASE}/").content.decode()
    assert "Required from" in page
    # Bluebird: Bert, Bob (enrolled) and Eddie (not).
    assert ">3<" in page.replace(" ", "").replace("\n", "")
    assert ">2<" in page.replace(" ", "").replace("\n", "")


def test_superuser_deletes_a_company(client, tenants):
    company = make_company("Short Lived")
    sign_in(client, tenants.superuser)
    assert client.post(f"{BASE}/delete/{company.pk}/").status_code == 302
    assert not Company.objects.filter(pk=company.pk).exists()


def test_members_page_query_count_does_not_grow_with_members(client, tenants):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from test_report import add_members

    sign_in(client, tenants.admin_a)

    def count_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(member_url(tenants.a)).status_code == 200
        return len(queries)

    add_members(tenants.a, 8, start=0)
    few = count_queries()
    add_members(tenants.a, 120, start=8)
    assert count_queries() == few


class TestCrossTenantUserDirectory:
    """
    The "Add a member" page shows a company administrator no one outside their own companies (SEC-39): they
    add a person by the exact email address or username, as an invitation works, and cannot search or list
    the site's users. Those who manage every company keep the search.
    """

    @pytest.fixture
    def cedar(self, tenants):
        cedar = make_company("Cedar Homes")
        self.cyril = make_user("cyril", first_name="Cyril", last_name="Cedar")
        join(self.cyril, cedar)
        return cedar

    def outsiders(self, tenants) -> list[str]:
        """What an Acme administrator must never read on their add page: Bluebird's, Cedar's and others'."""
        people = [tenants.superuser, tenants.admin_a, tenants.member_a, tenants.editor, self.cyril]
        return [text for person in people for text in (person.get_full_name(), person.email)]

    def add_url(self, company) -> str:
        return f"{BASE}/{company.pk}/members/add/"

    @pytest.mark.parametrize("query", ["ex", "e", "example.com", "Blue", "@", "a"])
    def test_cross_tenant_user_directory_search_shows_a_company_admin_nobody(
        self, client, tenants, cedar, query
    ):
        sign_in(client, tenants.admin_b)
        response = client.get(self.add_url(tenants.b), {"q": query})
        page = response.content.decode()
        assert response.status_code == 200
        for text in self.outsiders(tenants):
            assert text not in page, text
        assert 'name="identifier"' in page
        assert "does not search or list the site" in page

    @pytest.mark.parametrize(
        "identifier",
        ["ex", "eddie@example", "eddi", "@example.com", "Eddie Editor", "cyril@", "nobody@example.com"],
    )
    def test_cross_tenant_user_directory_partial_or_unknown_identifier_adds_and_reveals_nobody(
        self, client, tenants, cedar, identifier
    ):
        sign_in(client, tenants.admin_b)
        before = CompanyMembership.objects.count()
        response = client.post(self.add_url(tenants.b), {"identifier": identifier, "role": "member"})
        # What the administrator typed comes back in the field; nothing else about anyone does.
        page = response.content.decode().replace(f'value="{identifier}"', "")
        assert response.status_code == 200
        assert "No user with that email or username." in page
        for text in self.outsiders(tenants):
            assert text not in page, text
        assert CompanyMembership.objects.count() == before

    def test_cross_tenant_user_directory_inactive_account_gets_the_same_answer(self, client, tenants):
        locked = make_user("locked", first_name="Lou", last_name="Locked")
        get_user_model().objects.filter(pk=locked.pk).update(is_active=False)
        sign_in(client, tenants.admin_b)
        page = client.post(
            self.add_url(tenants.b), {"identifier": "locked@example.com", "role": "member"}
        ).content.decode()
        assert "No user with that email or username." in page
        assert "Lou Locked" not in page
        assert not CompanyMembership.objects.filter(user=locked).exists()

    def test_cross_tenant_user_directory_a_user_id_is_not_accepted_from_a_company_admin(
        self, client, tenants, cedar
    ):
        sign_in(client, tenants.admin_b)
        response = client.post(self.add_url(tenants.b), {"user": self.cyril.pk, "role": "member"})
        page = response.content.decode()
        assert "Enter the person&#x27;s email address or username." in page
        assert "Cyril Cedar" not in page
        assert not CompanyMembership.objects.filter(user=self.cyril, company=tenants.b).exists()

    @pytest.mark.parametrize("identifier", ["eddie@example.com", " EDDIE@Example.com ", "username"])
    def test_cross_tenant_user_directory_an_exact_email_or_username_adds(self, client, tenants, identifier):
        if identifier == "username":
            identifier = tenants.editor.get_username()
        sign_in(client, tenants.admin_b)
        response = client.post(self.add_url(tenants.b), {"identifier": identifier, "role": "admin"})
        assert response.status_code == 302
        membership = CompanyMembership.objects.get(user=tenants.editor, company=tenants.b)
        assert (membership.role, membership.is_active) == ("admin", True)
        messages = [str(message).strip() for message in client.get(response["Location"]).context["messages"]]
        assert "Eddie Editor added to Acme Builders as administrator." in messages

    def test_cross_tenant_user_directory_an_email_shared_by_two_accounts_is_ambiguous(self, client, tenants):
        User = get_user_model()
        if User.USERNAME_FIELD == "email":
            pytest.skip("email addresses are unique with this user model")
        make_user("eddie2", email="eddie@example.com", first_name="Second", last_name="Eddie")
        sign_in(client, tenants.admin_b)
        page = client.post(
            self.add_url(tenants.b), {"identifier": "eddie@example.com", "role": "member"}
        ).content.decode()
        assert "More than one account uses that email address. Enter the username instead." in page
        assert "Second Eddie" not in page
        assert "Eddie Editor" not in page
        assert not CompanyMembership.objects.filter(
            company=tenants.b, user__email="eddie@example.com"
        ).exists()

    @pytest.mark.parametrize("actor", ["superuser", "manage_all"])
    def test_cross_tenant_user_directory_those_who_manage_every_company_keep_the_search(
        self, client, tenants, cedar, actor
    ):
        from django.contrib.auth.models import Permission

        if actor == "manage_all":
            person = tenants.admin_a
            person.user_permissions.add(Permission.objects.get(codename="manage_all_companies"))
        else:
            person = tenants.superuser
        sign_in(client, person)
        page = client.get(self.add_url(tenants.b), {"q": "ed"}).content.decode()
        assert "Eddie Editor" in page
        assert "eddie@example.com" in page
        page = client.get(self.add_url(tenants.b), {"q": "cyril"}).content.decode()
        assert "Cyril Cedar" in page


def test_allowed_methods_phishing_resistant_only_is_saved_logged_and_shown(client, tenants):
    company = tenants.a
    sign_in(client, tenants.admin_a)
    page = client.get(f"{BASE}/edit/{company.pk}/").content.decode()
    assert 'name="allowed_methods"' in page
    assert "Phishing-resistant only (passkeys and security keys)" in page
    response = post_company_form(
        client, f"{BASE}/edit/{company.pk}/", policy_form(company, allowed_methods="phishing_resistant")
    )
    assert response.status_code == 302
    company.refresh_from_db()
    assert company.allowed_methods == "phishing_resistant"
    entry = ModelLogEntry.objects.get(action=company_flows.ACTION_POLICY_CHANGED)
    assert entry.data["changes"]["allowed_methods"] == {"old": "any", "new": "phishing_resistant"}
    history = client.get(f"{BASE}/history/{company.pk}/").content.decode()
    assert "Allowed methods: Any method → Phishing-resistant only" in history


def test_phishing_resistant_only_is_refused_without_passkeys_installed(client, tenants, monkeypatch):
    from wagtail_company_mfa import factors

    monkeypatch.setattr(
        factors, "enrolling_factors", lambda: tuple(f for f in factors.FACTORS.values() if f.key == "totp")
    )
    company = tenants.a
    sign_in(client, tenants.admin_a)
    response = post_company_form(
        client, f"{BASE}/edit/{company.pk}/", policy_form(company, allowed_methods="phishing_resistant")
    )
    assert response.status_code == 200
    assert "Passkeys are not set up on this site" in response.content.decode()
    company.refresh_from_db()
    assert company.allowed_methods == "any"
