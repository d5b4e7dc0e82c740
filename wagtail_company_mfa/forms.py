from django import forms
from django.contrib.auth import authenticate
from django.utils.translation import gettext_lazy as _

from .recovery_codes import codes as recovery_codes
from .totp import algorithm as totp


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
                "autofocus": True,
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


class RecoveryCodeForm(forms.Form):
    code = forms.CharField(
        label=_("Recovery code"),
        max_length=64,
        strip=True,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "autocapitalize": "characters",
                "autofocus": True,
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


class PasswordForm(forms.Form):
    """Re-authentication: the password of the signed-in user (never a username field, SEC-29)."""

    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True}),
        error_messages={"required": _("Enter your password.")},
    )

    def __init__(self, *args, request, **kwargs):
        self.request = request
        super().__init__(*args, **kwargs)

    def clean_password(self):
        password = self.cleaned_data["password"]
        user = self.request.user
        authenticated = authenticate(self.request, username=user.get_username(), password=password)
        if authenticated is None or authenticated.pk != user.pk:
            raise forms.ValidationError(_("That password is not correct."), code="invalid_password")
        return password


class SavedCodesForm(forms.Form):
    confirm = forms.BooleanField(
        label=_("I have safely recorded this code"),
        required=True,
        error_messages={"required": _("Tick the box to confirm you have recorded your recovery code.")},
    )
