"""The audit-log actions of the recovery toolkit (registered with Wagtail's log by ``wagtail_hooks.py``)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from ..audit import AuditAction

ACTION_ACCESS_CODE_ISSUED = "wagtail_company_mfa.access_code_issued"
ACTION_ACCESS_CODE_USED = "wagtail_company_mfa.access_code_used"
ACTION_REENROLLMENT_REQUIRED = "wagtail_company_mfa.reenrollment_required"
ACTION_REENROLLED = "wagtail_company_mfa.reenrolled"

ACTIONS = (
    AuditAction(
        ACTION_ACCESS_CODE_ISSUED,
        _("Issue MFA access code"),
        _("An administrator issued a one-time access code"),
    ),
    AuditAction(
        ACTION_ACCESS_CODE_USED,
        _("Use MFA access code"),
        _("Signed in with a one-time access code; earlier factors removed"),
    ),
    AuditAction(
        ACTION_REENROLLMENT_REQUIRED,
        _("Require MFA re-enrollment"),
        _("An administrator required two-factor authentication to be set up again"),
    ),
    AuditAction(
        ACTION_REENROLLED,
        _("MFA set up again"),
        _("Two-factor authentication set up again; earlier factors removed"),
    ),
)
