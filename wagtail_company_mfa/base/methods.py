"""
Which second factors a user's companies accept (``Company.allowed_methods``, the strictest company wins), and
the session's note that the user must still add one (docs/policy.md, "Allowed methods").

Decided when a session passes its second factor, not on every request: a verified session costs no query at
the gate, so a company that tightens its methods reaches each member at their next sign-in.
"""

from __future__ import annotations

from django.db.models import CharField, Q, Value

from .. import factors
from .session import PREFIX

#: The companies (names) whose methods the user's factors do not meet yet, for a verified session.
METHODS_DUE = PREFIX + "methods_due"


def accepted(*, phishing_resistant_only: bool) -> tuple[factors.Factor, ...]:
    """The enrolling factors that count: all of them, or only the phishing-resistant ones. The one rule."""
    if phishing_resistant_only:
        return tuple(factor for factor in factors.enrolling_factors() if factor.phishing_resistant)
    return factors.enrolling_factors()


def accepted_by_company(company) -> tuple[factors.Factor, ...]:
    """The factors ``company`` accepts (its ``allowed_methods``)."""
    from ..models import AllowedMethods

    return accepted(phishing_resistant_only=company.allowed_methods == AllowedMethods.PHISHING_RESISTANT)


def allowed_factors(requirement) -> tuple[factors.Factor, ...]:
    """The factors that make a user enrolled under ``requirement`` (a ``policy.Requirement``)."""
    return accepted(phishing_resistant_only=requirement.phishing_resistant_only)


def meets(requirement, keys) -> bool:
    """Whether the factor keys ``keys`` include one that ``requirement`` accepts."""
    return any(factor.key in keys for factor in allowed_factors(requirement))


def note_after_verification(session, requirement, keys) -> None:
    """At the second factor: remember whether the user must still add an accepted factor before going on."""
    if requirement.is_required and not meets(requirement, keys):
        session[METHODS_DUE] = [company.company_name for company in requirement.methods_companies]
    else:
        session.pop(METHODS_DUE, None)


def membership_has_accepted_factor():
    """
    A condition on membership rows: the member has a factor their row's company accepts (any enrolling factor,
    or a phishing-resistant one where the company allows only those). For listings and reminders, in SQL.
    """
    from ..models import AllowedMethods

    condition = Q(company__allowed_methods=AllowedMethods.ANY) & factors.has_enrolled_factor()
    for factor in accepted(phishing_resistant_only=True):
        condition |= Q(factors.has_factor(factor))
    return condition


def user_factor_keys(user_ids) -> dict[int, frozenset[str]]:
    """The enrolling factors of each of ``user_ids``, in one query however many users and factors."""
    first, *others = [
        queryset.annotate(factor=Value(factor.key, output_field=CharField()))
        .values_list("user_id", "factor")
        .order_by()
        for factor in factors.enrolling_factors()
        for queryset in factor.devices(user_id__in=user_ids)
    ]
    # order_by(): since Django 6.1 a union takes the first model's Meta.ordering.
    rows = first.union(*others, all=True).order_by() if others else first
    found: dict[int, set[str]] = {}
    for user_id, key in rows:
        found.setdefault(user_id, set()).add(key)
    return {user_id: frozenset(keys) for user_id, keys in found.items()}


def company_accepts(company, keys) -> bool:
    """Whether ``company`` accepts one of the factor keys ``keys``."""
    return any(factor.key in keys for factor in accepted_by_company(company))


def due(session) -> list[str] | None:
    """The companies whose methods this verified session must still meet, or ``None``."""
    value = session.get(METHODS_DUE)
    return list(value) if isinstance(value, list) else None


def clear_due(session) -> None:
    session.pop(METHODS_DUE, None)
