"""
Bulk actions on a company's members (docs/admin-guide.md, "Bulk actions"): select members, choose "Reset
MFA", "Require re-enrollment" or "Send a reminder", confirm on one page (with "I have verified these
people's requests" for the first two), and read what was done and what was skipped and why. The rules are
:mod:`wagtail_company_mfa.companies.bulk`'s; the company is the URL's, never the form's (SEC-41).
"""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.generic import TemplateView
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin
from wagtail.admin.views.generic.permissions import PermissionCheckedMixin

from ... import factors
from ...base import reauth
from ...base.users import display_name
from ...models import CompanyMembership
from .. import bulk
from ..enrollment import user_name_ordering
from .mixins import CompanyObjectMixin


class BulkConfirmForm(forms.Form):
    confirm = forms.BooleanField(
        label=gettext_lazy("I have verified these people's requests"),
        help_text=gettext_lazy(
            "Confirm who each of them is the way your organisation requires before you change their "
            "two-factor authentication."
        ),
        error_messages={
            "required": gettext_lazy("Tick the box to confirm you have verified their requests."),
        },
    )


@method_decorator(never_cache, name="dispatch")
class BulkActionsView(CompanyObjectMixin, PermissionCheckedMixin, WagtailAdminTemplateMixin, TemplateView):
    """Select members, confirm, and a summary: three steps of one URL (POST with CSRF for the last two)."""

    template_name = "wagtail_company_mfa/companies/bulk_select.html"
    page_title = gettext_lazy("Bulk actions")
    header_icon = "tasks"

    def get_page_subtitle(self):
        return str(self.company)

    def get_breadcrumbs_items(self):
        return self.company_breadcrumbs(
            {"url": self.report_url(), "label": gettext("MFA enrollment")},
            {"url": "", "label": self.get_page_title(), "sublabel": str(self.company)},
        )

    def report_url(self) -> str:
        return reverse(self.report_url_name, args=[self.company.pk]) if self.report_url_name else ""

    def members(self):
        return (
            CompanyMembership.objects.filter(company_id=self.company.pk, is_active=True)
            .select_related("user")
            .annotate(enrolled=factors.has_enrolled_factor())
            .order_by(*(f"user__{name}" for name in user_name_ordering()), "pk")
        )

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            company=self.company,
            actions=list(bulk.ACTIONS.items()),
            action_url=self.request.path,
            report_url=self.report_url(),
        )
        if "plan" not in kwargs and "summary" not in kwargs:
            context["rows"] = [
                {
                    "user_id": membership.user_id,
                    "person": display_name(membership.user),
                    "enrolled": membership.enrolled,
                }
                for membership in self.members()
            ]
        return context

    def post(self, request, *args, **kwargs):
        action = request.POST.get("action", "")
        ids = bulk.parse_ids(request.POST.getlist("user"))
        if action not in bulk.ACTIONS or not ids or len(ids) > bulk.MAX_SELECTED:
            context = self.get_context_data(
                error=gettext("Select at least one member and an action.")
                if not ids or action not in bulk.ACTIONS
                else gettext("Select at most %(count)d members at a time.") % {"count": bulk.MAX_SELECTED}
            )
            return self.render_to_response(context, status=400 if ids is None else 200)
        if action in bulk.NEEDS_VERIFICATION:
            if not request.user.is_verified():
                # SEC-40: factors are reset only from a session that itself passed MFA.
                context = self.get_context_data(
                    error=gettext(
                        "To change other people's two-factor authentication, you must have signed in with "
                        "two-factor authentication yourself."
                    )
                )
                return self.render_to_response(context, status=403)
            if not reauth.password_is_recent(request.session):
                reauth_url = reverse("wagtail_company_mfa:reauth")
                return redirect(f"{reauth_url}?{urlencode({'next': request.path})}")
        planned = bulk.plan(request.user, self.company, action, ids)
        form = BulkConfirmForm(request.POST) if action in bulk.NEEDS_VERIFICATION else None
        if request.POST.get("step") != "apply" or (form is not None and not form.is_valid()):
            if request.POST.get("step") != "apply":
                form = BulkConfirmForm() if form is not None else None
            context = self.get_context_data(plan=planned, form=form, ids=ids, action=action)
            context["action_label"] = bulk.ACTIONS[action]
            context["targets"] = [
                {"user_id": membership.user_id, "person": display_name(membership.user)}
                for membership in planned.members
            ]
            return self.response_class(
                request=request,
                template=["wagtail_company_mfa/companies/bulk_confirm.html"],
                context=context,
                using=self.template_engine,
            )
        summary = bulk.carry_out(request.user, self.company, planned, request=request)
        context = self.get_context_data(summary=summary, action=action)
        context["action_label"] = bulk.ACTIONS[action]
        return self.response_class(
            request=request,
            template=["wagtail_company_mfa/companies/bulk_summary.html"],
            context=context,
            using=self.template_engine,
        )
