"""A view about one company of the URL (``pk``): the mixin the members and report views share."""

from __future__ import annotations

from typing import TYPE_CHECKING

import django_filters
from django import forms
from django.urls import reverse
from django.utils.translation import gettext, gettext_lazy

from ...models import CompanyMembership
from .. import permissions
from ..permissions import company_permission_policy
from .cells import PythonCellColumn, links_html

if TYPE_CHECKING:
    # Used with Wagtail's generic admin views, which ship no types: its ``super()`` calls stay unchecked.
    from wagtail.admin.views.generic.base import BaseListingView as _MixinBase
else:
    _MixinBase = object


class CompanyObjectMixin(_MixinBase):
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


def role_filter() -> django_filters.ChoiceFilter:
    """The "Role" filter of the members page and the enrollment report (a new one for each filter set)."""
    return django_filters.ChoiceFilter(
        label=gettext_lazy("Role"),
        choices=CompanyMembership.Role.choices,
        empty_label=gettext_lazy("All"),
        widget=forms.RadioSelect,
    )


class MemberActionsColumn(PythonCellColumn):
    """A row's links ("Edit", "Reset MFA"), each with an accessible name that starts with its visible text."""

    def cell_content(self, instance):
        return links_html(self.get_value(instance) or ())
