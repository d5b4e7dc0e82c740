"""
What the package costs in SQL on the paths every request and every sign-in takes (docs/performance.md),
counted through the real stack: Wagtail's login, the middleware, the views. Compared with the same request
without the package's middleware where that is the fair baseline.
"""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from factories import enroll_user, login_fields, make_user, sign_in
from wagtail import hooks

from wagtail_company_mfa.models import UserSession

pytestmark = pytest.mark.django_db

GATE = "wagtail_company_mfa.middleware.CompanyMFAMiddleware"
#: A near-empty view that reads ``request.user`` (login_required).
READS_USER = "/media/protected/report.pdf"
PANEL = "data-mfa-upcoming"


def queries_for(client, url: str) -> int:
    client.get(url)  # warm: content types, templates
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def without_gate(settings, client) -> Client:
    """The same browser (session cookie) on a stack without the package's middleware."""
    settings.MIDDLEWARE = [name for name in django_settings.MIDDLEWARE if name != GATE]
    plain = Client()  # a new handler: the test client builds its middleware chain once
    plain.cookies = client.cookies
    return plain


@pytest.mark.parametrize("name", ["carol", "bob"])  # NOT_REQUIRED, UPCOMING
def test_unenrolled_users_pay_one_query_on_a_request_that_reads_the_user(client, demo, settings, name):
    """The gate asks "which factors, what do the companies require" in one query (SEC-37: every request)."""
    sign_in(client, demo.user(name))
    with_gate = queries_for(client, READS_USER)
    assert with_gate - queries_for(without_gate(settings, client), READS_USER) == 1


def test_a_verified_user_pays_no_query_of_ours(client, demo, settings):
    """Only django-otp's device lookup (SEC-36), which the baseline also makes for a verified session."""
    sign_in(client, demo.erin)
    with_gate = queries_for(client, READS_USER)
    assert with_gate == queries_for(without_gate(settings, client), READS_USER)


@pytest.mark.parametrize("name", ["carol", "bob"])
def test_dashboard_panel_reuses_the_gates_answer(client, demo, monkeypatch, name):
    """The upcoming panel asks nothing the gate has not asked already on this request."""
    sign_in(client, demo.user(name))
    client.get("/admin/")
    with CaptureQueriesContext(connection) as with_panel:
        response = client.get("/admin/")
    assert (PANEL in response.content.decode()) is (name == "bob")
    monkeypatch.setitem(hooks._hooks, "construct_homepage_panels", [])
    with CaptureQueriesContext(connection) as without_panel:
        client.get("/admin/")
    assert len(with_panel) == len(without_panel)


def test_sign_in_reminder_reuses_one_answer(client, demo):
    """The once-per-session message at sign-in costs the one combined query, not two."""
    with CaptureQueriesContext(connection) as captured:
        client.post("/admin/login/", login_fields(demo.bob))
    ours = [q["sql"] for q in captured if "wagtail_company_mfa_company" in q["sql"]]
    assert len(ours) == 1
    assert "UNION ALL" in ours[0]


def login_queries(client, user) -> CaptureQueriesContext:
    """The password step (following the redirects to the code page), then the code (SEC-30)."""
    client.get("/admin/login/")
    with CaptureQueriesContext(connection) as captured:
        response = client.post("/admin/login/", login_fields(user), follow=True)
        assert response.redirect_chain[-1][0].startswith("/admin/company-mfa/verify/")
        response = client.post("/admin/company-mfa/verify/", {"code": user.phone.code(), "next": "/admin/"})
        assert response.status_code == 302
        assert response["Location"] == "/admin/"
    return captured


def test_full_login_query_budget(client, demo):
    from django.contrib.auth import get_user_model
    from django.contrib.contenttypes.models import ContentType

    # As a running server has it after its first request: Django keeps content types for the process (the
    # audit log entry of the verification looks the user model's up).
    ContentType.objects.get_for_model(get_user_model())
    captured = login_queries(client, demo.erin)
    sql = [q["sql"] for q in captured]
    assert len(sql) <= 40, "\n".join(sql)
    # Wagtail's admin access check on the two MFA pages reads the permissions from the gate's query.
    assert not [s for s in sql if "auth_group_permissions" in s and "UNION" not in s], "\n".join(sql)
    # SEC-10: the code is still checked and counted under the row lock, in one transaction.
    assert sum("throttling_failure_count" in s and s.startswith("UPDATE") for s in sql) == 2
    # The registry (SEC-36): two statements at the password step (no update_or_create transaction), and the
    # verification moves the row to the new session key in one, not again in the middleware (was 16).
    registry_sql = [s for s in sql if "wagtail_company_mfa_usersession" in s]
    assert len(registry_sql) == 3, "\n".join(registry_sql)
    session_key = client.session.session_key
    assert list(UserSession.objects.filter(user=demo.erin).values_list("session_key", flat=True)) == [
        session_key
    ]


def test_login_registry_replaces_a_stale_row_for_the_same_key(client, demo):
    """A row already registered for the key (another user's, say) is replaced, not duplicated (SEC-36)."""
    from wagtail_company_mfa.base import registry

    registry.track("k" * 32, demo.alice)
    registry.track("k" * 32, demo.bob)
    assert list(UserSession.objects.filter(session_key="k" * 32).values_list("user_id", flat=True)) == [
        demo.bob.pk
    ]


def test_code_post_reads_the_device_once_under_the_lock(client, demo):
    """
    The throttle check (SEC-12), the counted failure (SEC-10) and the compare and step update (SEC-05,
    SEC-06) all use the one row read under the lock, in one transaction: the device is not read first.
    """
    client.post("/admin/login/", login_fields(demo.erin))
    with CaptureQueriesContext(connection) as captured:
        response = client.post(
            "/admin/company-mfa/verify/", {"code": demo.erin.phone.code(), "next": "/admin/"}
        )
    assert response.status_code == 302
    device_reads = [
        q["sql"]
        for q in captured
        if q["sql"].startswith('SELECT "wagtail_company_mfa_authenticatordevice"."id"')
    ]
    assert len(device_reads) == 1, "\n".join(device_reads)
    if connection.vendor == "postgresql":
        assert "FOR UPDATE" in device_reads[0]


def test_sign_in_goes_straight_to_the_code_page(client, demo):
    """SEC-28: the password step sends an enrolled user to the code page, not through a gated hop first."""
    response = client.post("/admin/login/", {**login_fields(demo.erin), "next": "/admin/pages/"})
    assert response.status_code == 302
    assert response["Location"] == "/admin/company-mfa/verify/?next=%2Fadmin%2Fpages%2F"
    # The target is still behind the gate.
    assert client.get("/admin/pages/")["Location"] == "/admin/company-mfa/verify/?next=%2Fadmin%2Fpages%2F"


def test_sign_in_shortcut_leaves_other_targets_alone(client, demo):
    """Only an admin page behind the gate is shortened: a user with nothing owed keeps their target."""
    response = client.post("/admin/login/", {**login_fields(demo.carol), "next": "/admin/pages/"})
    assert response["Location"] == "/admin/pages/"
    # A page outside the Wagtail admin is left to the gate there (a public page is served as to anyone).
    response = Client().post("/admin/login/", {**login_fields(demo.erin), "next": READS_USER})
    assert response["Location"] == READS_USER


def test_verification_registry_move_never_breaks_the_unique_key(rf, demo):
    """
    A row already registered for the new key (stale) makes the one-statement move fall back to the full
    follow (SEC-36): no IntegrityError, the old key's row goes, the new key is registered once.
    """
    from importlib import import_module

    from wagtail_company_mfa.base import registry

    request = rf.get("/")
    request.session = import_module(django_settings.SESSION_ENGINE).SessionStore()
    request.session["_auth_user_id"] = str(demo.erin.pk)
    request.session.save()
    old_key = request.session.session_key
    registry.track(old_key, demo.erin)
    request.session.cycle_key()
    registry.track(request.session.session_key, demo.bob)  # a stale row for the new key
    registry.retrack(request, old_key)
    rows = list(UserSession.objects.values_list("session_key", flat=True))
    assert rows == [request.session.session_key]


@pytest.mark.parametrize("name", ["carol", "bob", "dave", "admin"])  # members (two companies), a superuser
def test_the_gates_query_is_built_once_and_answers_as_the_orm_does(client, demo, monkeypatch, name):
    """The UNION is compiled once per process (base/compiled.py); each request binds the user id only."""
    from wagtail_company_mfa import factors
    from wagtail_company_mfa.companies import company_rows, policy

    user = demo.user(name)
    sign_in(client, user)
    client.get(READS_USER)  # compiles it, if no earlier test did

    def rebuilt(*args, **kwargs):
        raise AssertionError("the gate's query was built again")

    # Building the query calls rows_of (a module global): a rebuild would raise. (CompiledQueries holds the
    # builder itself, so patching the builder would prove nothing.)
    with monkeypatch.context() as patch, CaptureQueriesContext(connection) as captured:
        patch.setattr(company_rows, "rows_of", rebuilt)
        assert client.get(READS_USER).status_code in (200, 302)
    assert sum("UNION ALL" in q["sql"] for q in captured) == 1
    # The same answer as the ORM's two separate questions.
    requirement, keys = policy.standing_for(user)
    assert requirement == policy.requirement_for(user)
    assert keys == factors.factors_of(user)


def _pending(client, user):
    """A session that passed the password step only (Django's own login; Wagtail's refuses non-editors)."""
    client.force_login(user)
    return client


@pytest.mark.parametrize("access", ["group", "own permission", "none", "another group"])
def test_the_mfa_pages_keep_wagtails_access_check(client, demo, access):
    """The permissions read by the gate's query give the answer ModelBackend's own queries gave."""

    user = make_user(f"check-{access.replace(' ', '-')}", admin=access == "group")
    if access == "own permission":
        user.user_permissions.add(Permission.objects.get(codename="access_admin"))
    if access == "another group":
        # A group without Wagtail's admin permission: no access.
        user.groups.add(Group.objects.create(name="Readers"))
    user.phone, _codes = enroll_user(user)
    _pending(client, user)
    with CaptureQueriesContext(connection) as captured:
        response = client.get("/admin/company-mfa/verify/")
    own_queries = [
        q["sql"] for q in captured if "auth_group_permissions" in q["sql"] and "UNION" not in q["sql"]
    ]
    assert not own_queries, own_queries
    if access in ("group", "own permission"):
        assert response.status_code == 200
    else:
        # Wagtail's answer to a signed-in user without admin access: back to the login page.
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")


def test_the_access_check_is_left_to_django_where_a_backend_reads_permissions_its_own_way(
    client, demo, settings
):
    """A ModelBackend subclass may compute permissions differently: the gate then reads none for it."""
    settings.AUTHENTICATION_BACKENDS = ["test_hot_paths.CountingBackend"]
    CountingBackend.asked = 0
    _pending(client, demo.erin)
    response = client.get("/admin/company-mfa/verify/")
    assert response.status_code == 200
    assert CountingBackend.asked >= 1


class CountingBackend(ModelBackend):
    asked = 0

    def _get_group_permissions(self, user_obj):
        CountingBackend.asked += 1
        return super()._get_group_permissions(user_obj)
