"""
Delivering policy notices and deadline reminders by email, each once (docs/reminders.md). What is to be
sent is planned by :mod:`wagtail_company_mfa.notices.planning`.

Two kinds of :class:`~wagtail_company_mfa.models.MemberNotice`:

- a **policy notice** to every active member when a company turns Require MFA on with a date, or moves the
  date (:func:`announce_policy`, run when the ``policy_changed`` signal arrives); one per (user, company,
  enforcement date);
- a **reminder** ``N`` days before a member's own deadline, for each ``N`` in ``REMINDER_DAYS``, to members
  who have not enrolled (:func:`plan_reminders`, run by ``manage.py mfa_send_reminders``); one per
  (user, company, deadline, N). A late joiner's deadline is their own (``policy.member_deadline``).

Delivery (:func:`deliver`) works through the table in batches, so memory stays flat however many members
there are:

1. **Plan**: rows are inserted with ``INSERT ... ON CONFLICT DO NOTHING`` (``bulk_create(ignore_conflicts=
   True)``) against unique constraints, so planning twice, or from two processes at once, makes one row.
2. **Claim**: a batch of pending rows gets this run's ``claim_token`` and ``claimed_at`` in one conditional
   ``UPDATE`` (rows locked with ``SKIP LOCKED`` where the database has it). Another run skips claimed rows
   until the claim is older than :data:`CLAIM_TIMEOUT`; a running sender renews its claims well before that.
3. **Check** each claimed row against the database *now* (still a member, still not enrolled, the same
   deadline...): one that is no longer true is cancelled, not sent (:mod:`.compose`, which also builds
   the emails).
4. **Send, then mark**: the batch's emails go over one connection to the mail server, handed over one at a
   time so the run knows which were accepted; then one ``UPDATE`` marks the accepted ones sent.

What a failure costs:

- The email backend raises for a message: that row is not marked; the rest of the batch goes on. The row
  keeps a claim without a token until :data:`CLAIM_TIMEOUT` has passed (a back-off), then any run retries
  it. After :data:`MAX_ATTEMPTS` failures it is marked failed. After :data:`MAX_CONSECUTIVE_FAILURES`
  failures in a row the run stops (the mail server is probably down): what the batch had sent is marked,
  and the untried rows are given back at once. Nothing is lost, nothing is sent twice.
- The run is interrupted but still alive (``KeyboardInterrupt``, ``SystemExit``): what was sent is marked,
  the untried rows are given back; the one message being handed over keeps its claim (it may or may not have
  gone out) and is sent again once the claim expires.
- The process dies (``kill -9``, power cut) or the database goes away *between* the mail server accepting a
  batch's messages and the batch being marked: those messages, at most one batch, are sent again once
  their claims expire. This is the only duplicate window, and it is one batch wide: email delivery and a
  database commit cannot be one transaction, and we choose at-least-once for that batch over silently
  losing it. Every other row the dead run had claimed is sent once, after :data:`CLAIM_TIMEOUT`.
"""

from __future__ import annotations

import datetime
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.utils import timezone

from .. import compat
from ..conf import mfa_settings
from ..models import Company, CompanyMembership, MemberNotice
from . import compose, outbox
from .outbox import CLAIM_TIMEOUT
from .planning import Kind, Status, plan_reminders, queue_policy_notice_for, queue_policy_notices

logger = logging.getLogger(__name__)

#: Rows claimed (and emails sent) per batch.
DELIVERY_BATCH_SIZE = 500
#: The largest batch ``manage.py mfa_send_reminders --batch-size`` accepts: a batch's ids go into single
#: queries (SQLite takes at most 32,766 parameters in one), and a crash can repeat one batch.
MAX_BATCH_SIZE = 10_000
#: A run stops after this many failed sends in a row: the mail server is probably unreachable.
MAX_CONSECUTIVE_FAILURES = 3
#: Finished rows are deleted once their deadline is this far in the past.
RETENTION = datetime.timedelta(days=30)


class DeliveryAborted(Exception):
    """A run stopped because sending kept failing. Its untried rows are pending again."""


@dataclass
class Report:
    """What a run did. ``planned`` counts rows inserted or already there; the rest count rows."""

    planned: int = 0
    sent: int = 0
    cancelled: int = 0
    failed: int = 0
    retry_later: int = 0
    deleted: int = 0
    aborted: bool = False
    errors: list[str] = field(default_factory=list)


def announce_policy(company_id: int) -> Report:
    """
    Queue the policy notices for a company whose policy just changed and send the first
    ``POLICY_NOTICE_SEND_LIMIT`` of them; the command sends the rest. A mail failure here is logged, never
    raised: it must not undo or break the policy change.
    """
    report = Report()
    company = Company.objects.filter(pk=company_id).first()
    if company is None or not company.policy_is_set:
        return report
    report.planned = queue_policy_notices(company)
    limit = mfa_settings.POLICY_NOTICE_SEND_LIMIT
    if limit:
        try:
            deliver(kinds=[Kind.POLICY], company_id=company.pk, limit=limit, report=report)
        except Exception:
            logger.exception(
                "Sending MFA policy notices for company %s failed; the command will retry.", company.pk
            )
    return report


def announce_policy_to(company_id: int, membership_id: int) -> Report:
    """
    The policy notice for one member who joined a company whose policy is set (also after its date): queued,
    then sent with any other pending notice of the company. Logged, never raised, like ``announce_policy``.
    """
    report = Report()
    membership = CompanyMembership.objects.select_related("company").filter(pk=membership_id).first()
    if membership is None or not membership.is_active or membership.company_id != company_id:
        return report
    company = membership.company
    if not company.policy_is_set:
        return report
    report.planned = queue_policy_notice_for(company, membership)
    try:
        deliver(
            kinds=[Kind.POLICY],
            company_id=company.pk,
            limit=mfa_settings.POLICY_NOTICE_SEND_LIMIT or None,
            report=report,
        )
    except Exception:
        logger.exception(
            "Sending the MFA policy notice to a new member of company %s failed; the command will retry.",
            company.pk,
        )
    return report


@dataclass(frozen=True)
class Batch:
    """What one batch of a run did, for the progress lines of ``manage.py mfa_send_reminders``."""

    number: int
    sent: int
    failed: int
    cancelled: int
    #: Rows this run has handled so far, and how many were waiting when it started (``None`` if not counted).
    done: int
    total: int | None


def deliver(
    *,
    kinds: Iterable[str] | None = None,
    company_id: int | None = None,
    limit: int | None = None,
    batch_size: int = DELIVERY_BATCH_SIZE,
    report: Report | None = None,
    progress: Callable[[Batch], None] | None = None,
) -> Report:
    """
    Send pending notices (of ``kinds``, for ``company_id``; default: all), at most ``limit`` rows, in
    batches of ``batch_size``, calling ``progress`` after each batch. Raises :class:`DeliveryAborted` when
    sending keeps failing.

    Each batch costs a constant number of queries, whatever its size: one ``UPDATE`` claims it, one
    ``UPDATE`` marks the emails the mail server accepted sent, one counts the refused ones. Its emails go
    over one connection to the mail server, handed over one at a time (``send_messages([message])``), so
    the run knows exactly which were accepted: SMTP sends a list one message after the other anyway, and a
    list that fails halfway would not say which of its messages had gone out.
    """
    report = report or Report()
    kinds = list(kinds) if kinds else None
    token = uuid.uuid4()
    total = None
    if progress is not None:
        total = outbox.waiting(kinds=kinds, company_id=company_id)
        if limit is not None:
            total = min(total, limit)
    done = number = 0
    consecutive_failures = 0
    # Rows whose email may have gone out but whose row is not marked yet: the message being handed over,
    # and the batch's accepted messages until their mark is committed. They are never given back early.
    unsettled: set[int] = set()
    renewed = time.monotonic()
    try:
        while limit is None or done < limit:
            size = batch_size if limit is None else min(batch_size, limit - done)
            if not outbox.claim(token, size, kinds=kinds, company_id=company_id):
                break
            number += 1
            claimed = compose.read_claimed(token)
            notices = claimed.notices
            done += len(notices)
            now = timezone.now()
            to_send: list[MemberNotice] = []
            to_cancel: list[MemberNotice] = []
            for notice in notices:
                reason = compose.why_not(notice, now, claimed)
                (to_cancel if reason else to_send).append(notice)
            cancelled = 0
            if to_cancel:
                cancelled = MemberNotice.objects.filter(
                    pk__in=[notice.pk for notice in to_cancel], claim_token=token
                ).update(status=Status.CANCELLED, claim_token=None, claimed_at=None)
                report.cancelled += cancelled

            accepted: list[int] = []
            refused: list[MemberNotice] = []
            mail = compat.email_connection()
            opened = False
            try:
                for notice in to_send:
                    if time.monotonic() - renewed > CLAIM_TIMEOUT.total_seconds() / 3:
                        outbox.renew(token)
                        renewed = time.monotonic()
                    try:
                        message = compose.build(notice, now, claimed)
                        if message is None:  # no address after all
                            raise ValueError("no email address")
                        if not opened:
                            # Opened once, here rather than before the loop, so that a mail server that
                            # cannot be reached counts as a failed send (and stops the run after a few).
                            mail.open()
                            opened = True
                        unsettled.add(notice.pk)
                        if mail.send_messages([message]) != 1:
                            raise RuntimeError("the email backend did not send the message")
                    except Exception as exc:
                        # Refused: known not to have gone out. (Anything that is not an ``Exception``,
                        # the process being told to stop, leaves the row in ``unsettled``: its fate is
                        # unknown.)
                        unsettled.discard(notice.pk)
                        logger.exception("Could not send MFA notice %s.", notice.pk)
                        report.errors.append(f"notice {notice.pk}: {exc}")
                        refused.append(notice)
                        consecutive_failures += 1
                        if consecutive_failures >= MAX_CONSECUTIVE_FAILURES:
                            report.aborted = True
                            raise DeliveryAborted(
                                f"{consecutive_failures} emails in a row could not be sent; stopping."
                            ) from exc
                        continue
                    accepted.append(notice.pk)
                    consecutive_failures = 0
            finally:
                # Also when the batch stops early (aborted, interrupted): what the mail server accepted is
                # marked sent, what it refused is counted. Only a process that dies before this line
                # leaves the batch unmarked; that batch is sent again once its claims expire.
                try:
                    mail.close()
                finally:
                    outbox.mark_sent(accepted, token)
                    unsettled.difference_update(accepted)
                    report.sent += len(accepted)
                    given_up, retry_later = outbox.mark_failed(refused, token)
                    report.failed += given_up
                    report.retry_later += retry_later
            if progress is not None:
                progress(
                    Batch(
                        number=number,
                        sent=len(accepted),
                        failed=len(refused),
                        cancelled=cancelled,
                        done=done,
                        total=total,
                    )
                )
    finally:
        # Untried rows go back at once. A row whose send was interrupted (not refused: e.g. the process was
        # told to stop mid-send), or whose mark did not reach the database, keeps its claim and is retried
        # once the claim expires.
        outbox.release(token, keep=unsettled)
    return report


def delete_old(now: datetime.datetime | None = None) -> int:
    """Delete finished rows whose deadline is more than :data:`RETENTION` ago; they can never be due again."""
    now = now or timezone.now()
    deleted, _by_model = MemberNotice.objects.filter(
        deadline__lt=now - RETENTION,
        status__in=[Status.SENT, Status.CANCELLED, Status.FAILED, Status.SUPERSEDED],
    ).delete()
    return deleted


def run(*, batch_size: int = DELIVERY_BATCH_SIZE, progress: Callable[[Batch], None] | None = None) -> Report:
    """What ``manage.py mfa_send_reminders`` does: plan the reminders due now, send everything pending."""
    report = Report()
    report.planned = plan_reminders()
    try:
        deliver(batch_size=batch_size, report=report, progress=progress)
    except DeliveryAborted:
        report.aborted = True
    report.deleted = delete_old()
    return report
