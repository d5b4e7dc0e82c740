"""The authenticator app's form: a 6-digit code."""

from django import forms
from django.utils.translation import gettext_lazy as _

from . import algorithm as totp


class CodeForm(forms.Form):
    """The 6-digit code from an authenticator app."""

    code = forms.CharField(
        label=_("6-digit code"),
        max_length=32,
        strip=True,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "pattern": r"[0-9 ]*",
                "spellcheck": "false",
            }
        ),
        error_messages={"required": _("Enter the 6-digit code from your authenticator app.")},
    )

    def clean_code(self):
        code = totp.canonical_code(self.cleaned_data["code"])
        if code is None:
            raise forms.ValidationError(
                _("Enter the 6 digits your authenticator app shows, for example 123456."), code="format"
            )
        return code
