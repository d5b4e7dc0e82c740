"""
The gate: a password-only session of a user who must use MFA reaches nothing but the allow-list (SPEC §4,
SEC-28).

Place it right after ``django_otp.middleware.OTPMiddleware``. It wraps ``request.user`` lazily as the request
comes in, so everything that reads the user later (the view, decorators, templates, the 404 page and any
middleware placed after this one) gets the gate's answer. The allow-list is by resolved view (URL name, or
Django's static-file views), never by path prefix; the URL is normally resolved already when the user is
first read, so this costs no extra ``resolve()``. A verified session passes on
``request.user.is_verified()``, which OTPMiddleware works out (its device lookup is also what makes a reset or
a removed device count on the very next request, on every app server: SEC-36); this middleware adds no query
to it. Only an authenticated, unverified session costs queries (whether the user has an authenticator, and
what their companies require), so a policy change applies on the next request (SEC-37).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from urllib.parse import urlencode, urljoin, urlsplit

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.models import AnonymousUser
from django.contrib.staticfiles import views as staticfiles_views
from django.core.signals import setting_changed
from django.db import DatabaseError
from django.dispatch import receiver
from django.http import JsonResponse
from django.shortcuts import redirect, resolve_url
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
from django.utils.cache import patch_vary_headers
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext_lazy
from django.views import static as static_views

from . import flows, session
from .conf import mfa_settings
from .policy import requirement_for
from .urls import PENDING_URL_NAMES

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
EXPIRED = "expired"

#: Where each pending action is done.
MFA_PAGES = {
    VERIFY: "wagtail_company_mfa:verify",
    ENROLL: "wagtail_company_mfa:required",
    SAVE_CODES: "wagtail_company_mfa:save_codes",
}
MESSAGES = {
    VERIFY: gettext_lazy("Enter the code from your authenticator app to continue."),
    ENROLL: gettext_lazy("Set up two-factor authentication to continue."),
    SAVE_CODES: gettext_lazy("Confirm that you have saved your recovery code to continue."),
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


class CompanyMFAMiddleware:
    """
    Deny by default until the second factor is done, for every user who must use one.

    The gate is lazy: it only wraps ``request.user``. The first time anything reads it (the view, a
    decorator, a template, a later middleware), the session is checked; if it still owes a second factor,
    the reader gets an ``AnonymousUser`` (SEC-28: "behaves as for an anonymous user"). The page is then
    whatever an anonymous visitor gets: a public page is served as to anyone, and where the site would ask
    an anonymous visitor to sign in (a redirect to a login page, a 401 or a 403), the middleware answers
    instead with a redirect to the MFA page (or a 403 JSON body), since this visitor has signed in already
    and has the second step left to do.
    """

    #: Where the gate notes that this request was refused, so the response can be replaced.
    PENDING_ATTRIBUTE = "_wagtail_company_mfa_pending"
    #: Where the gate keeps its answer, so ``request.user`` and ``request.auser()`` decide only once.
    USER_ATTRIBUTE = "_wagtail_company_mfa_user"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        key_before = self._session_key(request)
        # Wrapped here rather than in process_view, so that no reader gets past the gate: a middleware placed
        # after this one reads the user before any view is resolved, and the 404 page of a path no URL
        # pattern matches renders without process_view ever running.
        self.wrap_user(request)
        response = self.get_response(request)
        self._follow_session_key(request, key_before)
        action = getattr(request, self.PENDING_ATTRIBUTE, None)
        if action is None:
            return response
        # This response was made for an anonymous user on a signed-in session: caches must key it on the
        # session cookie (which changes when the second factor is done), never serve it as anyone else's.
        patch_vary_headers(response, ("Cookie",))
        if action == EXPIRED:
            return self.expire(request, response)
        if self.asks_to_sign_in(request, response):
            return self.deny(request, action, response)
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        if match is not None and match.view_name in PENDING_URL_NAMES and self._pending_has_expired(request):
            # SEC-29: the timeout holds on the MFA pages too, so a code posted too late is not even checked,
            # and the session ends.
            return self.deny(request, EXPIRED)
        return None

    def wrap_user(self, request) -> None:
        user = getattr(request, "user", None)
        if user is None:
            return
        request.user = SimpleLazyObject(functools.partial(self._gate, request, user))
        auser = getattr(request, "auser", None)
        if auser is not None:
            request.auser = functools.partial(self._agate, request, auser)

    def _pending_has_expired(self, request) -> bool:
        """Whether this session owes a second factor and has waited for it longer than ``PENDING_TIMEOUT``."""
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return False
        try:
            return self.pending_action(request, user) == EXPIRED
        except Exception:
            # SEC-46: an error while deciding never lets the request through.
            logger.exception("wagtail-company-mfa could not decide on a request; treating it as expired.")
            return True

    @staticmethod
    def _session_key(request) -> str | None:
        store = getattr(request, "session", None)
        return getattr(store, "session_key", None)

    def _follow_session_key(self, request, key_before: str | None) -> None:
        """
        Keep the session registry true when this request changed the session key (SEC-36).

        Django's ``update_session_auth_hash`` (Wagtail's account and password forms), ``login()`` and
        anything else may call ``cycle_key()``; whatever did it, the registry row moves with the session, so
        "end my other sessions" still finds it. ``cycle_key()`` stores the new key at once in every
        server-side session engine, so it is known here, before SessionMiddleware saves the session. A
        request that leaves the key alone costs nothing: the key is compared without loading the session.
        """
        key_after = self._session_key(request)
        if not key_before or key_after == key_before:
            return
        try:
            session.follow_key(key_before, key_after, session.session_user_id(request.session))
        except DatabaseError:
            # The response is already made; a registry that could not be updated must not turn it into a
            # 500. The reset and device checks on every request (SEC-36) do not depend on the registry.
            logger.exception("wagtail-company-mfa could not follow a session to its new key.")

    def _gate(self, request, user):
        """``user`` if the session may act as them, else an anonymous user (and a note for the response)."""
        decided = getattr(request, self.USER_ATTRIBUTE, None)
        if decided is None:
            decided = self._decide(request, user)
            setattr(request, self.USER_ATTRIBUTE, decided)
        return decided

    def _decide(self, request, user):
        if not user.is_authenticated:
            return user
        try:
            if not self.is_gated(request):
                return user
            action = self.pending_action(request, user)
        except Exception:
            # SEC-46: an error while deciding never lets the request through.
            logger.exception("wagtail-company-mfa could not decide on a request; treating it as unverified.")
            action = EXPIRED
        if action is None:
            return user
        setattr(request, self.PENDING_ATTRIBUTE, action)
        return AnonymousUser()

    async def _agate(self, request, auser):
        decided = getattr(request, self.USER_ATTRIBUTE, None)
        if decided is not None:
            return decided
        return await sync_to_async(self._gate)(request, await auser())

    def is_gated(self, request) -> bool:
        """
        Whether this request's view is behind the gate. Decided by the resolved view, never by path prefix
        (SEC-28): the allow-listed URL names, Django's static-file views, and for ``ENFORCE = "admin"`` only
        the Wagtail admin's own views. A path that resolves to no view (the 404 page) is gated.
        """
        config = gate_config()
        urlconf = getattr(request, "urlconf", None) or get_urlconf()
        match = request.resolver_match
        if match is None:
            # Read before the URL was resolved (by a later middleware), or for a path that matches nothing.
            try:
                match = resolve_path(request.path_info, urlconf)
            except Resolver404:
                return True
        if match.view_name in config.allowed_names:
            return False
        if _view_function(match.func) in FILE_VIEWS:
            return False
        if config.admin_only:
            return match.func in admin_views(get_resolver(urlconf))
        return True

    def asks_to_sign_in(self, request, response) -> bool:
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
        return bool(location) and self.is_login_url(request, location)

    def is_login_url(self, request, url: str) -> bool:
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

    def pending_action(self, request, user) -> str | None:
        """What this session must do before it may go on, or ``None`` if nothing."""
        if user.is_verified():
            # Freshly issued recovery codes must be saved before anything else.
            return SAVE_CODES if session.has_unsaved_codes(request.session) else None
        # SEC-26: a user with an authenticator is always asked for it, whatever the policy says.
        if flows.is_enrolled(user):
            action = VERIFY
        elif requirement_for(user).is_required:
            action = ENROLL
        else:
            return None
        if session.pending_has_expired(request.session):
            return EXPIRED
        return action

    def deny(self, request, action: str, response=None):
        """
        The answer for a request refused by the gate: a redirect to the MFA page, or 403 JSON (for XHR, for a
        client that asks for JSON, or where the site answered with JSON).
        """
        if action == EXPIRED:
            # SEC-29, SEC-31: the half-logged-in state ends; the whole session goes with it.
            logout(request)
            url = reverse("wagtailadmin_login")
        else:
            url = reverse(MFA_PAGES[action])
        message = str(MESSAGES[action])
        if wants_json(request) or (response is not None and is_json(response)):
            return JsonResponse(
                {"error": f"mfa_{action}_required", "detail": message, "location": url}, status=403
            )
        if request.method in ("GET", "HEAD") and action != EXPIRED:
            url = f"{url}?{urlencode({'next': request.get_full_path()})}"
        response = redirect(url)
        if action == EXPIRED and hasattr(request, "_messages"):
            # MessageMiddleware sits inside this one, so it has already stored this request's messages:
            # store the new one on the response ourselves.
            storage = messages.get_messages(request)
            storage.add(messages.WARNING, message)
            storage.update(response)
        return response

    def expire(self, request, response):
        """
        A pending session past its time (SEC-29): it ends here. Where the site asked to sign in, the visitor
        is sent to the login page; a public page is served as it was made, for an anonymous visitor.
        """
        if self.asks_to_sign_in(request, response):
            return self.deny(request, EXPIRED, response)
        logout(request)
        return response


def is_json(response) -> bool:
    content_type = response.get("Content-Type", "").split(";")[0].strip().lower()
    return content_type == "application/json" or content_type.endswith("+json")
