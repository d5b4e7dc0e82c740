"""
The enrollment report of one company: every active member, enrolled or not, since when, last used, their
deadline and whether they are overdue; filters by state and role, search, CSV/XLSX export, and a count
summary at the top. The rows come from :mod:`wagtail_company_mfa.companies.enrollment`.
"""

from __future__ import annotations

import tempfile

from django.contrib.auth import get_user_model
from django.db import connections
from django.db.models import F
from django.http import FileResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext, gettext_lazy
from wagtail.admin.views.mixins import ExcelDateFormatter
from wagtail.admin.views.reports import ReportView
from wagtail.admin.widgets import HeaderButton

from ...models import CompanyMembership
from .. import counts, export, permissions, report_export
from ..enrollment import (
    DUE,
    ENROLLED,
    NOT_ENROLLED,
    OVERDUE,
    EnrollmentSummary,
    exempt_condition,
    member_queryset,
    member_rows,
    summary_sentence,
    user_name_ordering,
    user_search_fields,
)
from ..permissions import company_permission_policy
from ..reset import toolkit_actions
from ..reset_rule import ResetChecker
from .cells import PythonCellColumn, PythonDateColumn
from .mixins import MemberActionsColumn
from .report_table import (
    DeadlineColumn,
    EnrollmentReportFilterSet,
    FormulaSafeExportMixin,
    LastUsedColumn,
    MethodsColumn,
    StateColumn,
)


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
        "methods_label",
        "overdue_label",
        "deadline",
        "enrolled_at",
        "last_used_at",
        "trusted_browsers",
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
        self.company = permissions.managed_company_or_404(
            request.user, kwargs["pk"], prepare=counts.with_kept_counts
        )
        # For the filter set (which gets the request, not the view): "not meeting the company's methods".
        request.mfa_report_company = self.company
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
            PythonCellColumn("name", label=gettext("Member"), sort_key="name", width="20%"),
            PythonCellColumn("email", label=gettext("Email"), sort_key="email"),
            PythonCellColumn("role_label", label=gettext("Role"), sort_key="role"),
            StateColumn("state", label=gettext("MFA")),
            MethodsColumn("methods", label=gettext("Methods")),
            DeadlineColumn("deadline", label=gettext("Deadline")),
            PythonDateColumn("enrolled_at", label=gettext("Enrolled since"), sort_key="enrolled_at"),
            LastUsedColumn("last_used_at", label=gettext("Last used"), sort_key="last_used_at"),
            PythonCellColumn("trusted_browsers", label=gettext("Trusted browsers")),
            PythonDateColumn("joined_at", label=gettext("Joined"), sort_key="joined_at"),
            MemberActionsColumn("actions", label=gettext("Actions"), accessor=self.row_actions),
        ]

    @cached_property
    def reset_checker(self):
        return ResetChecker(self.request.user)

    def row_actions(self, row) -> list[dict]:
        """ "Reset MFA" for an enrolled member the viewer may reset: where an administrator looks first."""
        if row.state != ENROLLED or not self.reset_url_name or not self.reset_checker.may_reset(row.user):
            return []
        return toolkit_actions(self.reset_url_name, row.user, self.company, row.name)

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
    def exempt(self):
        # Worked out once per request: the counts, the listing and the export share it.
        return exempt_condition(self.company)

    @cached_property
    def members(self):
        # Built once per request: the listing and page_members both start from it, and building it works
        # out the company's overdue ranges (member_state.overdue_condition).
        return member_queryset(self.company, now=self.now, exempt=self.exempt)

    def get_base_queryset(self):
        return self.members.all()

    def get_paginator(self, queryset, per_page, *args, **kwargs):
        paginator = super().get_paginator(queryset, per_page, *args, **kwargs)
        known = self.known_count()
        if known is not None:
            # Django's Paginator.count is a cached property: set, it is not counted again in SQL.
            paginator.__dict__["count"] = known
        return paginator

    def known_count(self) -> int | None:
        """
        The number of members the listing shows, when the counts at the top already say it (no search, no
        role, at most a state filter), so that the page does not count a large company twice; else ``None``.
        """
        if self.is_searching:
            return None
        state = None
        if self.filters is not None:
            if not self.filters.is_valid():
                return None
            data = self.filters.form.cleaned_data
            if any(value for name, value in data.items() if name != "state"):
                return None
            state = data.get("state") or None
        summary = self.summary
        return {
            None: summary.members,
            ENROLLED: summary.enrolled,
            NOT_ENROLLED: summary.not_enrolled,
            OVERDUE: summary.overdue,
            DUE: summary.due,
        }.get(state)

    def paginate_queryset(self, queryset, page_size):
        # Only the page's members become report rows (an export is not paginated: it stays a queryset and is
        # read in chunks as tuples, see stream_csv).
        paginator, page, object_list, is_paginated = super().paginate_queryset(queryset, page_size)
        page.object_list = member_rows(self.page_members(object_list), self.company)
        return paginator, page, page.object_list, is_paginated

    def page_members(self, page_queryset):
        """
        The members of one page (``page_queryset``: the listing, ordered and sliced) with their annotations,
        in one query that finds the page's ids first and annotates only those.

        Selected directly, the annotations (enrolled since, last used, each factor, trusted browsers) would
        be worked out for every member of the company before the sort picks 50 of them: at 100,000 members,
        most of the query's time. The ordering, filters and search stay in the subquery, so the page is the
        same. A database that cannot take a sliced subquery in ``IN`` (MySQL) reads the ids first.
        """
        ids = page_queryset.values("pk")
        if not connections[page_queryset.db].features.allow_sliced_subqueries_with_in:
            ids = list(ids.values_list("pk", flat=True))
        return self.get_base_queryset().filter(pk__in=ids).order_by(*page_queryset.query.order_by)

    def get(self, request, *args, **kwargs):
        if self.is_export:
            # Straight to the file: the listing's context (the table, the summary, and Wagtail's row count,
            # which takes len() of an unpaginated listing) would load every row before the download starts.
            return self.as_spreadsheet(self.get_filtered_queryset(), request.GET.get("export"))
        return super().get(request, *args, **kwargs)

    @cached_property
    def summary(self) -> EnrollmentSummary:
        # The whole company whatever the filter or search: counted in SQL, and kept until something changes
        # (companies/counts.py).
        return counts.kept_summary(self.company, now=self.now, exempt=self.exempt)

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
        if self.reset_url_name:
            buttons.append(
                HeaderButton(
                    gettext("Bulk actions"),
                    url=reverse("wagtail_company_mfa_companies:bulk", args=[self.company.pk]),
                    icon_name="tasks",
                )
            )
        return buttons

    def get_filename(self):
        return f"mfa-enrollment-{self.company.slug}-{timezone.localdate(self.now, self.zone):%Y-%m-%d}"

    # Exports: plain tuples in chunks, one small function per column (companies/export.py); datetimes in the
    # admin's own time zone, named in the heading.

    @cached_property
    def export_columns(self) -> list[export.ExportColumn]:
        columns = {column.key: column for column in report_export.report_columns(self.company)}
        return [columns[key] for key in self.list_export]

    def stream_csv(self, queryset):
        return export.stream_csv(
            queryset,
            self.export_columns,
            zone=self.zone,
            zone_name=self.zone_name,
            chunk_size=self.export_chunk_size,
        )

    def write_xlsx(self, queryset, output):
        # The same values and date format as Wagtail's write_xlsx, through a writer that does not build a
        # cell object per value (companies/spreadsheet.py).
        export.write_xlsx(
            queryset,
            self.export_columns,
            output,
            zone=self.zone,
            zone_name=self.zone_name,
            date_format=ExcelDateFormatter().get(),
            chunk_size=self.export_chunk_size,
        )

    def write_xlsx_response(self, queryset):
        # The rows are read in chunks and written into the zip as they come; the finished file goes to a
        # temporary file (an XLSX is a zip whose directory comes last), never to memory, and is streamed from
        # there.
        output = tempfile.TemporaryFile()  # noqa: SIM115 (FileResponse closes it once sent)
        try:
            self.write_xlsx(queryset, output)
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
