"""
Companies in the Wagtail admin: the company list, the company and policy form, its history and deletion.

Every view checks on the server who may do what (:mod:`wagtail_company_mfa.companies.permissions`): someone
who manages no company is refused every URL (``PermissionDenied``, which Wagtail's admin turns into its
"Sorry, you do not have permission" redirect), a company administrator gets 404 for a company that is not
theirs. The changes themselves go through :mod:`wagtail_company_mfa.companies.flows`, which logs and
signals them.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import JsonResponse
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.formats import date_format
from django.utils.functional import cached_property
from django.utils.translation import gettext, gettext_lazy
from django.views import View
from django.views.decorators.cache import never_cache
from wagtail.admin.views import generic
from wagtail.admin.widgets import HeaderButton

from ... import compat, factors
from ...models import Company, CompanyMembership
from .. import confirmation, enrollment, flows, permissions
from ..forms import PolicyPreviewForm, preview_company, preview_context

if TYPE_CHECKING:
    # Wagtail's generic views ship no types: the mixin's ``super()`` calls stay unchecked.
    from wagtail.admin.views.generic import EditView as _EditMixinBase
else:
    _EditMixinBase = object

# The company list, form, history and deletion ---------------------------------------------------------------


def policy_label(company) -> str:
    if not company.require_mfa:
        return gettext("Not required")
    if company.enforcement_date is None:
        return gettext("On, no date yet")
    date = date_format(company.enforcement_date, "DATE_FORMAT")
    if company.enforcement_starts_at > timezone.now():
        return gettext("Required from %(date)s") % {"date": date}
    return gettext("Required since %(date)s") % {"date": date}


class CompanyIndexView(generic.IndexView):
    page_title = gettext_lazy("Companies")
    add_item_label = gettext_lazy("Add a company")
    members_url_name = None
    report_url_name = None

    def get_base_queryset(self):
        # A company administrator lists only their own companies.
        queryset = permissions.companies_managed_by(self.request.user)
        active = CompanyMembership.objects.filter(company_id=OuterRef("pk"), is_active=True)
        enrolled_users = factors.enrolled_user_ids()

        def count(memberships):
            return Coalesce(
                Subquery(
                    memberships.order_by().values("company_id").annotate(n=Count("pk")).values("n"),
                    output_field=IntegerField(),
                ),
                Value(0),
            )

        return queryset.annotate(
            member_count=count(active),
            enrolled_count=count(active.filter(user_id__in=enrolled_users)),
        )

    def get_list_more_buttons(self, instance):
        buttons = super().get_list_more_buttons(instance)
        buttons.append(
            compat.list_more_button(
                gettext("Members"), reverse(self.members_url_name, args=[instance.pk]), icon_name="group"
            )
        )
        buttons.append(
            compat.list_more_button(
                gettext("MFA enrollment"), reverse(self.report_url_name, args=[instance.pk]), icon_name="lock"
            )
        )
        return buttons


class CompanyEditMixin(_EditMixinBase):
    """
    What the company form needs on create and edit: a change that emails members is confirmed first (see
    :mod:`..confirmation`), and the policy change goes through ``flows``.
    """

    template_name = "wagtail_company_mfa/companies/company_form.html"
    base_form_template = "wagtailadmin/generic/form.html"
    policy_confirmation: confirmation.PolicyConfirmation | None = None

    def form_valid(self, form):
        # The form is valid and its instance holds the new values, none of them saved yet.
        pending = confirmation.pending_confirmation(form.instance, user=self.request.user)
        if pending is not None and not pending.confirmed_by(self.request.POST.get(confirmation.FIELD_NAME)):
            self.form = form
            self.policy_confirmation = pending
            return self.render_to_response(self.get_context_data(form=form))
        return super().form_valid(form)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["base_form_template"] = self.base_form_template
        context["policy_confirmation"] = self.policy_confirmation
        context["policy_confirmation_field"] = confirmation.FIELD_NAME
        return context

    def save_instance(self):
        saved = {}

        def save():
            saved["instance"] = super(CompanyEditMixin, self).save_instance()

        self.policy_changes = flows.save_company(
            self.form.instance, actor=self.request.user, request=self.request, save=save
        )
        return saved["instance"]

    def get_success_message(self, *args):
        message = super().get_success_message(*args)
        if message and getattr(self, "policy_changes", None):
            summary = enrollment.summarize(self.object)
            message = f"{message} {enrollment.summary_sentence(self.object, summary)}"
        return message


class CompanyCreateView(CompanyEditMixin, generic.CreateView):
    base_form_template = "wagtailadmin/generic/create.html"
    page_title = gettext_lazy("Add company")
    success_message = gettext_lazy("Company '%(object)s' created.")
    error_message = gettext_lazy("The company could not be saved due to errors.")


class CompanyEditView(CompanyEditMixin, generic.EditView):
    base_form_template = "wagtailadmin/generic/edit.html"
    success_message = gettext_lazy("Company '%(object)s' updated.")
    error_message = gettext_lazy("The company could not be saved due to errors.")
    members_url_name = None
    report_url_name = None

    def get_object(self, queryset=None):
        if not permissions.manages_any_company(self.request.user):
            raise PermissionDenied
        return super().get_object(permissions.companies_managed_by(self.request.user))

    @cached_property
    def header_buttons(self):
        return [
            HeaderButton(
                gettext("Members"),
                url=reverse(self.members_url_name, args=[self.object.pk]),
                icon_name="group",
            ),
            HeaderButton(
                gettext("MFA enrollment"),
                url=reverse(self.report_url_name, args=[self.object.pk]),
                icon_name="lock",
            ),
        ]


class CompanyDeleteView(generic.DeleteView):
    page_title = gettext_lazy("Delete company")
    success_message = gettext_lazy("Company '%(object)s' deleted.")
    confirmation_message = gettext_lazy(
        "Are you sure you want to delete this company? Its members will no longer be bound by its MFA policy."
    )

    def get_object(self, queryset=None):
        if not permissions.can_delete_company(self.request.user):
            raise PermissionDenied
        return super().get_object(queryset)


class CompanyHistoryView(generic.HistoryView):
    def get_base_object_queryset(self):
        if not permissions.manages_any_company(self.request.user):
            raise PermissionDenied
        return permissions.companies_managed_by(self.request.user)


@method_decorator(never_cache, name="dispatch")
class PolicyPreviewView(View):
    """
    The policy preview for the values being edited (the query string holds the form's fields), as JSON:
    ``{"sentence": ..., "html": ...}``, rendered by the same code and template as the panel, so the page
    never says anything the server would not. It reads and changes nothing else; who may see a company's
    preview is who may edit it.
    """

    report_url_name: str | None = None

    def dispatch(self, request, *args, **kwargs):
        # Who may see it is checked before the method, as Wagtail's own views do.
        pk = kwargs.get("pk")
        if pk is None:
            if not permissions.can_add_company(request.user):
                raise PermissionDenied
            self.saved = Company()
        else:
            if not permissions.manages_any_company(request.user):
                raise PermissionDenied
            self.saved = get_object_or_404(permissions.companies_managed_by(request.user), pk=pk)
        return super().dispatch(request, *args, **kwargs)

    def get(self, request, pk=None):
        form = PolicyPreviewForm(request.GET, instance=copy.copy(self.saved))
        form.is_valid()
        company = preview_company(self.saved, form)
        report_url = reverse(self.report_url_name, args=[pk]) if self.report_url_name and pk else ""
        context = preview_context(company, report_url=report_url)
        html = render_to_string("wagtail_company_mfa/companies/policy_preview.html", context, request=request)
        return JsonResponse({"sentence": context["sentence"], "html": html})
