"""
Which views are behind the gate and which responses ask a visitor to sign in, for the gate's decision
(``base/gate.py``): by resolved view (URL name, or Django's static-file views), never by path prefix
(SEC-28), and by the login pages the site's settings name (SEC-29). No query, no request state.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from django.conf import settings
from django.contrib.staticfiles import views as staticfiles_views
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.shortcuts import resolve_url
from django.urls import (
    NoReverseMatch,
    Resolver404,
    URLResolver,
    get_resolver,
    get_script_prefix,
    get_urlconf,
)
from django.urls import resolve as resolve_path
from django.views import static as static_views

from ..conf import mfa_settings
from .pending import PENDING_URL_NAMES

#: URL names a password-only session may always reach, besides this app's own MFA pages.
ALLOWED_URL_NAMES = frozenset(
    {
        "wagtailadmin_login",
        "wagtailadmin_logout",
        "wagtailadmin_password_reset",
        "wagtailadmin_password_reset_done",
        "wagtailadmin_password_reset_confirm",
        "wagtailadmin_password_reset_complete",
        "wagtailadmin_javascript_catalog",
        "wagtailadmin_sprite",
        "admin:logout",
    }
)

#: URL names of the pages that ask a visitor to sign in (Wagtail's admin login, Wagtail's login for private
#: pages). Django admin sites are recognised by their ``admin`` app name (see :func:`is_login_match`).
LOGIN_URL_NAMES = frozenset({"wagtailadmin_login", "wagtailcore_login"})

#: Views that serve static and media files, which a pending session may always reach (SEC-28). Compared by the
#: resolved view function, so a page or a view that merely lives under ``STATIC_URL``/``MEDIA_URL`` is gated.
FILE_VIEWS = (static_views.serve, staticfiles_views.serve)

#: The URLconf module whose views make up the Wagtail admin, for ``ENFORCE = "admin"``.
WAGTAIL_ADMIN_URLCONF = "wagtail.admin.urls"


@dataclass(frozen=True)
class GateConfig:
    """What the gate needs from settings, worked out once (not on every request)."""

    #: URL names a pending session may reach.
    allowed_names: frozenset[str]
    #: Only the Wagtail admin is gated (``ENFORCE = "admin"``); otherwise the whole site is.
    admin_only: bool
    #: The login pages the site's settings name (``LOGIN_URL``, ``WAGTAILADMIN_LOGIN_URL``,
    #: ``WAGTAIL_FRONTEND_LOGIN_URL``), as paths, or ``host/path`` for a login page on another host.
    login_urls: frozenset[str]


def _login_url_key(url: str, host: str | None = None) -> str:
    parts = urlsplit(url)
    if parts.netloc and parts.netloc != host:
        return f"{parts.netloc}{parts.path}"
    return parts.path


@functools.cache
def gate_config() -> GateConfig:
    login_urls = set()
    for name in ("LOGIN_URL", "WAGTAILADMIN_LOGIN_URL", "WAGTAIL_FRONTEND_LOGIN_URL"):
        value = getattr(settings, name, None)
        if not value:
            continue
        try:
            login_urls.add(_login_url_key(str(resolve_url(value))))
        except NoReverseMatch:
            continue
    return GateConfig(
        allowed_names=ALLOWED_URL_NAMES | PENDING_URL_NAMES | mfa_settings.ALLOWED_URL_NAMES,
        admin_only=mfa_settings.ENFORCE == "admin",
        login_urls=frozenset(login_urls),
    )


@functools.cache
def admin_views(resolver: URLResolver) -> frozenset:
    """
    Every view the Wagtail admin's URLconf serves under ``resolver``, wherever (and however often) it is
    included: with a language prefix from ``i18n_patterns``, under any path, with any namespace. Viewsets
    and ``register_admin_urls`` hooks (snippets, the Companies admin) are part of that URLconf.
    """
    found = set()

    def collect(patterns, inside_admin):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                module = pattern.urlconf_module
                name = getattr(module, "__name__", pattern.urlconf_name)
                collect(pattern.url_patterns, inside_admin or name == WAGTAIL_ADMIN_URLCONF)
            elif inside_admin:
                found.add(pattern.callback)

    collect(resolver.url_patterns, False)
    return frozenset(found)


@receiver(setting_changed)
def _forget_gate_config(setting, **kwargs):
    if setting.startswith("WAGTAIL_COMPANY_MFA_") or setting in (
        "ROOT_URLCONF",
        "LOGIN_URL",
        "WAGTAILADMIN_LOGIN_URL",
        "WAGTAIL_FRONTEND_LOGIN_URL",
    ):
        gate_config.cache_clear()
        admin_views.cache_clear()


def _view_function(func):
    while isinstance(func, functools.partial):
        func = func.func
    return func


def is_login_match(match) -> bool:
    """Whether a resolved URL is a page that asks the visitor to sign in."""
    if match.view_name in LOGIN_URL_NAMES:
        return True
    # Every Django admin site (``admin.site`` or another AdminSite) has the app name "admin".
    return match.url_name == "login" and "admin" in match.app_names


def wants_json(request) -> bool:
    if request.headers.get("x-requested-with") == "XMLHttpRequest":
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def is_gated(request) -> bool:
    """
    Whether this request's view is behind the gate. Decided by the resolved view, never by path prefix
    (SEC-28): the allow-listed URL names, Django's static-file views, and for ``ENFORCE = "admin"`` only
    the Wagtail admin's own views. A path that resolves to no view (the 404 page) is gated.
    """
    urlconf = getattr(request, "urlconf", None) or get_urlconf()
    match = request.resolver_match
    if match is None:
        # Read before the URL was resolved (by a later middleware), or for a path that matches nothing.
        try:
            match = resolve_path(request.path_info, urlconf)
        except Resolver404:
            return True
    return _match_is_gated(match, urlconf)


def _match_is_gated(match, urlconf) -> bool:
    config = gate_config()
    if match.view_name in config.allowed_names:
        return False
    if _view_function(match.func) in FILE_VIEWS:
        return False
    if config.admin_only:
        return match.func in admin_views(get_resolver(urlconf))
    return True


def asks_to_sign_in(request, response) -> bool:
    """
    Whether ``response`` is what an anonymous visitor gets for "sign in first": a 401 or 403, a redirect
    to a login page, or the login page itself (a visitor who has signed in must finish, not start again).
    """
    if response.status_code in (401, 403):
        return True
    match = request.resolver_match
    if match is not None and is_login_match(match):
        return True
    location = response.get("Location") if 300 <= response.status_code < 400 else None
    if not location:
        return False
    return is_login_url(request, location)


def is_login_url(request, url: str) -> bool:
    """Whether ``url`` (with or without a query) leads to a login page, compared by resolved path."""
    url = urljoin(request.path, url)
    host = request.get_host()
    key = _login_url_key(url, host)
    if key in gate_config().login_urls:
        return True
    if key != urlsplit(url).path:
        return False  # another host
    prefix = get_script_prefix()
    path = "/" + key[len(prefix) :] if key.startswith(prefix) else key
    try:
        match = resolve_path(path, getattr(request, "urlconf", None) or get_urlconf())
    except Resolver404:
        return False
    return is_login_match(match)


def is_json(response) -> bool:
    content_type = response.get("Content-Type", "").split(";")[0].strip().lower()
    return content_type == "application/json" or content_type.endswith("+json")
