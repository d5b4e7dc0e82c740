"""
Every security event ends the user's trusted browsers (docs/security.md, SEC-38), through receivers, so the
code that makes the change needs to know nothing about trust:

- a device of any factor deleted (a replaced authenticator app, a removed passkey, an administrator's
  reset, MFA turned off): ``post_delete``, in the same transaction as the deletion;
- a new password (however it was set: the account page, a password reset, the Django admin, a command):
  ``post_save`` of the user, in the same transaction; a trust also remembers the password it was made with,
  so one that escaped is refused at use;
- an administrator's reset and MFA turned off: their signals, once committed;
- a company that shortens its period or stops allowing trust: its members' trusted browsers, once the
  policy change is committed (the current policy is also enforced at every use).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.db.models.signals import post_delete, post_save

from .. import factors, signals
from ..models import CompanyMembership, TrustedBrowser
from . import flows, tokens


def revoke_on_device_deleted(sender, instance, **kwargs):
    user_id = getattr(instance, "user_id", None)
    if user_id is not None:
        flows.revoke_all(user_id, flows.REVOKED_FACTOR)


def revoke_on_password_change(sender, instance, created=False, update_fields=None, **kwargs):
    if created or (update_fields is not None and "password" not in update_fields):
        return
    # One statement: the trusts made with another password (or none) go.
    stale = TrustedBrowser.objects.filter(user_id=instance.pk).exclude(
        password_marker=tokens.password_marker(instance)
    )
    deleted, _per_model = stale.delete()
    if deleted:
        flows.audit_revoked(instance, flows.REVOKED_PASSWORD, count=deleted)


def revoke_on_reset(sender, user, actor=None, request=None, **kwargs):
    flows.revoke_all(user, flows.REVOKED_RESET, actor=actor)


def revoke_on_disabled(sender, user, request=None, **kwargs):
    flows.revoke_all(user, flows.REVOKED_DISABLED, request=request)


def revoke_on_replaced(sender, user, replaced=False, request=None, **kwargs):
    if replaced:
        flows.revoke_all(user, flows.REVOKED_FACTOR, request=request)


def is_stricter(old, new) -> bool:
    """Whether a company's trust period went from ``old`` to a stricter ``new`` (0: at every sign-in)."""
    old, new = int(old or 0), int(new or 0)
    return old > 0 and (new == 0 or new < old)


def revoke_on_stricter_policy(sender, company, changes, actor=None, request=None, **kwargs):
    old, new = changes.get("trust_browser_for", (0, 0))
    if not is_stricter(old, new):
        return
    members = CompanyMembership.objects.filter(company=company, is_active=True).values("user_id")
    # Superusers answer to every company (docs/policy.md): their trust follows the strictest of all.
    affected = (
        TrustedBrowser.objects.filter(Q(user_id__in=members) | Q(user__is_superuser=True))
        .values_list("user_id", flat=True)
        .distinct()
    )
    for user in get_user_model()._default_manager.filter(pk__in=list(affected)):
        flows.revoke_all(user, flows.REVOKED_POLICY, actor=actor, company_id=company.pk)


def connect():
    for factor in factors.all_factors():
        for model in factor.models():
            post_delete.connect(
                revoke_on_device_deleted,
                sender=model,
                dispatch_uid=f"wagtail_company_mfa.trust_device_deleted_{model._meta.label_lower}",
            )
    post_save.connect(
        revoke_on_password_change,
        sender=settings.AUTH_USER_MODEL,
        dispatch_uid="wagtail_company_mfa.trust_password_changed",
    )
    signals.mfa_reset.connect(revoke_on_reset, dispatch_uid="wagtail_company_mfa.trust_reset")
    signals.mfa_disabled.connect(revoke_on_disabled, dispatch_uid="wagtail_company_mfa.trust_disabled")
    signals.mfa_enrolled.connect(revoke_on_replaced, dispatch_uid="wagtail_company_mfa.trust_replaced")
    signals.policy_changed.connect(
        revoke_on_stricter_policy, dispatch_uid="wagtail_company_mfa.trust_policy_stricter"
    )
