"""
The Companies viewset (Settings > Companies): every URL of the company administration, registered by
``wagtail_hooks.py``.
"""

from __future__ import annotations

from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.urls import path
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy
from wagtail.admin.menu import MenuItem
from wagtail.admin.ui.tables import Column
from wagtail.admin.viewsets.model import ModelViewSet

from .. import compat
from ..models import Company, CompanyMembership
from . import permissions
from .forms import company_edit_handler
from .permissions import company_permission_policy
from .views.bulk import BulkActionsView
from .views.companies import (
    CompanyCreateView,
    CompanyDeleteView,
    CompanyEditView,
    CompanyHistoryView,
    CompanyIndexView,
    PolicyPreviewView,
    policy_label,
)
from .views.members import MembersView
from .views.membership import AddMemberView, EditMemberView
from .views.reports import EnrollmentReportView
from .views.reset import ResetMFAView
from .views.toolkit import IssueAccessCodeView, RequireReenrollmentView


@compat.use_permission_policy(company_permission_policy)
class CompanyViewSet(ModelViewSet):
    """Settings → Companies. Registered by ``wagtail_hooks.py``."""

    model = Company
    icon = "group"
    menu_label = gettext_lazy("Companies")
    menu_name = "wagtail_company_mfa_companies"
    add_to_settings_menu = True
    menu_order = 610
    copy_view_enabled = False
    inspect_view_enabled = False
    add_to_reference_index = False
    search_fields = ["name", "slug"]
    search_backend_name = None
    ordering = "name"
    list_display = [
        "name",
        Column("policy", label=gettext_lazy("MFA"), accessor=policy_label),
        Column("member_count", label=gettext_lazy("Members"), sort_key="member_count"),
        Column("enrolled_count", label=gettext_lazy("Enrolled"), sort_key="enrolled_count"),
    ]

    index_view_class = CompanyIndexView
    add_view_class = CompanyCreateView
    edit_view_class = CompanyEditView
    delete_view_class = CompanyDeleteView
    history_view_class = CompanyHistoryView

    def get_edit_handler(self):
        return company_edit_handler(
            report_url_name=self.get_url_name("report"), preview_url_name=self.get_url_name("policy_preview")
        ).bind_to_model(self.model)

    def url_names(self) -> dict:
        return {
            "companies_index_url_name": self.get_url_name("index"),
            "edit_url_name": self.get_url_name("edit"),
            "members_url_name": self.get_url_name("members"),
            "report_url_name": self.get_url_name("report"),
            "reset_url_name": self.get_url_name("reset"),
            "add_member_url_name": self.get_url_name("add_member"),
            "edit_member_url_name": self.get_url_name("edit_member"),
        }

    def get_common_view_kwargs(self, **kwargs):
        # Companies are not referenced by other objects, so there is no usage view.
        return super().get_common_view_kwargs(**{"usage_url_name": None, **self.url_names(), **kwargs})

    @cached_property
    def menu_item_class(self):
        class CompaniesMenuItem(MenuItem):
            def is_shown(self, request):
                return permissions.shows_companies_menu(request.user)

        return CompaniesMenuItem

    def get_permissions_to_register(self):
        # Only "manage all companies" means anything here (see companies/permissions.py); Django's
        # add/change/delete permissions on companies play no part, so the Groups screen does not offer them.
        return Permission.objects.filter(
            content_type=ContentType.objects.get_for_model(Company), codename=permissions.MANAGE_ALL_CODENAME
        )

    # The views beyond Wagtail's own.

    def _construct(self, view_class, **kwargs):
        return self.construct_view(view_class, **self.url_names(), **kwargs)

    def _listing(self, view_class, url_name: str, *, results_only: bool = False, **kwargs):
        """A listing view and its results-only twin share everything but ``results_only``."""
        return self._construct(
            view_class,
            index_url_name=self.get_url_name(url_name),
            index_results_url_name=self.get_url_name(f"{url_name}_results"),
            results_only=results_only,
            **kwargs,
        )

    @cached_property
    def members_view(self):
        return self._listing(MembersView, "members")

    @cached_property
    def members_results_view(self):
        return self._listing(MembersView, "members", results_only=True)

    @cached_property
    def add_member_view(self):
        return self._construct(AddMemberView)

    @cached_property
    def edit_member_view(self):
        return self._construct(EditMemberView)

    @cached_property
    def report_view(self):
        return self._listing(EnrollmentReportView, "report", model=CompanyMembership, header_icon="lock")

    @cached_property
    def report_results_view(self):
        return self._listing(
            EnrollmentReportView, "report", results_only=True, model=CompanyMembership, header_icon="lock"
        )

    @cached_property
    def policy_preview_view(self):
        return PolicyPreviewView.as_view(report_url_name=self.get_url_name("report"))

    @cached_property
    def reset_view(self):
        return self._construct(ResetMFAView, header_icon="lock-open")

    @cached_property
    def bulk_view(self):
        return self._construct(BulkActionsView)

    @cached_property
    def access_code_view(self):
        return self._construct(IssueAccessCodeView, header_icon="key")

    @cached_property
    def reenroll_view(self):
        return self._construct(RequireReenrollmentView, header_icon="rotate")

    def get_urlpatterns(self):
        urlpatterns = [
            pattern
            for pattern in super().get_urlpatterns()
            if pattern.name not in {"usage", "copy", "inspect"}
        ]
        return [
            *urlpatterns,
            path("<int:pk>/members/", self.members_view, name="members"),
            path("<int:pk>/members/results/", self.members_results_view, name="members_results"),
            path("<int:pk>/members/add/", self.add_member_view, name="add_member"),
            path("<int:pk>/members/<int:membership_pk>/", self.edit_member_view, name="edit_member"),
            path("<int:pk>/report/", self.report_view, name="report"),
            path("<int:pk>/report/results/", self.report_results_view, name="report_results"),
            path("<int:pk>/report/bulk/", self.bulk_view, name="bulk"),
            path("reset/<int:user_pk>/", self.reset_view, name="reset"),
            path("preview/", self.policy_preview_view, name="policy_preview"),
            path("<int:pk>/preview/", self.policy_preview_view, name="policy_preview"),
            path("access-code/<int:user_pk>/", self.access_code_view, name="access_code"),
            path("reenroll/<int:user_pk>/", self.reenroll_view, name="reenroll"),
        ]
