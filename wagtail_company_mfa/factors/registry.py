"""
The registry itself: what each factor is (:class:`Factor`) and which factors the package offers
(:data:`FACTORS`), in the order the Security tab shows them, the verify page offers them and the reset removes
them (docs/architecture.md, "Adding a factor").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.apps import apps
from django.conf import settings
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

from ..audit import AuditAction
from ..passkeys import actions as passkey_actions
from ..recovery_codes import actions as recovery_code_actions
from ..totp import actions as totp_actions

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


@dataclass(frozen=True)
class Factor:
    """One kind of second factor."""

    #: The factor's stable name (``"totp"``, ``"recovery_codes"``): used in code, never shown.
    key: str
    #: Its name for people.
    label: StrOrPromise
    #: Its django-otp device models, as ``"app_label.ModelName"``; each has a ``user`` foreign key.
    device_models: tuple[str, ...]
    #: Whether having this factor makes a user *enrolled*: asked for it at sign-in whatever the policy says
    #: (SEC-26), counted as enrolled in the report and ``mfa_status``. Recovery codes alone do not count.
    counts_as_enrolled: bool
    #: Whether a phishing site cannot relay it (a passkey is; a code someone types is not).
    phishing_resistant: bool = False
    #: Only confirmed devices count (django-otp's ``confirmed`` field).
    confirmed_only: bool = True
    #: Where the user sets it up (or gets a new one), signs in with it, and removes it ("" where none).
    enroll_url_name: str = ""
    verify_url_name: str = ""
    remove_url_name: str = ""
    #: What it is, on the "choose a method" step of enrollment.
    description: StrOrPromise = ""
    #: The Security tab's button to add one, and to replace it (a factor a user has at most one of).
    add_label: StrOrPromise = ""
    replace_label: StrOrPromise = ""
    #: The link to it on another factor's verify page ("Use a recovery code instead").
    alternative_label: StrOrPromise = ""
    #: Its pages that a session still owing its second factor may reach (SEC-28). Each checks for itself
    #: what the session may do there.
    pending_url_names: tuple[str, ...] = ()
    #: Its part of the Security tab, and the dotted path of ``function(user, device) -> dict`` that gives the
    #: fragment its context (``device`` is the user's enrolled device, or ``None``).
    security_template: str = ""
    security_context: str = ""
    #: The audit-log actions its flows write, registered with Wagtail's log (``wagtail_hooks.py``).
    audit_actions: tuple[AuditAction, ...] = ()

    def models(self) -> list:
        return [apps.get_model(label) for label in self.device_models]

    def devices(self, *, confirmed: bool = True, **filters) -> list:
        """One queryset per device model, filtered by ``filters`` (and ``confirmed``, where it applies)."""
        if confirmed and self.confirmed_only:
            filters["confirmed"] = True
        return [model.objects.filter(**filters) for model in self.models()]

    def holds(self, device) -> bool:
        """Whether ``device`` is one of this factor's (and counts: confirmed, where that applies)."""
        if device is None or device._meta.label not in self.device_models:
            return False
        return not self.confirmed_only or bool(getattr(device, "confirmed", False))

    def security_context_for(self, user, device) -> dict:
        return import_string(self.security_context)(user, device) if self.security_context else {}


def passkeys_installed() -> bool:
    """
    Whether django-otp-webauthn is in ``INSTALLED_APPS`` (docs/passkeys.md): without it, passkeys are not
    offered at all. Read from the settings, not the app registry, so that the registry below can be built
    while the apps load.
    """
    return any(
        entry == "django_otp_webauthn" or entry.startswith("django_otp_webauthn.")
        for entry in getattr(settings, "INSTALLED_APPS", ())
    )


PASSKEYS = Factor(
    key="passkeys",
    label=_("Passkey or security key"),
    device_models=("django_otp_webauthn.WebAuthnCredential",),
    counts_as_enrolled=True,
    phishing_resistant=True,
    enroll_url_name="wagtail_company_mfa:passkey_add",
    verify_url_name="wagtail_company_mfa:passkey_verify",
    alternative_label=_("Use your passkey instead"),
    description=_(
        "Your fingerprint, face or screen lock on this device, or a security key you plug in or tap. Nothing "
        "to type, and it can't be used on a fake site."
    ),
    add_label=_("Add a passkey or security key"),
    pending_url_names=(
        "wagtail_company_mfa:passkey_verify",
        "wagtail_company_mfa:passkey_add",
        "wagtail_company_mfa:passkey_register_begin",
        "wagtail_company_mfa:passkey_register_complete",
        "wagtail_company_mfa:passkey_auth_begin",
        "wagtail_company_mfa:passkey_auth_complete",
        "wagtail_company_mfa:passkey_jsi18n",
    ),
    security_template="wagtail_company_mfa/account/factors/passkeys.html",
    security_context="wagtail_company_mfa.passkeys.flows.security_context",
    audit_actions=passkey_actions.ACTIONS,
)

#: Every factor the package offers, in the order the Security tab shows them, the verify page offers them
#: (the first the user has comes first) and the reset removes them.
FACTORS: dict[str, Factor] = {
    factor.key: factor
    for factor in (
        *((PASSKEYS,) if passkeys_installed() else ()),
        Factor(
            key="totp",
            label=_("Authenticator app"),
            device_models=("wagtail_company_mfa.AuthenticatorDevice",),
            counts_as_enrolled=True,
            enroll_url_name="wagtail_company_mfa:enroll",
            verify_url_name="wagtail_company_mfa:verify",
            alternative_label=_("Use your authenticator app instead"),
            description=_(
                "A 6-digit code from an app on your phone, such as Google Authenticator, Microsoft "
                "Authenticator, 1Password or Authy."
            ),
            add_label=_("Set up an authenticator app"),
            replace_label=_("Replace authenticator app"),
            pending_url_names=("wagtail_company_mfa:verify", "wagtail_company_mfa:enroll"),
            security_template="wagtail_company_mfa/account/factors/totp.html",
            security_context="wagtail_company_mfa.totp.flows.security_context",
            audit_actions=totp_actions.ACTIONS,
        ),
        Factor(
            key="recovery_codes",
            label=_("Recovery codes"),
            device_models=("wagtail_company_mfa.RecoveryCodeDevice",),
            counts_as_enrolled=False,
            confirmed_only=False,
            enroll_url_name="wagtail_company_mfa:security_regenerate_codes",
            verify_url_name="wagtail_company_mfa:recovery",
            alternative_label=_("Use a recovery code instead"),
            pending_url_names=(
                "wagtail_company_mfa:recovery",
                "wagtail_company_mfa:save_codes",
                "wagtail_company_mfa:download_codes",
            ),
            security_template="wagtail_company_mfa/account/factors/recovery_codes.html",
            security_context="wagtail_company_mfa.recovery_codes.flows.security_context",
            audit_actions=recovery_code_actions.ACTIONS,
        ),
    )
}


def all_factors() -> tuple[Factor, ...]:
    return tuple(FACTORS.values())


def enrolling_factors() -> tuple[Factor, ...]:
    """The factors that make a user enrolled."""
    return tuple(factor for factor in FACTORS.values() if factor.counts_as_enrolled)


def preferred_for_sign_in(keys) -> Factor | None:
    """Of the factor keys ``keys``, the enrolling factor the verify page offers first (registry order)."""
    return next((factor for factor in enrolling_factors() if factor.key in keys), None)


def verify_url_name(keys) -> str:
    """Where a session of a user with the factors ``keys`` gives its second factor."""
    factor = preferred_for_sign_in(keys)
    return factor.verify_url_name if factor is not None else "wagtail_company_mfa:verify"


def factor_of(device) -> Factor | None:
    """The factor ``device`` belongs to (and counts for), or ``None``."""
    return next((factor for factor in FACTORS.values() if factor.holds(device)), None)
