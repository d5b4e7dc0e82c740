"""The authenticator app (TOTP, RFC 6238) factor: its algorithm, enrollment, verification and pages."""
