"""
Who of a company's members has enrolled, and who is overdue: the rows and counts of the enrollment report
(docs/admin-guide.md), the policy preview and ``manage.py mfa_status``.

Everything that decides a member's state is SQL (``member_state.py``; docs/performance.md, "Enrollment
report"), and so are the counts (``summary.py``). Only the deadline *shown* on a row is computed in Python,
for the rows on the page, from the values already loaded
(:func:`wagtail_company_mfa.companies.policy.member_deadline`); the exports make their rows from plain tuples
(``export.py``). This module keeps every name of the three importable from here.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist
from django.utils.translation import gettext

from .. import factors
from ..base import methods
from ..base.users import display_name, user_email
from ..models import CompanyMembership
from .member_state import (  # noqa: F401 (importable from here)
    ASK,
    DUE,
    ENROLLED,
    EXEMPT,
    METHODS_UNMET,
    NOT_ENROLLED,
    NOT_REQUIRED,
    OVERDUE,
    STATE_FILTER_CHOICES,
    STATE_LABELS,
    exempt_condition,
    exempt_membership_ids,
    meets_methods_condition,
    member_queryset,
    overdue_condition,
)
from .policy import calendar_date, member_deadline
from .summary import EnrollmentSummary, summarize, summary_sentence  # noqa: F401 (importable from here)

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser


@dataclass
class MemberRow:
    """One line of the report: a member, their enrollment and their deadline."""

    membership: CompanyMembership
    user: AbstractBaseUser
    state: str
    enrolled_at: datetime.datetime | None
    last_used_at: datetime.datetime | None
    #: When this member must use MFA for the company (``None`` when the company does not require it).
    deadline: datetime.datetime | None
    grace_applied: bool = False
    #: The enrolling factors the member has, in registry order.
    methods: tuple[factors.Factor, ...] = ()
    #: Whether one of them is one the company accepts (``Company.allowed_methods``).
    meets_methods: bool = True
    #: The company's time zone, in which the report shows the deadline's date.
    time_zone: str = "UTC"

    @property
    def deadline_date(self) -> datetime.date | None:
        """The deadline as the company's calendar date (the report shows dates in the company's zone)."""
        return calendar_date(self.deadline, self.time_zone) if self.deadline else None

    @property
    def trusted_browsers(self) -> int:
        """How many browsers the member trusts now (annotated by :func:`member_queryset`: no query)."""
        return getattr(self.membership, "trusted_browsers", 0)

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

    @property
    def methods_label(self) -> str:
        return methods_label(self.methods)

    @property
    def methods_unmet(self) -> bool:
        """Enrolled, but with no factor the company accepts."""
        return bool(self.methods) and not self.meets_methods


def methods_label(methods) -> str:
    """The member's factors in words ("Authenticator app, Passkey or security key"), or "None"."""
    return ", ".join(str(factor.label) for factor in methods) if methods else gettext("None")


def methods_of(values: dict, company) -> tuple[tuple[factors.Factor, ...], bool]:
    """From a row's ``has_factor_*`` values: the member's enrolling factors, and whether the company accepts
    one."""
    enrolling = factors.enrolling_factors()
    have = tuple(factor for factor in enrolling if values.get(factors.factor_annotation(factor)))
    return have, methods.company_accepts(company, {factor.key for factor in have})


def member_row(membership, company) -> MemberRow:
    """
    The :class:`MemberRow` of one membership from :func:`member_queryset`: its state as SQL decided it, and
    the deadline to show, from the Python rule.
    """
    deadline = None
    if company.policy_is_set:
        deadline, _grace_applied = member_deadline(
            enforcement_date=company.enforcement_date,
            time_zone=company.time_zone,
            joined_at=membership.joined_at,
            grace_days=company.new_member_grace_days,
            company_id=company.pk,
        )
    methods, meets = methods_of(membership.__dict__, company)
    return MemberRow(
        membership=membership,
        user=membership.user,
        state=membership.state,
        enrolled_at=membership.enrolled_at,
        last_used_at=membership.last_used_at,
        deadline=deadline,
        grace_applied=bool(membership.grace_applied),
        methods=methods,
        meets_methods=meets,
        time_zone=company.time_zone,
    )


def member_rows(memberships, company) -> list[MemberRow]:
    """A :class:`MemberRow` for each membership of ``memberships`` (a page of :func:`member_queryset`)."""
    return [member_row(membership, company) for membership in memberships]


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
