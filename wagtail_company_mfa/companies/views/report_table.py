"""
The parts of the enrollment report's table (:mod:`.reports`): its filters, its columns, and the export
mixin that keeps a spreadsheet from reading a cell as a formula.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import django_filters
from django import forms
from django.template.defaultfilters import date as date_filter
from django.utils.html import format_html
from django.utils.translation import gettext, gettext_lazy
from wagtail.admin.filters import WagtailFilterSet

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
from .cells import PythonCellColumn, PythonDateColumn, icon_html
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


class StateColumn(PythonCellColumn):
    """The member's state, with an icon: a tick for enrolled, a warning for overdue."""

    ICONS = {
        ENROLLED: ("success", "default w-text-positive-100"),
        OVERDUE: ("warning", "default w-text-critical-200"),
    }

    def cell_content(self, instance):
        name, classname = self.ICONS.get(instance.state, ("circle-xmark", "default"))
        return format_html("{} {}", icon_html(name, classname), instance.state_label)


class MethodsColumn(PythonCellColumn):
    """The member's factors in words, and a warning where the company accepts none of them."""

    cell_attrs = " data-mfa-methods"

    def cell_content(self, instance):
        if not instance.methods:
            return format_html('<span class="w-text-text-meta">{}</span>', gettext("None"))
        if not instance.methods_unmet:
            return instance.methods_label
        return format_html(
            '{}<br><span class="w-text-critical-200" data-mfa-methods-unmet>{}{}</span>',
            instance.methods_label,
            icon_html("warning", "default"),
            gettext("Not accepted by this company"),
        )


class LastUsedColumn(PythonDateColumn):
    """ "Last used": a date like Wagtail's, or "Never"."""

    def cell_content(self, instance):
        return super().cell_content(instance) if self.get_value(instance) else gettext("Never")


class DeadlineColumn(PythonCellColumn):
    """The deadline as the company's calendar date, and whether a late joiner's grace period set it."""

    def cell_content(self, instance):
        if not self.get_value(instance):
            return gettext("None")
        deadline = date_filter(instance.deadline_date, "DATE_FORMAT")
        if not instance.grace_applied:
            return deadline
        return format_html("{}<br><small>{}</small>", deadline, gettext("Grace period for a late joiner"))
