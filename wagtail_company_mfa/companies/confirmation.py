"""
The policy editor's confirmation step: saving a policy that emails members (Require MFA turned on with a
date, or the date moved) first says how many will be emailed and asks to confirm (docs/policy.md, "Saving a
new date"). Nothing is saved or sent before the confirmation; a change that emails nobody saves at once.

The confirmation is a keyed digest of who confirms what: the administrator, the company, the saved policy
and the new one. A confirmation posted with other values (another date, or a policy someone else changed
meanwhile) does not match, and the editor asks again with the new count.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.utils.crypto import constant_time_compare, salted_hmac

from ..notices import planning
from . import flows

#: The name of the confirming button; its value is the digest.
FIELD_NAME = "policy_confirmation"

_SALT = "wagtail_company_mfa.companies.confirmation"


@dataclass(frozen=True)
class PolicyConfirmation:
    """What saving will do: email ``recipients`` members. ``token`` confirms exactly this change."""

    recipients: int
    token: str

    def confirmed_by(self, posted: str | None) -> bool:
        return posted is not None and constant_time_compare(posted, self.token)


def saved_policy(company) -> dict:
    """The policy as stored (for a new company, the policy it is treated as changing from)."""
    if company.pk is None:
        return flows.initial_policy(company)
    return flows.policy_values(type(company)._default_manager.get(pk=company.pk))


def _token(user, company, old: dict, new: dict) -> str:
    def encode(values: dict) -> list:
        return [flows.log_value(values[name]) for name in flows.POLICY_FIELDS]

    payload = json.dumps([user.pk, company.pk, encode(old), encode(new)], default=str)
    return salted_hmac(_SALT, payload, algorithm="sha256").hexdigest()


def pending_confirmation(company, *, user) -> PolicyConfirmation | None:
    """
    The confirmation saving ``company`` (holding the edited, valid values) needs, or ``None`` when saving
    emails nobody.
    """
    old = saved_policy(company)
    new = flows.policy_values(company)
    changes = {name: (old[name], new[name]) for name in flows.POLICY_FIELDS if old[name] != new[name]}
    if not planning.policy_change_needs_notice(company, changes):
        return None
    recipients = planning.count_policy_notice_recipients(company)
    if not recipients:
        return None
    return PolicyConfirmation(recipients=recipients, token=_token(user, company, old, new))
