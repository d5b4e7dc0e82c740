"""
Recovery codes: 80 random bits (SEC-16) written as 16 Crockford base32 characters in groups of four,
stored only as a keyed HMAC-SHA256 (SEC-17) that finds the code with one indexed query and is compared in
constant time.

Codes issued before the HMAC were stored as salted PBKDF2 hashes; :func:`check_legacy` still checks those,
until they are used or replaced (see docs/security.md, SEC-17).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from django.contrib.auth.hashers import PBKDF2PasswordHasher

from .. import crypto

#: Crockford's base32 alphabet: no I, L, O or U, so nothing is misread.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 16  # 16 characters x 5 bits = 80 bits
_CODE_RE = re.compile(rf"[0-9A-HJKMNP-TV-Z]{{{LENGTH}}}", re.ASCII)
# Readers confuse these; Crockford decoding maps them to the digits they look like.
_LOOKALIKES = str.maketrans({"I": "1", "L": "1", "O": "0"})
_SEPARATORS = " \t\n\r-"
#: Between the key id and the HMAC in a stored lookup value (neither contains it).
_KEY_ID_SEPARATOR = "$"


class RecoveryCodeHasher(PBKDF2PasswordHasher):
    """
    The earlier storage: PBKDF2 with a small work factor. Kept only to check the codes stored that way; new
    codes are stored as a keyed HMAC (:func:`lookup`).
    """

    algorithm = "mfa_recovery_pbkdf2_sha256"
    iterations = 20_000


_hasher = RecoveryCodeHasher()


def generate() -> str:
    """A new code, canonical form (no separators)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def display(code: str) -> str:
    """``ABCD-EFGH-JKMN-PQRS``: grouped for reading."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def normalize(value) -> str | None:
    """The canonical code typed by a user, or ``None`` if it cannot be one."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    compact = "".join(ch for ch in value if ch not in _SEPARATORS).upper().translate(_LOOKALIKES)
    return compact if _CODE_RE.fullmatch(compact) else None


def _lookup_with(key_id: str, key: bytes, code: str) -> str:
    digest = hmac.new(key, code.encode("ascii"), hashlib.sha256).hexdigest()
    return f"{key_id}{_KEY_ID_SEPARATOR}{digest}"


def lookup(code: str) -> str:
    """What is stored for a new canonical ``code``: its HMAC under the first key, prefixed with its key id."""
    key_id, key = crypto.lookup_keys()[0]
    return _lookup_with(key_id, key, code)


def lookups(code: str) -> list[str]:
    """The stored value ``code`` would have under each configured key, newest first (SEC-17 key rotation)."""
    return [_lookup_with(key_id, key, code) for key_id, key in crypto.lookup_keys()]


def key_id_of(stored: str) -> str:
    """The id of the key a stored lookup value was computed with."""
    return stored.partition(_KEY_ID_SEPARATOR)[0]


def current_key_id() -> str:
    return crypto.lookup_keys()[0][0]


def matches(candidates: list[str], stored: str | None) -> bool:
    """
    Whether a stored lookup value is one of a code's ``candidates`` (from :func:`lookups`), in constant time:
    every candidate is compared, with :func:`hmac.compare_digest`.
    """
    if not stored:
        return False
    found = False
    stored_bytes = stored.encode()  # bytes: compare_digest refuses a str that is not ASCII
    for candidate in candidates:
        found |= hmac.compare_digest(candidate.encode(), stored_bytes)
    return found


def check_legacy(code: str, encoded: str) -> bool:
    """Constant-time check of a canonical ``code`` against a hash stored by the earlier PBKDF2 scheme."""
    if not encoded:
        return False
    try:
        return _hasher.verify(code, encoded)
    except (AssertionError, ValueError, TypeError):
        return False
