"""Registrations only (STYLE §5.2): the views, panels and formatters live in their own modules."""

from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from wagtail import hooks

from . import flows, urls


@hooks.register("register_admin_urls")
def register_admin_urls():
    return [path("company-mfa/", include(urls, namespace="wagtail_company_mfa"))]


@hooks.register("register_log_actions")
def register_log_actions(actions):
    actions.register_action(flows.ACTION_ENROLLED, _("Enroll in MFA"), _("Set up two-factor authentication"))
    actions.register_action(flows.ACTION_REPLACED, _("Replace authenticator"), _("Replaced the authenticator app"))
    actions.register_action(flows.ACTION_VERIFIED, _("Verify MFA"), _("Signed in with a second factor"))
    actions.register_action(
        flows.ACTION_THROTTLED, _("MFA throttled"), _("Wrong two-factor codes: further attempts delayed")
    )
    actions.register_action(
        flows.ACTION_RECOVERY_USED, _("Use recovery code"), _("Signed in with a recovery code")
    )
    actions.register_action(
        flows.ACTION_RECOVERY_REGENERATED, _("Regenerate recovery code"), _("Replaced the recovery code")
    )
    actions.register_action(flows.ACTION_DISABLED, _("Turn off MFA"), _("Turned off two-factor authentication"))
    actions.register_action(flows.ACTION_RESET, _("Reset MFA"), _("Two-factor authentication reset by an administrator"))
