"""
The pages between the password step and the admin (SPEC §3.1, §3.2, §3.4): verify with a code, verify with
a recovery code, "Two-factor authentication required", and "Almost there" (save the new recovery code).
"""

from __future__ import annotations

import math

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.generic import FormView, TemplateView, View

from .. import flows, session
from ..forms import CodeForm, RecoveryCodeForm, SavedCodesForm
from ..models import RecoveryCodeDevice
from ..policy import requirement_for
from ..recovery_codes import codes as recovery_codes
from .base import UnavailableAuthenticatorMixin, mfa_view, safe_next_url, with_next


def wrong_code_message() -> str:
    return _("That code didn't work. Check your authenticator app and try again.")


def busy_message() -> str:
    return _("Your code couldn't be checked just now, and it was not counted. Try again in a moment.")


def retry_message(locked_until) -> str:
    seconds = max(1, math.ceil((locked_until - timezone.now()).total_seconds()))
    if seconds < 120:
        wait = ngettext("%(count)d second", "%(count)d seconds", seconds) % {"count": seconds}
    else:
        minutes = math.ceil(seconds / 60)
        wait = ngettext("%(count)d minute", "%(count)d minutes", minutes) % {"count": minutes}
    return _("Too many wrong codes. You can try again in %(wait)s.") % {"wait": wait}


class PendingView(View):
    """
    A page of the half-logged-in state. Sends the visitor on if they are in the wrong place: already
    verified, not enrolled, or with recovery codes still to save.
    """

    template_name = ""

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_verified():
            if session.has_unsaved_codes(request.session):
                return redirect(with_next(request, reverse("wagtail_company_mfa:save_codes")))
            return redirect(safe_next_url(request))
        if not flows.is_enrolled(request.user):
            if requirement_for(request.user).is_required:
                return redirect(with_next(request, reverse("wagtail_company_mfa:required")))
            return redirect(safe_next_url(request))
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["next"] = safe_next_url(self.request)
        return context

    def attempt_failed(self, form, attempt, wrong_message):
        """Explain a failed attempt: wrong (and maybe now throttled), or refused while throttled or busy."""
        if attempt.busy:
            form.add_error(None, busy_message())
            return self.form_invalid(form)
        if not attempt.refused:
            form.add_error(None, wrong_message)
        if attempt.locked_until:
            form.add_error(None, retry_message(attempt.locked_until))
        return self.form_invalid(form)


@mfa_view
class VerifyView(UnavailableAuthenticatorMixin, PendingView, FormView):
    """ "Verify your identity": the 6-digit code after the password step."""

    template_name = "wagtail_company_mfa/verify.html"
    form_class = CodeForm

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        device = flows.authenticator_for(self.request.user)
        locked_until = device and flows.locked_until_for(device)
        if locked_until and self.request.method == "GET":
            context["throttle_message"] = retry_message(locked_until)
        context["has_recovery_codes"] = RecoveryCodeDevice.objects.filter(
            user_id=self.request.user.pk
        ).exists()
        return context

    def form_valid(self, form):
        attempt = flows.verify_authenticator(self.request, form.cleaned_data["code"])
        if attempt.ok:
            return redirect(safe_next_url(self.request))
        # The same words for a wrong and a replayed code (SECURITY decision 4).
        return self.attempt_failed(form, attempt, wrong_code_message())


@mfa_view
class RecoveryView(PendingView, FormView):
    """ "Use a recovery code instead"."""

    template_name = "wagtail_company_mfa/recovery.html"
    form_class = RecoveryCodeForm

    def form_valid(self, form):
        attempt = flows.use_recovery_code(self.request, form.cleaned_data["code"])
        if attempt.ok:
            return redirect(with_next(self.request, reverse("wagtail_company_mfa:save_codes")))
        return self.attempt_failed(
            form,
            attempt,
            _("That recovery code didn't work. Check it and try again, or contact your administrator."),
        )


@mfa_view
class RequiredView(TemplateView):
    """ "Two-factor authentication required": the user must enroll before going on (SPEC §3.2)."""

    template_name = "wagtail_company_mfa/required.html"

    def get(self, request, *args, **kwargs):
        if flows.is_enrolled(request.user):
            return redirect(with_next(request, reverse("wagtail_company_mfa:verify")))
        self.requirement = requirement_for(request.user)
        if not self.requirement.is_required:
            return redirect(safe_next_url(request))
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            requirement=self.requirement,
            next=safe_next_url(self.request),
            enroll_url=with_next(self.request, reverse("wagtail_company_mfa:enroll")),
        )
        return context


@mfa_view
class SaveCodesView(FormView):
    """ "Almost there": the new recovery code, shown until the user confirms they saved it (SPEC §3.3c)."""

    template_name = "wagtail_company_mfa/save_codes.html"
    form_class = SavedCodesForm

    def dispatch(self, request, *args, **kwargs):
        unsaved = session.get_unsaved_codes(request.session, request.user)
        if unsaved is None or not request.user.is_verified():
            session.clear_unsaved_codes(request.session)
            return redirect(safe_next_url(request))
        self.codes, self.reason = unsaved
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            codes=[
                (f"mfa-recovery-code-{index}", recovery_codes.display(code))
                for index, code in enumerate(self.codes, start=1)
            ],
            reason=self.reason,
            next=safe_next_url(self.request),
            enroll_url=with_next(self.request, reverse("wagtail_company_mfa:enroll")),
            download_url=reverse("wagtail_company_mfa:download_codes"),
        )
        return context

    def form_valid(self, form):
        session.clear_unsaved_codes(self.request.session)
        if self.reason == "used":
            messages.warning(
                self.request,
                _(
                    "You signed in with a recovery code. If you lost your phone, set up your authenticator "
                    "app again on your new device."
                ),
            )
        elif self.reason == "regenerated":
            messages.success(self.request, _("Your new recovery code is saved. The old one no longer works."))
        else:
            messages.success(self.request, _("Two-factor authentication is on for your account."))
        return redirect(safe_next_url(self.request))


@mfa_view
class DownloadCodesView(View):
    """The unsaved recovery code(s) as a text file to keep."""

    def get(self, request):
        unsaved = session.get_unsaved_codes(request.session, request.user)
        if unsaved is None or not request.user.is_verified():
            return redirect(safe_next_url(request))
        codes, _reason = unsaved
        lines = [
            _("Recovery code for %(user)s") % {"user": request.user.get_username()},
            _("Each code works once. Keep this file somewhere safe, away from your phone."),
            "",
            *(recovery_codes.display(code) for code in codes),
            "",
        ]
        response = HttpResponse("\n".join(lines), content_type="text/plain; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="recovery-code.txt"'
        return response
