"""
Companies in the Wagtail admin (SPEC §3.7): a ``ModelViewSet`` under Settings with the company list, the
company and policy form, the members (add, change role, deactivate), the enrollment report and the reset of a
member's MFA.

Every view checks on the server who may do what (:mod:`wagtail_company_mfa.permissions`): someone who
manages no company is refused every URL (``PermissionDenied``, which Wagtail's admin turns into its "Sorry,
you do not have permission" redirect), a company administrator gets 404 for a company that is not theirs.
The changes themselves go through :mod:`wagtail_company_mfa.flows`, which logs and signals them.
"""

from __future__ import annotations

import django_filters
from django import forms
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError
from django.db.models import Count, Exists, F, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.functional import cached_property
from django.utils.translation import gettext, gettext_lazy
from django.views.generic import FormView, TemplateView
from wagtail.admin import messages
from wagtail.admin.filters import WagtailFilterSet
from wagtail.admin.menu import MenuItem
from wagtail.admin.ui.tables import Column, DateColumn
from wagtail.admin.views import generic
from wagtail.admin.views.generic.base import BaseListingView, WagtailAdminTemplateMixin
from wagtail.admin.views.generic.permissions import PermissionCheckedMixin
from wagtail.admin.viewsets.model import ModelViewSet
from wagtail.admin.widgets import HeaderButton

from .. import compat, flows, permissions
from ..admin_forms import (
    MIN_SEARCH_LENGTH,
    AddMemberByIdentifierForm,
    AddMemberForm,
    MemberSearchForm,
    MembershipForm,
    company_edit_handler,
    eligible_users,
    search_users,
)
from ..models import AuthenticatorDevice, Company, CompanyMembership
from ..permissions import company_permission_policy
from . import reports, reset

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
        enrolled_users = AuthenticatorDevice.objects.filter(confirmed=True).values("user_id")

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


class CompanyEditMixin:
    """What the company form needs on create and edit: the policy change goes through ``flows``."""

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
            summary = reports.summarize(self.object)
            message = f"{message} {reports.summary_sentence(self.object, summary)}"
        return message


class CompanyCreateView(CompanyEditMixin, generic.CreateView):
    page_title = gettext_lazy("Add company")
    success_message = gettext_lazy("Company '%(object)s' created.")
    error_message = gettext_lazy("The company could not be saved due to errors.")


class CompanyEditView(CompanyEditMixin, generic.EditView):
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


# Members ----------------------------------------------------------------------------------------------------


class CompanyObjectMixin:
    """A view about one company of the URL (``pk``): 403 without company rights, 404 for someone else's."""

    permission_policy = company_permission_policy
    any_permission_required = ["change"]
    companies_index_url_name = None
    edit_url_name = None
    members_url_name = None
    report_url_name = None
    reset_url_name = None
    add_member_url_name = None
    edit_member_url_name = None

    def setup(self, request, *args, **kwargs):
        super().setup(request, *args, **kwargs)
        self.company = permissions.managed_company_or_404(request.user, kwargs["pk"])

    def company_breadcrumbs(self, *extra):
        return [
            *self.breadcrumbs_items,
            {"url": reverse(self.companies_index_url_name), "label": gettext("Companies")},
            {"url": reverse(self.edit_url_name, args=[self.company.pk]), "label": str(self.company)},
            *extra,
        ]

    def members_url(self) -> str:
        return reverse(self.members_url_name, args=[self.company.pk])


class MembersFilterSet(WagtailFilterSet):
    is_active = django_filters.ChoiceFilter(
        label=gettext_lazy("Status"),
        choices=[("true", gettext_lazy("Active")), ("false", gettext_lazy("Inactive"))],
        empty_label=gettext_lazy("All"),
        method="filter_is_active",
        widget=forms.RadioSelect,
    )
    role = django_filters.ChoiceFilter(
        label=gettext_lazy("Role"),
        choices=CompanyMembership.Role.choices,
        empty_label=gettext_lazy("All"),
        widget=forms.RadioSelect,
    )

    class Meta:
        model = CompanyMembership
        fields = []

    def filter_is_active(self, queryset, name, value):
        return queryset.filter(is_active=value == "true")


def member_name(membership) -> str:
    return permissions.display_name(membership.user)


class EnrollmentColumn(Column):
    cell_template_name = "wagtail_company_mfa/companies/enrollment_cell.html"


class MemberActionsColumn(Column):
    cell_template_name = "wagtail_company_mfa/companies/member_actions_cell.html"


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
        "name": lambda: [f"user__{name}" for name in reports.user_name_ordering()],
        "role": lambda: ["role", *(f"user__{name}" for name in reports.user_name_ordering())],
        "joined_at": lambda: ["joined_at"],
        "is_active": lambda: ["is_active", *(f"user__{name}" for name in reports.user_name_ordering())],
    }

    @property
    def search_fields(self):
        return [f"user__{name}" for name in reports.user_search_fields()]

    @cached_property
    def columns(self):
        return [
            Column("name", label=gettext("Person"), accessor=member_name, sort_key="name"),
            Column("email", label=gettext("Email"), accessor=lambda m: reports.user_email(m.user)),
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
            .annotate(
                enrolled=Exists(
                    AuthenticatorDevice.objects.filter(user_id=OuterRef("user_id"), confirmed=True)
                )
            )
        )

    @cached_property
    def reset_checker(self):
        return permissions.ResetChecker(self.request.user)

    def row_actions(self, membership):
        actions = []
        if permissions.can_change_membership(self.request.user, membership):
            actions.append(
                {
                    "url": reverse(self.edit_member_url_name, args=[self.company.pk, membership.pk]),
                    "label": gettext("Edit"),
                    "aria_label": gettext("Edit the membership of %(person)s")
                    % {"person": permissions.display_name(membership.user)},
                }
            )
        if membership.is_active and membership.enrolled and self.reset_checker.may_reset(membership.user):
            actions.append(
                {
                    "url": reset.reset_url(self.reset_url_name, membership.user, self.company),
                    "label": gettext("Reset MFA"),
                    "aria_label": gettext("Reset the two-factor authentication of %(person)s")
                    % {"person": permissions.display_name(membership.user)},
                }
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
        return context


class AddMemberView(CompanyObjectMixin, PermissionCheckedMixin, WagtailAdminTemplateMixin, TemplateView):
    """
    Add a person, as member or administrator, to the company of the URL.

    Those who manage every company find people by part of their name or email. A company administrator sees
    no one outside their own companies: they add a person by the exact email address or username, and a
    miss says only that there is no such user (docs/admin-guide.md, SEC-39).
    """

    template_name = "wagtail_company_mfa/companies/add_member.html"
    page_title = gettext_lazy("Add a member")
    header_icon = "group"

    @cached_property
    def may_search(self) -> bool:
        return permissions.can_manage_all(self.request.user)

    def get_page_subtitle(self):
        return str(self.company)

    def get_breadcrumbs_items(self):
        return self.company_breadcrumbs(
            {"url": self.members_url(), "label": gettext("Members")},
            {"url": "", "label": gettext("Add a member"), "sublabel": str(self.company)},
        )

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            company=self.company,
            may_search=self.may_search,
            roles=CompanyMembership.Role.choices,
            members_url=self.members_url(),
        )
        if not self.may_search:
            context.setdefault("identifier_form", AddMemberByIdentifierForm(company=self.company))
            context.update(kwargs)
            return context
        search_form = MemberSearchForm(self.request.GET or None)
        query = search_form.cleaned_data["q"] if search_form.is_valid() else ""
        candidates = search_users(eligible_users(self.company), query) if query else []
        context.update(
            search_form=search_form,
            query=query,
            too_short=bool(query) and len(query.strip()) < MIN_SEARCH_LENGTH,
            candidates=[
                {
                    "user": user,
                    "name": permissions.display_name(user),
                    "email": reports.user_email(user),
                }
                for user in candidates
            ],
            **kwargs,
        )
        return context

    def post(self, request, *args, **kwargs):
        if self.may_search and "user" in request.POST:
            form = AddMemberForm(request.POST, company=self.company)
            if not form.is_valid():
                for errors in form.errors.values():
                    for error in errors:
                        messages.error(request, error)
                return self.render_to_response(self.get_context_data(form=form))
        else:
            # A submitted user id is ignored here: ids would let a company administrator enumerate accounts.
            form = AddMemberByIdentifierForm(request.POST, company=self.company)
            if not form.is_valid():
                return self.render_to_response(self.get_context_data(identifier_form=form))
        user, role = form.cleaned_data["user"], form.cleaned_data["role"]
        try:
            flows.add_member(self.company, user, role=role, actor=request.user, request=request)
        except (flows.MembershipExists, IntegrityError):
            messages.error(
                request,
                gettext("%(person)s is already a member of %(company)s.")
                % {"person": permissions.display_name(user), "company": self.company},
            )
            return redirect(self.members_url())
        messages.success(
            request,
            gettext("%(person)s added to %(company)s as %(role)s.")
            % {
                "person": permissions.display_name(user),
                "company": self.company,
                "role": permissions.role_in_sentence(role),
            },
        )
        return redirect(self.members_url())


class EditMemberView(CompanyObjectMixin, PermissionCheckedMixin, WagtailAdminTemplateMixin, FormView):
    """Change a member's role, or deactivate / reactivate them. Nothing else about a membership changes."""

    template_name = "wagtail_company_mfa/companies/edit_member.html"
    form_class = MembershipForm
    header_icon = "user"

    def setup(self, request, *args, **kwargs):
        super().setup(request, *args, **kwargs)
        # A membership of another company is "not found" here, whatever its id (SEC-41).
        self.membership = get_object_or_404(
            CompanyMembership.objects.select_related("user", "company").annotate(
                enrolled=Exists(
                    AuthenticatorDevice.objects.filter(user_id=OuterRef("user_id"), confirmed=True)
                )
            ),
            pk=kwargs["membership_pk"],
            company_id=self.company.pk,
        )

    def get(self, request, *args, **kwargs):
        self.check_may_change()
        return super().get(request, *args, **kwargs)

    def post(self, request, *args, **kwargs):
        self.check_may_change()
        return super().post(request, *args, **kwargs)

    def check_may_change(self):
        if not permissions.can_change_membership(self.request.user, self.membership):
            raise PermissionDenied

    def get_page_title(self):
        return permissions.display_name(self.membership.user)

    def get_page_subtitle(self):
        return str(self.company)

    def get_breadcrumbs_items(self):
        return self.company_breadcrumbs(
            {"url": self.members_url(), "label": gettext("Members")},
            {
                "url": "",
                "label": permissions.display_name(self.membership.user),
                "sublabel": str(self.company),
            },
        )

    def get_initial(self):
        return {"role": self.membership.role, "is_active": self.membership.is_active}

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.membership.user
        context.update(
            company=self.company,
            membership=self.membership,
            person=permissions.display_name(user),
            email=reports.user_email(user),
            members_url=self.members_url(),
            action_url=self.request.path,
            reset_url=(
                reset.reset_url(self.reset_url_name, user, self.company)
                if self.membership.is_active
                and self.membership.enrolled
                and permissions.can_reset(self.request.user, user, self.company)
                else ""
            ),
        )
        return context

    def form_valid(self, form):
        changes = flows.change_membership(
            self.membership,
            actor=self.request.user,
            request=self.request,
            role=form.cleaned_data["role"],
            is_active=form.cleaned_data["is_active"],
        )
        person = permissions.display_name(self.membership.user)
        if not changes:
            messages.info(self.request, gettext("Nothing changed for %(person)s.") % {"person": person})
        elif "is_active" in changes and not self.membership.is_active:
            messages.success(
                self.request,
                gettext("%(person)s is no longer an active member of %(company)s.")
                % {"person": person, "company": self.company},
            )
        else:
            messages.success(
                self.request,
                gettext("%(person)s is now an active %(role)s of %(company)s.")
                % {
                    "person": person,
                    "role": permissions.role_in_sentence(self.membership.role),
                    "company": self.company,
                },
            )
        return redirect(self.members_url())


# The viewset ------------------------------------------------------------------------------------------------


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
        return company_edit_handler(report_url_name=self.get_url_name("report")).bind_to_model(self.model)

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
        # Only "manage all companies" means anything here (see permissions.py); Django's add/change/delete
        # permissions on companies play no part, so the Groups screen does not offer them.
        return Permission.objects.filter(
            content_type=ContentType.objects.get_for_model(Company), codename=permissions.MANAGE_ALL_CODENAME
        )

    # The views beyond Wagtail's own.

    def _construct(self, view_class, **kwargs):
        return self.construct_view(view_class, **self.url_names(), **kwargs)

    @cached_property
    def members_view(self):
        return self._construct(
            MembersView,
            index_url_name=self.get_url_name("members"),
            index_results_url_name=self.get_url_name("members_results"),
        )

    @cached_property
    def members_results_view(self):
        return self._construct(
            MembersView,
            index_url_name=self.get_url_name("members"),
            index_results_url_name=self.get_url_name("members_results"),
            results_only=True,
        )

    @cached_property
    def add_member_view(self):
        return self._construct(AddMemberView)

    @cached_property
    def edit_member_view(self):
        return self._construct(EditMemberView)

    @cached_property
    def report_view(self):
        return self._construct(
            reports.EnrollmentReportView,
            model=CompanyMembership,
            header_icon="lock",
            index_url_name=self.get_url_name("report"),
            index_results_url_name=self.get_url_name("report_results"),
        )

    @cached_property
    def report_results_view(self):
        return self._construct(
            reports.EnrollmentReportView,
            model=CompanyMembership,
            header_icon="lock",
            index_url_name=self.get_url_name("report"),
            index_results_url_name=self.get_url_name("report_results"),
            results_only=True,
        )

    @cached_property
    def reset_view(self):
        return self._construct(reset.ResetMFAView, header_icon="lock-open")

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
            path("reset/<int:user_pk>/", self.reset_view, name="reset"),
        ]
