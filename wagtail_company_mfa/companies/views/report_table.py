"""
The parts of the enrollment report's table (:mod:`.reports`): its filters, its columns, and the export
mixin that keeps a spreadsheet from reading a cell as a formula.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import django_filters
from django import forms
from django.utils.translation import gettext_lazy
from wagtail.admin.filters import WagtailFilterSet
from wagtail.admin.ui.tables import Column, DateColumn

from ... import factors
from ...models import CompanyMembership
from ..enrollment import (
    DUE,
    ENROLLED,
    METHODS_UNMET,
    NOT_ENROLLED,
    OVERDUE,
    STATE_FILTER_CHOICES,
    meets_methods_condition,
)
from ..export import neutralise_formula
from .mixins import role_filter

if TYPE_CHECKING:
    # Wagtail's report view ships no types: the mixin's ``super()`` call stays unchecked.
    from wagtail.admin.views.reports import ReportView as _ExportMixinBase
else:
    _ExportMixinBase = object


class EnrollmentReportFilterSet(WagtailFilterSet):
    state = django_filters.ChoiceFilter(
        label=gettext_lazy("MFA"),
        choices=STATE_FILTER_CHOICES,
        empty_label=gettext_lazy("All"),
        method="filter_state",
        widget=forms.RadioSelect,
    )
    role = role_filter()

    class Meta:
        model = CompanyMembership
        fields: list[str] = []

    def filter_state(self, queryset, name, value):
        # The state is an SQL annotation (enrollment.member_queryset), so the filter pages in the database.
        # Enrolled or not: ``user_id IN`` the enrolled users, read once, rather than an EXISTS per member.
        if value == NOT_ENROLLED:
            return queryset.exclude(user_id__in=factors.enrolled_user_ids())
        if value == ENROLLED:
            return queryset.filter(user_id__in=factors.enrolled_user_ids())
        if value in (OVERDUE, DUE):
            return queryset.filter(state=value)
        if value == METHODS_UNMET:
            # Enrolled, with none of the factors the company accepts.
            return queryset.filter(is_enrolled=True).exclude(meets_methods_condition(self.company))
        return queryset

    @property
    def company(self):
        return self.request.mfa_report_company


class FormulaSafeExportMixin(_ExportMixinBase):
    """
    For a view with Wagtail's CSV/XLSX export: every text cell that a spreadsheet could take for a formula is
    prefixed with ``'`` (docs/security.md, "Exports"). Names, usernames and email addresses are typed by the
    people themselves, so no text column is trusted. (The enrollment report writes its own exports, through
    ``companies/export.py``, which does the same for every text column.)
    """

    def preprocess_field_value(self, field, value, export_format):
        return neutralise_formula(super().preprocess_field_value(field, value, export_format))


class StateColumn(Column):
    cell_template_name = "wagtail_company_mfa/reports/state_cell.html"


class MethodsColumn(Column):
    cell_template_name = "wagtail_company_mfa/reports/methods_cell.html"


class LastUsedColumn(DateColumn):
    cell_template_name = "wagtail_company_mfa/reports/last_used_cell.html"


class DeadlineColumn(DateColumn):
    cell_template_name = "wagtail_company_mfa/reports/deadline_cell.html"
