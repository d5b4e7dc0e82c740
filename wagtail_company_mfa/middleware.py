"""
The gate: a password-only session of a user who must use MFA reaches nothing but the allow-list (SPEC §4,
SEC-28).

Place it right after ``django_otp.middleware.OTPMiddleware``. It acts in ``process_view``, where the URL is
already resolved, so the allow-list is by URL name and costs no extra ``resolve()``. A verified session
passes on ``request.user.is_verified()``, which OTPMiddleware works out (its device lookup is also what makes
a reset or a removed device count on the very next request, on every app server: SEC-36); this middleware
adds no query to it. Only an authenticated, unverified session costs queries (whether the user has an
authenticator, and what their companies require), so a policy change applies on the next request (SEC-37).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from urllib.parse import urlencode

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.models import AnonymousUser
from django.core.signals import setting_changed
from django.db import DatabaseError
from django.dispatch import receiver
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext_lazy

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


@dataclass(frozen=True)
class GateConfig:
    """What the gate needs from settings, worked out once (not on every request)."""

    #: URL names a pending session may reach.
    allowed_names: frozenset[str]
    #: Path prefixes served without the gate (static and media files).
    open_prefixes: tuple[str, ...]
    #: Only paths under this prefix are gated (``ENFORCE = "admin"``); ``None`` gates the whole site.
    gated_prefix: str | None


@functools.cache
def gate_config() -> GateConfig:
    prefixes = (getattr(settings, "STATIC_URL", None), getattr(settings, "MEDIA_URL", None))
    return GateConfig(
        allowed_names=ALLOWED_URL_NAMES | PENDING_URL_NAMES | mfa_settings.ALLOWED_URL_NAMES,
        open_prefixes=tuple(p for p in prefixes if p and p.startswith("/") and p != "/"),
        gated_prefix=reverse("wagtailadmin_home") if mfa_settings.ENFORCE == "admin" else None,
    )


@receiver(setting_changed)
def _forget_gate_config(setting, **kwargs):
    if setting.startswith("WAGTAIL_COMPANY_MFA_") or setting in ("STATIC_URL", "MEDIA_URL", "ROOT_URLCONF"):
        gate_config.cache_clear()


def wants_json(request) -> bool:
    if request.headers.get("x-requested-with") == "XMLHttpRequest":
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


class CompanyMFAMiddleware:
    """
    Deny by default until the second factor is done, for every user who must use one.

    The gate is lazy: ``process_view`` only wraps ``request.user``. The first time anything reads it (the
    view, a decorator, a template), the session is checked; if it still owes a second factor, the reader gets
    an ``AnonymousUser`` (SEC-28: "behaves as for an anonymous user") and the middleware replaces whatever
    the view answered with a redirect to the MFA page (or a 403 JSON body). A view that never looks at the
    user serves the same page to everyone, so it costs nothing to leave it alone.
    """

    #: Where the gate notes that this request was refused, so the response can be replaced.
    PENDING_ATTRIBUTE = "_wagtail_company_mfa_pending"
    #: Where the gate keeps its answer, so ``request.user`` and ``request.auser()`` decide only once.
    USER_ATTRIBUTE = "_wagtail_company_mfa_user"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        key_before = self._session_key(request)
        response = self.get_response(request)
        self._follow_session_key(request, key_before)
        action = getattr(request, self.PENDING_ATTRIBUTE, None)
        if action is None:
            return response
        return self.deny(request, action)

    def process_view(self, request, view_func, view_args, view_kwargs):
        config = gate_config()
        match = request.resolver_match
        if match is not None and match.view_name in config.allowed_names:
            if match.view_name in PENDING_URL_NAMES and self._pending_has_expired(request):
                # SEC-29: the timeout holds on the MFA pages too, so a code posted too late is not even
                # checked, and the session ends.
                return self.deny(request, EXPIRED)
            return None
        if config.open_prefixes and request.path_info.startswith(config.open_prefixes):
            return None
        if config.gated_prefix is not None and not request.path.startswith(config.gated_prefix):
            return None
        user = getattr(request, "user", None)
        if user is None:
            return None
        request.user = SimpleLazyObject(functools.partial(self._gate, request, user))
        auser = getattr(request, "auser", None)
        if auser is not None:
            request.auser = functools.partial(self._agate, request, auser)
        return None

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

    def deny(self, request, action: str):
        """The answer for a request refused by the gate: a redirect to the MFA page, or 403 JSON."""
        if action == EXPIRED:
            # SEC-29, SEC-31: the half-logged-in state ends; the whole session goes with it.
            logout(request)
            url = reverse("wagtailadmin_login")
        else:
            url = reverse(MFA_PAGES[action])
        message = str(MESSAGES[action])
        if wants_json(request):
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
