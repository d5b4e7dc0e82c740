"""
The pages every factor shares: "Two-factor authentication required" (enroll before going on) and "Enter
your password" (re-authentication, SEC-25).
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import logout
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import FormView, TemplateView

from .. import factors
from ..account.layout import LayoutMixin
from ..companies.policy import requirement_for
from ..totp import flows as totp_flows
from ..totp.forms import CodeForm
from . import methods, reauth
from .forms import PasswordForm
from .session import PREFIX
from .view_helpers import (
    UnavailableAuthenticatorMixin,
    busy_message,
    mfa_view,
    retry_message,
    safe_next_url,
    with_next,
    wrong_code_message,
)

#: Wrong passwords on "Enter your password" in this session; at MAX_REAUTH_FAILURES the session ends.
REAUTH_FAILURES = PREFIX + "reauth_failures"
MAX_REAUTH_FAILURES = 5


def method_choices(request, requirement) -> list[dict]:
    """The factors the user may enroll with under ``requirement`` (their companies' methods), with links."""
    return [
        {"factor": factor, "url": with_next(request, reverse(factor.enroll_url_name))}
        for factor in methods.allowed_factors(requirement)
        if factor.enroll_url_name
    ]


@mfa_view
class RequiredView(TemplateView):
    """
    "Two-factor authentication required": the user must enroll before going on, choosing a method their
    companies accept. Also "A passkey or security key is required", for a user who signed in with a factor
    one of their companies no longer accepts.
    """

    template_name = "wagtail_company_mfa/required.html"

    def get(self, request, *args, **kwargs):
        user = request.user
        self.due_companies = methods.due(request.session) if user.is_verified() else None
        if self.due_companies is None and factors.is_enrolled(user):
            return redirect(with_next(request, reverse(factors.verify_url_name(factors.factors_of(user)))))
        self.requirement = requirement_for(user)
        if self.due_companies is not None and methods.meets(self.requirement, factors.factors_of(user)):
            # Met since (another tab added one), or the company no longer asks: nothing is due.
            methods.clear_due(request.session)
            return redirect(safe_next_url(request))
        if not self.requirement.is_required:
            methods.clear_due(request.session)
            return redirect(safe_next_url(request))
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        choices = method_choices(self.request, self.requirement)
        context.update(
            requirement=self.requirement,
            due_companies=self.due_companies,
            choices=choices,
            next=safe_next_url(self.request),
            enroll_url=choices[0]["url"] if choices else "",
        )
        return context


@mfa_view
class ChooseMethodView(TemplateView):
    """ "Choose how to sign in": early enrollment from the Security tab, when there is more than one way."""

    template_name = "wagtail_company_mfa/choose_method.html"

    def get(self, request, *args, **kwargs):
        if factors.is_enrolled(request.user):
            return redirect(safe_next_url(request))
        self.requirement = requirement_for(request.user)
        self.choices = method_choices(request, self.requirement)
        if len(self.choices) == 1:
            return redirect(self.choices[0]["url"])
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        return {
            **super().get_context_data(**kwargs),
            "requirement": self.requirement,
            "choices": self.choices,
            "next": safe_next_url(self.request),
        }


@mfa_view
class ReauthView(UnavailableAuthenticatorMixin, LayoutMixin, FormView):
    """
    "Enter your password" (SEC-25): asked before enrolling or changing MFA unless the password was entered
    in the last ``REAUTH_TIMEOUT`` seconds. An enrolled user also gives a current code.
    """

    template_name = "wagtail_company_mfa/reauth.html"
    form_class = PasswordForm
    page_title = gettext_lazy("Enter your password")

    def dispatch(self, request, *args, **kwargs):
        user = request.user
        needs_factor = user.is_verified() and not reauth.mfa_is_recent(request.session)
        keys = factors.factors_of(user) if needs_factor else frozenset()
        # An enrolled user also confirms with a second factor: a code from their app, or else their passkey
        # (its own page answers, then comes back here: ``mfa_is_recent`` is then true).
        self.needs_code = needs_factor and "totp" in keys
        if needs_factor and not self.needs_code:
            preferred = factors.preferred_for_sign_in(keys)
            if preferred is not None and preferred.key != "totp":
                here = with_next(request, reverse("wagtail_company_mfa:reauth"))
                # The second factor first, on its own page, which sends the user back here for the password.
                return redirect(f"{reverse(preferred.verify_url_name)}?{urlencode({'next': here})}")
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
            attempt = totp_flows.verify_authenticator(request, code_form.cleaned_data["code"])
            if not attempt.ok:
                if attempt.busy:
                    code_form.add_error("code", busy_message())
                elif not attempt.refused:
                    code_form.add_error("code", wrong_code_message())
                if attempt.locked_until:
                    code_form.add_error("code", retry_message(attempt.locked_until))
                return self.render_to_response(self.get_context_data(form=form, code_form=code_form))
        request.session.pop(REAUTH_FAILURES, None)
        reauth.mark_password(request.session)
        return redirect(safe_next_url(request))

    def _too_many_wrong_passwords(self) -> bool:
        failures = self.request.session.get(REAUTH_FAILURES, 0) + 1
        self.request.session[REAUTH_FAILURES] = failures
        return failures >= MAX_REAUTH_FAILURES
