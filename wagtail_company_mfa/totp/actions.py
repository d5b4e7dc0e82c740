"""The audit-log actions of the authenticator app (names never change: the log keeps them)."""

from django.utils.translation import gettext_lazy as _

from ..audit import AuditAction

ACTION_ENROLLED = "wagtail_company_mfa.enrolled"
ACTION_REPLACED = "wagtail_company_mfa.replaced"

ACTIONS = (
    AuditAction(ACTION_ENROLLED, _("Enroll in MFA"), _("Turned on two-factor authentication")),
    AuditAction(ACTION_REPLACED, _("Replace authenticator"), _("Replaced the authenticator app")),
)
