"""
The authenticator app's pages: "Verify your identity" (a code after the password step) and "Secure your
account" (set the app up, or replace it).
"""

from __future__ import annotations

import datetime
import logging
import time
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import FormView

from .. import factors
from ..account.layout import SETUP_IN_ADMIN, LayoutMixin, signed_in
from ..base import email_confirmation, gate, methods, reauth, verification
from ..base.session import PREFIX
from ..base.view_helpers import (
    PendingView,
    UnavailableAuthenticatorMixin,
    authenticator_unavailable,
    mfa_view,
    retry_message,
    safe_next_url,
    with_next,
    wrong_code_message,
)
from ..conf import mfa_settings
from ..trusted.forms import TrustOfferMixin
from . import algorithm as totp
from . import flows, pending_key
from .forms import CodeForm

logger = logging.getLogger(__name__)

#: Wrong confirmation codes while setting up, kept in the session: the delay grows as for a device.
SETUP_FAILURES = PREFIX + "setup_failures"


@mfa_view
class VerifyView(UnavailableAuthenticatorMixin, TrustOfferMixin, PendingView, FormView):
    """ "Verify your identity": the 6-digit code after the password step."""

    template_name = "wagtail_company_mfa/verify.html"
    form_class = CodeForm
    factor_key = "totp"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        device = flows.authenticator_for(self.request.user)
        locked_until = device and verification.locked_until_for(device)
        if locked_until and self.request.method == "GET":
            context["throttle_message"] = retry_message(locked_until)
        # The other factors the user may sign in with instead: the registry's answer the gate already has.
        others = gate.standing(self.request, self.request.user).factors - {"totp"}
        context["other_factors"] = [factor for factor in factors.all_factors() if factor.key in others]
        context["has_recovery_codes"] = "recovery_codes" in others
        return context

    def form_valid(self, form):
        attempt = flows.verify_authenticator(self.request, form.cleaned_data["code"])
        if attempt.ok:
            return self.trust_if_asked(form, redirect(safe_next_url(self.request)), attempt.device)
        # The same words for a wrong and a replayed code.
        return self.attempt_failed(form, attempt, wrong_code_message())


@mfa_view
class EnrollView(LayoutMixin, FormView):
    """
    "Secure your account": the QR code and setup key of a new secret, and the code that proves the app has
    it. The secret waits in the session (encrypted) until confirmed, so a reload shows the same one and
    nothing half-made is ever saved (SEC-22, SEC-24).
    """

    template_name = "wagtail_company_mfa/enroll.html"
    form_class = CodeForm
    page_title = gettext_lazy("Secure your account")
    header_icon = "mobile-alt"
    #: The secret being set up, read (or made) by ``dispatch``.
    key: bytes

    def dispatch(self, request, *args, **kwargs):
        user = request.user
        self.replacing = factors.is_enrolled(user)
        # Decided before the setup changes anything: a signed-in user stays in the admin layout throughout.
        self.started_in_admin = signed_in(request)
        if self.replacing and not user.is_verified():
            # SEC-28: with an authenticator, the way in is the code, not a new enrollment.
            return redirect(with_next(request, reverse("wagtail_company_mfa:verify")))
        accepted = methods.allowed_factors(gate.standing(request, user).requirement)
        if not self.replacing and not any(factor.key == "totp" for factor in accepted):
            # The user's companies accept only other factors: the choice of those instead.
            return redirect(with_next(request, reverse("wagtail_company_mfa:choose_method")))
        if not reauth.password_is_recent(request.session) or (
            self.replacing and not reauth.mfa_is_recent(request.session)
        ):
            here = with_next(request, reverse("wagtail_company_mfa:enroll"))
            return redirect(f"{reverse('wagtail_company_mfa:reauth')}?{urlencode({'next': here})}")
        if not self.replacing and email_confirmation.needs_email_confirmation(request):
            return redirect(with_next(request, reverse("wagtail_company_mfa:enroll_email")))
        try:
            key, problem = pending_key.read_pending_key(request.session, user)
            if key is None:
                self._restart_message(problem)
                key = totp.generate_key()
                pending_key.set_pending_key(request.session, user, key)
                request.session.pop(SETUP_FAILURES, None)
                if request.method == "POST":
                    return redirect(with_next(request, reverse("wagtail_company_mfa:enroll")))
            self.key = key
        except ImproperlyConfigured as exc:
            # The key list itself is unusable (check E007 names the entry): nothing can be encrypted.
            logger.error("Setting up an authenticator app for user #%s is impossible: %s", user.pk, exc)
            return authenticator_unavailable(request)
        return super().dispatch(request, *args, **kwargs)

    def in_admin(self) -> bool:
        return self.started_in_admin

    def _restart_message(self, problem: str) -> None:
        request = self.request
        if problem == pending_key.PENDING_UNREADABLE:
            # Shown on a reload too: the user may have scanned the old QR code already.
            logger.warning(
                "The setup key in the session of user #%s cannot be decrypted with the configured encryption "
                "keys (they changed, or differ between app servers); setup starts again.",
                request.user.pk,
            )
            messages.warning(
                request,
                _(
                    "Your setup could not be continued, so it has started again with a new key. If you "
                    "already scanned a QR code, remove that entry from your app, then scan the new one."
                ),
            )
        elif pending_key.PENDING_SETUP in request.session and request.method == "POST":
            messages.warning(request, _("Your setup key expired. Scan the new QR code and try again."))

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        account = self.request.user.get_username()
        issuer = mfa_settings.ISSUER
        uri = totp.provisioning_uri(self.key, account=account, issuer=issuer)
        context.update(
            qr_code=totp.qr_code_svg(
                uri,
                title=_(
                    "QR code for your authenticator app. If you can't scan it, open “Trouble scanning?” "
                    "below for the setup key to type in."
                ),
            ),
            # The same URI as the QR code, as a link for setting up on this very phone: it goes to the app,
            # never over HTTP, so the secret is in no request, log or Referer (SEC-23).
            otpauth_uri=uri,
            setup_key=totp.grouped_key(self.key),
            setup_key_compact=totp.encode_key(self.key),
            account=account,
            issuer=issuer,
            replacing=self.replacing,
            next=safe_next_url(self.request),
        )
        return context

    def form_valid(self, form):
        locked_until = self._setup_locked_until()
        if locked_until is not None:
            form.add_error(None, retry_message(locked_until))
            return self.form_invalid(form)
        step = totp.matching_step(self.key, form.cleaned_data["code"])
        if step is None:
            self._count_setup_failure()
            form.add_error(
                "code",
                _(
                    "That code didn't match. Make sure you scanned the QR code on this page (or typed this "
                    "setup key) and enter the code your app shows now."
                ),
            )
            return self.form_invalid(form)
        try:
            flows.enroll(self.request, self.key, step)
        except DatabaseError:
            logger.exception("Saving an authenticator app failed; nothing was saved.")
            form.add_error(
                None,
                _("We couldn't save your authenticator app, and nothing was changed. Please try again."),
            )
            return self.form_invalid(form)
        self.request.session.pop(SETUP_FAILURES, None)
        self.request.session[SETUP_IN_ADMIN] = self.started_in_admin
        email_confirmation.clear_email_confirmation(self.request.session)
        return redirect(with_next(self.request, reverse("wagtail_company_mfa:save_codes")))

    def _setup_locked_until(self):
        data = self.request.session.get(SETUP_FAILURES) or {}
        failures, last = data.get("count", 0), data.get("at", 0)
        if failures < 1:
            return None
        wait = mfa_settings.THROTTLE_FACTOR * 2 ** (failures - 1)
        if time.time() - last >= wait or wait < 10:
            return None
        return timezone.now() + datetime.timedelta(seconds=last + wait - time.time())

    def _count_setup_failure(self):
        data = self.request.session.get(SETUP_FAILURES) or {}
        self.request.session[SETUP_FAILURES] = {"count": data.get("count", 0) + 1, "at": time.time()}
