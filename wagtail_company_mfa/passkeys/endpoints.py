"""
The four JSON endpoints of the two WebAuthn ceremonies, which django-otp-webauthn's browser code calls
(docs/passkeys.md). They subclass django-otp-webauthn's views, keeping their parsing and error answers, with
the package's rules: the password again before a registration (SEC-25), a verified session before a new
factor is added to an enrolled account, never a passwordless sign-in, failed assertions throttled per user.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from django.contrib.sessions.backends.base import UpdateError
from django.db import DatabaseError
from django.http import JsonResponse
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django_otp_webauthn import exceptions as webauthn_errors
from django_otp_webauthn.views import (
    BeginCredentialAuthenticationView,
    BeginCredentialRegistrationView,
    CompleteCredentialAuthenticationView,
    CompleteCredentialRegistrationView,
)

from .. import factors
from ..base import pending
from ..base.view_helpers import retry_message, safe_next_url
from ..trusted import flows as trusted_flows
from ..trusted.forms import passkey_wants_trust
from . import flows
from .helper import helper_for
from .rules import Refused, registration_refusal, throttled_until

if TYPE_CHECKING:
    # What the mixin is used with, so that its ``super()`` calls are checked against it.
    from django_otp_webauthn.views import BaseWebAuthnView as _CeremonyBase
else:
    _CeremonyBase = object

logger = logging.getLogger(__name__)


class CeremonyMixin(_CeremonyBase):
    """What the four endpoints share: the package's helper, and no server error for a database failure."""

    def get_helper(self):
        return helper_for(self.request)

    def handle_exception(self, exc):
        if isinstance(exc, UpdateError):
            # The session ended or changed key while this request used it (another tab, a concurrent
            # request that completed first): nothing was done here.
            return JsonResponse(
                {
                    "detail": _("Your sign-in changed in another tab or window. Reload this page."),
                    "code": "session_changed",
                },
                status=400,
            )
        if isinstance(exc, DatabaseError):
            logger.warning("A database error stopped a passkey ceremony; nothing was saved: %s", exc)
            return JsonResponse(
                {
                    "detail": _(
                        "This couldn't be done just now, and nothing was changed. Try again in a moment."
                    ),
                    "code": "busy",
                },
                status=503,
            )
        return super().handle_exception(exc)


@method_decorator(never_cache, name="dispatch")
class RegisterBeginView(CeremonyMixin, BeginCredentialRegistrationView):
    """The options for a new credential (the user's own passkeys excluded)."""

    def user_is_mfa_enrolled(self, user) -> bool:
        return factors.is_enrolled(user)

    def check_can_register(self):
        problem = registration_refusal(self.request)
        if problem:
            raise Refused(detail=problem)


@method_decorator(never_cache, name="dispatch")
class RegisterCompleteView(CeremonyMixin, CompleteCredentialRegistrationView):
    """Verify and save the new credential; answers where the browser goes next."""

    user_is_mfa_enrolled = RegisterBeginView.user_is_mfa_enrolled
    check_can_register = RegisterBeginView.check_can_register

    def post(self, request, *args, **kwargs):
        state = self.get_state()  # taken out of the session (and saved) first: a state is used once
        try:
            added = flows.add_passkey(request, self.get_helper(), state, request.data)
        except flows.CEREMONY_ERRORS as exc:
            logger.info("A passkey registration of user #%s was refused: %s", request.user.pk, exc)
            return JsonResponse(
                {
                    "detail": _(
                        "This passkey could not be added: the answer from your browser could not be "
                        "verified. Try again."
                    ),
                    "code": "invalid_registration",
                },
                status=400,
            )
        after = safe_next_url(request)
        rename = reverse("wagtail_company_mfa:passkey_rename", args=[added.device.pk])
        url = f"{rename}?{urlencode({'next': after, 'new': '1'})}"
        if added.first:
            url = f"{reverse('wagtail_company_mfa:save_codes')}?{urlencode({'next': url})}"
        return JsonResponse({"id": added.device.pk, "redirect_url": url})


class AuthenticationRulesMixin(CeremonyMixin):
    """A passkey is a second factor only: there must be a user past the password step (SEC-28)."""

    def check_can_authenticate(self):
        user = self.get_user()
        if user is None or not user.is_active:
            raise webauthn_errors.NotAuthenticated()
        session = self.request.session
        if not user.is_verified() and pending.pending_has_expired(session):
            raise Refused(detail=_("Your sign-in has expired. Please sign in again."))
        if locked_until := throttled_until(user):
            raise Refused(detail=retry_message(locked_until), code="throttled")
        if not flows.passkeys_of(user):
            raise webauthn_errors.CredentialNotFound(detail=_("You have no passkey on this account."))


@method_decorator(never_cache, name="dispatch")
class AuthBeginView(AuthenticationRulesMixin, BeginCredentialAuthenticationView):
    """The options for an assertion: a challenge, and the user's own credentials."""


@method_decorator(never_cache, name="dispatch")
class AuthCompleteView(AuthenticationRulesMixin, CompleteCredentialAuthenticationView):
    """Check the assertion; on success the session is verified (or, already verified, re-confirmed)."""

    def post(self, request, *args, **kwargs):
        state = self.get_state()  # taken out of the session (and saved) first: a state is used once
        # "Trust this browser": asked of a sign-in, not of a confirmation; the period the policy allows now.
        trust_hours = (
            trusted_flows.offer_hours(request)
            if passkey_wants_trust(request) and not request.user.is_verified()
            else 0
        )
        attempt = flows.verify_passkey(request, self.get_helper(), state, request.data)
        if attempt.ok and attempt.device is not None:
            response = JsonResponse({"id": attempt.device.pk, "redirect_url": safe_next_url(request)})
            trusted_flows.grant(request, response, attempt.device, trust_hours)
            return response
        if attempt.locked_until:
            return JsonResponse(
                {"detail": retry_message(attempt.locked_until), "code": "throttled"}, status=429
            )
        return JsonResponse(
            {
                "detail": _("That passkey didn't work. Try again, or use another way to sign in."),
                "code": "invalid_authentication",
            },
            status=400,
        )
