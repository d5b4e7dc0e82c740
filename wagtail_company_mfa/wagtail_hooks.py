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
    actions.register_action(
        flows.ACTION_ENROLLED, _("Enroll in MFA"), _("Turned on two-factor authentication")
    )
    actions.register_action(
        flows.ACTION_REPLACED, _("Replace authenticator"), _("Replaced the authenticator app")
    )
    actions.register_action(flows.ACTION_VERIFIED, _("Verify MFA"), _("Signed in with a second factor"))
    actions.register_action(
        flows.ACTION_THROTTLED, _("MFA throttled"), _("Wrong two-factor codes: further attempts delayed")
    )
    actions.register_action(
        flows.ACTION_REPLAYED,
        _("MFA code replayed"),
        _("A two-factor code was used a second time and refused"),
    )
    actions.register_action(
        flows.ACTION_RECOVERY_USED, _("Use recovery code"), _("Signed in with a recovery code")
    )
    actions.register_action(
        flows.ACTION_RECOVERY_REGENERATED, _("Regenerate recovery code"), _("Replaced the recovery code")
    )
    actions.register_action(
        flows.ACTION_DISABLED, _("Turn off MFA"), _("Turned off two-factor authentication")
    )
    actions.register_action(
        flows.ACTION_SECRET_UNREADABLE,
        _("MFA secret unreadable"),
        _("The authenticator app could not be checked: no configured key decrypts its secret"),
    )
    # flows.ACTION_RESET has a formatter that names the company: see register_company_log_actions below.


# The Security tab and the upcoming-deadline reminder on the dashboard (issue 4).


@hooks.register("register_account_settings_panel")
def register_security_panel(request, user, profile):
    from .account import SecuritySettingsPanel

    return SecuritySettingsPanel(request, user, profile)


@hooks.register("construct_homepage_panels")
def add_upcoming_mfa_panel(request, panels):
    from .components import upcoming_panel_for

    panel = upcoming_panel_for(request)
    if panel is not None:
        panels.append(panel)


# Company administration (issue 5): Settings → Companies, its permission policy, readable audit-log messages
# and each person's MFA state on the Users page.


def _register_company_permission_policy():
    from . import compat
    from .models import Company
    from .permissions import company_permission_policy

    compat.register_permission_policy(Company, company_permission_policy)


# Before any view asks for it: on Wagtail 8.0 a lookup would otherwise create the default policy first.
_register_company_permission_policy()


@hooks.register("register_admin_viewset")
def register_company_viewset():
    from .views.companies import CompanyViewSet

    return CompanyViewSet("wagtail_company_mfa_companies", url_prefix="company-mfa/companies")


@hooks.register("register_log_actions")
def register_company_log_actions(actions):
    from .log_formatters import FORMATTERS

    for action, formatter in FORMATTERS.items():
        actions.register_action(action)(formatter)


@hooks.register("register_user_listing_buttons")
def user_listing_mfa_buttons(user, request_user):
    from .views.reset import user_listing_buttons

    return user_listing_buttons(user, request_user)
