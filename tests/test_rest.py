"""
Credentials that are not a session (SEC-48, SEC-49): Django REST framework's HTTP Basic, token endpoint and
tokens, through the test API in ``api_urls.py`` and the REST_FRAMEWORK setting of the test project.
"""

from __future__ import annotations

import base64
import datetime
import subprocess
import sys
import types

import pytest
import time_machine
from django.core import checks
from django.urls import include, path
from factories import PASSWORD, enroll_user, join, make_user, password_login
from rest_framework import authentication
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.views import obtain_auth_token as drf_obtain_auth_token
from rest_framework.decorators import api_view, authentication_classes
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView
from wagtail.admin import urls as wagtailadmin_urls

from wagtail_company_mfa import checks as mfa_checks
from wagtail_company_mfa import rest

pytestmark = pytest.mark.django_db

WHOAMI = "/api/whoami/"
BASIC_ONLY_WHOAMI = "/api/basic/whoami/"
TOKEN = "/api/token/"
DRF_BASIC = "rest_framework.authentication.BasicAuthentication"
OUR_BASIC = "wagtail_company_mfa.rest.BasicAuthentication"
SESSION = "rest_framework.authentication.SessionAuthentication"


def basic(user, password: str = PASSWORD) -> dict:
    credentials = base64.b64encode(f"{user.get_username()}:{password}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {credentials}"}


def assert_refused_for_mfa(response):
    """The refusal: a 403 in the gate's JSON shape, with a stable code."""
    assert response.status_code == 403, response.content
    body = response.json()
    assert body["error"] == "mfa_required"
    assert "two-factor authentication" in body["detail"]
    assert body["location"] == "/admin/login/"


@pytest.fixture
def enrolled_not_required_user(user, company_off):
    join(user, company_off)
    user.phone, user.recovery_codes = enroll_user(user)
    return user


@pytest.fixture
def free_user(user, company_off):
    """In a company that does not require MFA, no authenticator."""
    join(user, company_off)
    return user


# HTTP Basic ------------------------------------------------------------------------------------------------


def test_basic_auth_of_a_required_user_is_refused(client, required_user):
    # SEC-49: the right password of a user whose company requires MFA does not open the API.
    response = client.get(WHOAMI, **basic(required_user))
    assert_refused_for_mfa(response)


@pytest.mark.parametrize("who", ["enrolled_user", "enrolled_not_required_user"])
def test_basic_auth_of_an_enrolled_user_is_refused(client, request, who):
    # SEC-26, SEC-49: a user with an authenticator is always asked for it, required or not.
    user = request.getfixturevalue(who)
    assert_refused_for_mfa(client.get(WHOAMI, **basic(user)))


def test_basic_auth_of_a_user_who_need_not_use_mfa_passes(client, free_user):
    response = client.get(WHOAMI, **basic(free_user))
    assert response.status_code == 200
    assert response.json() == {"username": free_user.get_username()}


def test_basic_auth_before_the_enforcement_date_passes_and_is_refused_from_it(client, upcoming_user):
    # SEC-49: the requirement starts at the company's date, for the API as for the admin.
    assert client.get(WHOAMI, **basic(upcoming_user)).status_code == 200
    enforcement = upcoming_user.company_memberships.get().company.enforcement_date
    midnight = datetime.datetime.combine(enforcement, datetime.time(0, 0), tzinfo=datetime.timezone.utc)
    with time_machine.travel(midnight - datetime.timedelta(seconds=1), tick=False):
        assert client.get(WHOAMI, **basic(upcoming_user)).status_code == 200
    with time_machine.travel(midnight, tick=False):
        assert_refused_for_mfa(client.get(WHOAMI, **basic(upcoming_user)))


def test_basic_auth_with_a_wrong_password_gets_drfs_usual_answer(client, required_user):
    # DRF takes the status from the first class: 403 after SessionAuthentication, 401 when Basic is first.
    response = client.get(WHOAMI, **basic(required_user, "wrong password"))
    assert response.status_code == 403
    assert response.json() == {"detail": "Invalid username/password."}
    response = client.get(BASIC_ONLY_WHOAMI, **basic(required_user, "wrong password"))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="api"'
    assert response.json() == {"detail": "Invalid username/password."}


def test_basic_auth_refusal_is_a_403_even_when_basic_comes_first(client, required_user):
    # A 401 would ask for the password again, which cannot help: the refusal stays a 403.
    response = client.get(BASIC_ONLY_WHOAMI, **basic(required_user))
    assert_refused_for_mfa(response)
    assert "WWW-Authenticate" not in response.headers


def test_basic_auth_refusal_is_translated(client, required_user, settings):
    settings.LANGUAGE_CODE = "nl"
    body = client.get(WHOAMI, **basic(required_user)).json()
    assert body["error"] == "mfa_required"
    assert body["detail"].startswith("Dit account moet tweestapsverificatie gebruiken")


def test_basic_auth_refuses_when_the_policy_cannot_be_read(client, free_user, monkeypatch):
    # SEC-46: an error while deciding refuses the credential.
    def broken(user, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(rest, "requirement_for", broken)
    assert_refused_for_mfa(client.get(WHOAMI, **basic(free_user)))


def test_basic_auth_refuses_even_when_the_gate_covers_only_the_admin(client, required_user, settings):
    # The class applies the policy wherever it is used: naming it is the site's choice.
    settings.WAGTAIL_COMPANY_MFA_ENFORCE = "admin"
    assert_refused_for_mfa(client.get(WHOAMI, **basic(required_user)))


# Sessions through DRF ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["required_user", "enrolled_user"])
def test_session_authentication_of_a_pending_session_gets_the_gates_403(client, request, who):
    # SEC-28: DRF's SessionAuthentication reads request.user, which the gate has made anonymous.
    user = request.getfixturevalue(who)
    password_login(client, user)
    response = client.get(WHOAMI, HTTP_ACCEPT="application/json")
    assert response.status_code == 403
    body = response.json()
    assert body["error"] == ("mfa_verify_required" if who == "enrolled_user" else "mfa_enroll_required")
    assert "username" not in body


def test_session_authentication_of_a_verified_session_passes(verified_client, enrolled_user):
    response = verified_client.get(WHOAMI, HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response.json() == {"username": enrolled_user.get_username()}


# Tokens ---------------------------------------------------------------------------------------------------


def test_token_created_earlier_keeps_working_for_an_enrolled_user(client, enrolled_user):
    # SEC-49: a token is a credential the user created after passing MFA; it keeps working (as on GitHub).
    token = Token.objects.create(user=enrolled_user)
    response = client.get(WHOAMI, HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 200
    assert response.json() == {"username": enrolled_user.get_username()}


@pytest.mark.parametrize("who", ["required_user", "enrolled_not_required_user"])
def test_token_endpoint_refuses_a_user_who_must_use_mfa(client, request, who):
    # SEC-48: the password alone does not buy a token, new or existing.
    user = request.getfixturevalue(who)
    existing = Token.objects.create(user=make_user("bystander"))
    response = client.post(TOKEN, {"username": user.get_username(), "password": PASSWORD})
    assert_refused_for_mfa(response)
    assert existing.key not in response.content.decode()
    assert not Token.objects.filter(user=user).exists()


def test_token_endpoint_does_not_give_away_an_existing_token(client, enrolled_user):
    # SEC-48: DRF's view returns the user's existing token for the password; ours does not.
    token = Token.objects.create(user=enrolled_user)
    response = client.post(TOKEN, {"username": enrolled_user.get_username(), "password": PASSWORD})
    assert_refused_for_mfa(response)
    assert token.key not in response.content.decode()


def test_token_endpoint_gives_a_token_to_a_user_who_need_not_use_mfa(client, free_user):
    response = client.post(TOKEN, {"username": free_user.get_username(), "password": PASSWORD})
    assert response.status_code == 200
    assert response.json() == {"token": Token.objects.get(user=free_user).key}


def test_token_endpoint_with_a_wrong_password_gets_drfs_400(client, required_user):
    response = client.post(TOKEN, {"username": required_user.get_username(), "password": "wrong"})
    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Unable to log in with provided credentials."]}
    assert not Token.objects.exists()


def test_our_names_are_drop_in_subclasses_of_drfs():
    from rest_framework.authtoken.views import ObtainAuthToken

    assert issubclass(rest.BasicAuthentication, authentication.BasicAuthentication)
    assert issubclass(rest.ObtainAuthToken, ObtainAuthToken)
    assert rest.obtain_auth_token.cls is rest.ObtainAuthToken
    with pytest.raises(AttributeError):
        rest.no_such_name  # noqa: B018


# The core does not need DRF -----------------------------------------------------------------------------


def test_the_core_and_the_checks_do_not_import_rest_framework():
    # With rest_framework unimportable, the settings, checks and policy modules still import.
    code = (
        "import sys; sys.modules['rest_framework'] = None\n"
        "import wagtail_company_mfa.checks, wagtail_company_mfa.conf\n"
        "assert not any(name.startswith('rest_framework') for name in sys.modules if sys.modules[name])\n"
    )
    result = subprocess.run(  # noqa: S603 (our own interpreter, a fixed script)
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


# System checks ---------------------------------------------------------------------------------------------


def ids(messages):
    return sorted(message.id for message in messages)


def urlconf(*patterns):
    """A root URLconf made of ``patterns`` only, for ROOT_URLCONF."""
    module = types.ModuleType("test_rest_urlconf")
    module.urlpatterns = list(patterns)
    return module


class PlainBasicView(APIView):
    authentication_classes = [authentication.SessionAuthentication, authentication.BasicAuthentication]
    permission_classes = [IsAuthenticated]

    def get(self, request):
        return Response({})


class DefaultsView(APIView):
    permission_classes = [IsAuthenticated]

    def get(self, request):
        return Response({})


class ProjectBasicAuthentication(authentication.BasicAuthentication):
    """A project's own subclass of DRF's class, which does not apply the policy."""


class ProjectOurBasicAuthentication(rest.BasicAuthentication):
    """A project's subclass of ours, which still applies it."""


@api_view(["GET"])
@authentication_classes([ProjectBasicAuthentication])
def function_view(request):
    return Response({})


def run_rest_checks():
    return mfa_checks.check_rest_basic_authentication() + mfa_checks.check_rest_token_views()


def test_the_test_project_passes_the_rest_checks():
    assert run_rest_checks() == []
    rest_ids = {mfa_checks.E009_REST_BASIC_AUTHENTICATION, mfa_checks.E010_REST_TOKEN_VIEW}
    assert [message for message in checks.run_checks() if message.id in rest_ids] == []


@pytest.mark.parametrize(
    "classes", [[SESSION, DRF_BASIC], [DRF_BASIC], ["test_rest.ProjectBasicAuthentication", SESSION]]
)
def test_plain_basic_authentication_in_the_default_classes_is_an_error(settings, classes):
    # SEC-49: DRF's BasicAuthentication lets a user who must use MFA in with the password alone.
    settings.REST_FRAMEWORK = {"DEFAULT_AUTHENTICATION_CLASSES": classes}
    messages = mfa_checks.check_rest_basic_authentication()
    assert ids(messages) == ["wagtail_company_mfa.E009"]
    assert messages[0].level == checks.ERROR
    assert "BasicAuthentication" in messages[0].msg
    assert OUR_BASIC in messages[0].hint


@pytest.mark.parametrize(
    "classes", [[SESSION, OUR_BASIC], [SESSION, "test_rest.ProjectOurBasicAuthentication"], [SESSION], []]
)
def test_our_basic_authentication_passes_the_check(settings, classes):
    settings.REST_FRAMEWORK = {"DEFAULT_AUTHENTICATION_CLASSES": classes}
    assert mfa_checks.check_rest_basic_authentication() == []


def test_no_error_when_the_gate_covers_only_the_admin(settings):
    settings.WAGTAIL_COMPANY_MFA_ENFORCE = "admin"
    settings.REST_FRAMEWORK = {"DEFAULT_AUTHENTICATION_CLASSES": [DRF_BASIC]}
    settings.ROOT_URLCONF = urlconf(path("token/", drf_obtain_auth_token))
    assert run_rest_checks() == []


def test_no_error_without_rest_framework(settings, monkeypatch):
    settings.REST_FRAMEWORK = {"DEFAULT_AUTHENTICATION_CLASSES": [DRF_BASIC]}
    settings.ROOT_URLCONF = urlconf(path("token/", drf_obtain_auth_token))
    monkeypatch.setattr(mfa_checks.rest, "_rest_framework_importable", lambda: False)
    assert run_rest_checks() == []


def test_routed_views_with_their_own_plain_basic_authentication_are_errors(settings):
    # SEC-49: a view can name BasicAuthentication itself, whatever the default classes say.
    settings.ROOT_URLCONF = urlconf(
        path("api/plain/", PlainBasicView.as_view()),
        path("api/function/", function_view),
        path("api/defaults/", DefaultsView.as_view()),
    )
    messages = mfa_checks.check_rest_basic_authentication()
    assert ids(messages) == ["wagtail_company_mfa.E009"] * 2
    text = "\n".join(message.msg for message in messages)
    assert "'/api/plain/'" in text
    assert "'/api/function/'" in text
    assert "test_rest.ProjectBasicAuthentication" in text
    assert "/api/defaults/" not in text


def test_routed_view_on_drfs_built_in_defaults_is_an_error(settings):
    # DRF's own default classes include BasicAuthentication: reported where a routed view relies on them.
    del settings.REST_FRAMEWORK
    settings.ROOT_URLCONF = urlconf(path("api/defaults/", DefaultsView.as_view()))
    messages = mfa_checks.check_rest_basic_authentication()
    assert ids(messages) == ["wagtail_company_mfa.E009"]
    assert "'/api/defaults/'" in messages[0].msg
    assert "REST_FRAMEWORK['DEFAULT_AUTHENTICATION_CLASSES']" in messages[0].hint


def test_drfs_built_in_defaults_without_routed_views_are_fine(settings):
    del settings.REST_FRAMEWORK
    settings.ROOT_URLCONF = urlconf()
    assert mfa_checks.check_rest_basic_authentication() == []


def test_wagtails_admin_api_on_drfs_built_in_defaults_is_not_reported(settings):
    # Wagtail's image and document admin API views use DRF's default classes, but sit behind
    # require_admin_access, which the gate holds: no error for every Wagtail site without REST_FRAMEWORK.
    del settings.REST_FRAMEWORK
    settings.ROOT_URLCONF = urlconf(path("admin/", include(wagtailadmin_urls)))
    assert mfa_checks.check_rest_basic_authentication() == []


def test_wagtails_admin_api_takes_no_http_basic_even_with_drfs_class(client, free_user, monkeypatch):
    # Why the check may skip the Wagtail admin's URLs: require_admin_access asks for the session's user first.
    from wagtail.images.api.admin.views import ImagesAdminAPIViewSet

    monkeypatch.setattr(ImagesAdminAPIViewSet, "authentication_classes", [authentication.BasicAuthentication])
    response = client.get("/admin/api/main/images/", **basic(free_user))
    assert response.status_code == 302
    assert response.url.startswith("/admin/login/")


def test_drfs_token_endpoint_in_the_urlconf_is_an_error(settings):
    # SEC-48: DRF's obtain_auth_token gives a token for a password alone.
    settings.ROOT_URLCONF = urlconf(
        path("api-token-auth/", drf_obtain_auth_token), path("ours/", rest.obtain_auth_token)
    )
    messages = mfa_checks.check_rest_token_views()
    assert ids(messages) == ["wagtail_company_mfa.E010"]
    assert "'/api-token-auth/'" in messages[0].msg
    assert "wagtail_company_mfa.rest.obtain_auth_token" in messages[0].hint
    # Its BasicAuthentication does not matter (it authenticates from the body), so E009 stays silent.
    assert mfa_checks.check_rest_basic_authentication() == []


def test_token_check_is_off_without_the_authtoken_app(settings, monkeypatch):
    settings.ROOT_URLCONF = urlconf(path("api-token-auth/", drf_obtain_auth_token))
    real = mfa_checks.rest.apps.is_installed
    monkeypatch.setattr(
        mfa_checks.rest.apps, "is_installed", lambda name: name != "rest_framework.authtoken" and real(name)
    )
    assert mfa_checks.check_rest_token_views() == []


def test_an_unimportable_urlconf_is_left_to_djangos_own_check(settings):
    settings.ROOT_URLCONF = "no_such_urlconf_module"
    assert run_rest_checks() == []
