"""
Which second factors a user's companies accept (``Company.allowed_methods``, the strictest company wins), and
the session's note that the user must still add one (docs/policy.md, "Allowed methods").

Decided when a session passes its second factor, not on every request: a verified session costs no query at
the gate, so a company that tightens its methods reaches each member at their next sign-in.
"""

from __future__ import annotations

from .. import factors
from .session import PREFIX

#: The companies (names) whose methods the user's factors do not meet yet, for a verified session.
METHODS_DUE = PREFIX + "methods_due"


def allowed_factors(requirement) -> tuple[factors.Factor, ...]:
    """The factors that make a user enrolled under ``requirement`` (a ``policy.Requirement``)."""
    if requirement.phishing_resistant_only:
        return tuple(factor for factor in factors.enrolling_factors() if factor.phishing_resistant)
    return factors.enrolling_factors()


def meets(requirement, keys) -> bool:
    """Whether the factor keys ``keys`` include one that ``requirement`` accepts."""
    return any(factor.key in keys for factor in allowed_factors(requirement))


def note_after_verification(session, requirement, keys) -> None:
    """At the second factor: remember whether the user must still add an accepted factor before going on."""
    if requirement.is_required and not meets(requirement, keys):
        session[METHODS_DUE] = [company.company_name for company in requirement.methods_companies]
    else:
        session.pop(METHODS_DUE, None)


def due(session) -> list[str] | None:
    """The companies whose methods this verified session must still meet, or ``None``."""
    value = session.get(METHODS_DUE)
    return list(value) if isinstance(value, list) else None


def clear_due(session) -> None:
    session.pop(METHODS_DUE, None)
