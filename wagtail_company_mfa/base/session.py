"""
What the MFA flow keeps in the session: the common prefix and clock. All of it is server-side state tied to
the session (SEC-29); none of it is a password, and the secrets are encrypted (``totp/pending_key.py``,
``recovery_codes/unsaved.py``).
"""

from __future__ import annotations

import time

PREFIX = "wagtail_company_mfa."


def now() -> float:
    return time.time()


def seconds_since(session, key: str) -> float | None:
    value = session.get(key)
    if not isinstance(value, (int, float)):
        return None
    return now() - value
