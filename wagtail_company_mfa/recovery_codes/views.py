"""
The recovery-code pages: sign in with a recovery code, and "Almost there" (save the new recovery code, or
download it).
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import FormView, View

from ..account.layout import SETUP_IN_ADMIN, LayoutMixin
from ..base.view_helpers import PendingView, mfa_view, safe_next_url, with_next
from ..conf import mfa_settings
from ..trusted.forms import TrustOfferMixin
from . import codes as recovery_codes
from . import flows, unsaved
from .forms import RecoveryCodeForm, SavedCodesForm


@mfa_view
class RecoveryView(TrustOfferMixin, PendingView, FormView):
    """ "Use a recovery code instead"."""

    template_name = "wagtail_company_mfa/recovery.html"
    form_class = RecoveryCodeForm
    factor_key = "recovery_codes"

    def form_valid(self, form):
        attempt = flows.use_recovery_code(self.request, form.cleaned_data["code"])
        if attempt.ok:
            response = redirect(with_next(self.request, reverse("wagtail_company_mfa:save_codes")))
            return self.trust_if_asked(form, response, attempt.device)
        return self.attempt_failed(
            form,
            attempt,
            _("That recovery code didn't work. Check it and try again, or contact your administrator."),
        )


@mfa_view
class SaveCodesView(LayoutMixin, FormView):
    """ "Almost there": the new recovery code, shown until the user confirms they saved it."""

    template_name = "wagtail_company_mfa/save_codes.html"
    form_class = SavedCodesForm
    page_title = gettext_lazy("Almost there")
    header_icon = "key"
    # The new code must be saved first: no way back from here.
    back_to_security = False

    def in_admin(self) -> bool:
        # A new code from the Security tab, or the end of a setup started inside the admin.
        return self.reason == "regenerated" or bool(self.request.session.get(SETUP_IN_ADMIN))

    def dispatch(self, request, *args, **kwargs):
        pending = unsaved.get_unsaved_codes(request.session, request.user)
        if pending is None or not request.user.is_verified():
            unsaved.clear_unsaved_codes(request.session)
            return redirect(safe_next_url(request))
        self.codes, self.reason = pending
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
        unsaved.clear_unsaved_codes(self.request.session)
        self.request.session.pop(SETUP_IN_ADMIN, None)
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
        pending = unsaved.get_unsaved_codes(request.session, request.user)
        if pending is None or not request.user.is_verified():
            return redirect(safe_next_url(request))
        codes, _reason = pending
        site = mfa_settings.ISSUER
        lines = [
            _("Recovery code for %(user)s") % {"user": request.user.get_username()},
            # Which site the code is for, read months later: its name and its address.
            _("Site: %(site)s, %(url)s")
            % {"site": site, "url": request.build_absolute_uri(reverse("wagtailadmin_home"))},
            _("Each code works once. Keep this file somewhere safe, away from your phone."),
            "",
            *(recovery_codes.display(code) for code in codes),
            "",
        ]
        response = HttpResponse("\n".join(lines), content_type="text/plain; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="recovery-code.txt"'
        return response
