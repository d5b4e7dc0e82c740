"""
Self-service changes from the Security tab: show a new recovery code, turn MFA off.

Each is its own page: GET shows what will happen and a form, POST (CSRF-protected by Django) does it through
one function in ``account/flows.py``. Both ask for the password again, and an enrolled user for a current
code as well, unless that was done in the last ``REAUTH_TIMEOUT`` seconds (SEC-25). Enrolling early and
replacing the authenticator app are ``EnrollView``'s job (``totp/views.py``), which asks the same.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import TemplateView
from wagtail.admin import messages
from wagtail.admin.views.generic import WagtailAdminTemplateMixin

from .. import factors
from ..base.reauth import recently_authenticated
from ..base.view_helpers import mfa_view
from ..companies.policy import requirement_for
from . import flows
from .panel import security_tab_url


class SecurityActionView(WagtailAdminTemplateMixin, TemplateView):
    """A confirmation page and its POST form for one change to the user's MFA, behind re-authentication."""

    http_method_names = ["get", "post", "options"]
    header_icon = "lock"
    url_name = ""

    def dispatch(self, request, *args, **kwargs):
        refused = self.refuse()
        if refused is not None:
            return refused
        if not recently_authenticated(request):
            # SEC-25: not a change of a past session's making. Nothing is done, even for a POST.
            here = reverse(self.url_name)
            return redirect(f"{reverse('wagtail_company_mfa:reauth')}?{urlencode({'next': here})}")
        return super().dispatch(request, *args, **kwargs)

    def get_action_url(self) -> str:
        return reverse(self.url_name)

    def refuse(self):
        """A response when this change cannot be made at all (re-authenticating would not help), or None."""
        return None

    def get_breadcrumbs_items(self):
        return [
            *self.breadcrumbs_items,
            {"url": reverse("wagtailadmin_account"), "label": _("Account")},
            {"url": security_tab_url(), "label": _("Security")},
            {"url": "", "label": self.get_page_title()},
        ]

    def get_context_data(self, **kwargs):
        return {
            **super().get_context_data(**kwargs),
            "action_url": self.get_action_url(),
            "cancel_url": security_tab_url(),
        }

    def post(self, request, *args, **kwargs):
        raise NotImplementedError


@mfa_view
class RegenerateCodesView(SecurityActionView):
    """ "Show a new recovery code": the old one stops working at once (SEC-21)."""

    template_name = "wagtail_company_mfa/security/regenerate_codes.html"
    page_title = gettext_lazy("Show a new recovery code")
    header_icon = "key"
    url_name = "wagtail_company_mfa:security_regenerate_codes"

    def refuse(self):
        if not factors.is_enrolled(self.request.user):
            messages.error(
                self.request, _("Set up two-factor authentication first: you have no recovery code.")
            )
            return redirect(security_tab_url())
        return None

    def post(self, request, *args, **kwargs):
        flows.regenerate_recovery_codes(request)
        return redirect(
            f"{reverse('wagtail_company_mfa:save_codes')}?{urlencode({'next': security_tab_url()})}"
        )


@mfa_view
class DisableView(SecurityActionView):
    """ "Turn off two-factor authentication": only while no company requires it of the user now."""

    template_name = "wagtail_company_mfa/security/disable.html"
    page_title = gettext_lazy("Turn off two-factor authentication")
    header_icon = "lock-open"
    url_name = "wagtail_company_mfa:security_disable"

    def refuse(self):
        user = self.request.user
        if not factors.is_enrolled(user):
            messages.info(self.request, _("Two-factor authentication is already off for your account."))
            return redirect(security_tab_url())
        self.requirement = requirement_for(user)
        if self.requirement.is_required:
            # No amount of re-authenticating changes this, so say why straight away (for a POST too).
            return self.render_to_response(self.get_context_data(), status=403)
        return None

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "requirement": self.requirement}

    def post(self, request, *args, **kwargs):
        try:
            flows.disable_mfa(request)
        except flows.MFAStillRequired as refusal:
            self.requirement = refusal.requirement
            return self.render_to_response(self.get_context_data(), status=403)
        messages.success(
            request,
            _("Two-factor authentication is off. You now sign in with your password only."),
        )
        return redirect(security_tab_url())
