"""
The user's own changes from the Security tab: a new recovery code, and turning MFA off. Each is one function
that makes the change in one transaction, then audits it and sends the signal once committed.
"""

from __future__ import annotations

import django_otp
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from .. import factors, signals
from ..audit import AuditAction, audit, send
from ..base import registry
from ..companies.policy import requirement_for
from ..models import MFAEnrollment
from ..recovery_codes import unsaved
from ..recovery_codes.actions import ACTION_RECOVERY_REGENERATED
from ..recovery_codes.flows import issue_recovery_codes
from ..totp import pending_key

ACTION_DISABLED = "wagtail_company_mfa.disabled"

ACTIONS = (AuditAction(ACTION_DISABLED, _("Turn off MFA"), _("Turned off two-factor authentication")),)


class MFAChangeRefused(Exception):
    """A self-service change that the user's situation does not allow. Nothing was changed."""


class NotEnrolled(MFAChangeRefused):
    def __init__(self):
        super().__init__("This user has no authenticator app: there is nothing to change.")


class MFAStillRequired(MFAChangeRefused):
    """MFA cannot be turned off: a company (or the superuser rule) requires it now."""

    def __init__(self, requirement):
        self.requirement = requirement
        names = ", ".join(company.company_name for company in requirement.companies)
        reason = f"required by {names}" if names else "required of every superuser on this site"
        super().__init__(f"Two-factor authentication cannot be turned off: it is {reason}.")


def regenerate_recovery_codes(request) -> list[str]:
    """
    Replace the user's recovery code(s) with new ones; every earlier code stops working in the same
    transaction (SEC-21). The new codes wait in the session for "I have safely recorded this code", as after
    enrollment, and the user's other sessions are ended.
    """
    user = request.user
    if not factors.is_enrolled(user):
        raise NotEnrolled()
    with transaction.atomic():
        codes = issue_recovery_codes(user)
        audit(user, ACTION_RECOVERY_REGENERATED, request=request, count=len(codes))
        send(signals.recovery_codes_regenerated, user, request)
    unsaved.set_unsaved_codes(request.session, user, codes, reason="regenerated")
    registry.end_other_sessions(request)
    return codes


def disable_mfa(request) -> None:
    """
    Turn two-factor authentication off for the signed-in user: their authenticator app and recovery codes
    are removed in one transaction, and their other sessions are ended (SEC-36). Refused with
    :class:`MFAStillRequired` while any company (or the superuser rule) requires MFA of them now; an upcoming
    deadline does not prevent it.
    """
    user = request.user
    with transaction.atomic():
        requirement = requirement_for(user)
        if requirement.is_required:
            raise MFAStillRequired(requirement)
        # Every factor's devices, whatever the factor (docs/architecture.md).
        if not any(factors.remove_all(user).values()):
            raise NotEnrolled()
        # Nothing is left: a later enrollment is a new one (SEC-40).
        MFAEnrollment.objects.filter(user_id=user.pk).delete()
        audit(user, ACTION_DISABLED, request=request)
        send(signals.mfa_disabled, user, request)
    request.session.pop(django_otp.DEVICE_ID_SESSION_KEY, None)
    unsaved.clear_unsaved_codes(request.session)
    pending_key.clear_pending_key(request.session)
    registry.end_other_sessions(request)
