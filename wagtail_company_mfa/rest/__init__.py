"""
Django REST framework classes that apply the MFA policy to credentials outside the session (SEC-48, SEC-49).

Install with the ``rest`` extra (``pip install wagtail-company-mfa[rest]``). Nothing else in the package
imports this module (the system checks only once DRF is importable), so a site without DRF never loads it.

DRF authenticates inside the view, after ``CompanyMFAMiddleware`` has had its turn: the gate only sees the
session, so a username and password sent with every request (HTTP Basic), or exchanged for a token, would
pass a user who must use MFA on the password alone. These drop-in replacements refuse such a user with a
``403`` JSON body in the shape the gate uses (``{"error": "mfa_required", "detail": ..., "location": ...}``).
See the "APIs and other credentials" page of the documentation.

Session authentication needs nothing from here: DRF's ``SessionAuthentication`` reads ``request.user``, which
the gate has already made anonymous for a session that still owes a second factor.
"""

from __future__ import annotations

import logging

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions

from .. import factors
from ..companies.policy import requirement_for

logger = logging.getLogger(__name__)

__all__ = [
    "AuthTokenSerializer",
    "BasicAuthentication",
    "MFARequired",
    "ObtainAuthToken",
    "must_use_mfa",
    "obtain_auth_token",
]

#: The machine-readable code in the refusal's ``error`` field.
ERROR_CODE = "mfa_required"


def must_use_mfa(user) -> bool:
    """
    Whether a password alone is not enough for ``user``: they are enrolled (SEC-26: they are
    always asked for it) or their companies require MFA now. Anything that fails while deciding counts as
    "yes" (SEC-46).
    """
    try:
        return factors.is_enrolled(user) or requirement_for(user).is_required
    except Exception:
        logger.exception("wagtail-company-mfa could not decide on an API credential; refusing it.")
        return True


class MFARequired(exceptions.PermissionDenied):
    """
    The refusal of a password-only credential for a user who must use MFA: a ``403``, since the credentials
    were right and asking for them again (a ``401`` with ``WWW-Authenticate``) would not help.
    """

    default_detail = _(
        "This account must use two-factor authentication, which a password alone cannot pass. Sign in on "
        "the website to continue, or use an API token."
    )
    default_code = ERROR_CODE

    def __init__(self, detail=None, code=None):
        # DRF's exception handler sends a dict as the body as it is: give it the gate's shape.
        super().__init__(
            {
                "error": ERROR_CODE,
                "detail": detail if detail is not None else self.default_detail,
                "location": reverse("wagtailadmin_login"),
            },
            code or self.default_code,
        )


def refuse_if_mfa_required(user, *, via: str) -> None:
    """Raise :class:`MFARequired` when a password-only credential may not act as ``user``."""
    if must_use_mfa(user):
        logger.info("Refused a password-only %s for user %s, who must use MFA.", via, user.pk)
        raise MFARequired()


class BasicAuthentication(authentication.BasicAuthentication):
    """
    A drop-in replacement for DRF's ``BasicAuthentication`` (SEC-49): a wrong password gets DRF's usual
    answer, the right password of a user who must use MFA a ``403`` :class:`MFARequired`, anyone else passes.

    It applies the policy whatever ``WAGTAIL_COMPANY_MFA_ENFORCE`` says: a site that names this class has
    asked for it.
    """

    def authenticate_credentials(self, userid, password, request=None):
        user, auth = super().authenticate_credentials(userid, password, request)
        refuse_if_mfa_required(user, via="HTTP Basic request")
        return user, auth


#: Names served from :mod:`wagtail_company_mfa.rest.authtoken`, which needs ``rest_framework.authtoken`` in
#: ``INSTALLED_APPS`` (its ``Token`` model): loaded on first use, so the rest of this module works without it.
_AUTHTOKEN_NAMES = frozenset({"AuthTokenSerializer", "ObtainAuthToken", "obtain_auth_token"})


def __getattr__(name):
    if name in _AUTHTOKEN_NAMES:
        from . import authtoken

        return getattr(authtoken, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
