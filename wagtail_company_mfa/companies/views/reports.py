"""
The enrollment report of one company: every active member, enrolled or not, since when, last used, their
deadline and whether they are overdue; filters by state and role, search, CSV/XLSX export, and a count
summary at the top. The rows come from :mod:`wagtail_company_mfa.companies.enrollment`.
"""

from __future__ import annotations

import datetime
import itertools
import tempfile
from typing import TYPE_CHECKING

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.db.models import F
from django.http import FileResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext, gettext_lazy
from wagtail.admin.filters import WagtailFilterSet
from wagtail.admin.ui.tables import Column, DateColumn
from wagtail.admin.views.mixins import ExcelDateFormatter
from wagtail.admin.views.reports import ReportView
from wagtail.admin.widgets import HeaderButton

from ...models import CompanyMembership
from .. import permissions, spreadsheet
from ..enrollment import (
    DUE,
    ENROLLED,
    NOT_ENROLLED,
    OVERDUE,
    STATE_FILTER_CHOICES,
    STATE_LABELS,
    EnrollmentSummary,
    exempt_membership_ids,
    member_queryset,
    member_row,
    member_rows,
    summary_sentence,
    user_name_ordering,
    user_search_fields,
)
from ..permissions import company_permission_policy
from ..reset import reset_url
from ..reset_rule import ResetChecker
from .mixins import MemberActionsColumn, role_filter

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
        if value == NOT_ENROLLED:
            return queryset.filter(is_enrolled=False)
        if value in (ENROLLED, OVERDUE, DUE):
            return queryset.filter(state=value)
        return queryset


#: A spreadsheet cell starting with one of these may be read as a formula by Excel, LibreOffice or Google
#: Sheets (CSV injection, OWASP): the text of a name or an email address is then executed, not shown.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(value):
    """``value`` made inert for a spreadsheet: text that could start a formula gets a leading ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return f"'{value}"
    return value


class FormulaSafeExportMixin(_ExportMixinBase):
    """
    For a view with Wagtail's CSV/XLSX export: every text cell that a spreadsheet could take for a formula is
    prefixed with ``'`` (docs/security.md, "Exports"). Names, usernames and email addresses are typed by the
    people themselves, so no text column is trusted.
    """

    def preprocess_field_value(self, field, value, export_format):
        return neutralise_formula(super().preprocess_field_value(field, value, export_format))


class StateColumn(Column):
    cell_template_name = "wagtail_company_mfa/reports/state_cell.html"


class LastUsedColumn(DateColumn):
    cell_template_name = "wagtail_company_mfa/reports/last_used_cell.html"


class DeadlineColumn(DateColumn):
    cell_template_name = "wagtail_company_mfa/reports/deadline_cell.html"


class EnrollmentReportView(FormulaSafeExportMixin, ReportView):
    """The enrollment report of one company, for its administrators (and superusers)."""

    template_name = "wagtail_company_mfa/reports/enrollment.html"
    results_template_name = "wagtail_company_mfa/reports/enrollment_results.html"
    page_title = gettext_lazy("MFA enrollment")
    header_icon = "lock"
    model = CompanyMembership
    permission_policy = company_permission_policy
    any_permission_required = ["change"]
    filterset_class = EnrollmentReportFilterSet
    is_searchable = True
    paginate_by = 50
    default_ordering = "name"
    index_url_name = None
    index_results_url_name = None
    edit_url_name = None
    members_url_name = None
    reset_url_name = None
    add_member_url_name = None
    companies_index_url_name = None
    verbose_name = gettext_lazy("member")
    verbose_name_plural = gettext_lazy("members")

    list_export = [
        "name",
        "username",
        "email",
        "role_label",
        "state_label",
        "overdue_label",
        "deadline",
        "enrolled_at",
        "last_used_at",
        "joined_at",
    ]

    #: Each sortable column's SQL ordering; the state and deadline columns are computed, so not sortable.
    ORDERINGS = {
        "email": lambda: [f"user__{get_user_model().get_email_field_name()}"],
        "role": lambda: ["role", *(f"user__{name}" for name in user_name_ordering())],
        "enrolled_at": lambda: ["enrolled_at"],
        "last_used_at": lambda: ["last_used_at"],
        "joined_at": lambda: ["joined_at"],
        "name": lambda: [f"user__{name}" for name in user_name_ordering()],
    }

    def setup(self, request, *args, **kwargs):
        super().setup(request, *args, **kwargs)
        self.company = permissions.managed_company_or_404(request.user, kwargs["pk"])
        self.now = timezone.now()
        # CSV rows are written while the response streams, after Wagtail has left the admin's time zone.
        self.zone = timezone.get_current_timezone()
        self.zone_name = timezone.get_current_timezone_name()

    @property
    def search_fields(self):
        return [f"user__{name}" for name in user_search_fields()]

    @cached_property
    def columns(self):
        return [
            Column("name", label=gettext("Member"), sort_key="name", width="20%"),
            Column("email", label=gettext("Email"), sort_key="email"),
            Column("role_label", label=gettext("Role"), sort_key="role"),
            StateColumn("state", label=gettext("MFA")),
            DeadlineColumn("deadline", label=gettext("Deadline")),
            DateColumn("enrolled_at", label=gettext("Enrolled since"), sort_key="enrolled_at"),
            LastUsedColumn("last_used_at", label=gettext("Last used"), sort_key="last_used_at"),
            DateColumn("joined_at", label=gettext("Joined"), sort_key="joined_at"),
            MemberActionsColumn("actions", label=gettext("Actions"), accessor=self.row_actions),
        ]

    @cached_property
    def reset_checker(self):
        return ResetChecker(self.request.user)

    def row_actions(self, row) -> list[dict]:
        """ "Reset MFA" for an enrolled member the viewer may reset: where an administrator looks first."""
        if row.state != ENROLLED or not self.reset_url_name or not self.reset_checker.may_reset(row.user):
            return []
        return [
            {
                "url": reset_url(self.reset_url_name, row.user, self.company),
                "label": gettext("Reset MFA"),
                "aria_label": gettext("Reset MFA for %(person)s") % {"person": row.name},
            }
        ]

    def get_valid_orderings(self):
        return [key for name in self.ORDERINGS for key in (name, f"-{name}")]

    def order_queryset(self, queryset):
        ordering = self.ordering or self.default_ordering
        descending = ordering.startswith("-")
        fields = self.ORDERINGS[ordering.lstrip("-")]()
        expressions = [
            F(field).desc(nulls_last=True) if descending else F(field).asc(nulls_last=True)
            for field in fields
        ]
        return queryset.order_by(*expressions, "pk")

    #: Rows read from the database at a time by the exports, so that their memory does not grow with the
    #: company (docs/performance.md, "Enrollment report").
    export_chunk_size = 2000

    @cached_property
    def exempt_ids(self) -> list[int]:
        return exempt_membership_ids(self.company)

    def get_base_queryset(self):
        return member_queryset(self.company, now=self.now, exempt_ids=self.exempt_ids)

    def paginate_queryset(self, queryset, page_size):
        # Only the page's members become report rows (an export is not paginated: it stays a queryset and is
        # read in chunks, see to_row_dict).
        paginator, page, object_list, is_paginated = super().paginate_queryset(queryset, page_size)
        page.object_list = member_rows(object_list, self.company)
        return paginator, page, page.object_list, is_paginated

    def get(self, request, *args, **kwargs):
        if self.is_export:
            # Straight to the file: the listing's context (the table, the summary, and Wagtail's row count,
            # which takes len() of an unpaginated listing) would load every row before the download starts.
            return self.as_spreadsheet(self.get_filtered_queryset(), request.GET.get("export"))
        return super().get(request, *args, **kwargs)

    @cached_property
    def summary(self) -> EnrollmentSummary:
        # The whole company whatever the filter or search: counted in SQL.
        return EnrollmentSummary.of(self.get_base_queryset())

    def get_index_url(self):
        return reverse(self.index_url_name, args=[self.company.pk])

    def get_index_results_url(self):
        return reverse(self.index_results_url_name, args=[self.company.pk])

    def get_page_subtitle(self):
        return str(self.company)

    def get_breadcrumbs_items(self):
        items = [{"url": reverse(self.companies_index_url_name), "label": gettext("Companies")}]
        if self.edit_url_name:
            items.append(
                {"url": reverse(self.edit_url_name, args=[self.company.pk]), "label": str(self.company)}
            )
        items.append({"url": "", "label": self.get_page_title(), "sublabel": self.get_page_subtitle()})
        return self.breadcrumbs_items + items

    @cached_property
    def header_buttons(self):
        buttons: list[HeaderButton] = []
        if self.members_url_name:
            buttons.append(
                HeaderButton(
                    gettext("Members"),
                    url=reverse(self.members_url_name, args=[self.company.pk]),
                    icon_name="group",
                )
            )
        return buttons

    def get_filename(self):
        return f"mfa-enrollment-{self.company.slug}-{timezone.localdate(self.now, self.zone):%Y-%m-%d}"

    # Export: datetimes in the admin's own time zone, named in the heading.

    @cached_property
    def export_headings(self):
        zone = self.zone_name
        return {
            "name": gettext("Name"),
            "username": gettext("Username"),
            "email": gettext("Email"),
            "role_label": gettext("Role"),
            "state_label": gettext("MFA"),
            "overdue_label": gettext("Overdue"),
            "deadline": gettext("Deadline (%(zone)s)") % {"zone": zone},
            "enrolled_at": gettext("Enrolled since (%(zone)s)") % {"zone": zone},
            "last_used_at": gettext("Last used (%(zone)s)") % {"zone": zone},
            "joined_at": gettext("Joined (%(zone)s)") % {"zone": zone},
        }

    def _local(self, value):
        return value.astimezone(self.zone) if value else None

    @cached_property
    def _labels(self) -> dict:
        # Translated once per export, not once per row.
        return {
            "state": {state: str(label) for state, label in STATE_LABELS.items()},
            "role": {role: str(label) for role, label in CompanyMembership.Role.choices},
            "overdue": {True: gettext("Yes"), False: gettext("No")},
        }

    def to_row_dict(self, item):
        if isinstance(item, CompanyMembership):
            item = member_row(item, self.company)
        labels = self._labels
        return {
            "name": item.name,
            "username": item.username,
            "email": item.email,
            "role_label": labels["role"].get(item.role, item.role),
            "state_label": labels["state"][item.state],
            "overdue_label": labels["overdue"][item.is_overdue],
            "deadline": self._local(item.deadline),
            "enrolled_at": self._local(item.enrolled_at),
            "last_used_at": self._local(item.last_used_at),
            "joined_at": self._local(item.joined_at),
        }

    @cached_property
    def custom_value_preprocess(self):
        return {
            **super().custom_value_preprocess,
            datetime.datetime: {
                self.FORMAT_XLSX: lambda value: value.replace(tzinfo=None),
                self.FORMAT_CSV: lambda value: value.strftime("%Y-%m-%d %H:%M"),
            },
            type(None): {self.FORMAT_XLSX: lambda value: "", self.FORMAT_CSV: lambda value: ""},
        }

    # Streaming exports: the rows are read in chunks and written as they come.

    def stream_csv(self, queryset):
        return super().stream_csv(queryset.iterator(chunk_size=self.export_chunk_size))

    def get_heading(self, queryset, field):
        return super().get_heading(CompanyMembership.objects.none(), field)

    def write_xlsx(self, queryset, output):
        # Wagtail's write_xlsx, with the same values and date format, through a writer that does not build
        # a cell object per value (companies/spreadsheet.py).
        headings = [self.get_heading(queryset, field) for field in self.list_export]
        rows = (
            [
                self.preprocess_field_value(field, value, self.FORMAT_XLSX)
                for field, value in self.to_row_dict(item).items()
            ]
            for item in queryset
        )
        spreadsheet.write_xlsx(
            itertools.chain([headings], rows), output, date_format=ExcelDateFormatter().get()
        )

    def write_xlsx_response(self, queryset):
        # The rows are read in chunks and written into the zip as they come; the finished file goes to a
        # temporary file (an XLSX is a zip whose directory comes last), never to memory, and is streamed from
        # there.
        output = tempfile.TemporaryFile()  # noqa: SIM115 (FileResponse closes it once sent)
        try:
            self.write_xlsx(queryset.iterator(chunk_size=self.export_chunk_size), output)
            output.seek(0)
        except BaseException:
            output.close()
            raise
        return FileResponse(
            output,
            as_attachment=True,
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            filename=f"{self.get_filename()}.xlsx",
        )

    def get_context_data(self, *args, **kwargs):
        context = super().get_context_data(*args, **kwargs)
        context.update(
            company=self.company,
            summary=self.summary,
            summary_sentence=summary_sentence(self.company, self.summary, now=self.now),
            add_member_url=reverse(self.add_member_url_name, args=[self.company.pk])
            if self.add_member_url_name
            else "",
        )
        return context
