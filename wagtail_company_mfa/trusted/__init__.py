"""
Trusted browsers (docs/user-guide.md, "Trusted browsers"; docs/security.md, SEC-38): a company may let its
members skip the second factor, never the password, on a browser they chose to trust, for a period the
strictest of their companies allows. Everything about it lives in this folder; ``revoke_all`` is what every
security event calls.
"""

from __future__ import annotations


def revoke_all(user, reason: str, *, request=None, actor=None) -> int:
    """Stop trusting every browser of ``user`` (see :func:`.flows.revoke_all`)."""
    from .flows import revoke_all as _revoke_all

    return _revoke_all(user, reason, request=request, actor=actor)
