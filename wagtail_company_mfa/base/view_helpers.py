"""
Shared plumbing for the MFA views: the validated ``next`` URL, the decorators every page needs, the words
for a failed code, and the base class of the pages of the pending state. No URL routes here.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.generic import View

from .. import factors
from ..recovery_codes import unsaved
from . import gate, verification

if TYPE_CHECKING:
    # What the mixins are used with, so their ``super()`` calls are checked against it.
    from django.views.generic import FormView as _PendingViewBase

    _MixinBase = View
else:
    _PendingViewBase = View
    _MixinBase = object

#: On every MFA view: never cached (a secret may show, SEC-23) and codes and passwords kept out of error
#: reports (SEC-44).
mfa_view = method_decorator(
    [never_cache, sensitive_post_parameters("code", "mfa-code", "password")], name="dispatch"
)


def safe_next_url(request, url: str | None = None) -> str:
    """
    The ``next`` URL of the request if it stays on this site, else the admin dashboard (SEC-34). Checked
    every time it is used, including after it has travelled through a hidden field.
    """
    if url is None:
        url = request.POST.get("next") or request.GET.get("next") or ""
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return reverse("wagtailadmin_home")


def with_next(request, url: str) -> str:
    """``url`` with the current (validated) ``next`` carried along."""
    return f"{url}?{urlencode({'next': safe_next_url(request)})}"


def authenticator_unavailable(request):
    """
    "Your authenticator can't be checked right now": the stored secret cannot be decrypted on this server
    (the app servers have different key lists, or the keys are misconfigured). A real page instead of a
    server error; the session stays as unverified as it was (SEC-46). ``503``: it is the server's fault and
    it passes once the keys are put right.
    """
    return TemplateResponse(
        request,
        "wagtail_company_mfa/unavailable.html",
        {"next": safe_next_url(request)},
        status=503,
    )


class UnavailableAuthenticatorMixin(_MixinBase):
    """Answer :class:`~.verification.AuthenticatorUnavailable` with that page, on any view."""

    def dispatch(self, request, *args, **kwargs):
        try:
            return super().dispatch(request, *args, **kwargs)
        except verification.AuthenticatorUnavailable:
            # Already logged (device id and cause) and audited by verification.attempt.
            return authenticator_unavailable(request)


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


class PendingView(_PendingViewBase):
    """
    A page of the half-logged-in state. Sends the visitor on if they are in the wrong place: already
    verified, not enrolled, or with recovery codes still to save.
    """

    template_name = ""
    #: The factor this page signs in with (its key in the factor registry).
    factor_key = ""

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_verified():
            if unsaved.has_unsaved_codes(request.session):
                return redirect(with_next(request, reverse("wagtail_company_mfa:save_codes")))
            return redirect(safe_next_url(request))
        # The gate's answer for this request (it asked already, on the way in): no query of its own.
        known = gate.standing(request, request.user)
        if not known.is_enrolled:
            if known.requirement.is_required:
                return redirect(with_next(request, reverse("wagtail_company_mfa:required")))
            return redirect(safe_next_url(request))
        if self.factor_key and self.factor_key not in known.factors:
            # This page's factor is not one the user has: their own way of signing in instead.
            return redirect(with_next(request, reverse(factors.verify_url_name(known.factors))))
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
            # Under the field (it is emptied), not at the top: it is about what was typed there.
            form.add_error("code", wrong_message)
        if attempt.locked_until:
            form.add_error(None, retry_message(attempt.locked_until))
        return self.form_invalid(form)
