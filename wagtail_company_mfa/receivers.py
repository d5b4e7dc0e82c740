"""Signal receivers, connected in ``AppConfig.ready()``."""

from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from . import factors, signals
from .account import dashboard
from .base import pending, reauth, registry
from .base.users import display_name
from .companies import counts as report_counts
from .companies.permissions import forget_cached_membership
from .models import CompanyMembership
from .notices import delivery, emails, planning
from .trusted import receivers as trusted_receivers

# The ``user_logged_in`` / ``user_logged_out`` receivers use the signal's ``user`` argument, never
# ``request.user``: ``login()`` sets ``request.user`` only if the request already has one, and Django's test
# client (``Client.login()``, ``force_login()``) logs in with a bare ``HttpRequest`` that has none. Other
# callers may send no request, or one without a session.


def remember_password_step(sender, request, user, **kwargs):
    """
    Record when the password was entered: it starts the short-lived pending state (SEC-29) and the
    re-authentication window (SEC-25).
    """
    if request is not None and hasattr(request, "session"):
        reauth.mark_password(request.session)
        pending.mark_pending_start(request.session)
        if request.session.session_key is None:
            request.session.save()
        registry.track(request.session.session_key, user)


def forget_session(sender, request, user, **kwargs):
    if request is not None and hasattr(request, "session"):
        registry.forget(request.session.session_key)


# Out-of-band notifications (SEC-27). Each is an ordinary receiver: a site can disconnect it and send its own.


def email_enrolled(sender, user, replaced=False, device=None, added=False, **kwargs):
    # ``added``: another factor for someone who had one already (a second passkey, say).
    factor = factors.factor_of(device)
    emails.send(
        user,
        "enrolled",
        {"replaced": replaced, "added": added, "factor": factor.key if factor is not None else ""},
    )


def email_recovery_code_used(sender, user, **kwargs):
    emails.send(user, "recovery_code_used")


def email_throttled(sender, user, failure_count, first=False, **kwargs):
    if first:  # once per run of wrong codes, not for every further failure
        emails.send(user, "throttled", {"failure_count": failure_count})


# Security tab changes, policy notices and the upcoming-deadline reminder.


def email_disabled(sender, user, **kwargs):
    emails.send(user, "disabled")


def email_recovery_codes_regenerated(sender, user, **kwargs):
    emails.send(user, "recovery_codes_regenerated")


def announce_policy_change(sender, company, changes, actor=None, request=None, **kwargs):
    """Email the company's members when it turns Require MFA on with a date, or moves the date."""
    if planning.policy_change_needs_notice(company, changes):
        company_id = company.pk
        # robust: a failure here is logged; the policy change it reports is already committed.
        transaction.on_commit(lambda: delivery.announce_policy(company_id), robust=True)


def announce_policy_to_new_member(sender, company, membership, change, changes, **kwargs):
    """
    Email someone who joins (or rejoins) a company whose policy is set, also after its enforcement date:
    they were not a member when the others were told. Only their notice is queued (once per member and date).
    """
    joined = change == "added" or changes.get("is_active") == (False, True)
    if joined and membership.is_active and company.policy_is_set:
        company_id, membership_id = company.pk, membership.pk
        transaction.on_commit(lambda: delivery.announce_policy_to(company_id, membership_id), robust=True)


def email_requirement_lifted(sender, company, changes, actor=None, request=None, **kwargs):
    """
    Tell the company's other administrators when Require MFA is switched off (SEC-39): lowering a company's
    protection should never go unnoticed, whoever did it.
    """
    old, new = changes.get("require_mfa", (None, None))
    if not (old and not new):
        return
    admins = CompanyMembership.objects.filter(
        company=company, role=CompanyMembership.Role.ADMIN, is_active=True, user__is_active=True
    ).select_related("user")
    if actor is not None:
        admins = admins.exclude(user_id=actor.pk)
    context = {"company_name": company.name, "actor": actor}

    def send():
        for membership in admins:
            emails.send(membership.user, "requirement_lifted", context)

    transaction.on_commit(send, robust=True)


def remind_upcoming_at_login(sender, request, user, **kwargs):
    """Once per session, at sign-in: a warning message if the user has a deadline ahead and no MFA yet."""
    # A message needs MessageMiddleware's storage on the request; a bare request (the test client's) has none.
    if request is not None and hasattr(request, "session") and hasattr(request, "_messages"):
        dashboard.remind_once_per_session(request, user)


# Company administration.


def email_reset(sender, user, actor=None, company=None, **kwargs):
    """Tell a person at once that an administrator reset their MFA (SEC-27)."""
    emails.send(
        user,
        "reset",
        {"actor_name": display_name(actor) if actor is not None else "", "company": company},
    )


def connect():
    user_logged_in.connect(remember_password_step, dispatch_uid="wagtail_company_mfa.remember_password_step")
    user_logged_out.connect(forget_session, dispatch_uid="wagtail_company_mfa.forget_session")
    signals.mfa_enrolled.connect(email_enrolled, dispatch_uid="wagtail_company_mfa.email_enrolled")
    signals.recovery_code_used.connect(
        email_recovery_code_used, dispatch_uid="wagtail_company_mfa.email_recovery"
    )
    signals.mfa_throttled.connect(email_throttled, dispatch_uid="wagtail_company_mfa.email_throttled")
    signals.mfa_disabled.connect(email_disabled, dispatch_uid="wagtail_company_mfa.email_disabled")
    signals.recovery_codes_regenerated.connect(
        email_recovery_codes_regenerated, dispatch_uid="wagtail_company_mfa.email_recovery_codes_regenerated"
    )
    signals.policy_changed.connect(announce_policy_change, dispatch_uid="wagtail_company_mfa.announce_policy")
    signals.membership_changed.connect(
        announce_policy_to_new_member, dispatch_uid="wagtail_company_mfa.announce_policy_to_new_member"
    )
    signals.policy_changed.connect(
        email_requirement_lifted, dispatch_uid="wagtail_company_mfa.email_requirement_lifted"
    )
    user_logged_in.connect(remind_upcoming_at_login, dispatch_uid="wagtail_company_mfa.remind_upcoming")
    signals.mfa_reset.connect(email_reset, dispatch_uid="wagtail_company_mfa.email_reset")
    _connect_company_administration()
    report_counts.connect()
    trusted_receivers.connect()


def _connect_company_administration():
    # The Companies menu caches "is this person a company administrator?" (permissions.shows_companies_menu).
    for signal, name in ((post_save, "saved"), (post_delete, "deleted")):
        signal.connect(
            forget_cached_membership,
            sender=CompanyMembership,
            dispatch_uid=f"wagtail_company_mfa.membership_{name}",
        )
