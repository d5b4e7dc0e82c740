"""
Recovery codes just issued, kept encrypted in the session until the user confirms "I have safely recorded
this code" (SEC-21).
"""

from __future__ import annotations

from .. import crypto
from ..base.session import PREFIX

#: Recovery codes just issued that the user has not yet confirmed saving, encrypted.
UNSAVED_CODES = PREFIX + "unsaved_codes"


def set_unsaved_codes(session, user, codes: list[str], *, reason: str) -> None:
    session[UNSAVED_CODES] = {
        "user": str(user.pk),
        "codes": [crypto.encrypt(code.encode()) for code in codes],
        "reason": reason,
    }


def get_unsaved_codes(session, user) -> tuple[list[str], str] | None:
    data = session.get(UNSAVED_CODES)
    if not isinstance(data, dict) or data.get("user") != str(user.pk):
        return None
    try:
        return [crypto.decrypt(token).decode() for token in data["codes"]], data.get("reason", "")
    except (crypto.InvalidToken, KeyError, TypeError, ValueError):
        return None


def has_unsaved_codes(session) -> bool:
    return UNSAVED_CODES in session


def clear_unsaved_codes(session) -> None:
    session.pop(UNSAVED_CODES, None)
