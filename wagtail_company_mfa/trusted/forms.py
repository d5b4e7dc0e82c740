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
            "Only on a browser that is yours alone. You will still enter your password; you can stop trusting "
            "it from the Security tab of your account."
        ),
    )


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
