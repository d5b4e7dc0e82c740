"""
The outbox's leases: a run of the sender *claims* pending notice rows before sending, gives back what it did
not try, and marks each row sent or failed right after its email (docs/reminders.md).
"""

from __future__ import annotations

import datetime
import logging
import uuid

from django.db import connection as db_connection
from django.db import transaction
from django.db.models import Q
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


def release(token: uuid.UUID, *, keep: int | None = None) -> None:
    """Give back this run's claimed, untried rows (all but ``keep``, whose fate is unknown)."""
    rows = MemberNotice.objects.filter(claim_token=token, status=Status.PENDING)
    if keep is not None:
        rows = rows.exclude(pk=keep)
    rows.update(claim_token=None, claimed_at=None)


def mark_sent(notice: MemberNotice, token: uuid.UUID) -> None:
    marked = MemberNotice.objects.filter(pk=notice.pk, claim_token=token, status=Status.PENDING).update(
        status=Status.SENT, sent_at=timezone.now(), claim_token=None, claimed_at=None
    )
    if not marked:
        logger.warning(
            "MFA notice %s was sent, but meanwhile its row was superseded or its claim taken over (after "
            "CLAIM_TIMEOUT), so it may be sent again.",
            notice.pk,
        )


def mark_failed(notice: MemberNotice, token: uuid.UUID) -> str:
    """Count a failed send. The row keeps its claim time (but not the token), so it waits CLAIM_TIMEOUT."""
    given_up = notice.attempts + 1 >= MAX_ATTEMPTS
    MemberNotice.objects.filter(pk=notice.pk, claim_token=token).update(
        attempts=notice.attempts + 1,
        status=Status.FAILED if given_up else Status.PENDING,
        claim_token=None,
        claimed_at=timezone.now(),
    )
    return Status.FAILED if given_up else Status.PENDING
