"""
Recovery codes: 80 random bits (SEC-16) written as 16 Crockford base32 characters in groups of four,
stored only as salted PBKDF2 hashes (SEC-17), compared in constant time.
"""

from __future__ import annotations

import re
import secrets

from django.contrib.auth.hashers import PBKDF2PasswordHasher

#: Crockford's base32 alphabet: no I, L, O or U, so nothing is misread.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 16  # 16 characters x 5 bits = 80 bits
_CODE_RE = re.compile(rf"[0-9A-HJKMNP-TV-Z]{{{LENGTH}}}", re.ASCII)
# Readers confuse these; Crockford decoding maps them to the digits they look like.
_LOOKALIKES = str.maketrans({"I": "1", "L": "1", "O": "0"})
_SEPARATORS = " \t\n\r-"


class RecoveryCodeHasher(PBKDF2PasswordHasher):
    """
    PBKDF2 with a small work factor: the input already has 80 bits of entropy, so the salt and hash are what
    matter, not key stretching ("the work factor ... MAY be small", NIST SP 800-63B).
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


def make_hash(code: str) -> str:
    return _hasher.encode(code, _hasher.salt())


def check(code: str, encoded: str) -> bool:
    """Constant-time check of a canonical ``code`` against a stored hash."""
    try:
        return _hasher.verify(code, encoded)
    except (AssertionError, ValueError, TypeError):
        return False
