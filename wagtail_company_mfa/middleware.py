"""
The gate: a password-only session of a user who must use MFA reaches nothing but the allow-list (SPEC §4,
SEC-28).

Place it right after ``django_otp.middleware.OTPMiddleware``. It decides in ``process_view``, where the URL is
already resolved, so the allow-list is by URL name and costs no extra ``resolve()``. A verified session
passes on ``request.user.is_verified()``, which OTPMiddleware has already worked out: this middleware adds no
query to it. Only an authenticated, unverified session costs queries (whether the user has an authenticator,
and what their companies require), so a policy change or a reset applies on the very next request on every
app server (SEC-36, SEC-37).
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.messages import add_message, constants
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

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


def _static_prefixes() -> tuple[str, ...]:
    return tuple(
        prefix
        for prefix in (getattr(settings, "STATIC_URL", None), getattr(settings, "MEDIA_URL", None))
        if prefix and prefix.startswith("/") and prefix != "/"
    )


def wants_json(request) -> bool:
    if request.headers.get("x-requested-with") == "XMLHttpRequest":
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


class CompanyMFAMiddleware:
    """Deny by default until the second factor is done, for every user who must use one."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if self._is_allow_listed(request):
            return None
        if mfa_settings.ENFORCE == "admin" and not request.path.startswith(reverse("wagtailadmin_home")):
            return None
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        try:
            action = self.pending_action(request, user)
        except Exception:
            # SEC-46: an error while deciding never lets the request through.
            logger.exception("wagtail-company-mfa could not decide on a request; treating it as unverified.")
            action = EXPIRED
        if action is None:
            return None
        return self.deny(request, action)

    def _is_allow_listed(self, request) -> bool:
        match = request.resolver_match
        if match is not None:
            name = match.view_name
            if name in ALLOWED_URL_NAMES or name in PENDING_URL_NAMES or name in mfa_settings.ALLOWED_URL_NAMES:
                return True
        prefixes = _static_prefixes()
        return bool(prefixes) and request.path_info.startswith(prefixes)

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
        if action == EXPIRED:
            # SEC-29, SEC-31: the half-logged-in state ends; the whole session goes with it.
            logout(request)
            message = _("Your sign-in has expired. Please sign in again.")
            url = reverse("wagtailadmin_login")
            if not wants_json(request):
                add_message(request, constants.WARNING, message, fail_silently=True)
        else:
            url = reverse(
                {
                    VERIFY: "wagtail_company_mfa:verify",
                    ENROLL: "wagtail_company_mfa:required",
                    SAVE_CODES: "wagtail_company_mfa:save_codes",
                }[action]
            )
            message = {
                VERIFY: _("Enter the code from your authenticator app to continue."),
                ENROLL: _("Set up two-factor authentication to continue."),
                SAVE_CODES: _("Confirm that you have saved your recovery code to continue."),
            }[action]
        if wants_json(request):
            return JsonResponse(
                {"error": f"mfa_{action}_required", "detail": message, "location": url}, status=403
            )
        if request.method in ("GET", "HEAD") and action != EXPIRED:
            url = f"{url}?{urlencode({'next': request.get_full_path()})}"
        return redirect(url)
