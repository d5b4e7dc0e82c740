"""
The passkey pages: "Add a passkey or security key", "Use your passkey" at sign-in (and "Confirm it's you"
before a change), and renaming and removing one from the Security tab (docs/passkeys.md). The JSON endpoints
their browser code calls are in ``endpoints.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django import forms
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import TemplateView, View
from wagtail.admin import messages

from .. import factors
from ..account.layout import SETUP_IN_ADMIN, LayoutMixin, signed_in
from ..account.panel import security_tab_url
from ..account.views import SecurityActionView
from ..base import email_confirmation, gate, methods, reauth
from ..base.view_helpers import PendingView, mfa_view, retry_message, safe_next_url, with_next
from ..companies.policy import requirement_for
from ..trusted import flows as trusted_flows
from ..trusted.forms import trust_form_field
from . import flows
from .rules import ceremony_configuration, needs_a_hostname, reauth_url, registration_refusal, throttled_until

if TYPE_CHECKING:
    # What the mixin is used with, so that its ``super()`` calls are checked against it.
    from django.views.generic import View as _ActionBase
else:
    _ActionBase = object


@mfa_view
class AddView(LayoutMixin, TemplateView):
    """
    "Add a passkey or security key": at enrollment, for a company that requires one, or as another one. In
    the admin layout when reached from inside the admin (the Security tab), else in the sign-in layout.
    """

    template_name = "wagtail_company_mfa/passkeys/add.html"
    page_title = gettext_lazy("Add a passkey or security key")
    header_icon = "key"

    def get(self, request, *args, **kwargs):
        user = request.user
        self.enrolled = enrolled = factors.is_enrolled(user)
        here = with_next(request, reverse("wagtail_company_mfa:passkey_add"))
        if enrolled and not user.is_verified():
            return redirect(with_next(request, reverse(factors.verify_url_name(factors.factors_of(user)))))
        if not reauth.password_is_recent(request.session) or (
            enrolled and not reauth.mfa_is_recent(request.session)
        ):
            return redirect(reauth_url(request, here))
        if not enrolled and email_confirmation.needs_email_confirmation(request):
            return redirect(with_next(request, reverse("wagtail_company_mfa:enroll_email")))
        # "Almost there" after a first passkey stays in the layout the setup started in.
        request.session[SETUP_IN_ADMIN] = signed_in(request)
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        request = self.request
        next_url = safe_next_url(request)
        return {
            **super().get_context_data(**kwargs),
            "next": next_url,
            "needs_a_hostname": needs_a_hostname(request),
            "configuration": ceremony_configuration(request, next_url=next_url),
            "first": not self.enrolled,
            "due_companies": methods.due(request.session) or [],
            "refusal": registration_refusal(request, enrolled=self.enrolled),
        }


@mfa_view
class VerifyView(PendingView, TemplateView):
    """ "Use your passkey": the second step of a user who has one."""

    template_name = "wagtail_company_mfa/passkeys/verify.html"
    factor_key = "passkeys"

    def dispatch(self, request, *args, **kwargs):
        # A verified session comes here to confirm it is still them before a change to their MFA ("Enter
        # your password" sends it); a pending one to sign in.
        self.confirming = request.user.is_verified()
        if self.confirming:
            if not flows.passkeys_of(request.user):
                return redirect(safe_next_url(request))
            return View.dispatch(self, request, *args, **kwargs)
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        request = self.request
        keys = frozenset() if self.confirming else gate.standing(request, request.user).factors
        keys = factors.factors_of(request.user) if self.confirming else keys
        context.update(
            configuration=ceremony_configuration(request, next_url=context["next"]),
            needs_a_hostname=needs_a_hostname(request),
            confirming=self.confirming,
            alternatives=[
                {"factor": factor, "url": with_next(request, reverse(factor.verify_url_name))}
                for factor in factors.all_factors()
                if factor.key in keys and factor.key != self.factor_key and factor.alternative_label
            ]
            if not self.confirming
            else [],
        )
        if locked_until := throttled_until(request.user):
            context["throttle_message"] = retry_message(locked_until)
        if not self.confirming:
            context["trust_field"] = trust_form_field(trusted_flows.offer_hours(request))
        return context

    def post(self, request, *args, **kwargs):
        return self.http_method_not_allowed(request, *args, **kwargs)


class PasskeyNameForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Name"),
        max_length=flows.MAX_NAME_LENGTH,
        help_text=gettext_lazy(
            "So you can tell your passkeys apart, for example “Work laptop” or “Blue key”."
        ),
        error_messages={"required": gettext_lazy("Give the passkey a name.")},
    )


class PasskeyActionMixin(_ActionBase):
    """A Security-tab page about one of the user's own passkeys (another user's is a 404)."""

    def get_passkey(self):
        model = flows.credential_model()
        owner: int = self.request.user.pk or 0
        try:
            return model.objects.get(pk=self.kwargs["pk"], user_id=owner, confirmed=True)
        except model.DoesNotExist:
            raise Http404 from None


@mfa_view
class RenameView(PasskeyActionMixin, SecurityActionView):
    """ "Name your passkey": right after adding one, or later from the Security tab."""

    template_name = "wagtail_company_mfa/passkeys/rename.html"
    page_title = gettext_lazy("Name your passkey")
    header_icon = "key"

    def dispatch(self, request, *args, **kwargs):
        # Renaming changes nothing about how the user signs in: no re-authentication. The session is verified
        # (the gate sees to it), and the passkey must be the user's own.
        self.passkey = self.get_passkey()
        self.form = PasskeyNameForm(request.POST or None, initial={"name": self.passkey.name})
        # Past SecurityActionView's own dispatch: its checks are made above, for this passkey.
        return super(SecurityActionView, self).dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        return {
            **super().get_context_data(**kwargs),
            "passkey": self.passkey,
            "form": self.form,
            "is_new": self.request.GET.get("new") == "1",
            "next": self._next(),
        }

    def get_action_url(self) -> str:
        return self.request.get_full_path()

    def _next(self) -> str:
        if "next" in self.request.GET or "next" in self.request.POST:
            return safe_next_url(self.request)
        return security_tab_url()

    def post(self, request, *args, **kwargs):
        if not self.form.is_valid():
            return self.render_to_response(self.get_context_data(), status=400)
        name = self.form.cleaned_data["name"].strip()
        if name != self.passkey.name:
            flows.rename(request, self.passkey, name)
            messages.success(request, _("Passkey renamed to “%(name)s”.") % {"name": name})
        return redirect(self._next())


@mfa_view
class RemoveView(PasskeyActionMixin, SecurityActionView):
    """ "Remove passkey": behind the password again, refused where it would leave the user without MFA."""

    template_name = "wagtail_company_mfa/passkeys/remove.html"
    page_title = gettext_lazy("Remove passkey")
    header_icon = "bin"

    def dispatch(self, request, *args, **kwargs):
        self.passkey = self.get_passkey()
        if not reauth.recently_authenticated(request):
            here = reverse("wagtail_company_mfa:passkey_remove", args=[self.passkey.pk])
            return redirect(reauth_url(request, here))
        # Past SecurityActionView's own dispatch: its checks are made above, for this passkey.
        return super(SecurityActionView, self).dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        return {
            **super().get_context_data(**kwargs),
            "passkey": self.passkey,
            "requirement": requirement_for(self.request.user),
        }

    def get_action_url(self) -> str:
        return reverse("wagtail_company_mfa:passkey_remove", args=[self.passkey.pk])

    def post(self, request, *args, **kwargs):
        try:
            flows.remove(request, self.passkey)
        except flows.RemovalRefused as refusal:
            if refusal.reason == flows.LAST_FACTOR:
                messages.error(
                    request,
                    _(
                        "This is your only second factor, so it can't be removed. Add another one first, or "
                        "turn two-factor authentication off."
                    ),
                )
            else:
                messages.error(
                    request,
                    _(
                        "This passkey can't be removed: your company accepts only passkeys and security "
                        "keys, and it is your last one. Add another one first."
                    ),
                )
            return redirect(security_tab_url())
        except flows.credential_model().DoesNotExist:
            raise Http404 from None
        messages.success(request, _("Passkey “%(name)s” removed.") % {"name": self.passkey.name})
        return redirect(security_tab_url())
