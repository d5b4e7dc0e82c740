"""Which factors one user has, in one query: the gate, the pages and the reset ask this."""

from __future__ import annotations

from django.db.models import CharField, Value

from .registry import all_factors, enrolling_factors, factor_of


def factors_of(user, *, among=None, confirmed: bool = True) -> frozenset[str]:
    """
    The keys of the factors ``user`` has, of ``among`` (default: every factor), in one query. With
    ``confirmed=False`` a device not yet confirmed counts too.
    """
    candidates = [
        (factor.key, queryset)
        for factor in (all_factors() if among is None else among)
        for queryset in factor.devices(confirmed=confirmed, user_id=user.pk)
    ]
    if not candidates:
        return frozenset()
    if len(candidates) == 1:
        key, queryset = candidates[0]
        return frozenset({key}) if queryset.exists() else frozenset()
    first, *others = (
        queryset.annotate(factor=Value(key, output_field=CharField()))
        .values_list("factor", flat=True)
        .order_by()
        for key, queryset in candidates
    )
    return frozenset(first.union(*others).order_by())


def tagged_rows(user, fields, *, key_at: int, confirmed: bool = True) -> list:
    """
    For a ``UNION`` with another query whose columns have the types ``fields`` (model field instances): one
    ``values_list`` per device model of every factor, a row per device of ``user`` (a user or a user id),
    with the factor's key in column ``key_at`` and NULL in every other column. Lets a caller learn
    :func:`factors_of` in the same query as something else (``companies.policy.standing_for``) without
    naming a device model.
    """
    user_id = getattr(user, "pk", user)  # a user, or a user id
    querysets = []
    for factor in all_factors():
        for queryset in factor.devices(confirmed=confirmed, user_id=user_id):
            columns = {
                f"mfa_column_{index}": Value(factor.key if index == key_at else None, output_field=field)
                for index, field in enumerate(fields)
            }
            querysets.append(queryset.annotate(**columns).values_list(*columns).order_by())
    return querysets


def is_enrolled(user) -> bool:
    """Whether ``user`` has a factor that counts as enrolled (recovery codes alone do not count)."""
    return bool(factors_of(user, among=enrolling_factors()))


def enrolls(keys) -> bool:
    """Whether the factor keys ``keys`` (an answer of :func:`factors_of`) make a user enrolled."""
    return any(factor.key in keys for factor in enrolling_factors())


def enrolled_device(user):
    """
    The device that makes ``user`` enrolled, or ``None``. A session verified with such a device already holds
    it (django-otp loaded it): no query then.
    """
    device = getattr(user, "otp_device", None)
    factor = factor_of(device)
    if factor is not None and factor.counts_as_enrolled:
        return device
    # One query for a user who has none (the common case), one more to load the first one found.
    keys = factors_of(user, among=enrolling_factors())
    for factor in enrolling_factors():
        if factor.key not in keys:
            continue
        for queryset in factor.devices(user_id=user.pk):
            device = queryset.first()
            if device is not None:
                return device
    return None


def remove_all(user) -> dict[str, int]:
    """
    Delete every device of every factor of ``user`` (in the caller's transaction): ``{factor key: devices
    removed}``, in registry order.
    """
    removed = {}
    for factor in all_factors():
        count = 0
        for model in factor.models():
            _total, per_model = model.objects.filter(user_id=user.pk).delete()
            count += per_model.get(model._meta.label, 0)
        removed[factor.key] = count
    return removed
