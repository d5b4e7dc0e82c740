"""
The columns of the enrollment report's CSV and XLSX exports (docs/admin-guide.md), as ``export.py``'s
:class:`~wagtail_company_mfa.companies.export.ExportColumn` values: what each reads from the members' tuples
and how it makes its cell's value, with the company's and the labels' part worked out once per export.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.db import router
from django.utils.translation import gettext

from .. import factors
from ..base.methods import accepted_by_company
from ..models import CompanyMembership, company_zone
from .enrollment import methods_label
from .export import DATETIME, LABEL, ExportColumn
from .member_state import OVERDUE, STATE_LABELS
from .policy import grace_deadline


def _name_column() -> ExportColumn:
    """Name: the full name, else the username (``base.users.display_name``), without loading the user."""
    User = get_user_model()
    username = f"user__{User.USERNAME_FIELD}"
    names = {f.name for f in User._meta.concrete_fields}
    if (
        getattr(User, "get_full_name", None) is AbstractUser.get_full_name
        and {"first_name", "last_name"} <= names
    ):

        def name(first, last, login):
            return f"{first} {last}".strip() or login

        return ExportColumn(
            "name",
            lambda zone: gettext("Name"),
            ("user__first_name", "user__last_name", username),
            value=name,
        )
    # A user model with its own get_full_name (which may read any of its fields): a user object from the row's
    # values, without a query, to ask it.
    attnames = [f.attname for f in User._meta.concrete_fields]
    database = router.db_for_read(User)

    def custom_name(*values):
        user = User.from_db(database, attnames, values)
        full_name = user.get_full_name().strip() if hasattr(user, "get_full_name") else ""
        return full_name or user.get_username()

    return ExportColumn(
        "name", lambda zone: gettext("Name"), tuple(f"user__{name}" for name in attnames), value=custom_name
    )


def report_columns(company) -> list[ExportColumn]:
    """The columns of ``company``'s enrollment report export, in order."""
    User = get_user_model()
    email_field = User.get_email_field_name()
    has_email = any(f.name == email_field for f in User._meta.concrete_fields)
    role_labels = {role: str(label) for role, label in CompanyMembership.Role.choices}
    state_labels = {state: str(label) for state, label in STATE_LABELS.items()}
    yes, no = gettext("Yes"), gettext("No")

    def email(value):
        return value or ""

    columns = [
        _name_column(),
        ExportColumn("username", lambda zone: gettext("Username"), (f"user__{User.USERNAME_FIELD}",)),
        ExportColumn(
            "email",
            lambda zone: gettext("Email"),
            (f"user__{email_field}",) if has_email else (),
            value=email if has_email else lambda: "",
        ),
        ExportColumn(
            "role_label",
            lambda zone: gettext("Role"),
            ("role",),
            LABEL,
            lambda role: role_labels.get(role, role),
        ),
        ExportColumn("state_label", lambda zone: gettext("MFA"), ("state",), LABEL, state_labels.__getitem__),
        _methods_column(company),
        ExportColumn(
            "overdue_label",
            lambda zone: gettext("Overdue"),
            ("state",),
            LABEL,
            lambda s: yes if s == OVERDUE else no,
        ),
        ExportColumn(
            "deadline",
            lambda zone: gettext("Deadline (%(zone)s)") % {"zone": zone},
            ("joined_at",),
            DATETIME,
            deadline_of(company),
        ),
        ExportColumn(
            "enrolled_at",
            lambda zone: gettext("Enrolled since (%(zone)s)") % {"zone": zone},
            ("enrolled_at",),
            DATETIME,
        ),
        ExportColumn(
            "last_used_at",
            lambda zone: gettext("Last used (%(zone)s)") % {"zone": zone},
            ("last_used_at",),
            DATETIME,
        ),
        ExportColumn(
            "trusted_browsers", lambda zone: gettext("Trusted browsers"), ("trusted_browsers",), LABEL, str
        ),
        ExportColumn(
            "joined_at", lambda zone: gettext("Joined (%(zone)s)") % {"zone": zone}, ("joined_at",), DATETIME
        ),
    ]
    return columns


def _methods_column(company) -> ExportColumn:
    """Methods: the member's factors, marked when the company accepts none of them (one EXISTS each)."""
    enrolling = factors.enrolling_factors()
    names = tuple(factors.factor_annotation(factor) for factor in enrolling)
    accepted = {factor.key for factor in accepted_by_company(company)}
    unmet = gettext("not accepted by this company")

    def value(*has):
        mine = [factor for factor, present in zip(enrolling, has, strict=True) if present]
        label = methods_label(mine)
        if mine and not any(factor.key in accepted for factor in mine):
            return f"{label} ({unmet})"
        return label

    return ExportColumn("methods_label", lambda zone: gettext("Methods"), names, LABEL, value)


def deadline_of(company) -> Callable[[datetime.datetime], datetime.datetime | None]:
    """
    A member's deadline from their ``joined_at``, as ``policy.member_deadline`` decides it, with the
    company's part of the rule worked out once (not once per row).
    """
    if not company.policy_is_set:
        return lambda joined_at: None
    enforced_at = company.enforcement_starts_at
    zone = company_zone(company.time_zone, company_id=company.pk)
    grace_days, time_zone, company_id = company.new_member_grace_days, company.time_zone, company.pk

    def deadline(joined_at):
        if joined_at <= enforced_at:
            return enforced_at
        return grace_deadline(joined_at, zone, grace_days, time_zone=time_zone, company_id=company_id)

    return deadline
