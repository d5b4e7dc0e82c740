"""
The counts at the top of the enrollment report, kept between page views in the database
(:class:`~wagtail_company_mfa.models.EnrollmentCounts`; docs/performance.md, "The report's counts").

Counting a company of 100,000 members takes about as long as the rest of the report's page, so the counts
are kept in one row per company, which every app server reads with the company itself (no query of its own)
and which stays right without a shared cache:

- **A change the package sees forgets them**, in the transaction that makes it: a membership saved or
  deleted, an enrolling device created, confirmed or deleted (a reset, a removal, a user deleted), each
  through ``post_save``/``post_delete`` (:func:`connect`). Forgetting adds one to the row's ``generation``;
  counts are written only if it is still the one read before counting (:func:`kept_summary`), so a change
  made while the page counted is never hidden by that page's counts.
- **What they were made under** is kept with them and compared on each read (:func:`made_under`): the
  policy (a new date, zone or grace period counts again, however the company was saved) and the newest
  membership and enrolling device, read with the company, which catch rows added by ``bulk_create``.
- **Time**: "overdue" moves with the clock. Counts hold until the enforcement instant while it is ahead,
  else until the first deadline of a member not enrolled yet (:func:`.summary.count_members`), and never
  longer than ``WAGTAIL_COMPANY_MFA_REPORT_COUNTS_MAX_AGE``, which bounds what a change made around the
  ORM's signals (``QuerySet.update`` of a membership or a device, raw SQL) can leave unseen.
- **Not kept with ``WAGTAIL_COMPANY_MFA_EXEMPT_USER``**: the package cannot know when a site's callable
  changes its answer, so with that setting the report counts on every page view.
"""

from __future__ import annotations

import datetime
import logging

from django.db import DatabaseError, router, transaction
from django.db.models import F, OuterRef, Subquery
from django.db.models.signals import post_delete, post_save

from .. import factors
from ..conf import mfa_settings
from ..models import Company, CompanyMembership, EnrollmentCounts
from .summary import EnrollmentSummary, count_members

logger = logging.getLogger(__name__)

#: What a membership's save changes in the counts (any other field, its role say, leaves them as they are).
MEMBERSHIP_FIELDS = frozenset({"is_active", "joined_at", "company", "company_id", "user", "user_id"})


#: The annotations :func:`with_kept_counts` adds to the company: the newest membership and enrolling devices.
NEWEST_MEMBERSHIP = "mfa_newest_membership"
NEWEST_DEVICE = "mfa_newest_device_{}"


def with_kept_counts(companies):
    """
    ``companies`` (a queryset) with each company's counts row and what :func:`made_under` needs, in the same
    query: the newest membership of the company and the newest device of each enrolling model (by primary
    key, one index probe each). They catch the rows added with ``bulk_create``, which sends no signal.
    """
    newest = {
        NEWEST_MEMBERSHIP: Subquery(
            CompanyMembership.objects.filter(company_id=OuterRef("pk")).order_by("-pk").values("pk")[:1]
        )
    }
    for index, model in enumerate(_enrolling_models()):
        newest[NEWEST_DEVICE.format(index)] = Subquery(
            model._default_manager.order_by("-pk").values("pk")[:1]
        )
    return companies.select_related("enrollment_counts").annotate(**newest)


def _enrolling_models() -> list:
    return [model for factor in factors.enrolling_factors() for model in factor.models()]


def made_under(company) -> str:
    """
    Everything the counts depend on besides the changes that forget them, as one string: the policy, the
    enrolling factors, and (read by :func:`with_kept_counts`) the newest membership and devices.
    """
    enrolling = ",".join(factor.key for factor in factors.enrolling_factors())
    newest = [getattr(company, NEWEST_MEMBERSHIP, None)]
    newest += [
        getattr(company, NEWEST_DEVICE.format(index), None) for index in range(len(_enrolling_models()))
    ]
    return (
        f"{int(company.require_mfa)}|{company.enforcement_date or ''}|{company.time_zone}|"
        f"{company.new_member_grace_days}|{enrolling}|{','.join(str(pk) for pk in newest)}"
    )


def kept_counts(company) -> EnrollmentCounts | None:
    """
    The company's counts row, ``None`` if it has none: as read with the company
    (``select_related("enrollment_counts")``), else with a query of its own.
    """
    relation = Company.enrollment_counts.related
    if relation.is_cached(company):
        row = relation.get_cached_value(company)
        return row if isinstance(row, EnrollmentCounts) else None
    return EnrollmentCounts.objects.filter(company_id=company.pk).first()


def is_fresh(row: EnrollmentCounts, company, now: datetime.datetime) -> bool:
    return (
        row.members is not None
        and row.counted_at is not None
        and row.valid_until is not None
        and row.counted_at <= now < row.valid_until
        and row.made_under == made_under(company)
    )


def kept_summary(company, *, now: datetime.datetime, exempt=None) -> EnrollmentSummary:
    """
    ``company``'s :class:`EnrollmentSummary` at ``now``: the kept one while it holds, else counted (one
    query) and kept. ``company`` should come from :func:`with_kept_counts`: then a kept summary costs no
    query, and a new one one ``UPDATE`` more. ``exempt`` is the report's
    :func:`~.member_state.exempt_condition` (with it, nothing is kept: see the module's docstring).
    """
    max_age = mfa_settings.REPORT_COUNTS_MAX_AGE
    if max_age == 0 or mfa_settings.EXEMPT_USER:
        return count_members(company, now=now, exempt=exempt)[0]
    row = kept_counts(company)
    if row is not None and is_fresh(row, company, now):
        return EnrollmentSummary(
            members=row.members or 0,
            enrolled=row.enrolled or 0,
            overdue=row.overdue or 0,
            due=row.due or 0,
            exempt=row.exempt or 0,
        )
    if row is None:
        # A company made with bulk_create, or read without its row: make the row first, so that a change
        # from now on moves its generation, and count without keeping this time.
        _create_rows([company.pk])
        return count_members(company, now=now, exempt=exempt)[0]
    summary, changes_at = count_members(company, now=now, exempt=exempt)
    limit = now + datetime.timedelta(seconds=max_age)
    _keep(row, company, summary, counted_at=now, valid_until=min(changes_at, limit) if changes_at else limit)
    return summary


def _keep(row, company, summary: EnrollmentSummary, *, counted_at, valid_until) -> None:
    """Write the counts, unless a change moved the generation since ``row`` was read (one ``UPDATE``)."""
    if valid_until <= counted_at:
        return
    rows = EnrollmentCounts.objects.filter(company_id=row.company_id, generation=row.generation)
    values = {
        "members": summary.members,
        "enrolled": summary.enrolled,
        "overdue": summary.overdue,
        "due": summary.due,
        "exempt": summary.exempt,
        "made_under": made_under(company),
        "counted_at": counted_at,
        "valid_until": valid_until,
    }
    # A page view must not fail because its cache could not be written (a read-only replica, a lock): the
    # counts are right either way. Inside a transaction the write gets a savepoint, so that a failure
    # leaves the transaction usable.
    using = router.db_for_write(EnrollmentCounts)
    try:
        if transaction.get_connection(using).in_atomic_block:
            with transaction.atomic(using=using):
                rows.update(**values)
        else:
            rows.update(**values)
    except DatabaseError:
        logger.warning(
            "The enrollment counts of company %s could not be kept.", row.company_id, exc_info=True
        )


def _create_rows(company_ids) -> None:
    EnrollmentCounts.objects.bulk_create(
        [EnrollmentCounts(company_id=company_id) for company_id in company_ids], ignore_conflicts=True
    )


def forget(*, company_id: int | None = None, user_id: int | None = None) -> None:
    """
    Forget the kept counts of one company, or of every company ``user_id`` belongs to: one ``UPDATE``.
    """
    rows = EnrollmentCounts.objects.all()
    if company_id is not None:
        rows = rows.filter(company_id=company_id)
    elif user_id is not None:
        rows = rows.filter(
            company_id__in=CompanyMembership.objects.filter(user_id=user_id).values("company_id")
        )
    else:
        return
    rows.update(generation=F("generation") + 1, members=None)


# Receivers ---------------------------------------------------------------------------------------------


def _changes(update_fields, fields) -> bool:
    return update_fields is None or not fields.isdisjoint(update_fields)


def membership_saved(sender, instance, created=False, update_fields=None, raw=False, **kwargs):
    if not raw and (created or _changes(update_fields, MEMBERSHIP_FIELDS)):
        forget(company_id=instance.company_id)


def membership_deleted(sender, instance, **kwargs):
    forget(company_id=instance.company_id)


def device_saved(sender, instance, created=False, update_fields=None, raw=False, **kwargs):
    # Using a device saves its counters and its last use (with update_fields): that changes no count.
    if not raw and (created or _changes(update_fields, {"confirmed", "user", "user_id"})):
        forget(user_id=instance.user_id)


def device_deleted(sender, instance, **kwargs):
    forget(user_id=instance.user_id)


def company_saved(sender, instance, created=False, raw=False, **kwargs):
    # A changed policy is caught by policy_key on the next read; a new company gets its row.
    if created and not raw:
        _create_rows([instance.pk])


def connect() -> None:
    uid = "wagtail_company_mfa.counts"
    post_save.connect(membership_saved, sender=CompanyMembership, dispatch_uid=f"{uid}.membership_saved")
    post_delete.connect(
        membership_deleted, sender=CompanyMembership, dispatch_uid=f"{uid}.membership_deleted"
    )
    post_save.connect(company_saved, sender=Company, dispatch_uid=f"{uid}.company_saved")
    for factor in factors.enrolling_factors():
        for model in factor.models():
            label = model._meta.label_lower
            post_save.connect(device_saved, sender=model, dispatch_uid=f"{uid}.device_saved.{label}")
            post_delete.connect(device_deleted, sender=model, dispatch_uid=f"{uid}.device_deleted.{label}")
