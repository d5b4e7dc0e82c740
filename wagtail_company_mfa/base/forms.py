"""The password form of re-authentication (SEC-25)."""

from django import forms
from django.contrib.auth import authenticate
from django.utils.translation import gettext_lazy as _


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
