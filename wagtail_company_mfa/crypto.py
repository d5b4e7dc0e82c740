"""
Encryption at rest for TOTP secrets (SEC-43), with keys that can be rotated.

``WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS`` is a list of Fernet keys (``Fernet.generate_key()``), newest first:
the first encrypts new secrets, all of them decrypt. Rotate by putting a new key first, running
``manage.py mfa_rotate_keys``, then removing the old key.

Without the setting, a key is derived from ``SECRET_KEY`` so a fresh install works; a system check
(``wagtail_company_mfa.W001``) warns about it outside ``DEBUG``, because rotating ``SECRET_KEY`` would then
lock every enrolled user out.
"""

from __future__ import annotations

import base64
import functools

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.encoding import force_bytes

from .conf import mfa_settings

__all__ = ["InvalidToken", "decrypt", "encrypt", "generate_key", "lookup_keys", "purpose_keys", "rotate"]


def generate_key() -> str:
    """A new key for ``WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS``."""
    return Fernet.generate_key().decode()


def _derived_key(secret_key: str | None = None) -> bytes:
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=b"wagtail-company-mfa",
        info=b"totp-secret-encryption",
    )
    return base64.urlsafe_b64encode(hkdf.derive(force_bytes(secret_key or settings.SECRET_KEY)))


def _fernet() -> MultiFernet:
    keys = mfa_settings.ENCRYPTION_KEYS
    try:
        # The derived key always comes last: it encrypts nothing once keys are configured, but it still reads
        # the secrets stored before they were, so `mfa_rotate_keys` can move those onto the configured key.
        fernets = [*(Fernet(key) for key in keys), Fernet(_derived_key())]
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            "WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS must be a list of Fernet keys "
            "(see wagtail_company_mfa.crypto.generate_key())."
        ) from exc
    return MultiFernet(fernets)


def encrypt(secret: bytes) -> str:
    return _fernet().encrypt(secret).decode("ascii")


def decrypt(token: str, *, ttl: int | None = None) -> bytes:
    """Decrypt ``token``; raises :class:`InvalidToken` if it was tampered with, or is older than ``ttl``."""
    fernet = _fernet()
    if ttl is None:
        return fernet.decrypt(token.encode("ascii"))
    return fernet.decrypt(token.encode("ascii"), ttl=ttl)


def rotate(token: str) -> str:
    """Re-encrypt ``token`` with the first (newest) key."""
    return _fernet().rotate(token.encode("ascii")).decode("ascii")


def _hkdf(material: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"wagtail-company-mfa", info=info).derive(material)


def lookup_keys() -> tuple[tuple[str, bytes], ...]:
    """
    The keys of the recovery-code lookup HMAC (SEC-17), one per encryption key, in the same order: the
    first computes the lookup of new codes, every one of them is tried, so a code issued under an older key
    keeps working while that key is listed. Each is ``(key id, HMAC key)``.

    They are derived with HKDF and an ``info`` of their own, so the HMAC key is never the encryption key, and
    a database dump without the keys cannot test guesses. As for the secrets, a key derived from
    ``SECRET_KEY`` comes last: it issues nothing once keys are configured, but the codes issued before they
    were still match. The key id (a separate derivation, which reveals nothing about the HMAC key) tells
    ``mfa_rotate_keys`` which stored codes still depend on an older key.
    """
    return _lookup_keys(tuple(mfa_settings.ENCRYPTION_KEYS), settings.SECRET_KEY)


@functools.lru_cache(maxsize=8)
def _lookup_keys(encryption_keys: tuple[str, ...], secret_key: str) -> tuple[tuple[str, bytes], ...]:
    # Cached by the settings it depends on: the HKDF derivations cost more than the HMACs they key, and are
    # paid on every recovery-code check otherwise. A changed setting is a new cache entry.
    materials = [base64.urlsafe_b64decode(key) for key in encryption_keys]
    materials.append(base64.urlsafe_b64decode(_derived_key(secret_key)))
    return tuple(
        (_hkdf(material, b"recovery-code-key-id")[:4].hex(), _hkdf(material, b"recovery-code-lookup"))
        for material in materials
    )


def purpose_keys(purpose: str) -> tuple[bytes, ...]:
    """
    HMAC keys for ``purpose`` (e.g. ``"trusted-browser-lookup"``), one per encryption key, newest first, the
    key derived from ``SECRET_KEY`` last: derived with HKDF and an ``info`` of their own, as
    :func:`lookup_keys` derives the recovery-code keys, so no key serves two purposes.
    """
    return _purpose_keys(purpose, tuple(mfa_settings.ENCRYPTION_KEYS), settings.SECRET_KEY)


@functools.lru_cache(maxsize=16)
def _purpose_keys(purpose: str, encryption_keys: tuple[str, ...], secret_key: str) -> tuple[bytes, ...]:
    materials = [base64.urlsafe_b64decode(key) for key in encryption_keys]
    materials.append(base64.urlsafe_b64decode(_derived_key(secret_key)))
    return tuple(_hkdf(material, purpose.encode("ascii")) for material in materials)
