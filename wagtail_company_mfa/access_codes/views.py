"""
The person's pages of the recovery toolkit: "Use an access code" after the password step, and "Set up
two-factor authentication again" (after an access code, or when an administrator required it).
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.generic import FormView, TemplateView

from ..base import gate, methods
from ..base.view_helpers import PendingView, mfa_view, safe_next_url, with_next
from ..recovery_codes import unsaved
from ..recovery_codes.flows import issue_recovery_codes
from . import flows, setup_again
from .forms import AccessCodeForm


@mfa_view
class AccessCodeView(PendingView, FormView):
    """ "Use an access code from your administrator": for a session that owes its second factor."""

    template_name = "wagtail_company_mfa/access_codes/verify.html"
    form_class = AccessCodeForm

    def form_valid(self, form):
        attempt = flows.use_access_code(self.request, form.cleaned_data["code"])
        if attempt.ok:
            return redirect(with_next(self.request, reverse("wagtail_company_mfa:setup_again")))
        return self.attempt_failed(
            form,
            attempt,
            _(
                "That access code didn't work: it may be mistyped, used already, replaced by a newer one, or "
                "expired. Check it, or ask your administrator for a new one."
            ),
        )


@mfa_view
class SetupAgainView(TemplateView):
    """
    "Set up two-factor authentication again": the ways to add a new factor; once one is added and a new
    recovery code saved, the earlier factors are removed and the person goes on (docs/user-guide.md).
    """

    template_name = "wagtail_company_mfa/access_codes/setup_again.html"

    def get(self, request, *args, **kwargs):
        session = request.session
        if not setup_again.due(session):
            return redirect(safe_next_url(request))
        user = request.user
        since = setup_again.since(session)
        device = flows.new_device(user, since) if since is not None and user.is_verified() else None
        if device is not None:
            if not flows.has_new_recovery_code(user, since):
                # A passkey added beside others brings no recovery code of its own: a new one now.
                codes = issue_recovery_codes(user)
                unsaved.set_unsaved_codes(session, user, codes, reason="enrolled")
                return redirect(with_next(request, reverse("wagtail_company_mfa:save_codes")))
            if unsaved.has_unsaved_codes(session):
                return redirect(with_next(request, reverse("wagtail_company_mfa:save_codes")))
            flows.finish_setup(request, since, device)
            messages.success(
                request,
                _("Two-factor authentication is set up again. Your earlier methods no longer work."),
            )
            return redirect(safe_next_url(request))
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        here = with_next(self.request, reverse("wagtail_company_mfa:setup_again"))
        requirement = gate.standing(self.request, self.request.user).requirement
        context.update(
            reason=setup_again.reason(self.request.session),
            choices=[
                {"factor": factor, "url": f"{reverse(factor.enroll_url_name)}?{urlencode({'next': here})}"}
                for factor in methods.allowed_factors(requirement)
                if factor.enroll_url_name
            ],
            next=safe_next_url(self.request),
        )
        return context
