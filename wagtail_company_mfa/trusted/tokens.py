"""
The token a trusted browser holds: 256 random bits (``secrets.token_urlsafe(32)``), stored only as a keyed
HMAC-SHA256 that finds it with one indexed lookup (the recovery-code pattern, SEC-17), and the marker that
ties a trust to the user's password.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from .. import crypto

#: Longer than any token this package issues; anything longer is not looked at further.
MAX_TOKEN_LENGTH = 128
_LOOKUP_PURPOSE = "trusted-browser-lookup"
_PASSWORD_PURPOSE = "trusted-browser-password"  # noqa: S105 (an HKDF label)


def generate() -> str:
    return secrets.token_urlsafe(32)


def _hmac(key: bytes, value: str) -> str:
    return hmac.new(key, value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def lookup(token: str) -> str:
    """What is stored for a new ``token``: its HMAC under the newest key."""
    return _hmac(crypto.purpose_keys(_LOOKUP_PURPOSE)[0], token)


def lookups(token: str) -> list[str]:
    """The stored value ``token`` would have under each configured key (key rotation), newest first."""
    token = token[:MAX_TOKEN_LENGTH]
    return [_hmac(key, token) for key in crypto.purpose_keys(_LOOKUP_PURPOSE)]


def password_marker(user) -> str:
    """A keyed HMAC of the user's password hash (never the hash itself): it changes with the password."""
    return _hmac(crypto.purpose_keys(_PASSWORD_PURPOSE)[0], user.password or "")


def password_matches(user, marker: str) -> bool:
    """Whether ``marker`` was made from the user's current password hash, under any configured key."""
    found = False
    for key in crypto.purpose_keys(_PASSWORD_PURPOSE):
        found |= hmac.compare_digest(_hmac(key, user.password or "").encode(), (marker or "").encode())
    return found
