"""
A company's members in the admin: the list (with each member's enrollment and what the viewer may do), adding
a member, and changing a member's role or deactivating them (SEC-41).
"""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import F
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.translation import gettext, gettext_lazy
from wagtail.admin.filters import WagtailFilterSet
from wagtail.admin.ui.tables import Column, DateColumn
from wagtail.admin.views.generic.base import BaseListingView
from wagtail.admin.views.generic.permissions import PermissionCheckedMixin
from wagtail.admin.widgets import HeaderButton

from ... import factors
from ...base.users import display_name
from ...models import CompanyMembership
from .. import enrollment, permissions
from ..reset import toolkit_actions
from ..reset_rule import ResetChecker
from .mixins import CompanyObjectMixin, MemberActionsColumn, role_filter


class MembersFilterSet(WagtailFilterSet):
    is_active = django_filters.ChoiceFilter(
        label=gettext_lazy("Status"),
        choices=[("true", gettext_lazy("Active")), ("false", gettext_lazy("Inactive"))],
        empty_label=gettext_lazy("All"),
        method="filter_is_active",
        widget=forms.RadioSelect,
    )
    role = role_filter()

    class Meta:
        model = CompanyMembership
        fields: list[str] = []

    def filter_is_active(self, queryset, name, value):
        return queryset.filter(is_active=value == "true")


def member_name(membership) -> str:
    return display_name(membership.user)


class EnrollmentColumn(Column):
    cell_template_name = "wagtail_company_mfa/companies/enrollment_cell.html"


class MembersView(CompanyObjectMixin, PermissionCheckedMixin, BaseListingView):
    """The people of a company: active first, with their role, MFA state and what may be done to each."""

    template_name = "wagtail_company_mfa/companies/members.html"
    results_template_name = "wagtail_company_mfa/companies/members_results.html"
    page_title = gettext_lazy("Members")
    header_icon = "group"
    model = CompanyMembership
    filterset_class = MembersFilterSet
    is_searchable = True
    paginate_by = 50
    default_ordering = "name"
    index_url_name = None
    index_results_url_name = None
    verbose_name = gettext_lazy("member")
    verbose_name_plural = gettext_lazy("members")

    ORDERINGS = {
        "name": lambda: [f"user__{name}" for name in enrollment.user_name_ordering()],
        "role": lambda: ["role", *(f"user__{name}" for name in enrollment.user_name_ordering())],
        "joined_at": lambda: ["joined_at"],
        "is_active": lambda: ["is_active", *(f"user__{name}" for name in enrollment.user_name_ordering())],
    }

    @property
    def search_fields(self):
        return [f"user__{name}" for name in enrollment.user_search_fields()]

    @cached_property
    def columns(self):
        return [
            Column("name", label=gettext("Person"), accessor=member_name, sort_key="name"),
            Column("email", label=gettext("Email"), accessor=lambda m: enrollment.user_email(m.user)),
            Column("role", label=gettext("Role"), accessor="get_role_display", sort_key="role"),
            Column(
                "status",
                label=gettext("Status"),
                accessor=lambda m: gettext("Active") if m.is_active else gettext("Inactive"),
                sort_key="is_active",
            ),
            EnrollmentColumn("enrolled", label=gettext("MFA")),
            DateColumn("joined_at", label=gettext("Joined"), sort_key="joined_at"),
            MemberActionsColumn("actions", label=gettext("Actions"), accessor=self.row_actions),
        ]

    def get_valid_orderings(self):
        return [key for name in self.ORDERINGS for key in (name, f"-{name}")]

    def order_queryset(self, queryset):
        ordering = self.ordering or self.default_ordering
        descending = ordering.startswith("-")
        fields = self.ORDERINGS[ordering.lstrip("-")]()
        expressions = [F(name).desc() if descending else F(name).asc() for name in fields]
        if ordering.lstrip("-") != "is_active":
            expressions.insert(0, F("is_active").desc())
        return queryset.order_by(*expressions, "pk")

    def get_base_queryset(self):
        return (
            CompanyMembership.objects.filter(company_id=self.company.pk)
            .select_related("user", "company")
            .annotate(enrolled=factors.has_enrolled_factor())
        )

    @cached_property
    def reset_checker(self):
        return ResetChecker(self.request.user)

    def row_actions(self, membership):
        actions = []
        if permissions.can_change_membership(self.request.user, membership):
            actions.append(
                {
                    "url": reverse(self.edit_member_url_name, args=[self.company.pk, membership.pk]),
                    "label": gettext("Edit"),
                    "aria_label": gettext("Edit the membership of %(person)s")
                    % {"person": display_name(membership.user)},
                }
            )
        if membership.is_active and membership.enrolled and self.reset_checker.may_reset(membership.user):
            actions.extend(
                toolkit_actions(
                    self.reset_url_name, membership.user, self.company, display_name(membership.user)
                )
            )
        return actions

    def get_index_url(self):
        return reverse(self.index_url_name, args=[self.company.pk])

    def get_index_results_url(self):
        return reverse(self.index_results_url_name, args=[self.company.pk])

    def get_page_subtitle(self):
        return str(self.company)

    def get_breadcrumbs_items(self):
        return self.company_breadcrumbs(
            {"url": "", "label": gettext("Members"), "sublabel": str(self.company)}
        )

    @cached_property
    def header_buttons(self):
        return [
            HeaderButton(
                gettext("Add a member"),
                url=reverse(self.add_member_url_name, args=[self.company.pk]),
                icon_name="plus",
            ),
            HeaderButton(
                gettext("MFA enrollment"),
                url=reverse(self.report_url_name, args=[self.company.pk]),
                icon_name="lock",
            ),
        ]

    def get_context_data(self, *args, **kwargs):
        context = super().get_context_data(*args, **kwargs)
        context["company"] = self.company
        context["add_member_url"] = reverse(self.add_member_url_name, args=[self.company.pk])
        return context
