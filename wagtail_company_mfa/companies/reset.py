"""
An administrator's reset of someone's MFA (SEC-40): every factor removed and every session ended, in one
transaction. Who may reset whom is :mod:`wagtail_company_mfa.companies.reset_rule`'s to decide, before.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from urllib.parse import urlencode

from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext
from wagtail.log_actions import log

from .. import factors, signals
from ..audit import audit_company, client_details, send, unwrap
from ..base import registry
from ..models import AccessCode, MFAEnrollment, ReenrollmentRequest
from .flows import member_data

ACTION_RESET = "wagtail_company_mfa.reset"
#: Logged against the company when one of its members' MFA is reset (``ACTION_RESET`` goes on the member).
ACTION_MEMBER_RESET = "wagtail_company_mfa.member_reset"


#: Where the reset view's URL is registered (``CompanyViewSet``), for the Users listing.
RESET_URL_NAME = "wagtail_company_mfa_companies:reset"
#: The recovery toolkit's views beside it (``companies/views/toolkit.py``).
ACCESS_CODE_URL_NAME = "wagtail_company_mfa_companies:access_code"
REENROLL_URL_NAME = "wagtail_company_mfa_companies:reenroll"


def toolkit_actions(reset_url_name: str | None, user, company, person: str) -> list[dict]:
    """
    The row actions of a member the viewer may reset (``ResetChecker``): "Reset MFA", "Require
    re-enrollment" and "Issue access code", each with an accessible name that says whose.
    """
    names = {"person": person}
    return [
        {
            "url": reset_url(reset_url_name, user, company),
            "label": gettext("Reset MFA"),
            "aria_label": gettext("Reset MFA for %(person)s") % names,
        },
        {
            "url": reset_url(REENROLL_URL_NAME, user, company),
            "label": gettext("Require re-enrollment"),
            "aria_label": gettext("Require re-enrollment for %(person)s") % names,
        },
        {
            "url": reset_url(ACCESS_CODE_URL_NAME, user, company),
            "label": gettext("Issue access code"),
            "aria_label": gettext("Issue an access code for %(person)s") % names,
        },
    ]


def reset_url(url_name: str | None, user, company=None) -> str:
    url = reverse(url_name or RESET_URL_NAME, args=[user.pk])
    if company is not None:
        url = f"{url}?{urlencode({'company': company.pk})}"
    return url


@dataclass
class ResetResult:
    """What :func:`reset_mfa` removed."""

    removed_authenticator: bool
    removed_recovery_codes: bool
    sessions_ended: int

    @property
    def removed_anything(self) -> bool:
        return self.removed_authenticator or self.removed_recovery_codes


def reset_mfa(
    target, *, actor, request=None, company=None, via: str = "admin", details: dict | None = None
) -> ResetResult:
    """
    An administrator's reset of ``target``'s MFA (SEC-40): in one transaction their authenticator
    app and recovery codes are deleted and every session of theirs is ended on every app server, which also
    discards any half-done enrollment (the pending secret lives in the session). A session that escaped the
    session registry is no longer verified on its next request either: django-otp reloads the device it was
    verified with, which is gone.

    The audit entry goes on ``target`` (and, with ``company``, one on the company, under the same log
    UUID), with the actor, company, IP and browser; :data:`~wagtail_company_mfa.signals.mfa_reset` is sent
    once committed, and its receiver emails ``target`` (SEC-27).

    Who may reset whom is decided by :mod:`~.reset_rule` before calling this; ``actor`` is
    ``None`` for ``manage.py mfa_reset`` (``via="command"``). Nobody resets their own MFA here. ``details``
    go into the audit entry as they are (never put a secret there).
    """
    target = unwrap(target)
    actor = unwrap(actor) if actor is not None else None
    if actor is not None and actor.pk == target.pk:
        raise ValueError("An administrator cannot reset their own MFA; use manage.py mfa_reset.")
    with transaction.atomic():
        # Every factor's devices, whatever the factor (docs/architecture.md).
        removed = factors.remove_all(target)
        removed_authenticator = removed.get("totp", 0) > 0
        removed_recovery_codes = removed.get("recovery_codes", 0) > 0
        # Everything is gone, so the person's next enrollment is a new one: set up as a member of their
        # companies, a company administrator may reset it (SEC-40).
        MFAEnrollment.objects.filter(user_id=target.pk).delete()
        # Nothing left to replace or to let past: the recovery toolkit's requests go too.
        ReenrollmentRequest.objects.filter(user_id=target.pk).delete()
        AccessCode.objects.filter(user_id=target.pk, used_at__isnull=True).delete()
        ended = registry.end_sessions(target)
        result = ResetResult(removed_authenticator, removed_recovery_codes, ended)
        data = {
            **(details or {}),
            **client_details(request),
            "via": via,
            "company_id": company.pk if company is not None else None,
            "company": company.name if company is not None else "",
            "removed_authenticator": removed_authenticator,
            "removed_recovery_codes": removed_recovery_codes,
            "sessions_ended": ended,
        }
        log_uuid = uuid.uuid4()
        log(target, ACTION_RESET, user=actor, uuid=log_uuid, data=data)
        if company is not None:
            audit_company(
                company,
                ACTION_MEMBER_RESET,
                actor=actor,
                request=request,
                uuid=log_uuid,
                via=via,
                removed_authenticator=removed_authenticator,
                **member_data(target),
            )
        send(signals.mfa_reset, target, request, actor=actor, company=company)
    return result
