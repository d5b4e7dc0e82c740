"""
Who of a company's members has enrolled, and who is overdue: the rows and counts of the enrollment report
(docs/admin-guide.md), the policy preview and ``manage.py mfa_status``.

Its number of SQL queries does not grow with the number of members: whether a member is enrolled comes from
subqueries the factor registry builds (``factors.py``), and each member's deadline is computed in Python from
the values already loaded (:func:`wagtail_company_mfa.companies.policy.member_deadline`), never with a query
per row. Because the deadline of a late joiner is wall-clock arithmetic in the company's time zone,
"overdue" and "due later" are decided in Python too, after SQL has narrowed the rows to those not enrolled.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext, gettext_lazy, ngettext

from .. import factors
from ..base.users import display_name, user_email
from ..models import CompanyMembership
from .policy import is_exempt, member_deadline

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


def member_queryset(company):
    """
    The active members of ``company`` with their user and, from subqueries, when the factor that makes them
    enrolled was set up and last used: one query however many members.
    """
    return (
        CompanyMembership.objects.filter(company_id=company.pk, is_active=True)
        .select_related("user")
        .annotate(
            enrolled_at=factors.enrolled_value("created_at"),
            last_used_at=factors.enrolled_value("last_used_at"),
            enrolled_device_id=factors.enrolled_value("pk"),
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
        return display_name(self.user)

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


def summary_sentence(company, summary: EnrollmentSummary, *, now: datetime.datetime | None = None) -> str:
    """
    The policy and its effect in one or two sentences, e.g. "From 3 March 2027, 42 members must use MFA;
    17 have enrolled." Used by the policy preview and the report.
    """
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
