"""The recovery-code forms: a code at sign-in, and "I have safely recorded this code"."""

from django import forms
from django.utils.translation import gettext_lazy as _

from . import codes as recovery_codes


class RecoveryCodeForm(forms.Form):
    code = forms.CharField(
        label=_("Recovery code"),
        max_length=64,
        strip=True,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "autocapitalize": "characters",
                "spellcheck": "false",
            }
        ),
        error_messages={"required": _("Enter your recovery code.")},
    )

    def clean_code(self):
        code = recovery_codes.normalize(self.cleaned_data["code"])
        if code is None:
            raise forms.ValidationError(
                _("A recovery code has 16 letters and digits, like ABCD-EFGH-JKMN-PQRS."), code="format"
            )
        return code


class SavedCodesForm(forms.Form):
    confirm = forms.BooleanField(
        label=_("I have safely recorded this code"),
        required=True,
        error_messages={"required": _("Tick the box to confirm you have recorded your recovery code.")},
    )
