"""The enrollment report's "Trusted browsers": a count per member, in SQL, inside the report's own query."""

from __future__ import annotations

import datetime

from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce

from ..models import TrustedBrowser


def trusted_count(now: datetime.datetime, user_field: str = "user_id"):
    """How many browsers the row's user trusts that have not expired at ``now`` (a subquery, no query)."""
    counts = (
        TrustedBrowser.objects.filter(user_id=OuterRef(user_field), expires_at__gt=now)
        .order_by()
        .values("user_id")
        .annotate(count=Count("pk"))
        .values("count")
    )
    return Coalesce(Subquery(counts, output_field=IntegerField()), Value(0))
