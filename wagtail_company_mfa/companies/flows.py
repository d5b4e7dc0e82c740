"""
Company administration's changes: a company's MFA policy, and its members. Each is one function that makes
the change in one transaction, then audits it on the company and sends the signal once committed (SEC-39,
SEC-41, SEC-45). The admin views and management commands all go through here.
"""

from __future__ import annotations

import datetime

from django.db import transaction

from .. import signals
from ..audit import audit_company, send_company
from ..base.users import display_name
from ..models import AllowedMethods, CompanyMembership, TrustPeriod

ACTION_POLICY_CHANGED = "wagtail_company_mfa.policy_changed"
ACTION_MEMBER_ADDED = "wagtail_company_mfa.member_added"
ACTION_MEMBER_REMOVED = "wagtail_company_mfa.member_removed"
ACTION_MEMBER_ROLE_CHANGED = "wagtail_company_mfa.member_role_changed"

#: The company fields that make up its MFA policy, in the order they are reported.
POLICY_FIELDS = (
    "require_mfa",
    "enforcement_date",
    "time_zone",
    "new_member_grace_days",
    "allowed_methods",
    "trust_browser_for",
)


def policy_values(company) -> dict:
    return {name: getattr(company, name) for name in POLICY_FIELDS}


def initial_policy(company) -> dict:
    """The policy a new company is treated as changing from: MFA off, no date, no grace days."""
    return {
        "require_mfa": False,
        "enforcement_date": None,
        "time_zone": company.time_zone,
        "new_member_grace_days": 0,
        "allowed_methods": AllowedMethods.ANY,
        "trust_browser_for": TrustPeriod.NEVER,
    }


def log_value(value):
    """A policy value as it is stored in the audit log (JSON): dates as ISO 8601 strings."""
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return value


def save_company(company, *, actor, request=None, save=None) -> dict:
    """
    Save ``company`` (new or edited) and record any change to its MFA policy (SEC-39, SEC-45).

    ``save`` does the saving (default: ``company.save``); the admin passes Wagtail's own, which also writes
    the ``wagtail.create``/``wagtail.edit`` entry. The previous policy is read from the database with the row
    locked, so two administrators saving at once each see the other's result. When the policy changed, an
    audit entry with the old and new values goes on the company and, once committed,
    :data:`~wagtail_company_mfa.signals.policy_changed` is sent (the member notices listen to it).

    Returns the changes as ``{field: (old, new)}``; a new company counts as changed from "MFA off, no date,
    no grace days".
    """
    with transaction.atomic():
        if company.pk is None:
            previous = initial_policy(company)
        else:
            previous = policy_values(type(company).objects.select_for_update().get(pk=company.pk))
        (save or company.save)()
        current = policy_values(company)
        changes = {
            name: (previous[name], current[name]) for name in POLICY_FIELDS if previous[name] != current[name]
        }
        if changes:
            audit_company(
                company,
                ACTION_POLICY_CHANGED,
                actor=actor,
                request=request,
                changes={
                    name: {"old": log_value(old), "new": log_value(new)}
                    for name, (old, new) in changes.items()
                },
                policy={name: log_value(value) for name, value in current.items()},
            )
            send_company(signals.policy_changed, company, changes=changes, actor=actor, request=request)
    return changes


class MembershipExists(Exception):
    """The person is already an active member of the company; nothing was changed."""


def member_data(user) -> dict:
    return {"member_id": user.pk, "member": display_name(user)}


def add_member(company, user, *, role, actor, request=None):
    """
    Make ``user`` an active member of ``company`` with ``role``: a new membership, or a former member's
    reactivated (their grace period restarts). Raises :class:`MembershipExists` if they are an
    active member already.
    """
    with transaction.atomic():
        membership = (
            CompanyMembership.objects.select_for_update()
            .filter(company_id=company.pk, user_id=user.pk)
            .first()
        )
        if membership is not None and membership.is_active:
            raise MembershipExists(user)
        reactivated = membership is not None
        if membership is not None:
            changes = {"is_active": (False, True), "role": (membership.role, role)}
            membership.is_active, membership.role = True, role
            membership.save(update_fields=["is_active", "role"])
        else:
            changes = {"is_active": (None, True), "role": (None, role)}
            membership = CompanyMembership.objects.create(company=company, user=user, role=role)
        audit_company(
            company,
            ACTION_MEMBER_ADDED,
            actor=actor,
            request=request,
            role=role,
            reactivated=reactivated,
            **member_data(user),
        )
        send_company(
            signals.membership_changed,
            company,
            membership=membership,
            change="added",
            changes=changes,
            actor=actor,
            request=request,
        )
    return membership


def change_membership(membership, *, actor, request=None, role=None, is_active=None) -> dict:
    """
    Change a member's ``role`` and/or deactivate (remove) or reactivate them. Only those two fields: the
    company and the person of a membership never change (SEC-41). Returns ``{field: (old, new)}``.
    """
    with transaction.atomic():
        current = CompanyMembership.objects.select_for_update().get(pk=membership.pk)
        changes: dict[str, tuple[object, object]] = {}
        if role is not None and role != current.role:
            changes["role"] = (current.role, role)
            current.role = role
        if is_active is not None and is_active != current.is_active:
            changes["is_active"] = (current.is_active, is_active)
            current.is_active = is_active
        if not changes:
            return {}
        current.save(update_fields=list(changes))
        company, data = membership.company, member_data(membership.user)
        if "is_active" in changes:
            action = ACTION_MEMBER_ADDED if is_active else ACTION_MEMBER_REMOVED
            extra = {"role": current.role, "reactivated": True} if is_active else {"role": current.role}
            audit_company(company, action, actor=actor, request=request, **extra, **data)
        if "role" in changes:
            old, new = changes["role"]
            audit_company(
                company,
                ACTION_MEMBER_ROLE_CHANGED,
                actor=actor,
                request=request,
                old_role=old,
                new_role=new,
                **data,
            )
        change = "role_changed"
        if "is_active" in changes:
            change = "added" if is_active else "removed"
        send_company(
            signals.membership_changed,
            company,
            membership=current,
            change=change,
            changes=changes,
            actor=actor,
            request=request,
        )
    membership.role, membership.is_active = current.role, current.is_active
    membership.joined_at = current.joined_at
    return changes
