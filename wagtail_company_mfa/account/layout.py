"""
Which layout an MFA page uses. A page reached from inside the admin (the Security tab's "Replace
authenticator app", "Show a new recovery code", setting up early from the dashboard) stays in the admin
layout, with the account's breadcrumbs and "Back to Security"; the same page reached between the password and
the second factor uses the sign-in layout, as the step before it did.

The page templates extend ``base_template`` and fill the ``mfa_content`` block, which both layouts have:
``wagtail_company_mfa/login_base.html`` and ``wagtail_company_mfa/admin_layout.html``.
"""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext as _
from wagtail.admin.views.generic import WagtailAdminTemplateMixin

from ..base import gate
from ..base.session import PREFIX
from .panel import security_tab_url

SIGN_IN_LAYOUT = "wagtail_company_mfa/login_base.html"
ADMIN_LAYOUT = "wagtail_company_mfa/admin_layout.html"

#: Set in the session by a setup started inside the admin, so its "Almost there" page stays there too.
SETUP_IN_ADMIN = PREFIX + "setup_in_admin"


def signed_in(request) -> bool:
    """Whether this session may use the admin as it is (it owes nothing before going on)."""
    return gate.pending_action(request, request.user) in (None, gate.SAVE_CODES)


class LayoutMixin(WagtailAdminTemplateMixin):
    """Chooses the layout (``in_admin``) and gives the admin layout its title, icon and breadcrumbs."""

    header_icon = "lock"
    #: Whether the admin layout shows "Back to Security" (not while a new code still has to be saved).
    back_to_security = True

    def in_admin(self) -> bool:
        return signed_in(self.request)

    def get_breadcrumbs_items(self):
        return [
            *self.breadcrumbs_items,
            {"url": reverse("wagtailadmin_account"), "label": _("Account")},
            {"url": security_tab_url(), "label": _("Security")},
            {"url": "", "label": self.get_page_title()},
        ]

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        in_admin = self.in_admin()
        context["base_template"] = ADMIN_LAYOUT if in_admin else SIGN_IN_LAYOUT
        if in_admin and self.back_to_security:
            context["back_url"] = security_tab_url()
        return context
