"""
Helpers for a site's own test suite (docs/testing.md): sign a Django test client in as a user who has passed
two-factor authentication, and give a user an authenticator app whose codes a test can compute.

Works with any test framework (nothing here imports one) and with a custom user model. Call these only in
tests: they skip the password and code pages on purpose.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .models import AuthenticatorDevice

__all__ = ["Enrollment", "enroll", "login_verified"]


@dataclass(frozen=True)
class Enrollment:
    """A user's authenticator app, as a test sees it: the device, and the phone that shows its codes."""

    #: The confirmed ``AuthenticatorDevice``.
    device: AuthenticatorDevice
    #: The secret the authenticator app holds (raw bytes).
    key: bytes = field(repr=False)
    #: The recovery codes issued with it, in plain text (empty when the device already existed).
    recovery_codes: list[str] = field(default_factory=list, repr=False)

    def code(self, at: float | None = None, *, steps: int = 0) -> str:
        """
        The code the app shows at ``at`` (a Unix time; now by default), ``steps`` 30-second steps later.
        A code is accepted once per time step, so a test that signs in twice uses ``steps=1`` the second time.
        """
        from .totp import algorithm as totp

        moment = (time.time() if at is None else at) + steps * totp.STEP
        return totp.code_at(self.key, moment)


def enroll(user, *, recovery_codes: bool = True) -> Enrollment:
    """
    Give ``user`` a confirmed authenticator app (and a recovery code unless ``recovery_codes=False``), as a
    finished enrollment would, without the setup pages, emails or audit log entries. A user already enrolled
    keeps their device: the returned ``Enrollment`` wraps it, with no recovery codes (they are stored hashed).
    """
    from .models import AuthenticatorDevice
    from .recovery_codes.flows import issue_recovery_codes
    from .totp import algorithm as totp
    from .totp.flows import authenticator_for

    existing = authenticator_for(user)
    if existing is not None:
        return Enrollment(device=existing, key=existing.bin_key)
    key = totp.generate_key()
    device = AuthenticatorDevice(user=user, name="Authenticator app", confirmed=True)
    device.set_key(key)
    device.save()
    codes = issue_recovery_codes(user) if recovery_codes else []
    return Enrollment(device=device, key=key, recovery_codes=codes)


def login_verified(client, user, *, backend: str | None = None) -> Enrollment:
    """
    Sign the Django test ``client`` in as ``user`` with the second factor done, as if they had entered their
    password and a code just now. Enrolls the user first if they have no authenticator app. Returns the
    ``Enrollment``, for tests that need a current code (for example to re-authenticate).
    """
    from django_otp import DEVICE_ID_SESSION_KEY

    from .base import reauth

    enrollment = enroll(user)
    # force_login sends user_logged_in, so the package's receivers record the password step and register
    # the session, exactly as at a real sign-in.
    client.force_login(user, backend=backend)
    store = client.session
    # What django_otp.login() writes into the session; OTPMiddleware reads it on every request.
    store[DEVICE_ID_SESSION_KEY] = enrollment.device.persistent_id
    reauth.mark_mfa(store)
    store.save()
    return enrollment
