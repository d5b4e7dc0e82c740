"""
The gate's decision, as small functions the middleware calls (``middleware.py``): whether a request's view is
behind the gate, what a session still owes before it may go on, and whether a response asks a visitor to
sign in (SEC-28, SEC-29). Nothing here touches the response; the middleware does.

The allow-list is by resolved view (URL name, or Django's static-file views), never by path prefix. A verified
session passes on ``request.user.is_verified()``; only an authenticated, unverified session costs queries
(whether the user is enrolled, and what their companies require), so a policy change applies on the next
request (SEC-37).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from urllib.parse import urlencode, urljoin, urlsplit

from django.conf import settings
from django.contrib.auth import SESSION_KEY
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
    reverse,
)
from django.urls import resolve as resolve_path
from django.utils.translation import gettext_lazy
from django.views import static as static_views
from django_otp import DEVICE_ID_SESSION_KEY

from .. import factors
from ..companies.policy import Requirement, standing_for, standing_with_permissions
from ..conf import mfa_settings
from ..recovery_codes import unsaved
from . import admin_access, methods, pending
from .pending import PENDING_URL_NAMES

logger = logging.getLogger(__name__)

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

VERIFY = "verify"
ENROLL = "enroll"
SAVE_CODES = "save_codes"
ADD_METHOD = "add_method"
EXPIRED = "expired"

#: Where each pending action is done.
MFA_PAGES = {
    VERIFY: "wagtail_company_mfa:verify",
    ENROLL: "wagtail_company_mfa:required",
    SAVE_CODES: "wagtail_company_mfa:save_codes",
    ADD_METHOD: "wagtail_company_mfa:required",
}
MESSAGES = {
    VERIFY: gettext_lazy("Enter the code from your authenticator app to continue."),
    ENROLL: gettext_lazy("Set up two-factor authentication to continue."),
    SAVE_CODES: gettext_lazy("Confirm that you have saved your recovery code to continue."),
    ADD_METHOD: gettext_lazy("Add a passkey or security key to continue: your company requires one."),
    EXPIRED: gettext_lazy("Your sign-in has expired. Please sign in again."),
}


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


#: Where :func:`standing` keeps its answer on the request: ``(user pk, Standing)``.
STANDING_ATTRIBUTE = "_wagtail_company_mfa_standing"


@dataclass(frozen=True)
class Standing:
    """What the policy requires of a user and which factors they have, as asked once for a request."""

    requirement: Requirement
    #: The keys of the factors the user has (``factors.factors_of``).
    factors: frozenset[str]

    @property
    def is_enrolled(self) -> bool:
        return factors.enrolls(self.factors)


def standing(request, user) -> Standing:
    """
    The requirement and the factors of ``user``, in one query, asked once per request: the gate asks it for
    a session that has not passed the second factor, and the MFA pages, the dashboard panel and the sign-in
    reminder of the same request reuse the answer instead of asking again. Never kept beyond the request, so
    a policy change, a reset or a new device counts on the next request, on every app server (SEC-36,
    SEC-37).
    """
    known = getattr(request, STANDING_ATTRIBUTE, None)
    if known is not None and known[0] == user.pk:
        return known[1]
    match = getattr(request, "resolver_match", None)
    if match is not None and match.view_name in PENDING_URL_NAMES and admin_access.wanted(user):
        # An MFA page: Wagtail's admin access check is about to read the user's permissions; the same query
        # reads them for it (base/admin_access.py).
        requirement, keys, permissions = standing_with_permissions(user)
        if permissions is not None:
            admin_access.keep(user, permissions)
    else:
        requirement, keys = standing_for(user)
    answer = Standing(requirement=requirement, factors=keys)
    setattr(request, STANDING_ATTRIBUTE, (user.pk, answer))
    return answer


def forget_standing(request) -> None:
    """Drop the request's :func:`standing`, after this request changed the user's factors."""
    if hasattr(request, STANDING_ATTRIBUTE):
        delattr(request, STANDING_ATTRIBUTE)


def page_for(request, action: str) -> str:
    """
    The URL name of the MFA page for ``action``: for the second factor, the verify page of the factor the
    user would use first (the factor registry's order), from the answer this request already has.
    """
    if action == VERIFY:
        known = getattr(request, STANDING_ATTRIBUTE, None)
        if known is not None:
            return factors.verify_url_name(known[1].factors)
    return MFA_PAGES[action]


def pending_action(request, user) -> str | None:
    """What this session must do before it may go on, or ``None`` if nothing."""
    if user.is_verified():
        # Freshly issued recovery codes must be saved before anything else; then a factor the user's
        # companies accept must be added, if the one used does not count for them (noted at verification).
        if unsaved.has_unsaved_codes(request.session):
            return SAVE_CODES
        return ADD_METHOD if methods.due(request.session) is not None else None
    known = standing(request, user)
    # SEC-26: a user with an authenticator is always asked for it, whatever the policy says.
    if known.is_enrolled:
        action = VERIFY
    elif known.requirement.is_required:
        action = ENROLL
    else:
        return None
    if pending.pending_has_expired(request.session):
        return EXPIRED
    return action


def is_json(response) -> bool:
    content_type = response.get("Content-Type", "").split(";")[0].strip().lower()
    return content_type == "application/json" or content_type.endswith("+json")


def second_step_after_sign_in(request, response) -> str | None:
    """
    Where a password sign-in that just succeeded should send the browser instead of its target: the MFA
    page the gate would answer that target with anyway (with the target as ``next``), one redirect and one
    gated request sooner; or ``None`` to leave the response alone. Only for a Wagtail admin page behind the
    gate, and only with the answer the sign-in already asked for this user (the sign-in reminder): no query
    of its own. The session is checked again on the MFA page itself, as on every request (SEC-28, SEC-37).
    """
    match = request.resolver_match
    if request.method != "POST" or match is None or not is_login_match(match):
        return None
    location = response.get("Location") if response.status_code in (302, 303) else None
    session = getattr(request, "session", None)
    if not location or session is None or DEVICE_ID_SESSION_KEY in session:
        return None
    known = getattr(request, STANDING_ATTRIBUTE, None)
    user_id = session.get(SESSION_KEY)
    if known is None or user_id is None or str(known[0]) != str(user_id):
        return None
    if known[1].is_enrolled:
        action = VERIFY
    elif known[1].requirement.is_required:
        action = ENROLL
    else:
        return None
    parts = urlsplit(location)
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return None  # the target is not a path of this site: let the gate decide there
    prefix = get_script_prefix()
    path = "/" + parts.path[len(prefix) :] if parts.path.startswith(prefix) else parts.path
    urlconf = getattr(request, "urlconf", None) or get_urlconf()
    try:
        target = resolve_path(path, urlconf)
    except Resolver404:
        return None
    # Only a Wagtail admin page: it always asks an anonymous visitor to sign in, so the gate would answer it
    # with the MFA page. A public page stays what it is for such a session (served as to anyone).
    if target.url_name is None or target.func not in admin_views(get_resolver(urlconf)):
        return None
    if not _match_is_gated(target, urlconf):
        return None
    page = factors.verify_url_name(known[1].factors) if action == VERIFY else MFA_PAGES[action]
    return f"{reverse(page)}?{urlencode({'next': location})}"
