"""
The authenticator secret being set up, kept encrypted in the session until the user proves their app has it
(SEC-22, SEC-24).
"""

from __future__ import annotations

from .. import crypto
from ..base.session import PREFIX
from ..conf import mfa_settings

#: The authenticator secret being set up, encrypted, with the user it belongs to.
PENDING_SETUP = PREFIX + "pending_setup"

#: Why :func:`read_pending_key` found no secret to use.
PENDING_MISSING = "missing"
PENDING_EXPIRED = "expired"
#: Encrypted with a key this server does not have: the key lists changed, or differ between app servers.
PENDING_UNREADABLE = "unreadable"


def read_pending_key(session, user) -> tuple[bytes | None, str]:
    """
    The secret being set up for ``user`` and ``""``, or ``None`` and why not: ``PENDING_MISSING``,
    ``PENDING_EXPIRED`` (older than ``SETUP_TIMEOUT``, SEC-22) or ``PENDING_UNREADABLE``.
    """
    data = session.get(PENDING_SETUP)
    if not isinstance(data, dict) or data.get("user") != str(user.pk):
        return None, PENDING_MISSING
    token = data.get("key")
    if not isinstance(token, str):
        return None, PENDING_UNREADABLE
    try:
        return crypto.decrypt(token, ttl=mfa_settings.SETUP_TIMEOUT), ""
    except (crypto.InvalidToken, AttributeError, TypeError, ValueError):
        pass
    try:
        crypto.decrypt(token)
    except (crypto.InvalidToken, AttributeError, TypeError, ValueError):
        return None, PENDING_UNREADABLE
    return None, PENDING_EXPIRED  # readable, so only too old


def get_pending_key(session, user) -> bytes | None:
    """The secret being set up for ``user``, or ``None`` if there is none or it expired (SEC-22)."""
    return read_pending_key(session, user)[0]


def set_pending_key(session, user, key: bytes) -> None:
    session[PENDING_SETUP] = {"user": str(user.pk), "key": crypto.encrypt(key)}


def clear_pending_key(session) -> None:
    session.pop(PENDING_SETUP, None)
