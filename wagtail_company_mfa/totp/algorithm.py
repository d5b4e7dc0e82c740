"""
TOTP (RFC 6238) for authenticator apps: secrets, codes, the otpauth URI and its QR code.

The algorithm is ``cryptography``'s audited HOTP/TOTP implementation; this module adds the product's
choices: 160-bit secrets, 6 digits, 30-second steps, HMAC-SHA-1, the current step ±1,
and strict input canonicalisation (SEC-08).
"""

from __future__ import annotations

import base64
import hmac
import re
import secrets
import time

import segno
from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor.totp import TOTP
from django.utils.html import escape

STEP = 30
DIGITS = 6
TOLERANCE = 1
KEY_BYTES = 20  # 160 bits, the size of an HMAC-SHA-1 output (SEC-03)

_CODE_RE = re.compile(rf"[0-9]{{{DIGITS}}}", re.ASCII)
_ASCII_WHITESPACE = " \t\n\r\x0b\x0c"


def generate_key() -> bytes:
    """A fresh secret from the OS CSPRNG (SEC-03, SEC-22)."""
    return secrets.token_bytes(KEY_BYTES)


def canonical_code(value) -> str | None:
    """
    The code as exactly six ASCII digits, or ``None``.

    ASCII whitespace around and inside the code is dropped (apps show ``123 456``); anything else that
    ``int()`` would accept (full-width or Arabic-Indic digits, ``+``, ``_``, more digits) is refused (SEC-08).
    """
    if not isinstance(value, str):
        return None
    compact = "".join(ch for ch in value if ch not in _ASCII_WHITESPACE)
    return compact if _CODE_RE.fullmatch(compact) else None


def _totp(key: bytes, digits: int = DIGITS, algorithm=None) -> TOTP:
    # New secrets are always 160 bits (generate_key) and enrollment refuses anything under 128 (SEC-03); the
    # length is not re-checked here so a key provisioned elsewhere (the sandbox's fixed demo key) still works.
    return TOTP(key, digits, algorithm or SHA1(), STEP, enforce_key_length=False)  # noqa: S303 - RFC 6238


def code_at(key: bytes, unix_time: float, *, digits: int = DIGITS, algorithm=None) -> str:
    """The code an authenticator app shows at ``unix_time``."""
    return _totp(key, digits, algorithm).generate(int(unix_time)).decode("ascii")


def step_at(unix_time: float) -> int:
    """The RFC 6238 time step T for ``unix_time`` (T0 = 0, X = 30), as a Python int (no 2038 limit)."""
    return int(unix_time) // STEP


def matching_step(key: bytes, token, *, after: int = -1, now: float | None = None) -> int | None:
    """
    The time step whose code equals ``token``, within the current step ±1 and later than ``after``;
    ``None`` if there is none. Every candidate is compared in constant time (SEC-08).
    """
    code = canonical_code(token)
    if code is None:
        return None
    current = step_at(time.time() if now is None else now)
    generator = _totp(key)
    matched = None
    for step in range(max(0, current - TOLERANCE), current + TOLERANCE + 1):
        expected = generator.generate(step * STEP).decode("ascii")
        if hmac.compare_digest(expected, code) and step > after and matched is None:
            matched = step
    return matched


def encode_key(key: bytes) -> str:
    """The secret as authenticator apps want it typed: base32 without padding (SEC-24)."""
    return base64.b32encode(key).decode("ascii").rstrip("=")


def grouped_key(key: bytes) -> str:
    """The setup key in groups of four characters, for reading aloud or typing."""
    encoded = encode_key(key)
    return " ".join(encoded[i : i + 4] for i in range(0, len(encoded), 4))


def provisioning_uri(key: bytes, *, account: str, issuer: str) -> str:
    """
    The ``otpauth://totp/ISSUER:ACCOUNT?secret=...&issuer=ISSUER`` URI (Key URI format, SEC-24).
    Colons are removed from both names: they separate issuer from account in the label.
    """
    issuer = issuer.replace(":", "").strip()
    account = account.replace(":", "").strip()
    return _totp(key).get_provisioning_uri(account, issuer or None)


def qr_code_svg(uri: str, *, title: str) -> str:
    """
    An inline SVG QR code of ``uri``, drawn on the server (no third-party service, SEC-23). It is an image
    whose text alternative is ``title`` (``role="img"``, ``aria-label``), for screen readers.
    """
    qr = segno.make(uri, error="m", micro=False)
    svg = qr.svg_inline(scale=5, border=2, title=title, dark="#000", light="#fff", omitsize=True)
    return svg.replace("<svg ", f'<svg role="img" aria-label="{escape(title)}" ', 1)
