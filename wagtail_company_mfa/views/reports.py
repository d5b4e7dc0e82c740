"""
The enrollment report of one company (SPEC §3.7): every active member, enrolled or not, since when, last
used, their deadline and whether they are overdue; filters by state and role, search, CSV/XLSX export, and a
count summary at the top.

Its number of SQL queries does not grow with the number of members: whether a member is enrolled comes from
subqueries on the authenticator table, and each member's deadline is computed in Python from the values
already loaded (:func:`wagtail_company_mfa.policy.member_deadline`), never with a query per row. Because the
deadline of a late joiner is wall-clock arithmetic in the company's time zone, "overdue" and "due later"
are decided in Python too, after SQL has narrowed the rows to those not enrolled.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Exists, F, OuterRef, Subquery
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext, gettext_lazy, ngettext
from wagtail.admin.filters import WagtailFilterSet
from wagtail.admin.ui.tables import Column, DateColumn
from wagtail.admin.views.reports import ReportView
from wagtail.admin.widgets import HeaderButton

from .. import permissions
from ..models import AuthenticatorDevice, CompanyMembership
from ..permissions import company_permission_policy
from ..policy import is_exempt, member_deadline

# Members and their enrollment state -------------------------------------------------------------------------

ENROLLED = "enrolled"
NOT_ENROLLED = "not_enrolled"
OVERDUE = "overdue"
DUE = "due"
EXEMPT = "exempt"
NOT_REQUIRED = "not_required"

STATE_LABELS = {
    ENROLLED: gettext_lazy("Enrolled"),
    OVERDUE: gettext_lazy("Overdue"),
    DUE: gettext_lazy("Not enrolled yet"),
    EXEMPT: gettext_lazy("Exempt"),
    NOT_REQUIRED: gettext_lazy("Not enrolled"),
}

#: Member states in the order the report's filter offers them. "Not enrolled" covers overdue, due,
#: exempt and not required.
STATE_FILTER_CHOICES = [
    (ENROLLED, gettext_lazy("Enrolled")),
    (NOT_ENROLLED, gettext_lazy("Not enrolled")),
    (OVERDUE, gettext_lazy("Overdue")),
    (DUE, gettext_lazy("Not enrolled, deadline ahead")),
]


def user_email(user) -> str:
    return getattr(user, user.get_email_field_name(), "") or ""


def has_authenticator():
    """``Exists`` expression: the user of the row (``user_id``) has a confirmed authenticator app."""
    return Exists(AuthenticatorDevice.objects.filter(user_id=OuterRef("user_id"), confirmed=True))


def member_queryset(company):
    """
    The active members of ``company`` with their user and, from subqueries, when their authenticator app was
    set up and last used: one query however many members.
    """
    authenticator = AuthenticatorDevice.objects.filter(user_id=OuterRef("user_id"), confirmed=True)
    return (
        CompanyMembership.objects.filter(company_id=company.pk, is_active=True)
        .select_related("user")
        .annotate(
            enrolled_at=Subquery(authenticator.values("created_at")[:1]),
            last_used_at=Subquery(authenticator.values("last_used_at")[:1]),
            enrolled_device_id=Subquery(authenticator.values("pk")[:1]),
        )
    )


@dataclass
class MemberRow:
    """One line of the report: a member, their enrollment and their deadline."""

    membership: CompanyMembership
    user: object
    state: str
    enrolled_at: datetime.datetime | None
    last_used_at: datetime.datetime | None
    #: When this member must use MFA for the company (``None`` when the company does not require it).
    deadline: datetime.datetime | None
    grace_applied: bool = False

    @property
    def name(self) -> str:
        return permissions.display_name(self.user)

    @property
    def email(self) -> str:
        return user_email(self.user)

    @property
    def username(self) -> str:
        return self.user.get_username()

    @property
    def role(self) -> str:
        return self.membership.role

    @property
    def role_label(self) -> str:
        return str(self.membership.get_role_display())

    @property
    def joined_at(self) -> datetime.datetime:
        return self.membership.joined_at

    @property
    def is_enrolled(self) -> bool:
        return self.state == ENROLLED

    @property
    def is_overdue(self) -> bool:
        return self.state == OVERDUE

    @property
    def overdue_label(self) -> str:
        return gettext("Yes") if self.is_overdue else gettext("No")

    @property
    def state_label(self) -> str:
        return str(STATE_LABELS[self.state])


def member_rows(memberships, company, *, now: datetime.datetime | None = None) -> list[MemberRow]:
    """
    A :class:`MemberRow` for each membership of ``memberships`` (from :func:`member_queryset`), deadlines
    computed in Python from the loaded values. ``company`` is the one the memberships belong to.
    """
    now = now or timezone.now()
    policy_set = company.policy_is_set
    rows = []
    for membership in memberships:
        user = membership.user
        deadline, grace_applied = None, False
        if policy_set:
            deadline, grace_applied = member_deadline(
                enforcement_date=company.enforcement_date,
                time_zone=company.time_zone,
                joined_at=membership.joined_at,
                grace_days=company.new_member_grace_days,
                company_id=company.pk,
            )
        if membership.enrolled_device_id is not None:
            state = ENROLLED
        elif not policy_set:
            state = NOT_REQUIRED
        elif is_exempt(user):
            state = EXEMPT
        elif deadline <= now:
            state = OVERDUE
        else:
            state = DUE
        rows.append(
            MemberRow(
                membership=membership,
                user=user,
                state=state,
                enrolled_at=membership.enrolled_at,
                last_used_at=membership.last_used_at,
                deadline=deadline,
                grace_applied=grace_applied,
            )
        )
    return rows


@dataclass(frozen=True)
class EnrollmentSummary:
    """The counts at the top of the report, in the policy preview and in ``manage.py mfa_status``."""

    members: int = 0
    enrolled: int = 0
    overdue: int = 0
    due: int = 0
    exempt: int = 0

    @property
    def not_enrolled(self) -> int:
        return self.members - self.enrolled

    @property
    def must_enroll(self) -> int:
        """Members the policy applies to: everyone but the exempt."""
        return self.members - self.exempt

    @classmethod
    def of(cls, rows) -> EnrollmentSummary:
        counts = {ENROLLED: 0, OVERDUE: 0, DUE: 0, EXEMPT: 0}
        for row in rows:
            if row.state in counts:
                counts[row.state] += 1
        return cls(
            members=len(rows),
            enrolled=counts[ENROLLED],
            overdue=counts[OVERDUE],
            due=counts[DUE],
            exempt=counts[EXEMPT],
        )


def summarize(company, *, now: datetime.datetime | None = None) -> EnrollmentSummary:
    """The :class:`EnrollmentSummary` of ``company``'s active members (one query)."""
    return EnrollmentSummary.of(member_rows(member_queryset(company), company, now=now))


def user_fields(*names: str) -> list[str]:
    """Those of ``names`` that the user model has (a custom user model may lack a username or names)."""
    User = get_user_model()
    present = []
    for name in names:
        try:
            User._meta.get_field(name)
        except FieldDoesNotExist:
            continue
        if name not in present:
            present.append(name)
    return present


def user_search_fields() -> list[str]:
    User = get_user_model()
    return user_fields(User.USERNAME_FIELD, User.get_email_field_name(), "first_name", "last_name")


def user_name_ordering() -> list[str]:
    User = get_user_model()
    return user_fields("first_name", "last_name", User.USERNAME_FIELD)


# The report view --------------------------------------------------------------------------------------------


class EnrollmentReportFilterSet(WagtailFilterSet):
    state = django_filters.ChoiceFilter(
        label=gettext_lazy("MFA"),
        choices=STATE_FILTER_CHOICES,
        empty_label=gettext_lazy("All"),
        method="filter_state",
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

    def filter_state(self, queryset, name, value):
        # SQL decides what it can decide exactly: enrolled or not. Overdue and "deadline ahead" depend on
        # each member's deadline, which the view works out in Python (EnrollmentReportView).
        if value == ENROLLED:
            return queryset.filter(enrolled_device_id__isnull=False)
        if value in (NOT_ENROLLED, OVERDUE, DUE):
            return queryset.filter(enrolled_device_id__isnull=True)
        return queryset


#: A spreadsheet cell starting with one of these may be read as a formula by Excel, LibreOffice or Google
#: Sheets (CSV injection, OWASP): the text of a name or an email address is then executed, not shown.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(value):
    """``value`` made inert for a spreadsheet: text that could start a formula gets a leading ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return f"'{value}"
    return value


class FormulaSafeExportMixin:
    """
    For a view with Wagtail's CSV/XLSX export: every text cell that a spreadsheet could take for a formula is
    prefixed with ``'`` (docs/security.md, "Exports"). Names, usernames and email addresses are typed by the
    people themselves, so no text column is trusted.
    """

    def preprocess_field_value(self, field, value, export_format):
        return neutralise_formula(super().preprocess_field_value(field, value, export_format))


class StateColumn(Column):
    cell_template_name = "wagtail_company_mfa/reports/state_cell.html"


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
            DateColumn("last_used_at", label=gettext("Last used"), sort_key="last_used_at"),
            DateColumn("joined_at", label=gettext("Joined"), sort_key="joined_at"),
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

    def get_base_queryset(self):
        return member_queryset(self.company)

    @cached_property
    def state_filter(self) -> str:
        if self.filters is not None and self.filters.is_valid():
            return self.filters.form.cleaned_data.get("state") or ""
        return ""

    def get_filtered_queryset(self):
        rows = member_rows(super().get_filtered_queryset(), self.company, now=self.now)
        if self.state_filter in (OVERDUE, DUE):
            rows = [row for row in rows if row.state == self.state_filter]
        if not self.is_searching and not self.is_filtering:
            self.summary = EnrollmentSummary.of(rows)
        return rows

    @cached_property
    def summary(self) -> EnrollmentSummary:
        return summarize(self.company, now=self.now)

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
        buttons = []
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

    def to_row_dict(self, item):
        row = super().to_row_dict(item)
        for field in ("deadline", "enrolled_at", "last_used_at", "joined_at"):
            row[field] = self._local(row[field])
        return row

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

    def get_context_data(self, *args, **kwargs):
        context = super().get_context_data(*args, **kwargs)
        context.update(
            company=self.company,
            summary=self.summary,
            summary_sentence=summary_sentence(self.company, self.summary, now=self.now),
        )
        return context


def summary_sentence(company, summary: EnrollmentSummary, *, now: datetime.datetime | None = None) -> str:
    """
    The policy and its effect in one or two sentences, e.g. "From 3 March 2027, 42 members must use MFA;
    17 have enrolled." Used by the policy preview and the report.
    """
    from django.utils.formats import date_format

    now = now or timezone.now()
    members = summary.must_enroll
    enrolled = summary.enrolled
    if not company.policy_is_set:
        if not company.require_mfa:
            text = ngettext(
                "MFA is not required. %(enrolled)d of %(members)d member has enrolled anyway.",
                "MFA is not required. %(enrolled)d of %(members)d members have enrolled anyway.",
                summary.members,
            )
        else:
            text = ngettext(
                "MFA will be required once you choose a date. %(enrolled)d of %(members)d member has "
                "enrolled.",
                "MFA will be required once you choose a date. %(enrolled)d of %(members)d members have "
                "enrolled.",
                summary.members,
            )
        return text % {"enrolled": enrolled, "members": summary.members}
    date = date_format(company.enforcement_date, "DATE_FORMAT")
    if company.enforcement_starts_at > now:
        must = ngettext(
            "From %(date)s, %(members)d member must use MFA",
            "From %(date)s, %(members)d members must use MFA",
            members,
        )
    else:
        must = ngettext(
            "Since %(date)s, %(members)d member must use MFA",
            "Since %(date)s, %(members)d members must use MFA",
            members,
        )
    have_enrolled = ngettext("%(count)d has enrolled", "%(count)d have enrolled", enrolled)
    sentence = gettext("%(first)s; %(second)s.") % {
        "first": must % {"date": date, "members": members},
        "second": have_enrolled % {"count": enrolled},
    }
    extra = []
    if summary.overdue:
        extra.append(
            ngettext("%(count)d member is overdue.", "%(count)d members are overdue.", summary.overdue)
            % {"count": summary.overdue}
        )
    if summary.exempt:
        extra.append(
            ngettext(
                "%(count)d member is exempt by the site's settings.",
                "%(count)d members are exempt by the site's settings.",
                summary.exempt,
            )
            % {"count": summary.exempt}
        )
    return " ".join([sentence, *extra])
