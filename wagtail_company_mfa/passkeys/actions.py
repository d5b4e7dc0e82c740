"""The audit-log actions of passkeys (names never change: the log keeps them)."""

from django.utils.translation import gettext_lazy as _

from ..audit import AuditAction

ACTION_PASSKEY_ADDED = "wagtail_company_mfa.passkey_added"
ACTION_PASSKEY_RENAMED = "wagtail_company_mfa.passkey_renamed"
ACTION_PASSKEY_REMOVED = "wagtail_company_mfa.passkey_removed"
ACTION_PASSKEY_FAILED = "wagtail_company_mfa.passkey_failed"

ACTIONS = (
    AuditAction(ACTION_PASSKEY_ADDED, _("Add passkey"), _("Added a passkey or security key")),
    AuditAction(ACTION_PASSKEY_RENAMED, _("Rename passkey"), _("Renamed a passkey or security key")),
    AuditAction(ACTION_PASSKEY_REMOVED, _("Remove passkey"), _("Removed a passkey or security key")),
    AuditAction(
        ACTION_PASSKEY_FAILED,
        _("Passkey refused"),
        _("A passkey sign-in was refused (wrong key, replayed or tampered answer)"),
    ),
)
