"""
Forced browsing after the password step (SEC-28, SEC-48): a password-only session of a user who must use MFA
reaches nothing but the allow-list, site-wide.
"""

from __future__ import annotations

import pytest
from conftest import make_user, password_login
from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory

from wagtail_company_mfa import middleware as mfa_middleware
from wagtail_company_mfa.middleware import CompanyMFAMiddleware

pytestmark = pytest.mark.django_db

GATED_URLS = [
    "/admin/",
    "/admin/pages/",
    "/admin/pages/2/edit/",
    "/admin/pages/2/",
    "/admin/api/main/pages/",
    "/admin/api/main/pages/2/",
    "/admin/account/",
    "/admin/account/change_password/",
    "/admin/users/",
    "/admin/documents/",
    "/admin/images/",
    "/admin/reports/site-history/",
    "/admin/company-mfa/not-a-page/",
    "/django-admin/",
    "/django-admin/auth/user/",
    "/django-admin/login/",
    "/",  # Wagtail's page serving: public and private pages alike
    "/documents/1/private.pdf",
]

ALLOWED_URLS = [
    "/admin/login/",
    "/admin/password_reset/",
    "/admin/jsi18n/",
    "/admin/sprite/",
    "/static/wagtailadmin/css/core.css",
]


@pytest.fixture(params=["enrolled", "required"])
def pending_client(request, client, enrolled_user, company_required):
    """A browser past the password step only: enrolled (must verify) or required but not enrolled."""
    if request.param == "enrolled":
        password_login(client, enrolled_user)
        client.mfa_target = "/admin/company-mfa/verify/"
    else:
        member = make_user("alice")
        from conftest import join

        join(member, company_required)
        password_login(client, member)
        client.mfa_target = "/admin/company-mfa/required/"
    return client


@pytest.mark.parametrize("url", GATED_URLS)
def test_html_requests_are_redirected_to_the_mfa_page(pending_client, url):
    response = pending_client.get(url)
    assert response.status_code == 302, url
    assert response.url.startswith(pending_client.mfa_target)
    assert "next=" in response.url


@pytest.mark.parametrize("url", GATED_URLS)
def test_posts_are_refused_too(pending_client, url):
    response = pending_client.post(url, {"title": "x"})
    assert response.status_code == 302
    assert response.url == pending_client.mfa_target  # no `next` for a POST


@pytest.mark.parametrize("url", GATED_URLS)
@pytest.mark.parametrize(
    "headers",
    [{"HTTP_X_REQUESTED_WITH": "XMLHttpRequest"}, {"HTTP_ACCEPT": "application/json"}],
)
def test_xhr_and_json_get_403_json(pending_client, url, headers):
    response = pending_client.get(url, **headers)
    assert response.status_code == 403
    body = response.json()
    assert body["error"] in ("mfa_verify_required", "mfa_enroll_required")
    assert body["location"] == pending_client.mfa_target
    assert body["detail"]


@pytest.mark.parametrize("url", ALLOWED_URLS)
def test_allow_list_is_reachable(pending_client, url):
    response = pending_client.get(url)
    if response.status_code == 302:
        # Wagtail's login page sends a signed-in user on to the dashboard, which the gate then stops.
        assert not response.url.startswith(pending_client.mfa_target), url
    else:
        assert response.status_code in (200, 404), url  # 404: static files are not collected in tests


def test_logout_is_reachable(pending_client):
    response = pending_client.post("/admin/logout/")
    assert response.status_code == 302
    assert response.url.startswith("/admin/login/")


def test_extra_allowed_url_names(pending_client, settings):
    settings.WAGTAIL_COMPANY_MFA_ALLOWED_URL_NAMES = ["wagtailadmin_home"]
    assert pending_client.get("/admin/").status_code == 200


def test_admin_only_enforcement_leaves_the_rest_of_the_site(pending_client, settings):
    settings.WAGTAIL_COMPANY_MFA_ENFORCE = "admin"
    assert pending_client.get("/admin/").status_code == 302
    assert pending_client.get("/").status_code == 200
    django_admin = pending_client.get("/django-admin/")
    assert django_admin.status_code == 302
    assert django_admin.url.startswith("/django-admin/login/")  # Django's own answer, not the gate


def test_not_required_users_without_a_device_pass_everywhere(client, company_off):
    from conftest import join

    carol = make_user("carol")
    join(carol, company_off)
    password_login(client, carol)
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/pages/").status_code == 200
    assert client.get("/").status_code == 200


def test_anonymous_requests_are_left_to_the_site(client):
    assert client.get("/").status_code == 200
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response.url.startswith("/admin/login/")


def test_an_error_while_deciding_fails_closed(client, enrolled_user, monkeypatch, caplog):  # SEC-46
    password_login(client, enrolled_user)

    def broken(user):
        raise RuntimeError("database gone")

    monkeypatch.setattr(mfa_middleware.flows, "is_enrolled", broken)
    response = client.get("/admin/pages/")
    assert response.status_code == 302
    assert response.url == "/admin/login/"
    assert "_auth_user_id" not in client.session
    assert "treating it as unverified" in caplog.text


def test_unresolved_requests_without_user_pass_through():
    request = RequestFactory().get("/anything/")
    request.user = AnonymousUser()
    request.resolver_match = None
    assert CompanyMFAMiddleware(lambda r: None).process_view(request, lambda r: None, (), {}) is None


def test_verified_session_passes(verified_client):
    for url in ("/admin/", "/admin/pages/", "/admin/account/", "/"):
        assert verified_client.get(url).status_code == 200, url
