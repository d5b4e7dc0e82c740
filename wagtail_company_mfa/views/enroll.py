"""
Setting up the authenticator app (SPEC §3.3): "Enter your password", then "Secure your account".
"""

from __future__ import annotations

import datetime
import logging
import time
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import logout
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.generic import FormView

from .. import flows, session
from ..conf import mfa_settings
from ..forms import CodeForm, PasswordForm
from ..totp import algorithm as totp
from .base import UnavailableAuthenticatorMixin, authenticator_unavailable, mfa_view, safe_next_url, with_next
from .enroll_email import needs_email_confirmation
from .login import busy_message, retry_message, wrong_code_message

logger = logging.getLogger(__name__)

#: Wrong confirmation codes while setting up, kept in the session: the delay grows as for a device.
SETUP_FAILURES = session.PREFIX + "setup_failures"
#: Wrong passwords on "Enter your password" in this session; at MAX_REAUTH_FAILURES the session ends.
REAUTH_FAILURES = session.PREFIX + "reauth_failures"
MAX_REAUTH_FAILURES = 5


@mfa_view
class ReauthView(UnavailableAuthenticatorMixin, FormView):
    """
    "Enter your password" (SEC-25): asked before enrolling or changing MFA unless the password was entered
    in the last ``REAUTH_TIMEOUT`` seconds. An enrolled user also gives a current code.
    """

    template_name = "wagtail_company_mfa/reauth.html"
    form_class = PasswordForm

    def dispatch(self, request, *args, **kwargs):
        self.needs_code = request.user.is_verified() and not session.mfa_is_recent(request.session)
        return super().dispatch(request, *args, **kwargs)

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "request": self.request}

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["next"] = safe_next_url(self.request)
        if self.needs_code:
            context["code_form"] = kwargs.get("code_form") or CodeForm(prefix="mfa")
        return context

    def post(self, request, *args, **kwargs):
        form = self.get_form()
        code_form = CodeForm(request.POST, prefix="mfa") if self.needs_code else None
        if form.has_error("password", "invalid_password") and self._too_many_wrong_passwords():
            # Guessing the password from a stolen session ends the session (SEC-10 spirit, SEC-25).
            logout(request)
            messages.error(request, _("Too many wrong passwords. Sign in again."))
            return redirect("wagtailadmin_login")
        if not form.is_valid() or (code_form is not None and not code_form.is_valid()):
            return self.render_to_response(self.get_context_data(form=form, code_form=code_form))
        if code_form is not None:
            attempt = flows.verify_authenticator(request, code_form.cleaned_data["code"])
            if not attempt.ok:
                if attempt.busy:
                    code_form.add_error("code", busy_message())
                elif not attempt.refused:
                    code_form.add_error("code", wrong_code_message())
                if attempt.locked_until:
                    code_form.add_error("code", retry_message(attempt.locked_until))
                return self.render_to_response(self.get_context_data(form=form, code_form=code_form))
        request.session.pop(REAUTH_FAILURES, None)
        session.mark_password(request.session)
        return redirect(safe_next_url(request))

    def _too_many_wrong_passwords(self) -> bool:
        failures = self.request.session.get(REAUTH_FAILURES, 0) + 1
        self.request.session[REAUTH_FAILURES] = failures
        return failures >= MAX_REAUTH_FAILURES


@mfa_view
class EnrollView(FormView):
    """
    "Secure your account": the QR code and setup key of a new secret, and the code that proves the app has
    it. The secret waits in the session (encrypted) until confirmed, so a reload shows the same one and
    nothing half-made is ever saved (SEC-22, SEC-24).
    """

    template_name = "wagtail_company_mfa/enroll.html"
    form_class = CodeForm

    def dispatch(self, request, *args, **kwargs):
        user = request.user
        self.replacing = flows.is_enrolled(user)
        if self.replacing and not user.is_verified():
            # SEC-28: with an authenticator, the way in is the code, not a new enrollment.
            return redirect(with_next(request, reverse("wagtail_company_mfa:verify")))
        if not session.password_is_recent(request.session) or (
            self.replacing and not session.mfa_is_recent(request.session)
        ):
            here = with_next(request, reverse("wagtail_company_mfa:enroll"))
            return redirect(f"{reverse('wagtail_company_mfa:reauth')}?{urlencode({'next': here})}")
        if not self.replacing and needs_email_confirmation(request):
            return redirect(with_next(request, reverse("wagtail_company_mfa:enroll_email")))
        try:
            self.key, problem = session.read_pending_key(request.session, user)
            if self.key is None:
                self._restart_message(problem)
                self.key = totp.generate_key()
                session.set_pending_key(request.session, user, self.key)
                request.session.pop(SETUP_FAILURES, None)
                if request.method == "POST":
                    return redirect(with_next(request, reverse("wagtail_company_mfa:enroll")))
        except ImproperlyConfigured as exc:
            # The key list itself is unusable (check E007 names the entry): nothing can be encrypted.
            logger.error("Setting up an authenticator app for user #%s is impossible: %s", user.pk, exc)
            return authenticator_unavailable(request)
        return super().dispatch(request, *args, **kwargs)

    def _restart_message(self, problem: str) -> None:
        request = self.request
        if problem == session.PENDING_UNREADABLE:
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
        elif session.PENDING_SETUP in request.session and request.method == "POST":
            messages.warning(request, _("Your setup key expired. Scan the new QR code and try again."))

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        account = self.request.user.get_username()
        issuer = mfa_settings.ISSUER
        uri = totp.provisioning_uri(self.key, account=account, issuer=issuer)
        context.update(
            qr_code=totp.qr_code_svg(uri, title=_("QR code for your authenticator app")),
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
        session.clear_email_confirmation(self.request.session)
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
