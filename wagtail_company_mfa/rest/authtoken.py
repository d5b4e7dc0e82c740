"""
DRF's token endpoint, refusing a user who must use MFA (SEC-48). Needs ``rest_framework.authtoken`` in
``INSTALLED_APPS``; the names are also importable from :mod:`wagtail_company_mfa.rest`.
"""

from __future__ import annotations

from rest_framework.authtoken import serializers, views

from . import refuse_if_mfa_required

__all__ = ["AuthTokenSerializer", "ObtainAuthToken", "obtain_auth_token"]


class AuthTokenSerializer(serializers.AuthTokenSerializer):
    """DRF's username-and-password serializer for tokens, refusing a user who must use MFA."""

    def validate(self, attrs):
        attrs = super().validate(attrs)
        # After the password check, so a wrong password still gets DRF's usual 400 and nothing else.
        refuse_if_mfa_required(attrs["user"], via="token request")
        return attrs


class ObtainAuthToken(views.ObtainAuthToken):
    """
    DRF's ``ObtainAuthToken`` for a site that must not hand a token to a password alone. DRF's own view also
    returns the user's *existing* token, so it would give away even a token created after MFA. Route
    ``api-token-auth/`` (or wherever the site has it) to :data:`obtain_auth_token` instead.
    """

    serializer_class = AuthTokenSerializer


obtain_auth_token = ObtainAuthToken.as_view()
