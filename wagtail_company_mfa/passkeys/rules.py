"""
What the passkey pages and endpoints share: the package's rules for a registration (the password again, a
verified session for an enrolled user, the email confirmation, a limit per user), the throttle, and the
settings django-otp-webauthn's browser code reads (docs/passkeys.md).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlencode, urlsplit

from django.middleware import csrf
from django.urls import reverse
from django.utils.translation import gettext as _
from django_otp_webauthn import exceptions as webauthn_errors

from .. import factors
from ..base import email_confirmation, reauth, verification
from ..models import PasskeyThrottle
from . import flows


class Refused(webauthn_errors.OTPWebAuthnApiError):
    """A ceremony the package's rules refuse, with the reason in words for the user."""

    status_code = 403
    default_code = "refused"


def reauth_url(request, here: str) -> str:
    return f"{reverse('wagtail_company_mfa:reauth')}?{urlencode({'next': here})}"


def registration_refusal(request, *, enrolled: bool | None = None) -> str | None:
    """
    Why the signed-in user may not register a passkey right now, in words for them, or ``None``. ``enrolled``
    is :func:`factors.is_enrolled` when the caller knows it already.
    """
    user = request.user
    if enrolled is None:
        enrolled = factors.is_enrolled(user)
    if enrolled and not user.is_verified():
        return _("Sign in with your second factor first.")
    if not reauth.password_is_recent(request.session) or (
        enrolled and not reauth.mfa_is_recent(request.session)
    ):
        return _("For your security, confirm it's you again: reload this page.")
    if not enrolled and email_confirmation.needs_email_confirmation(request):
        return _("Confirm your email address first: reload this page.")
    if len(flows.passkeys_of(user)) >= flows.MAX_PASSKEYS:
        return _("You have %(count)s passkeys, the most an account can have. Remove one first.") % {
            "count": flows.MAX_PASSKEYS
        }
    return None


def needs_a_hostname(request) -> bool:
    """Whether the page was opened at a bare IP address, where browsers refuse passkeys."""
    hostname = urlsplit(f"//{request.get_host()}").hostname or ""
    try:
        ipaddress.ip_address(hostname)
    except ValueError:
        return False
    return True


def throttled_until(user):
    """Until when failed passkey answers hold ``user``'s next try back, or ``None``."""
    throttle = PasskeyThrottle.objects.filter(user_id=user.pk or 0).first()
    return verification.locked_until_for(throttle) if throttle is not None else None


def ceremony_configuration(request, *, next_url: str) -> dict:
    """The settings django-otp-webauthn's browser code reads (``otp_webauthn_config``), with our endpoints."""
    query = "?" + urlencode({"next": next_url})
    return {
        "autocompleteLoginFieldSelector": None,
        "nextFieldSelector": "input[name='next']",
        "csrfToken": csrf.get_token(request),
        "beginAuthenticationUrl": reverse("wagtail_company_mfa:passkey_auth_begin"),
        "completeAuthenticationUrl": reverse("wagtail_company_mfa:passkey_auth_complete"),
        "beginRegistrationUrl": reverse("wagtail_company_mfa:passkey_register_begin"),
        "completeRegistrationUrl": reverse("wagtail_company_mfa:passkey_register_complete") + query,
    }
