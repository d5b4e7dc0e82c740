"""SQL expressions of the registry for listings (the report, reminders): one query for any number of rows."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Exists, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce

from .registry import Factor, enrolling_factors

if TYPE_CHECKING:
    from django.db.models.expressions import Combinable


def _enrolled_querysets(user_ref, **filters) -> list:
    return [
        queryset for factor in enrolling_factors() for queryset in factor.devices(user_id=user_ref, **filters)
    ]


def _any_of(querysets):
    """``Exists`` of any of ``querysets`` (``Exists | Exists`` is a ``Q``; one alone stays an ``Exists``)."""
    expressions = [Exists(queryset) for queryset in querysets]
    combined: Exists | Q | Combinable = expressions[0]
    for expression in expressions[1:]:
        combined |= expression
    return combined


def has_enrolled_factor(user_ref=None):
    """``Exists``: the user of the row (``user_ref``, default ``OuterRef("user_id")``) is enrolled."""
    return _any_of(_enrolled_querysets(OuterRef("user_id") if user_ref is None else user_ref))


def has_factor(factor: Factor, user_ref=None):
    """``Exists``: the user of the row has ``factor`` (a confirmed device of any of its models)."""
    return _any_of(factor.devices(user_id=OuterRef("user_id") if user_ref is None else user_ref))


def factor_annotation(factor: Factor) -> str:
    """The name of :func:`has_factor`'s annotation for ``factor`` in the report's queries."""
    return f"has_factor_{factor.key}"


def enrolled_value(field: str, user_ref=None, *, order_by: str | None = None, confirmed: bool = True):
    """
    ``field`` (``"created_at"``, ``"last_used_at"``, ``"pk"``) of the user's enrolled device, as a subquery;
    with several enrolling factors, the first factor's that has one.
    """
    user_ref = OuterRef("user_id") if user_ref is None else user_ref
    subqueries = []
    for queryset in _enrolled_querysets(user_ref, confirmed=confirmed):
        values = queryset.values(field)
        subqueries.append(Subquery((values.order_by(order_by) if order_by else values)[:1]))
    return subqueries[0] if len(subqueries) == 1 else Coalesce(*subqueries)


def enrolled_user_ids(**filters):
    """The ids of the users who are enrolled (of those ``filters`` select), as a flat ``values_list``."""
    first, *others = [
        queryset.values_list("user_id", flat=True)
        for factor in enrolling_factors()
        for queryset in factor.devices(**filters)
    ]
    return first.union(*others).order_by() if others else first
