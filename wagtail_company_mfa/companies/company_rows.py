"""
The SQL behind the gate's decision (docs/policy.md, docs/performance.md): the rows of the companies that
require MFA of a user, and the one ``UNION ALL`` that adds the user's factors (and, for the MFA pages, their
permissions) to them. :mod:`.policy` turns these rows into a requirement.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import Permission
from django.core.signals import setting_changed
from django.db.models import (
    BooleanField,
    CharField,
    DateField,
    DateTimeField,
    Exists,
    Field,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Value,
)
from django.dispatch import receiver

from .. import factors
from ..base import admin_access
from ..base.compiled import CompiledQueries
from ..conf import SUPERUSERS_NEVER, mfa_settings
from ..models import Company, CompanyMembership
from .permissions import MANAGE_ALL_CODENAME


@dataclass(frozen=True)
class CompanyColumn:
    """One column of a company row (:func:`.policy.company_deadlines`, :func:`.policy.standing_for`)."""

    #: Its name in a row's values (:data:`COMPANY_KEYS`).
    key: str
    #: What it reads through a membership, and from a company (a field or an annotation of those rows).
    through_membership: str
    from_company: str
    #: Its type (also the type of that column in the factor rows of :func:`standing_for`).
    field: Field


#: The columns of a company row, in order. A new column of the company policy is one line here (and the
#: code that reads it by its key in ``policy._deadlines_from``); the gate's query picks it up.
COMPANY_COLUMNS = (
    CompanyColumn("company_id", "company_id", "pk", IntegerField()),
    CompanyColumn("name", "company__name", "name", CharField()),
    CompanyColumn("enforcement_date", "company__enforcement_date", "enforcement_date", DateField()),
    CompanyColumn("time_zone", "company__time_zone", "time_zone", CharField()),
    CompanyColumn("grace_days", "company__new_member_grace_days", "new_member_grace_days", IntegerField()),
    CompanyColumn("joined_at", "joined_at", "joined_at", DateTimeField()),
    CompanyColumn("governs", "governs", "governs", BooleanField()),
    CompanyColumn("allowed_methods", "company__allowed_methods", "allowed_methods", CharField()),
    CompanyColumn("trust_hours", "company__trust_browser_for", "trust_browser_for", IntegerField()),
)
#: The names of a company row's values, in order.
COMPANY_KEYS = tuple(column.key for column in COMPANY_COLUMNS)

#: The column types of the rows above, in order (for :func:`.policy.standing_for`, which adds the factor
#: rows).
ROW_FIELDS = tuple(column.field for column in COMPANY_COLUMNS)
#: The column of a factor row that holds the factor's key (a text column); the company id column of such a
#: row is NULL.
FACTOR_KEY_COLUMN = 1
#: The text column that tells a permission row (``base.admin_access``) from a factor row (NULL there).
ROW_KIND_COLUMN = 3


def _member_rows(user_id):
    return (
        CompanyMembership.objects.filter(
            user_id=user_id,
            is_active=True,
            company__require_mfa=True,
            company__enforcement_date__isnull=False,
        )
        .annotate(governs=Value(False, output_field=BooleanField()))
        .values_list(*(column.through_membership for column in COMPANY_COLUMNS))
        .order_by()
    )


def _governor_rows(user_id, *, superuser: bool):
    """
    The companies that require MFA of a user who may govern every company, as one query: each requiring
    company with the user's membership (if any), and whether the user holds ``manage_all_companies``
    (directly or through a group; a superuser holds it without asking).
    """
    membership = CompanyMembership.objects.filter(
        company_id=OuterRef("pk"), user_id=user_id, is_active=True
    ).values("joined_at")[:1]
    companies = Company.objects.filter(require_mfa=True, enforcement_date__isnull=False).annotate(
        joined_at=Subquery(membership)
    )
    if superuser:
        companies = companies.annotate(governs=Value(True, output_field=BooleanField()))
    else:
        holds = Permission.objects.filter(
            content_type__app_label="wagtail_company_mfa", codename=MANAGE_ALL_CODENAME
        ).filter(Q(user=user_id) | Q(group__user=user_id))
        companies = companies.annotate(governs=Exists(holds)).filter(
            Q(joined_at__isnull=False) | Q(governs=True)
        )
    return companies.values_list(*(column.from_company for column in COMPANY_COLUMNS)).order_by()


#: The shapes of the company rows: through memberships only, or every company for a governor.
MEMBER, GOVERNOR, SUPERUSER = "member", "governor", "superuser"


def variant_of(user) -> str:
    if mfa_settings.REQUIRE_SUPERUSERS == SUPERUSERS_NEVER or not getattr(user, "is_active", False):
        return MEMBER
    return SUPERUSER if user.is_superuser else GOVERNOR


def rows_of(variant: str, user_id):
    if variant == MEMBER:
        return _member_rows(user_id)
    return _governor_rows(user_id, superuser=variant == SUPERUSER)


def company_rows(user):
    return rows_of(variant_of(user), user.pk)


def _standing_query(variant: tuple[str, bool], user_id):
    rows_variant, permissions = variant
    others = factors.tagged_rows(user_id, ROW_FIELDS, key_at=FACTOR_KEY_COLUMN)
    if permissions:
        others += admin_access.permission_rows(
            user_id, ROW_FIELDS, text_at=FACTOR_KEY_COLUMN, kind_at=ROW_KIND_COLUMN
        )
    # order_by(): since Django 6.1 a union takes the first model's Meta.ordering, whose columns it lacks.
    return rows_of(rows_variant, user_id).union(*others, all=True).order_by()


#: The gate's query, compiled once per variant and database (base/compiled.py): a request binds the user id.
STANDING = CompiledQueries(_standing_query)


@receiver(setting_changed)
def _forget_compiled(setting, **kwargs):
    if setting.startswith("WAGTAIL_COMPANY_MFA_") or setting == "AUTH_USER_MODEL":
        STANDING.clear()
