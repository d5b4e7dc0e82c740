"""Passkeys and security keys (WebAuthn) as a second factor, on django-otp-webauthn (docs/passkeys.md)."""
