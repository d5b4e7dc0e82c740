"""The "Trust this browser for 7 days" box of the verify forms, offered only when the policy allows it."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from . import flows

FIELD_NAME = "trust_browser"


def trust_field(hours: int) -> forms.BooleanField:
    return forms.BooleanField(
        label=flows.checkbox_label(hours),
        required=False,
        help_text=_(
            "Only on a browser that is yours alone. You will still enter your password; you can stop "
            "trusting it from the Security tab of your account."
        ),
    )


#: The request header that carries the box's state on the passkey page, where django-otp-webauthn's browser
#: code posts the answer itself (``static/wagtail_company_mfa/passkeys.js`` adds it). A cross-site page cannot
#: set a custom header, and the post needs the CSRF token anyway.
PASSKEY_HEADER = "X-MFA-Trust-Browser"


def trust_form_field(hours: int):
    """The box as a bound field outside any form (the passkey page has none), or ``None`` for 0 hours."""
    if hours <= 0:
        return None
    form = forms.Form()
    form.fields[FIELD_NAME] = trust_field(hours)
    return form[FIELD_NAME]


def passkey_wants_trust(request) -> bool:
    return request.headers.get(PASSKEY_HEADER) == "1"


class TrustOfferMixin:
    """
    For a verify view (a ``FormView``): adds the box to its form when the user's companies allow trust, and
    :meth:`trust_if_asked` trusts the browser on the response of a successful verification.
    """

    #: The period offered for this request, in hours (0: no box).
    trust_hours = 0

    def get_form(self, form_class=None):
        form = super().get_form(form_class)  # type: ignore[misc]
        self.trust_hours = flows.offer_hours(self.request)  # type: ignore[attr-defined]
        if self.trust_hours > 0:
            form.fields[FIELD_NAME] = trust_field(self.trust_hours)
        return form

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)  # type: ignore[misc]
        form = context.get("form")
        context["trust_field"] = form[FIELD_NAME] if form is not None and FIELD_NAME in form.fields else None
        return context

    def trust_if_asked(self, form, response, device):
        if self.trust_hours > 0 and form.cleaned_data.get(FIELD_NAME):
            flows.grant(self.request, response, device, self.trust_hours)  # type: ignore[attr-defined]
        return response
