"""The audit-log actions of recovery codes (names never change: the log keeps them)."""

from django.utils.translation import gettext_lazy as _

from ..audit import AuditAction

ACTION_RECOVERY_USED = "wagtail_company_mfa.recovery_code_used"
ACTION_RECOVERY_REGENERATED = "wagtail_company_mfa.recovery_codes_regenerated"

ACTIONS = (
    AuditAction(ACTION_RECOVERY_USED, _("Use recovery code"), _("Signed in with a recovery code")),
    AuditAction(ACTION_RECOVERY_REGENERATED, _("Regenerate recovery code"), _("Replaced the recovery code")),
)
