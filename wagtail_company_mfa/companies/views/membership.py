"""Adding a member to a company, and changing a member's role or deactivating them (SEC-41)."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError
from django.shortcuts import get_object_or_404, redirect
from django.utils.functional import cached_property
from django.utils.translation import gettext, gettext_lazy
from django.views.generic import FormView, TemplateView
from wagtail.admin import messages
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin
from wagtail.admin.views.generic.permissions import PermissionCheckedMixin

from ... import factors
from ...base.users import display_name
from ...models import CompanyMembership
from .. import enrollment, flows, permissions, reset_rule
from ..member_forms import (
    MIN_SEARCH_LENGTH,
    AddMemberByIdentifierForm,
    AddMemberForm,
    MemberSearchForm,
    MembershipForm,
    eligible_users,
    search_users,
)
from ..reset import reset_url
from .mixins import CompanyObjectMixin

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


class _Enrolled(TypedDict):
    enrolled: bool


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
                    "name": display_name(user),
                    "email": enrollment.user_email(user),
                }
                for user in candidates
            ],
            **kwargs,
        )
        return context

    def post(self, request, *args, **kwargs):
        form: AddMemberForm | AddMemberByIdentifierForm
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
                % {"person": display_name(user), "company": self.company},
            )
            return redirect(self.members_url())
        messages.success(
            request,
            gettext("%(person)s added to %(company)s as %(role)s.")
            % {
                "person": display_name(user),
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
    #: The membership of the URL, with ``enrolled`` (``factors.has_enrolled_factor``): read by ``setup``.
    membership: WithAnnotations[CompanyMembership, _Enrolled]

    def setup(self, request, *args, **kwargs):
        super().setup(request, *args, **kwargs)
        # A membership of another company is "not found" here, whatever its id (SEC-41).
        self.membership = get_object_or_404(
            CompanyMembership.objects.select_related("user", "company").annotate(
                enrolled=factors.has_enrolled_factor()
            ),
            pk=kwargs["membership_pk"],
            company_id=self.company.pk,
        )

    def get(self, request, *args, **kwargs):
        refused = self.refuse_own_membership()
        if refused is not None:
            return refused
        self.check_may_change()
        return super().get(request, *args, **kwargs)

    def post(self, request, *args, **kwargs):
        refused = self.refuse_own_membership()
        if refused is not None:
            return refused
        self.check_may_change()
        return super().post(request, *args, **kwargs)

    def refuse_own_membership(self):
        """
        A company administrator's own membership: never changed by themself, so the last administrator
        cannot demote or deactivate themself and lock the company out; said in words, with the way out.
        """
        user = self.request.user
        if self.membership.user_id != user.pk or permissions.can_manage_all(user):
            return None
        messages.error(
            self.request,
            gettext(
                "You cannot change your own role or deactivate your own membership: ask another "
                "administrator of %(company)s or a superuser. A locked-out administrator's two-factor "
                "authentication is reset with “manage.py mfa_reset” on the server."
            )
            % {"company": self.company},
        )
        return redirect(self.members_url())

    def check_may_change(self):
        if not permissions.can_change_membership(self.request.user, self.membership):
            raise PermissionDenied

    def get_page_title(self):
        return display_name(self.membership.user)

    def get_page_subtitle(self):
        return str(self.company)

    def get_breadcrumbs_items(self):
        return self.company_breadcrumbs(
            {"url": self.members_url(), "label": gettext("Members")},
            {
                "url": "",
                "label": display_name(self.membership.user),
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
            person=display_name(user),
            email=enrollment.user_email(user),
            members_url=self.members_url(),
            action_url=self.request.path,
            reset_url=(
                reset_url(self.reset_url_name, user, self.company)
                if self.membership.is_active
                and self.membership.enrolled
                and reset_rule.can_reset(self.request.user, user, self.company)
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
        person = display_name(self.membership.user)
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
