"""
The registry of second factors: what each one is, and the one place that answers "which factors does this
user have?" (docs/architecture.md, "Adding a factor").

The gate, the report, the reset, ``manage.py mfa_status``, the Security tab and the verification pages ask
this module; none of them names a device model. A factor is one folder (its models, flows, views and
templates) plus one :class:`Factor` entry in :data:`FACTORS`.
"""

from .expressions import (
    enrolled_user_ids,
    enrolled_value,
    factor_annotation,
    has_enrolled_factor,
    has_factor,
)
from .registry import (
    FACTORS,
    PASSKEYS,
    Factor,
    all_factors,
    enrolling_factors,
    factor_of,
    passkeys_installed,
    preferred_for_sign_in,
    verify_url_name,
)
from .users import enrolled_device, enrolls, factors_of, is_enrolled, remove_all, tagged_rows

__all__ = [
    "FACTORS",
    "PASSKEYS",
    "Factor",
    "all_factors",
    "enrolled_device",
    "enrolled_user_ids",
    "enrolled_value",
    "enrolling_factors",
    "enrolls",
    "factor_annotation",
    "factor_of",
    "factors_of",
    "has_enrolled_factor",
    "has_factor",
    "is_enrolled",
    "passkeys_installed",
    "preferred_for_sign_in",
    "remove_all",
    "tagged_rows",
    "verify_url_name",
]
