"""
The audit log and the signals, as every security-relevant change writes them: the change is made in one
transaction, then the audit log entry is written in it and the signal is sent once it is committed
(docs/security.md, "Audit log", SEC-45).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils.functional import LazyObject, empty
from wagtail.log_actions import log

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


@dataclass(frozen=True)
class AuditAction:
    """One audit-log action: its name (never renamed: the log keeps it), and how the history shows it."""

    name: str
    label: StrOrPromise
    message: StrOrPromise = ""


def client_details(request) -> dict:
    """Who did it from where, for the audit log (SEC-45). The address is ``REMOTE_ADDR`` only (SEC-14)."""
    if request is None:
        return {}
    return {
        "ip": request.META.get("REMOTE_ADDR", ""),
        "user_agent": request.headers.get("user-agent", "")[:255],
    }


def unwrap(user):
    """
    The model instance behind ``request.user``. OTPMiddleware wraps Django's lazy user in a second lazy
    object, and Wagtail's audit log looks the logger up by the *type* of what it is given, unwrapping only one
    level.
    """
    while isinstance(user, LazyObject):
        if user._wrapped is empty:
            user._setup()
        user = user._wrapped
    return user


def audit(user, action: str, *, actor=None, request=None, **data) -> None:
    """An audit entry on ``user`` (by ``actor``, default the user themself), with the client's details."""
    user = unwrap(user)
    actor = unwrap(actor) if actor is not None else user
    log(user, action, user=actor, data={**client_details(request), **data})


def send(signal, user, request, **kwargs) -> None:
    """Send ``signal`` about ``user`` once the surrounding transaction is committed."""
    transaction.on_commit(lambda: signal.send(sender=get_user_model(), user=user, request=request, **kwargs))


def audit_company(company, action: str, *, actor, request=None, uuid=None, **data) -> None:
    """An audit entry on ``company`` by ``actor`` (``None`` for a management command)."""
    actor = unwrap(actor) if actor is not None else None
    log(company, action, user=actor, uuid=uuid, data={**client_details(request), **data})


def send_company(signal, company, **kwargs) -> None:
    """Send ``signal`` about ``company`` once the surrounding transaction is committed."""
    transaction.on_commit(lambda: signal.send(sender=type(company), company=company, **kwargs))
