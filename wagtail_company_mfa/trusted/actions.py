"""The audit-log actions of trusted browsers (registered in ``wagtail_hooks.py``)."""

from django.utils.translation import gettext_lazy as _

from ..audit import AuditAction

ACTION_TRUST_GRANTED = "wagtail_company_mfa.trust_granted"
ACTION_TRUST_USED = "wagtail_company_mfa.trust_used"
ACTION_TRUST_REVOKED = "wagtail_company_mfa.trust_revoked"

ACTIONS = (
    AuditAction(
        ACTION_TRUST_GRANTED, _("Trust browser"), _("Trusted a browser: no second factor there for a while")
    ),
    AuditAction(ACTION_TRUST_USED, _("Sign in on trusted browser"), _("Signed in on a trusted browser")),
    AuditAction(
        ACTION_TRUST_REVOKED, _("Stop trusting browsers"), _("Stopped trusting one or more browsers")
    ),
)
