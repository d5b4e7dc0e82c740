"""Registrations only: the views, panels and formatters live in their own modules."""

from django.urls import include, path
from wagtail import hooks

from . import compat, factors, urls
from .access_codes import actions as toolkit_actions
from .account import flows as account_flows
from .account.dashboard import upcoming_panel_for
from .account.panel import SecuritySettingsPanel
from .base import verification
from .companies.log_formatters import FORMATTERS
from .companies.permissions import company_permission_policy
from .companies.urls import CompanyViewSet
from .companies.views.reset import user_listing_buttons
from .models import Company
from .trusted import actions as trusted_actions


@hooks.register("register_admin_urls")
def register_admin_urls():
    return [path("company-mfa/", include(urls, namespace="wagtail_company_mfa"))]


@hooks.register("register_log_actions")
def register_log_actions(actions):
    # Each factor's own actions (the registry), then those every factor shares. The reset has a formatter
    # that names the company: see register_company_log_actions below.
    audit_actions = [
        *(action for factor in factors.all_factors() for action in factor.audit_actions),
        *verification.ACTIONS,
        *account_flows.ACTIONS,
        *trusted_actions.ACTIONS,
        *toolkit_actions.ACTIONS,
    ]
    for action in audit_actions:
        actions.register_action(action.name, action.label, action.message)


# The Security tab and the upcoming-deadline reminder on the dashboard.


@hooks.register("register_account_settings_panel")
def register_security_panel(request, user, profile):
    return SecuritySettingsPanel(request, user, profile)


@hooks.register("construct_homepage_panels")
def add_upcoming_mfa_panel(request, panels):
    panel = upcoming_panel_for(request)
    if panel is not None:
        panels.append(panel)


# Company administration: Settings → Companies, its permission policy, readable audit-log messages and each
# person's MFA state on the Users page.


# Before any view asks for it: on Wagtail 8.0 a lookup would otherwise create the default policy first.
compat.register_permission_policy(Company, company_permission_policy)


@hooks.register("register_admin_viewset")
def register_company_viewset():
    return CompanyViewSet("wagtail_company_mfa_companies", url_prefix="company-mfa/companies")


@hooks.register("register_log_actions")
def register_company_log_actions(actions):
    for action, formatter in FORMATTERS.items():
        actions.register_action(action)(formatter)


@hooks.register("register_user_listing_buttons")
def user_listing_mfa_buttons(user, request_user):
    return user_listing_buttons(user, request_user)
