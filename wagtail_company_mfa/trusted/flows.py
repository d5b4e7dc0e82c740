"""
Granting, using and revoking trust (docs/security.md, SEC-38). Each change is made in one transaction and
audited; the cookie is set or cleared on the response by the caller (:mod:`.cookie`).

A trusted browser skips the second factor after the password, never the password: :func:`use` runs only for
a session that passed the password step and still owes its second factor, and lets it through only when the
token is the user's own, not expired, not revoked, made with the user's current password, the device it was
granted with is still theirs, and the user's *current* strictest policy still allows trust (the expiry is
the earlier of the stored one and the grant time plus the current period).
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass

from django.contrib import auth
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.models import Device

from .. import factors
from ..audit import audit
from ..base import gate, methods, pending, verification
from ..models import TrustedBrowser
from . import browsers, cookie, tokens
from .actions import ACTION_TRUST_GRANTED, ACTION_TRUST_REVOKED, ACTION_TRUST_USED

logger = logging.getLogger(__name__)

#: The most browsers one user may trust; trusting another drops the oldest.
MAX_PER_USER = 10

#: Why trust was revoked (the audit entry's ``reason``).
REVOKED_BY_USER = "user"
REVOKED_RESET = "reset"
REVOKED_PASSWORD = "password_changed"  # noqa: S105 (a reason, not a password)
REVOKED_FACTOR = "factor_changed"
REVOKED_DISABLED = "mfa_disabled"
REVOKED_POLICY = "policy_stricter"

#: Why a token was refused at sign-in (logged, never shown).
UNKNOWN, OTHER_USER, EXPIRED, NOT_ALLOWED, MUST_ENROLL, METHODS_DUE, PASSWORD, DEVICE = (
    "unknown",
    "other_user",
    "expired",
    "not_allowed",
    "must_enroll",
    "methods_due",
    "password_changed",
    "device_gone",
)


def period_label(hours: int) -> str:
    """ "12 hours", "7 days": how long a browser may be trusted, for the checkbox and the audit log."""
    if hours % 24 == 0:
        days = hours // 24
        return ngettext("%(count)d day", "%(count)d days", days) % {"count": days}
    return ngettext("%(count)d hour", "%(count)d hours", hours) % {"count": hours}


def checkbox_label(hours: int) -> str:
    return _("Trust this browser for %(period)s") % {"period": period_label(hours)}


def offer_hours(request) -> int:
    """
    How long this session's user may trust this browser, in hours (0: not offered): the strictest of their
    companies (``Requirement.trust_hours``), from the answer the gate already has for this request.
    """
    user = request.user
    if not getattr(user, "is_authenticated", False):
        return 0
    return gate.standing(request, user).requirement.trust_hours


def grant(request, response, device, hours: int) -> TrustedBrowser | None:
    """
    Trust this browser for ``hours`` after the session verified with ``device``: a new token in the cookie
    of ``response``, its HMAC in the database; the user's oldest trusted browsers beyond
    :data:`MAX_PER_USER` are dropped. Nothing is done for ``hours`` of 0.
    """
    if hours <= 0 or device is None:
        return None
    user = request.user
    token = tokens.generate()
    now = timezone.now()
    with transaction.atomic():
        keep = TrustedBrowser.objects.filter(user_id=user.pk).order_by("-created_at", "-pk")
        stale = list(keep.values_list("pk", flat=True)[MAX_PER_USER - 1 :])
        if stale:
            TrustedBrowser.objects.filter(pk__in=stale).delete()
        trusted = TrustedBrowser.objects.create(
            user_id=user.pk,
            lookup=tokens.lookup(token),
            device_id=device.persistent_id,
            password_marker=tokens.password_marker(user),
            description=browsers.describe(request.headers.get("user-agent", "")),
            created_at=now,
            expires_at=now + datetime.timedelta(hours=hours),
        )
        audit(user, ACTION_TRUST_GRANTED, request=request, trusted_browser_id=trusted.pk, hours=hours)
    cookie.set_cookie(request, response, token, max_age=hours * 3600)
    return trusted


@dataclass
class Outcome:
    """What :func:`use` made of the request's cookie."""

    ok: bool
    reason: str = ""


def _find(token: str) -> TrustedBrowser | None:
    # One indexed lookup by the HMAC, whatever the cookie holds: the same work for a garbage value, an
    # unknown token and another user's.
    return TrustedBrowser.objects.filter(lookup__in=tokens.lookups(token)).first()


def _device_for(trusted: TrustedBrowser, user):
    try:
        device = Device.from_persistent_id(trusted.device_id, for_verify=False)
    except Exception:  # a malformed id, a model no longer installed
        return None
    # from_persistent_id checks neither ``confirmed`` nor the owner; the registry's ``factor_of`` checks the
    # first.
    if device is None or getattr(device, "user_id", None) != user.pk or factors.factor_of(device) is None:
        return None
    return device


def refusal(request, user, token: str) -> tuple[str, TrustedBrowser | None, object]:
    """Why ``token`` may not let this session through, or ``""``; with the trust and its device if found."""
    known = gate.standing(request, user)
    requirement = known.requirement
    if not known.is_enrolled:
        return MUST_ENROLL, None, None
    if requirement.trust_hours <= 0:
        return NOT_ALLOWED, None, None
    if requirement.is_required and not methods.meets(requirement, known.factors):
        return METHODS_DUE, None, None
    trusted = _find(token)
    if trusted is None:
        return UNKNOWN, None, None
    if trusted.user_id != user.pk:
        return OTHER_USER, None, None
    expiry = min(trusted.created_at + datetime.timedelta(hours=requirement.trust_hours), trusted.expires_at)
    if timezone.now() >= expiry:
        return EXPIRED, trusted, None
    if not tokens.password_matches(user, trusted.password_marker):
        return PASSWORD, trusted, None
    device = _device_for(trusted, user)
    if device is None:
        return DEVICE, trusted, None
    return "", trusted, device


def use(request) -> Outcome | None:
    """
    Let a session that passed the password and owes its second factor through on this browser's trust, or
    refuse the token (``Outcome.ok`` False: the caller clears the cookie). ``None`` when there is nothing to
    decide: no cookie, nobody signed in, a verified session, or a pending state that has expired (the gate
    ends that session).
    """
    token = request.COOKIES.get(cookie.COOKIE_NAME)
    if token is None:
        return None
    # The session's own record first, not ``is_verified()`` (right after ``login()`` the user is the plain
    # model instance, which django-otp has not annotated), and before the user: a verified or anonymous
    # session with the cookie costs no query here.
    session = request.session
    if DEVICE_ID_SESSION_KEY in session or auth.SESSION_KEY not in session:
        return None
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    if pending.pending_has_expired(request.session):
        return None
    reason, trusted, device = refusal(request, user, token)
    if reason:
        if trusted is not None:
            # Of no use to anyone any more: an expired trust, or one made before a new password.
            trusted.delete()
        logger.info("A trusted-browser token was refused for user #%s: %s", user.pk, reason)
        return Outcome(ok=False, reason=reason)
    assert trusted is not None
    with transaction.atomic():
        # No factor was given now: the "sudo" window of sensitive changes stays closed (SEC-25).
        verification.complete_verification(request, device, fresh=False)
        now = timezone.now()
        TrustedBrowser.objects.filter(pk=trusted.pk).update(last_used_at=now)
        audit(user, ACTION_TRUST_USED, request=request, trusted_browser_id=trusted.pk)
    return Outcome(ok=True)


def browsers_of(user) -> list[TrustedBrowser]:
    """The user's trusted browsers that have not expired, newest first (one query)."""
    return list(TrustedBrowser.objects.filter(user_id=user.pk, expires_at__gt=timezone.now()))


def current_browser_id(request) -> int | None:
    """The id of the trust this browser's cookie holds, if it is the signed-in user's (one query)."""
    token = request.COOKIES.get(cookie.COOKIE_NAME)
    if not token:
        return None
    trusted = _find(token)
    return trusted.pk if trusted is not None and trusted.user_id == request.user.pk else None


def revoke(request, pk) -> bool:
    """Stop trusting one of the signed-in user's browsers; ``False`` if it is not theirs (or gone)."""
    user = request.user
    with transaction.atomic():
        deleted, _per_model = TrustedBrowser.objects.filter(pk=pk, user_id=user.pk).delete()
        if deleted:
            audit_revoked(user, REVOKED_BY_USER, request=request, count=deleted)
    return bool(deleted)


def revoke_all(user, reason: str, *, request=None, actor=None, **data) -> int:
    """
    Stop trusting every browser of ``user`` (a user or a user id), in the caller's transaction (a reset, a
    new password, a changed factor, MFA turned off, a stricter policy, or the user's "Stop trusting all").
    Audited when there was any. Returns how many.
    """
    user_id = getattr(user, "pk", user)
    deleted, _per_model = TrustedBrowser.objects.filter(user_id=user_id).delete()
    if deleted:
        if not hasattr(user, "pk"):
            user = get_user_model()._default_manager.get(pk=user_id)
        audit_revoked(user, reason, request=request, actor=actor, count=deleted, **data)
    return deleted


def audit_revoked(user, reason: str, *, request=None, actor=None, **data) -> None:
    audit(user, ACTION_TRUST_REVOKED, actor=actor, request=request, reason=reason, **data)
