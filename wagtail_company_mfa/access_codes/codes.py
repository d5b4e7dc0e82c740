"""
Access codes: 16 random characters of Crockford's base32 (80 bits from ``secrets``, SEC-16), shown once
as ``ABCD-EFGH-JKMN-PQRS``, stored only as a keyed HMAC-SHA256 (SEC-17), as recovery codes are, under a
message of their own so that an access code and a recovery code never share a stored value.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from .. import crypto
from ..recovery_codes.codes import ALPHABET
from ..recovery_codes.codes import display as _grouped

LENGTH = 16
_CODE_RE = re.compile(rf"[0-9A-HJKMNP-TV-Z]{{{LENGTH}}}", re.ASCII)
_LOOKALIKES = str.maketrans({"I": "1", "L": "1", "O": "0"})
_SEPARATORS = " \t\n\r-"
_DOMAIN = b"access-code:"


def generate() -> str:
    """A new code, in canonical form (no separator)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def display(code: str) -> str:
    """``ABCD-EFGH-JKMN-PQRS``: grouped for reading out over the phone, as recovery codes are."""
    return _grouped(code)


def normalize(value) -> str | None:
    """The canonical code a person typed, or ``None`` if it cannot be one (SEC-08: explicit, ASCII only)."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    compact = "".join(ch for ch in value if ch not in _SEPARATORS).upper().translate(_LOOKALIKES)
    return compact if _CODE_RE.fullmatch(compact) else None


def _lookup_with(key_id: str, key: bytes, code: str) -> str:
    digest = hmac.new(key, _DOMAIN + code.encode("ascii"), hashlib.sha256).hexdigest()
    return f"{key_id}${digest}"


def lookup(code: str) -> str:
    """What is stored for a new canonical ``code``: its HMAC under the first key, prefixed with the key id."""
    key_id, key = crypto.lookup_keys()[0]
    return _lookup_with(key_id, key, code)


def lookups(code: str) -> list[str]:
    """The stored value ``code`` would have under each configured key, newest first."""
    return [_lookup_with(key_id, key, code) for key_id, key in crypto.lookup_keys()]


def matches(candidates: list[str], stored: str) -> bool:
    """Whether ``stored`` is one of ``candidates``, every candidate compared in constant time (SEC-08)."""
    found = False
    for candidate in candidates:
        found |= hmac.compare_digest(candidate.encode(), stored.encode())
    return found
