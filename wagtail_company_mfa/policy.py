"""
What MFA requires of a user: ``requirement_for(user)`` and its result (docs/policy.md, "In code"). The rules
live in :mod:`wagtail_company_mfa.companies.policy`; this module keeps the documented import path.
"""

from .companies.policy import (
    NOT_REQUIRED,
    CompanyDeadline,
    Requirement,
    Status,
    company_deadlines,
    is_exempt,
    member_deadline,
    requirement_for,
)

__all__ = [
    "NOT_REQUIRED",
    "CompanyDeadline",
    "Requirement",
    "Status",
    "company_deadlines",
    "is_exempt",
    "member_deadline",
    "requirement_for",
]
