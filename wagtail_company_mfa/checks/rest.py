"""
Django REST framework (SEC-48, SEC-49): password-only authentication and token views that bypass the gate.

DRF is imported only inside these functions, and only once it is importable: the rest of the package never
needs it.
"""

from __future__ import annotations

import importlib.util

from django.apps import apps
from django.conf import settings
from django.core.checks import Error
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from ..conf import mfa_settings
from .ids import E009_REST_BASIC_AUTHENTICATION, E010_REST_TOKEN_VIEW

REST_BASIC_PATH = "rest_framework.authentication.BasicAuthentication"
OUR_REST_BASIC_PATH = "wagtail_company_mfa.rest.BasicAuthentication"
OUR_OBTAIN_AUTH_TOKEN_PATH = "wagtail_company_mfa.rest.obtain_auth_token"  # noqa: S105 (a dotted path)
WAGTAIL_ADMIN_URLCONF = "wagtail.admin.urls"


def _rest_framework_importable() -> bool:
    # Not apps.is_installed(): DRF authenticates requests without "rest_framework" in INSTALLED_APPS.
    return importlib.util.find_spec("rest_framework") is not None


def _gate_is_site_wide() -> bool:
    try:
        return mfa_settings.ENFORCE == "site"
    except ImproperlyConfigured:
        # E007 reports the value; meanwhile assume the stricter reading.
        return True


def _is_plain_basic(cls) -> bool:
    """DRF's ``BasicAuthentication`` or a subclass of it that is not ours (which applies the policy)."""
    from rest_framework.authentication import BasicAuthentication

    from ..rest import BasicAuthentication as OurBasicAuthentication

    return (
        isinstance(cls, type)
        and issubclass(cls, BasicAuthentication)
        and not issubclass(cls, OurBasicAuthentication)
    )


def _dotted(cls) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _routed_drf_views():
    """
    ``(route, view class)`` for every DRF view in the root URLconf, outside the Wagtail admin's. Cheap (no
    request, no database) and enough to catch DRF's own views routed as they are documented; a view built by
    hand, or one served through a Wagtail page's routing, is not seen.
    """
    from django.urls import URLPattern, URLResolver, get_resolver
    from rest_framework.views import APIView

    def walk(patterns, prefix):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                if getattr(pattern.urlconf_module, "__name__", None) == WAGTAIL_ADMIN_URLCONF:
                    # Wagtail wraps these views (its admin API included) in require_admin_access, which
                    # asks for the session's user, so the gate holds them before DRF authenticates at all.
                    continue
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                callback = pattern.callback
                # APIView.as_view() and ViewSet.as_view() set ``cls``; functools.wraps keeps it on decorators.
                cls = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
                if isinstance(cls, type) and issubclass(cls, APIView):
                    yield "/" + prefix + str(pattern.pattern), cls

    try:
        return list(walk(get_resolver().url_patterns, ""))
    except Exception:
        # A URLconf that does not import is Django's own check's to report (urls.E004 and friends).
        return []


def _uses_default_authentication(cls) -> bool:
    from rest_framework.views import APIView

    for klass in cls.__mro__:
        if klass is APIView:
            return True
        if "authentication_classes" in vars(klass):
            return False
    return True


def _token_view_class():
    """DRF's ``ObtainAuthToken``, or ``None`` when its app (and so its ``Token`` model) is not installed."""
    if not apps.is_installed("rest_framework.authtoken"):
        return None
    from rest_framework.authtoken.views import ObtainAuthToken

    return ObtainAuthToken


def check_rest_basic_authentication(app_configs=None, **kwargs):
    """
    E009: DRF's ``BasicAuthentication`` checks a password on every request, inside the view, where the
    site-wide gate cannot see it, so it lets a user who must use MFA in with the password alone.
    """
    if not _rest_framework_importable() or not _gate_is_site_wide():
        return []
    from rest_framework.settings import DEFAULTS

    hint = (
        f"Use '{OUR_REST_BASIC_PATH}' instead: it refuses the password of a user who must use MFA. See "
        "'APIs and other credentials' in the documentation."
    )
    configured = (getattr(settings, "REST_FRAMEWORK", None) or {}).get("DEFAULT_AUTHENTICATION_CLASSES")
    defaults = configured if configured is not None else DEFAULTS["DEFAULT_AUTHENTICATION_CLASSES"]
    plain_defaults = []
    for entry in defaults:
        try:
            cls = import_string(entry) if isinstance(entry, str) else entry
        except ImportError:
            continue  # DRF itself reports a class it cannot import.
        if _is_plain_basic(cls):
            plain_defaults.append(_dotted(cls))
    errors = []
    if configured is not None and plain_defaults:
        errors.append(
            Error(
                "REST_FRAMEWORK['DEFAULT_AUTHENTICATION_CLASSES'] includes "
                f"{', '.join(repr(path) for path in plain_defaults)}, which lets a user who must use MFA "
                "into the API with the password alone.",
                hint=hint,
                id=E009_REST_BASIC_AUTHENTICATION,
            )
        )
    token_view = _token_view_class()
    for route, cls in _routed_drf_views():
        if token_view is not None and issubclass(cls, token_view):
            continue  # It authenticates from the request body and needs no user: E010's concern.
        view_hint = hint
        if not _uses_default_authentication(cls):
            plain = [_dotted(auth) for auth in cls.authentication_classes if _is_plain_basic(auth)]
        elif configured is None:
            # DRF's built-in default has BasicAuthentication: reported where a routed view relies on it.
            plain = plain_defaults
            view_hint = (
                f"DRF's default authentication classes include '{REST_BASIC_PATH}'. Set "
                f"REST_FRAMEWORK['DEFAULT_AUTHENTICATION_CLASSES'] with '{OUR_REST_BASIC_PATH}' in its place."
            )
        else:
            plain = []  # The configured default is reported once, above.
        if plain:
            errors.append(
                Error(
                    f"The API view {_dotted(cls)} at {route!r} authenticates with "
                    f"{', '.join(repr(path) for path in plain)}, which lets a user who must use MFA in with "
                    "the password alone.",
                    hint=view_hint,
                    id=E009_REST_BASIC_AUTHENTICATION,
                )
            )
    return errors


def check_rest_token_views(app_configs=None, **kwargs):
    """
    E010: DRF's ``ObtainAuthToken`` gives a token (the user's existing one, too) for a username and password.
    An Error, not a Warning: a token from it works on every later request without MFA, which switches MFA off
    for the API as surely as E009.
    """
    if not _rest_framework_importable() or not _gate_is_site_wide():
        return []
    token_view = _token_view_class()
    if token_view is None:
        return []
    from ..rest.authtoken import ObtainAuthToken as OurObtainAuthToken

    return [
        Error(
            f"The token endpoint {_dotted(cls)} at {route!r} hands out an API token for a password alone, "
            "also to a user who must use MFA.",
            hint=f"Route it to '{OUR_OBTAIN_AUTH_TOKEN_PATH}' instead. See 'APIs and other credentials' in "
            "the documentation.",
            id=E010_REST_TOKEN_VIEW,
        )
        for route, cls in _routed_drf_views()
        if issubclass(cls, token_view) and not issubclass(cls, OurObtainAuthToken)
    ]
