"""
The app's models, one module per concern. Everything is importable from here, as
``from wagtail_company_mfa.models import Company``; the migrations refer to these names too.
"""

from .companies import (
    MAX_ENFORCEMENT_DATE,
    MAX_GRACE_DAYS,
    MIN_ENFORCEMENT_DATE,
    AllowedMethods,
    Company,
    CompanyMembership,
    clamp_enforcement_date,
    company_zone,
    default_time_zone,
    start_of_day,
    validate_enforcement_date,
    validate_time_zone,
)
from .counts import EnrollmentCounts
from .devices import (
    AtomicThrottlingMixin,
    AuthenticatorDevice,
    MFAEnrollment,
    PasskeyThrottle,
    RecoveryCode,
    RecoveryCodeDevice,
    last_verify_outcome,
)
from .notices import MemberNotice
from .sessions import UserSession
from .toolkit import AccessCode, AccessCodeThrottle, ReenrollmentRequest
from .trusted import TrustedBrowser, TrustPeriod

__all__ = [
    "MAX_ENFORCEMENT_DATE",
    "MAX_GRACE_DAYS",
    "MIN_ENFORCEMENT_DATE",
    "AccessCode",
    "AccessCodeThrottle",
    "AllowedMethods",
    "AtomicThrottlingMixin",
    "AuthenticatorDevice",
    "Company",
    "CompanyMembership",
    "EnrollmentCounts",
    "MFAEnrollment",
    "MemberNotice",
    "PasskeyThrottle",
    "RecoveryCode",
    "RecoveryCodeDevice",
    "ReenrollmentRequest",
    "TrustPeriod",
    "TrustedBrowser",
    "UserSession",
    "clamp_enforcement_date",
    "company_zone",
    "default_time_zone",
    "last_verify_outcome",
    "start_of_day",
    "validate_enforcement_date",
    "validate_time_zone",
]
