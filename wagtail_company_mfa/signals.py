"""
Signals sent after each security-relevant change, once the change is committed. Every one is sent with
``sender`` = the user model class, ``user`` = whose MFA changed, and ``request`` (may be ``None``, e.g. from a
management command). None of them carries a code or a secret.
"""

from django.dispatch import Signal

#: A factor that makes a user enrolled was added (an authenticator app confirmed, a passkey registered). Extra
#: arguments: ``device``, ``replaced`` (bool: it replaced the user's authenticator app), ``added`` (bool: the
#: user had another such factor already).
mfa_enrolled = Signal()

#: A session completed the second factor. Extra argument: ``device``.
mfa_verified = Signal()

#: Another wrong code after ``THROTTLE_LOG_THRESHOLD`` in a row. Extra arguments: ``device``,
#: ``failure_count``, ``locked_until``, and ``first`` (True the first time in a run of failures).
mfa_throttled = Signal()

#: A recovery code was spent and its replacement issued. Extra argument: ``remaining`` (unused codes).
recovery_code_used = Signal()

#: A new set of recovery codes replaced every earlier code.
recovery_codes_regenerated = Signal()

#: The user's authenticator and recovery codes were removed by the user. Extra argument: none.
mfa_disabled = Signal()

#: An administrator removed the user's MFA. Extra argument: ``actor`` (the administrator, or ``None``).
#: Also ``company``: the company it was done for (``None`` from a superuser or ``manage.py mfa_reset``).
mfa_reset = Signal()

#: A company's MFA policy changed (sent by the company administration with ``sender`` = ``Company``, not the
#: user model). Arguments: ``company``, ``changes`` (a dict of field name -> ``(old, new)``), ``actor`` (who
#: changed it, or ``None``) and ``request`` (may be ``None``).
policy_changed = Signal()

#: A company's membership changed (sent by the company administration with ``sender`` = ``Company``).
#: Arguments: ``company``, ``membership`` (the :class:`~wagtail_company_mfa.models.CompanyMembership`),
#: ``change`` (``"added"``, ``"removed"`` or ``"role_changed"``; a reactivated member counts as added),
#: ``changes`` (a dict of field name -> ``(old, new)``), ``actor`` and ``request`` (may be ``None``).
membership_changed = Signal()
