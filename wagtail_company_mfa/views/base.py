"""Shared plumbing for the MFA views: the validated ``next`` URL and the decorators every page needs."""

from __future__ import annotations

from urllib.parse import urlencode

from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from .. import flows

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


class UnavailableAuthenticatorMixin:
    """Answer :class:`~wagtail_company_mfa.flows.AuthenticatorUnavailable` with that page, on any view."""

    def dispatch(self, request, *args, **kwargs):
        try:
            return super().dispatch(request, *args, **kwargs)
        except flows.AuthenticatorUnavailable:
            # Already logged (device id and cause) and audited by flows.
            return authenticator_unavailable(request)
