"""The recovery toolkit's forms: an access code at sign-in, and issuing one."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from ..companies.member_forms import ResetForm
from . import codes
from .flows import VALIDITY_HOURS


class AccessCodeForm(forms.Form):
    code = forms.CharField(
        label=_("Access code"),
        max_length=40,
        strip=True,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autocapitalize": "characters", "spellcheck": "false"}
        ),
        error_messages={"required": _("Enter the access code your administrator gave you.")},
    )

    def clean_code(self):
        code = codes.normalize(self.cleaned_data["code"])
        if code is None:
            raise forms.ValidationError(
                _("An access code has 16 letters and digits, like ABCD-EFGH-JKMN-PQRS."), code="format"
            )
        return code


VALIDITY_CHOICES = [
    (1, _("1 hour")),
    (8, _("8 hours")),
    (24, _("24 hours")),
    (72, _("3 days")),
    (168, _("7 days")),
]
assert tuple(hours for hours, _label in VALIDITY_CHOICES) == VALIDITY_HOURS


class IssueAccessCodeForm(ResetForm):
    """ "I have verified this person's request" and how long the code stays valid."""

    valid_for = forms.TypedChoiceField(
        label=_("Valid for"),
        choices=VALIDITY_CHOICES,
        coerce=int,
        initial=24,
        help_text=_("After this the code no longer works. It always works only once."),
    )
