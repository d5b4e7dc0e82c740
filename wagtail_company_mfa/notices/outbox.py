"""
The outbox's leases: a run of the sender *claims* pending notice rows before sending, gives back what it did
not try, and marks a batch's rows sent or failed once the batch has been handed to the mail server
(docs/reminders.md).
"""

from __future__ import annotations

import datetime
import logging
import uuid
from collections.abc import Iterable

from django.db import connection as db_connection
from django.db import transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone

from ..models import MemberNotice

logger = logging.getLogger(__name__)

Status = MemberNotice.Status

#: How long a claim keeps other runs away. A running sender renews its claims every third of this.
CLAIM_TIMEOUT = datetime.timedelta(minutes=15)
#: After this many failed sends a notice is given up (status "failed").
MAX_ATTEMPTS = 5


def claimable(now: datetime.datetime) -> Q:
    return Q(status=Status.PENDING) & (Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - CLAIM_TIMEOUT))


def claim(token: uuid.UUID, size: int, *, kinds, company_id) -> int:
    """Give up to ``size`` claimable rows to ``token``; returns how many it got."""
    now = timezone.now()
    candidates = MemberNotice.objects.filter(claimable(now))
    if kinds:
        candidates = candidates.filter(kind__in=kinds)
    if company_id is not None:
        candidates = candidates.filter(company_id=company_id)
    with transaction.atomic():
        if db_connection.features.has_select_for_update_skip_locked:
            candidates = candidates.select_for_update(skip_locked=True)
        ids = list(candidates.order_by("pk").values_list("pk", flat=True)[:size])
        if not ids:
            return 0
        # The conditions again in the UPDATE itself: under READ COMMITTED a row another run claimed between
        # our SELECT and this UPDATE is re-checked here and left alone.
        return MemberNotice.objects.filter(claimable(now), pk__in=ids).update(
            claim_token=token, claimed_at=now
        )


def release(token: uuid.UUID, *, keep: Iterable[int] = ()) -> None:
    """
    Give back this run's claimed, untried rows: all but ``keep``, whose fate is unknown (a message in flight
    when the run was interrupted, or messages the mail server accepted whose mark did not reach the
    database). Those keep their claim until it expires, so no run sends them again before then.
    """
    rows = MemberNotice.objects.filter(claim_token=token, status=Status.PENDING)
    keep = list(keep)
    if keep:
        rows = rows.exclude(pk__in=keep)
    rows.update(claim_token=None, claimed_at=None)


def mark_sent(pks: list[int], token: uuid.UUID) -> int:
    """Mark the rows ``pks`` (emails the mail server accepted) sent, in one ``UPDATE``; returns how many."""
    if not pks:
        return 0
    marked = MemberNotice.objects.filter(pk__in=pks, claim_token=token, status=Status.PENDING).update(
        status=Status.SENT, sent_at=timezone.now(), claim_token=None, claimed_at=None
    )
    if marked != len(pks):
        logger.warning(
            "%s MFA notice(s) were sent, but meanwhile their rows were superseded or their claims taken over "
            "(after CLAIM_TIMEOUT), so they may be sent again.",
            len(pks) - marked,
        )
    return marked


def mark_failed(notices: list[MemberNotice], token: uuid.UUID) -> tuple[int, int]:
    """
    Count a failed send for each of ``notices``, in one ``UPDATE``. A row keeps its claim time (but not the
    token), so it waits CLAIM_TIMEOUT before any run retries it; at MAX_ATTEMPTS it is given up. Returns
    (given up, to retry later).
    """
    if not notices:
        return 0, 0
    MemberNotice.objects.filter(pk__in=[notice.pk for notice in notices], claim_token=token).update(
        attempts=F("attempts") + 1,
        status=Case(
            When(attempts__gte=MAX_ATTEMPTS - 1, then=Value(Status.FAILED)), default=Value(Status.PENDING)
        ),
        claim_token=None,
        claimed_at=timezone.now(),
    )
    # The rows were ours (claimed by this token), so the attempts read with them are the ones just counted.
    given_up = sum(1 for notice in notices if notice.attempts + 1 >= MAX_ATTEMPTS)
    return given_up, len(notices) - given_up


def waiting(*, kinds, company_id) -> int:
    """How many rows a run could claim now (for its progress lines)."""
    rows = MemberNotice.objects.filter(claimable(timezone.now()))
    if kinds:
        rows = rows.filter(kind__in=kinds)
    if company_id is not None:
        rows = rows.filter(company_id=company_id)
    return rows.count()


def renew(token: uuid.UUID) -> None:
    """Keep this run's claims (sent or not yet marked) from expiring while it is busy."""
    MemberNotice.objects.filter(claim_token=token, status=Status.PENDING).update(claimed_at=timezone.now())
