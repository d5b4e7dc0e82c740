"""
"Set up two-factor authentication again": the session state of a person who must add a new factor and save
a new recovery code before anything else, after signing in with an access code or when an administrator
required re-enrollment (docs/admin-guide.md). Kept in the session (SEC-29); the gate reads it without a
query (``base/gate.py``).
"""

from __future__ import annotations

import datetime

from django.utils import timezone

from ..base.session import PREFIX

#: ``{"reason": "access_code" | "reenroll", "since": ISO datetime}``: what must be set up again, from when.
SETUP_AGAIN = PREFIX + "setup_again"
ACCESS_CODE = "access_code"
REENROLL = "reenroll"


def due(session) -> bool:
    return isinstance(session.get(SETUP_AGAIN), dict)


def start(session, reason: str, since: datetime.datetime) -> None:
    session[SETUP_AGAIN] = {"reason": reason, "since": since.isoformat()}


def reason(session) -> str:
    state = session.get(SETUP_AGAIN)
    return state.get("reason", "") if isinstance(state, dict) else ""


def since(session) -> datetime.datetime | None:
    """From when a factor counts as new; ``None`` (everything old) if the state is unreadable."""
    state = session.get(SETUP_AGAIN)
    if not isinstance(state, dict):
        return None
    try:
        value = datetime.datetime.fromisoformat(state.get("since", ""))
    except (TypeError, ValueError):
        return None
    return value if timezone.is_aware(value) else None


def clear(session) -> None:
    session.pop(SETUP_AGAIN, None)


#: Where a device read by ``base.verification.attempt`` carries when re-enrollment was required, if it was.
REENROLL_SINCE = "mfa_reenrollment_since"


def reenrollment_since():
    """When the device's user was asked to set MFA up again, as a subquery beside the device's row."""
    from django.db.models import OuterRef, Subquery

    from ..models import ReenrollmentRequest

    return Subquery(
        ReenrollmentRequest.objects.filter(user_id=OuterRef("user_id")).values("requested_at")[:1]
    )


def note_at_sign_in(request, device=None) -> None:
    """
    At a sign-in's second factor: if an administrator required this person to set MFA up again, this
    session must do it before anything else. Only at a sign-in, so sessions already signed in when the
    administrator asked keep working until their next sign-in. A device read with :func:`reenrollment_since`
    already knows; another (a passkey's) costs one query.
    """
    from ..models import ReenrollmentRequest

    if device is not None and hasattr(device, REENROLL_SINCE):
        requested = getattr(device, REENROLL_SINCE)
    else:
        requested = (
            ReenrollmentRequest.objects.filter(user_id=request.user.pk)
            .values_list("requested_at", flat=True)
            .first()
        )
    if requested is not None and not due(request.session):
        start(request.session, REENROLL, requested)
