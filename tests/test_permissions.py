"""
Who may do what in the company administration, enforced on the server (SPEC §3.7, SEC-39, SEC-40, SEC-41):
every URL, by GET and by POST, from each side: a superuser, the administrator of company A (on A and on B),
a plain member, and an editor in no company. A refused request changes nothing.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.cache import cache
from factories import enroll_user, make_company, make_user, post_company_form, sign_in

from wagtail_company_mfa.companies import permissions, reset_rule
from wagtail_company_mfa.models import AuthenticatorDevice, Company, CompanyMembership

pytestmark = pytest.mark.django_db

BASE = "/admin/company-mfa/companies"

#: A refusal for something the actor may never do: Wagtail's "Sorry, you do not have permission to access
#: this area." (a redirect to the dashboard with that message), or a plain 403.
DENIED = "denied"

#: Expected statuses, in this order: superuser, administrator of A. A plain member and an editor in no
#: company are denied everywhere. A company or person that is not the actor's is "not found" (404).
ROUTES = [
    # name, URL, POST data, (superuser GET, admin-of-A GET), (superuser POST, admin-of-A POST)
    ("index", "/", {}, (200, 200), (405, 405)),
    ("index results", "/results/", {}, (200, 200), (405, 405)),
    ("add company", "/new/", {}, (200, DENIED), (200, DENIED)),
    ("edit A", "/edit/{a}/", "policy_a", (200, 200), (302, 302)),
    ("edit B", "/edit/{b}/", "policy_b", (200, 404), (302, 404)),
    ("delete C", "/delete/{c}/", {}, (200, DENIED), (302, DENIED)),
    ("history A", "/history/{a}/", {}, (200, 200), (405, 405)),
    ("history B", "/history/{b}/", {}, (200, 404), (405, 404)),
    ("history results B", "/history-results/{b}/", {}, (200, 404), (405, 404)),
    ("members A", "/{a}/members/", {}, (200, 200), (405, 405)),
    ("members B", "/{b}/members/", {}, (200, 404), (405, 404)),
    ("members results B", "/{b}/members/results/", {}, (200, 404), (405, 404)),
    ("add member A", "/{a}/members/add/?q=ed", "add_editor", (200, 200), (302, 302)),
    ("add member B", "/{b}/members/add/?q=ed", "add_editor", (200, 404), (302, 404)),
    ("edit member A", "/{a}/members/{membership_a}/", "member_role", (200, 200), (302, 302)),
    ("edit member B", "/{b}/members/{membership_b}/", "member_role", (200, 404), (302, 404)),
    ("report A", "/{a}/report/", {}, (200, 200), (405, 405)),
    ("report B", "/{b}/report/", {}, (200, 404), (405, 404)),
    ("report results B", "/{b}/report/results/", {}, (200, 404), (405, 404)),
    ("report CSV B", "/{b}/report/?export=csv", {}, (200, 404), (405, 404)),
    ("reset member of A", "/reset/{member_a}/?company={a}", "confirm", (200, 200), (302, 302)),
    ("reset member of B", "/reset/{member_b}/?company={b}", "confirm", (200, 404), (302, 404)),
    ("reset member of B, no company", "/reset/{member_b}/", "confirm", (200, 404), (302, 404)),
    ("policy preview A", "/{a}/preview/?require_mfa=on", {}, (200, 200), (405, 405)),
    ("policy preview B", "/{b}/preview/?require_mfa=on", {}, (200, 404), (405, 404)),
    ("policy preview, new company", "/preview/?require_mfa=on", {}, (200, DENIED), (405, DENIED)),
]


def assert_status(response, expected) -> None:
    if expected == DENIED:
        if response.status_code == 302:
            assert response["Location"] == "/admin/", response["Location"]
            messages = [str(message).strip() for message in response.wsgi_request._messages]
            assert "Sorry, you do not have permission to access this area." in messages
        else:
            assert response.status_code == 403, response.content[:300]
    else:
        assert response.status_code == expected, response.content[:300]


def url_for(tenants, template: str) -> str:
    return BASE + template.format(
        a=tenants.a.pk,
        b=tenants.b.pk,
        c=tenants.c.pk,
        member_a=tenants.member_a.pk,
        member_b=tenants.member_b.pk,
        membership_a=tenants.member_a_membership.pk,
        membership_b=tenants.member_b_membership.pk,
    )


def post_data(tenants, name) -> dict:
    if isinstance(name, dict):
        return name
    company_form = {
        "require_mfa": "on",
        "new_member_grace_days": "0",
        "allowed_methods": "any",
        "trust_browser_for": "0",
        "time_zone": "UTC",
    }
    return {
        "policy_a": {
            **company_form,
            "enforcement_date": "2031-01-01",
            "name": "Bluebird",
            "slug": "bluebird",
        },
        "policy_b": {**company_form, "enforcement_date": "2031-01-01", "name": "Acme", "slug": "acme"},
        # A superuser adds from the search (by id); a company administrator by the exact email address.
        "add_editor": {"user": tenants.editor.pk, "identifier": tenants.editor.email, "role": "member"},
        "member_role": {"role": "admin", "is_active": "on"},
        "confirm": {"confirm": "on"},
    }[name]


def state(tenants) -> dict:
    """Everything a refused request could have changed."""
    return {
        "companies": list(Company.objects.order_by("pk").values()),
        "memberships": list(CompanyMembership.objects.order_by("pk").values()),
        "authenticators": sorted(AuthenticatorDevice.objects.values_list("user_id", flat=True)),
    }


@pytest.fixture
def world(tenants):
    tenants.c = make_company("Cedar Homes")
    cache.clear()
    return tenants


def actor_of(world, name):
    return {"superuser": world.superuser, "admin_a": world.admin_a}[name]


@pytest.mark.parametrize(
    ("name", "template", "data", "get_codes", "post_codes"), ROUTES, ids=[r[0] for r in ROUTES]
)
@pytest.mark.parametrize("actor", ["superuser", "admin_a"])
def test_allowed_and_cross_company_get(client, world, actor, name, template, data, get_codes, post_codes):
    sign_in(client, actor_of(world, actor))
    expected = get_codes[0 if actor == "superuser" else 1]
    before = state(world)
    response = client.get(url_for(world, template))
    assert_status(response, expected)
    assert state(world) == before  # SEC-42: a GET never changes anything


@pytest.mark.parametrize(
    ("name", "template", "data", "get_codes", "post_codes"), ROUTES, ids=[r[0] for r in ROUTES]
)
@pytest.mark.parametrize("actor", ["superuser", "admin_a"])
def test_allowed_and_cross_company_post(client, world, actor, name, template, data, get_codes, post_codes):
    sign_in(client, actor_of(world, actor))
    expected = post_codes[0 if actor == "superuser" else 1]
    before = state(world)
    # A company form that would email members is confirmed, as its button does.
    response = post_company_form(client, url_for(world, template), post_data(world, data))
    assert_status(response, expected)
    if expected in (DENIED, 404, 405):
        assert state(world) == before  # SEC-39, SEC-40: refused means nothing changed


@pytest.mark.parametrize(
    ("name", "template", "data", "get_codes", "post_codes"), ROUTES, ids=[r[0] for r in ROUTES]
)
@pytest.mark.parametrize("actor", ["member", "editor"])
def test_member_and_editor_are_denied_everywhere(
    client, world, actor, name, template, data, get_codes, post_codes
):
    # A plain member of A and an editor in no company: no Companies URL works, by GET or POST.
    sign_in(client, world.member_a if actor == "member" else world.editor)
    before = state(world)
    assert_status(client.get(url_for(world, template)), DENIED)
    assert_status(client.post(url_for(world, template), post_data(world, data)), DENIED)
    assert state(world) == before


def test_anonymous_is_sent_to_login(client, world):
    response = client.get(f"{BASE}/{world.a.pk}/members/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_company_admin_lists_only_their_companies(client, world):
    sign_in(client, world.admin_a)
    page = client.get(f"{BASE}/").content.decode()
    assert "Bluebird Contracting" in page
    assert "Acme Builders" not in page
    assert "Cedar Homes" not in page
    assert f"{BASE}/new/" not in page  # no "Add a company" for a company administrator


def test_superuser_lists_every_company(client, world):
    sign_in(client, world.superuser)
    page = client.get(f"{BASE}/").content.decode()
    assert all(name in page for name in ("Acme Builders", "Bluebird Contracting", "Cedar Homes"))


@pytest.mark.parametrize(
    ("actor", "shown"), [("superuser", True), ("admin_a", True), ("member_a", False), ("editor", False)]
)
def test_companies_menu_only_for_those_who_manage_a_company(client, world, actor, shown):
    sign_in(client, getattr(world, actor))
    page = client.get("/admin/").content.decode()
    assert (f'"{BASE}/"' in page) is shown


def test_menu_follows_a_new_administrator_at_once(client, world):
    sign_in(client, world.editor)
    assert f'"{BASE}/"' not in client.get("/admin/").content.decode()
    CompanyMembership.objects.create(user=world.editor, company=world.c, role=CompanyMembership.Role.ADMIN)
    assert f'"{BASE}/"' in client.get("/admin/").content.decode()


def test_deactivated_administrator_loses_access_on_the_next_request(client, world):
    # SEC-37: the check is made on each request from the database, not at sign-in.
    sign_in(client, world.admin_a)
    assert client.get(f"{BASE}/{world.a.pk}/members/").status_code == 200
    world.admin_a_membership.is_active = False
    world.admin_a_membership.save()
    assert_status(client.get(f"{BASE}/{world.a.pk}/members/"), DENIED)


def test_manage_all_companies_through_a_group(client, world):
    # A site can give "manage all companies" to a group in Settings → Groups.
    group = Group.objects.create(name="Company managers")
    group.permissions.add(Permission.objects.get(codename="manage_all_companies"))
    world.editor.groups.add(group)
    # Managing every company means answering to every company's MFA requirement (Acme's has passed).
    world.editor.phone, _codes = enroll_user(world.editor)
    sign_in(client, world.editor)
    assert client.get(f"{BASE}/edit/{world.b.pk}/").status_code == 200
    assert client.get(f"{BASE}/new/").status_code == 200
    assert client.get(f"{BASE}/{world.b.pk}/report/").status_code == 200


def test_the_permission_is_offered_in_the_groups_screen(client, world):
    sign_in(client, world.superuser)
    page = client.get("/admin/groups/new/").content.decode()
    assert "Can manage every company" in page
    # Django's add/change/delete permissions on companies mean nothing here, so they are not offered.
    assert 'value="{}"'.format(Permission.objects.get(codename="add_company").pk) not in page


def test_company_admin_cannot_rename_or_change_slug(client, world):
    # SEC-41: the fields are not in the form at all for a company administrator; posting them does nothing.
    sign_in(client, world.admin_a)
    page = client.get(f"{BASE}/edit/{world.a.pk}/").content.decode()
    assert 'name="slug"' not in page
    assert 'name="name"' not in page
    response = post_company_form(
        client,
        f"{BASE}/edit/{world.a.pk}/",
        {
            "name": "Hijacked",
            "slug": "hijacked",
            "require_mfa": "on",
            "enforcement_date": "2031-01-01",
            "time_zone": "Europe/Amsterdam",
            "new_member_grace_days": "0",
            "allowed_methods": "any",
            "trust_browser_for": "0",
        },
    )
    assert response.status_code == 302
    world.a.refresh_from_db()
    assert (world.a.name, world.a.slug) == ("Bluebird Contracting", "bluebird-contracting")
    assert str(world.a.enforcement_date) == "2031-01-01"


class TestPolicyObject:
    """The permission policy Wagtail's own views consult, checked directly."""

    def test_actions(self, world):
        policy = permissions.company_permission_policy
        assert policy.user_has_permission(world.superuser, "add")
        assert policy.user_has_permission(world.admin_a, "change")
        assert not policy.user_has_permission(world.admin_a, "add")
        assert not policy.user_has_permission(world.admin_a, "delete")
        assert not policy.user_has_permission(world.member_a, "change")
        assert not policy.user_has_permission(world.editor, "change")

    def test_instances(self, world):
        policy = permissions.company_permission_policy
        assert policy.user_has_permission_for_instance(world.admin_a, "change", world.a)
        assert not policy.user_has_permission_for_instance(world.admin_a, "change", world.b)
        assert not policy.user_has_permission_for_instance(world.admin_a, "delete", world.a)
        assert list(policy.instances_user_has_any_permission_for(world.admin_a, ["change"])) == [world.a]
        assert set(policy.instances_user_has_any_permission_for(world.superuser, ["delete"])) == {
            world.a,
            world.b,
            world.c,
        }

    def test_users(self, world):
        policy = permissions.company_permission_policy
        assert set(policy.users_with_any_permission(["change"])) == {
            world.superuser,
            world.admin_a,
            world.admin_b,
        }
        assert set(policy.users_with_any_permission_for_instance(["change"], world.a)) == {
            world.superuser,
            world.admin_a,
        }
        assert set(policy.users_with_any_permission(["add"])) == {world.superuser}

    def test_inactive_accounts_have_no_rights(self, world):
        world.superuser.is_active = False
        assert not permissions.can_manage_all(world.superuser)
        assert not permissions.can_manage_company(world.superuser, world.a)


class TestResetRules:
    """SEC-40, person by person."""

    def test_superuser_resets_anyone_but_themself(self, world):
        other_superuser = make_user("root2", superuser=True)
        assert reset_rule.can_reset(world.superuser, world.member_b)
        assert reset_rule.can_reset(world.superuser, other_superuser)
        assert not reset_rule.can_reset(world.superuser, world.superuser)

    def test_company_admin_resets_their_own_members_only(self, world):
        assert reset_rule.can_reset(world.admin_a, world.member_a)
        assert reset_rule.can_reset(world.admin_a, world.member_a, world.a)
        assert not reset_rule.can_reset(world.admin_a, world.member_b)
        assert not reset_rule.can_reset(world.admin_a, world.member_a, world.b)
        assert not reset_rule.can_reset(world.admin_a, world.admin_a)

    def test_company_admin_never_resets_a_superuser(self, world):
        CompanyMembership.objects.create(user=world.superuser, company=world.a)
        assert "superuser" in reset_rule.reset_refusal(world.admin_a, world.superuser)

    def test_company_admin_never_resets_a_manager_of_all_companies(self, world):
        world.member_a.user_permissions.add(Permission.objects.get(codename="manage_all_companies"))
        target = type(world.member_a).objects.get(pk=world.member_a.pk)  # fresh permission cache
        assert "administers every company" in reset_rule.reset_refusal(world.admin_a, target)

    def test_member_of_another_company_too_needs_its_administrator(self, world):
        # A reset strips the factor every company of the person relies on (cross-tenant, SEC-40).
        CompanyMembership.objects.create(user=world.member_a, company=world.b)
        assert "company you do not administer" in reset_rule.reset_refusal(world.admin_a, world.member_a)
        CompanyMembership.objects.create(
            user=world.admin_a, company=world.b, role=CompanyMembership.Role.ADMIN
        )
        admin = type(world.admin_a).objects.get(pk=world.admin_a.pk)
        assert reset_rule.can_reset(admin, world.member_a)

    def test_inactive_membership_does_not_count(self, world):
        world.member_a_membership.is_active = False
        world.member_a_membership.save()
        assert not reset_rule.can_reset(world.admin_a, world.member_a)

    def test_bulk_checker_agrees_with_the_rules(self, world):
        CompanyMembership.objects.create(user=world.superuser, company=world.a)
        people = [world.superuser, world.admin_a, world.member_a, world.admin_b, world.member_b, world.editor]
        for actor in (world.superuser, world.admin_a, world.admin_b, world.member_a):
            checker = reset_rule.ResetChecker(actor)
            for target in people:
                assert checker.may_reset(target) == reset_rule.can_reset(actor, target), (actor, target)
