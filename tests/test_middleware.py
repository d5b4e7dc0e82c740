"""
Forced browsing after the password step (SEC-28, SEC-48): a password-only session of a user who must use MFA
reaches nothing but the allow-list, site-wide.
"""

from __future__ import annotations

import pytest
from django.test import Client, RequestFactory
from factories import make_user, password_login

from wagtail_company_mfa.base import gate
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
        from factories import join

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


@pytest.fixture
def private_page(db):
    """A page only signed-in users may see (Wagtail's "private, accessible to logged-in users")."""
    from wagtail.models import Page, PageViewRestriction

    home = Page.objects.get(depth=2)
    page = home.add_child(instance=Page(title="Members only", slug="members-only"))
    PageViewRestriction.objects.create(page=page, restriction_type=PageViewRestriction.LOGIN)
    return page


@pytest.fixture
def private_document(db):
    from django.core.files.base import ContentFile
    from wagtail.documents.models import Document
    from wagtail.models import Collection, CollectionViewRestriction

    collection = Collection.get_first_root_node().add_child(name="Contracts")
    CollectionViewRestriction.objects.create(
        collection=collection, restriction_type=CollectionViewRestriction.LOGIN
    )
    document = Document(title="Contract", collection=collection)
    document.file.save("contract.txt", ContentFile(b"confidential terms"))
    return document


def test_private_pages_are_refused(pending_client, private_page):
    response = pending_client.get(private_page.url)
    assert response.status_code == 302
    assert response.url.startswith(pending_client.mfa_target)
    assert b"Members only" not in response.content


def test_private_documents_are_refused(pending_client, private_document):
    response = pending_client.get(private_document.url)
    assert response.status_code == 302
    assert response.url.startswith(pending_client.mfa_target)
    assert b"confidential" not in b"".join(getattr(response, "streaming_content", [response.content]))


def test_private_page_is_served_after_verification(verified_client, private_page):
    assert verified_client.get(private_page.url).status_code == 200


def test_views_see_an_anonymous_user_while_pending(pending_client):  # SEC-28
    from django.contrib.auth.middleware import AuthenticationMiddleware
    from django.contrib.auth.views import redirect_to_login
    from django.contrib.sessions.backends.db import SessionStore
    from django.http import HttpResponse
    from django_otp.middleware import OTPMiddleware

    seen = {}

    def view(request):
        seen["anonymous"] = request.user.is_anonymous
        if request.user.is_anonymous:
            return redirect_to_login(request.get_full_path())
        return HttpResponse("members' secrets")

    gate = CompanyMFAMiddleware(view)
    request = RequestFactory().get("/some/members/view/")
    request.session = SessionStore(pending_client.session.session_key)
    request.resolver_match = None

    response = AuthenticationMiddleware(OTPMiddleware(gate))(request)

    assert seen["anonymous"] is True
    assert response.status_code == 302
    assert response.url.startswith(pending_client.mfa_target)


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
    from factories import join

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

    monkeypatch.setattr(gate, "standing_for", broken)
    response = client.get("/admin/pages/")
    assert response.status_code == 302
    assert response.url == "/admin/login/"
    assert "_auth_user_id" not in client.session
    assert "treating it as unverified" in caplog.text


def test_requests_without_user_pass_through():
    request = RequestFactory().get("/anything/")
    response = CompanyMFAMiddleware(lambda r: "the view's answer")(request)
    assert response == "the view's answer"
    assert not hasattr(request, "user")


def test_verified_session_passes(verified_client):
    for url in ("/admin/", "/admin/pages/", "/admin/account/", "/"):
        assert verified_client.get(url).status_code == 200, url


# A half-signed-in visitor sees the public site as an anonymous visitor does (SEC-28) -----------------------


def anonymous_get(url: str):
    return Client().get(url)


def test_half_signed_in_visitor_keeps_the_public_home_page(pending_client, enrolled_user):  # SEC-28
    # The test site's page template reads the user ("Signed in as ...", {% wagtailuserbar %}).
    response = pending_client.get("/")
    assert response.status_code == 200
    assert response.content == anonymous_get("/").content
    assert b"Signed in as" not in response.content
    assert b"w-userbar" not in response.content
    # Made for an anonymous user on a signed-in session: caches key it on the session cookie.
    assert "Cookie" in response["Vary"]


def test_half_signed_in_visitor_keeps_the_public_api(pending_client):  # SEC-28
    response = pending_client.get("/api/v2/pages/")
    anonymous = anonymous_get("/api/v2/pages/")
    assert anonymous.status_code == 200
    assert response.status_code == 200
    assert response.json() == anonymous.json()
    assert response.json()["meta"]["total_count"] >= 1


def test_half_signed_in_visitor_is_sent_to_mfa_by_an_authenticated_json_api(pending_client):  # SEC-28
    response = pending_client.get("/api/account/")
    assert response.status_code == 403
    body = response.json()
    assert body["error"] in ("mfa_verify_required", "mfa_enroll_required")
    assert body["location"] == pending_client.mfa_target
    assert "email" not in body


def test_half_signed_in_visitor_is_sent_to_mfa_by_login_required_views(pending_client, private_page):
    for url in (private_page.url, "/admin/", "/django-admin/", "/django-admin/login/"):
        response = pending_client.get(url)
        assert response.status_code == 302, url
        assert response.url.startswith(pending_client.mfa_target), url


def test_verified_visitor_sees_their_own_home_page(verified_client, enrolled_user):
    response = verified_client.get("/")
    assert response.status_code == 200
    assert f"Signed in as {enrolled_user.get_username()}".encode() in response.content
    assert b"w-userbar" in response.content


USER_HEADER_MIDDLEWARE = "testapp.middleware.UserHeaderMiddleware"


def same_browser(client):
    """A client with ``client``'s cookies and a middleware chain built from the settings as they are now."""
    browser = Client()
    browser.cookies = client.cookies
    browser.mfa_target = client.mfa_target
    return browser


def test_middleware_after_the_gate_reads_the_gated_user(pending_client, enrolled_user, settings):  # SEC-28
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, USER_HEADER_MIDDLEWARE]
    pending_client = same_browser(pending_client)
    assert pending_client.get("/")["X-Seen-User"] == "anonymous"
    refused = pending_client.get("/admin/pages/")
    assert refused.status_code == 302
    assert refused.url.startswith(pending_client.mfa_target)
    # On the MFA page itself the session is its real user, however early the user is read.
    mfa_page = pending_client.get(pending_client.mfa_target)
    assert mfa_page.status_code == 200
    assert mfa_page["X-Seen-User"] != "anonymous"


# The gate is never skipped by path prefix (SEC-28) ----------------------------------------------------------


@pytest.mark.parametrize("slug", ["media", "static"])
def test_gate_not_skipped_for_a_private_page_under_media_or_static_url(pending_client, slug):  # SEC-28
    from wagtail.models import Page, PageViewRestriction

    home = Page.objects.get(depth=2)
    page = home.add_child(instance=Page(title="Private files page", slug=slug))
    PageViewRestriction.objects.create(page=page, restriction_type=PageViewRestriction.LOGIN)
    assert page.url == f"/{slug}/"

    response = pending_client.get(page.url)
    assert response.status_code == 302
    assert response.url.startswith(pending_client.mfa_target)
    assert b"Private files page" not in response.content


def test_gate_not_skipped_for_a_login_required_view_under_media_url(pending_client):  # SEC-28
    response = pending_client.get("/media/protected/payroll.pdf")
    assert response.status_code == 302
    assert response.url.startswith(pending_client.mfa_target)
    assert b"protected file" not in response.content


@pytest.fixture
def media_file(settings):
    """A file in MEDIA_ROOT, served by Django's ``serve`` view at /media/files/ in the test URLconf."""
    import pathlib

    path = pathlib.Path(settings.MEDIA_ROOT) / "gate-test-logo.txt"
    path.parent.mkdir(parents=True, exist_ok=True)  # MEDIA_ROOT is made by the first upload otherwise
    path.write_text("a public file")
    yield "/media/files/gate-test-logo.txt"
    path.unlink()


def test_media_files_are_allowed_by_their_view(pending_client, media_file):  # SEC-28
    response = pending_client.get(media_file)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"a public file"
    # Allowed by the resolved view (Django's file server): whoever reads the user afterwards gets the
    # session's real user.
    assert response.wsgi_request.user.is_authenticated


# ENFORCE = "admin" decides "is this the admin?" by resolved view, in every language (SEC-28) --------------


@pytest.fixture
def i18n_client(pending_client, settings):
    """The pending browser on the test site with i18n_patterns: /en/admin/, /nl/admin/, /en/, /nl/."""
    settings.ROOT_URLCONF = "urls_i18n"
    settings.LANGUAGES = [("en", "English"), ("nl", "Nederlands")]
    middleware = list(settings.MIDDLEWARE)
    middleware.insert(middleware.index("django.contrib.sessions.middleware.SessionMiddleware") + 1, LOCALE)
    settings.MIDDLEWARE = middleware
    settings.WAGTAIL_COMPANY_MFA_ENFORCE = "admin"
    return same_browser(pending_client)


LOCALE = "django.middleware.locale.LocaleMiddleware"

#: The admin in both languages, the default language first: the gate must not settle on one language's prefix.
ADMIN_URLS_IN_EVERY_LANGUAGE = [
    "/en/admin/pages/",
    "/nl/admin/",
    "/nl/admin/pages/",
    "/nl/admin/company-mfa/companies/",  # a viewset (the Companies admin)
    "/nl/admin/snippets/",
    "/nl/admin/api/main/pages/",
    "/nl/admin/not-a-page/",  # the admin's own 404
    "/en/admin/",
]


def test_admin_only_enforcement_gates_an_i18n_prefixed_admin(i18n_client):  # SEC-28
    for url in ADMIN_URLS_IN_EVERY_LANGUAGE:
        response = i18n_client.get(url)
        assert response.status_code == 302, url
        assert "/admin/company-mfa/" in response.url, (url, response.url)
        assert "next=" in response.url, (url, response.url)


def test_admin_only_enforcement_leaves_the_i18n_public_site(i18n_client):
    response = i18n_client.get("/nl/")
    assert response.status_code == 200
    assert b"Signed in as" in response.content  # outside the admin the site sees its real user
    django_admin = i18n_client.get("/nl/django-admin/")
    assert django_admin.status_code == 302
    assert "/django-admin/login/" in django_admin.url  # Django's own answer, not the gate


def test_admin_only_enforcement_recognises_viewsets_and_snippets(pending_client, settings):  # SEC-28
    settings.WAGTAIL_COMPANY_MFA_ENFORCE = "admin"
    for url in ("/admin/company-mfa/companies/", "/admin/snippets/", "/admin/api/main/pages/"):
        response = pending_client.get(url)
        assert response.status_code == 302, url
        assert response.url.startswith(pending_client.mfa_target), url


# The 404 page (SEC-28) --------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/robots.txt", "/wp-login.php", "/media/no-such-file.pdf"])
def test_404_page_shows_a_half_signed_in_visitor_nothing_private(pending_client, url):  # SEC-28
    response = pending_client.get(url)
    assert response.status_code == 404
    assert b"Visitor: AnonymousUser" in response.content
    assert b"Signed in as" not in response.content
    assert b"@example.com" not in response.content
    assert b"w-userbar" not in response.content


def test_404_page_shows_a_verified_user_as_themself(verified_client, enrolled_user):
    response = verified_client.get("/robots.txt")
    assert response.status_code == 404
    assert f"Signed in as {enrolled_user.get_username()}".encode() in response.content


# The most powerful account is not the least protected (SEC-40) ----------------------------------------------


def test_superuser_in_no_company_must_enroll_at_login_when_a_company_requires(client, company_required):
    root = make_user("root", superuser=True)
    password_login(client, root)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response.url.startswith("/admin/company-mfa/required/")
    page = client.get(response.url)
    assert "as soon as any company requires it" in page.content.decode()


def test_superuser_in_no_company_signs_in_with_a_password_when_no_company_requires(client, company_off):
    root = make_user("root", superuser=True)
    password_login(client, root)
    assert client.get("/admin/").status_code == 200


def test_superuser_setting_off_keeps_the_old_behaviour(client, company_required, settings):
    settings.WAGTAIL_COMPANY_MFA_REQUIRE_SUPERUSERS = False
    root = make_user("root", superuser=True)
    password_login(client, root)
    assert client.get("/admin/").status_code == 200
