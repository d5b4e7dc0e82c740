"""
Whose MFA someone may reset (SEC-40): the one place the rule is written.

Resetting someone's MFA is refused when the target is the actor themself (anyone: use
``manage.py mfa_reset``); for a company administrator, also when the target is a superuser or holds
``manage_all_companies``, is not an active member of a company they administer, or also belongs to a company
they do not administer (the reset would strip the factor another company relies on: cross-tenant), or set
MFA up before joining the administrator's company. Whether the acting *session* is MFA-verified is the view's
check, not a property of the user.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from .. import factors
from ..base.users import display_name
from ..models import Company, CompanyMembership, MFAEnrollment
from .permissions import administered_company_ids, can_manage_all, is_active_user, users_holding_manage_all


def reset_refusal(actor, target, company=None) -> str | None:
    """
    Why ``actor`` may not reset ``target``'s MFA, in words for the actor, or ``None`` if they may (SEC-40).
    With ``company``, the reset is done as an administrator of that company, and ``target`` must be one of
    its active members. The rules are :meth:`ResetChecker.refusal`'s, loaded for this one person.
    """
    return ResetChecker(actor, targets=[target]).refusal(target, company)


def can_reset(actor, target, company=None) -> bool:
    return reset_refusal(actor, target, company) is None


def may_see_person(actor, target) -> bool:
    """
    Whether the administration may show ``actor`` anything about ``target``: yes for those who manage every
    company, and for a company administrator only about the active members of their companies.
    """
    if can_manage_all(actor):
        return True
    administered = administered_company_ids(actor)
    return (
        bool(administered)
        and CompanyMembership.objects.filter(
            user_id=target.pk, company_id__in=administered, is_active=True
        ).exists()
    )


def reset_company_for(actor, target, requested=None):
    """
    The company a reset of ``target`` by ``actor`` is done for, for the audit log and the email: the
    ``requested`` one if given, else the first company of ``target`` that ``actor`` administers (for a
    superuser or ``manage_all_companies`` holder: ``None`` unless requested).
    """
    if requested is not None:
        return requested
    if can_manage_all(actor):
        return None
    return (
        Company.objects.filter(
            pk__in=administered_company_ids(actor),
            memberships__user_id=target.pk,
            memberships__is_active=True,
        )
        .order_by("name")
        .first()
    )


class ResetChecker:
    """
    Who may reset whose MFA (SEC-40): the one place the rule is written. :func:`reset_refusal` uses it for
    one person (the reset page); listings (Wagtail's Users page, a company's members) build one per request
    and ask about many people, in a fixed number of queries however many are asked about.

    What it loads is scoped: with ``targets``, to those people; otherwise to the members of the companies
    the actor administers (those who manage every company need nothing loaded unless a company is given).
    """

    def __init__(self, actor, *, targets=None):
        self.actor = actor
        self.manage_all = can_manage_all(actor)
        self.administered = administered_company_ids(actor) if is_active_user(actor) else frozenset()
        self._target_ids = None if targets is None else [target.pk for target in targets]
        #: user id -> {company id: joined at} of their active memberships.
        self._memberships = None
        self._manage_all_holders = None
        self._first_mfa = None

    def _people(self):
        """The people whose details are loaded, as a subquery of user ids."""
        if self._target_ids is not None:
            return self._target_ids
        return CompanyMembership.objects.filter(company_id__in=self.administered, is_active=True).values(
            "user_id"
        )

    def _companies_of(self, target) -> dict:
        if self._memberships is None:
            self._memberships = {}
            if self._target_ids is not None or self.administered:
                rows = CompanyMembership.objects.filter(user_id__in=self._people(), is_active=True)
                for user_id, company_id, joined_at in rows.values_list("user_id", "company_id", "joined_at"):
                    self._memberships.setdefault(user_id, {})[company_id] = joined_at
        if target.pk not in self._memberships and self._target_ids is None and self.manage_all:
            # Someone outside the actor's own companies, asked about by someone who manages every company.
            self._memberships[target.pk] = dict(
                CompanyMembership.objects.filter(user_id=target.pk, is_active=True).values_list(
                    "company_id", "joined_at"
                )
            )
        return self._memberships.get(target.pk, {})

    def _holds_manage_all(self, target) -> bool:
        if self._manage_all_holders is None:
            self._manage_all_holders = set(
                users_holding_manage_all().filter(pk__in=self._people()).values_list("pk", flat=True)
            )
        return target.pk in self._manage_all_holders

    def _first_had_mfa(self, target):
        """
        When ``target`` first had MFA: the :class:`~wagtail_company_mfa.models.MFAEnrollment` record, kept
        across replaced authenticators; for an authenticator saved without one (inserted in bulk), its own
        date.
        """
        if self._first_mfa is None:
            enrollment = MFAEnrollment.objects.filter(user_id=OuterRef("pk")).values("first_enrolled_at")
            device = factors.enrolled_value(
                "created_at", OuterRef("pk"), order_by="created_at", confirmed=False
            )
            self._first_mfa = dict(
                get_user_model()
                .objects.filter(pk__in=self._people())
                .annotate(first=Coalesce(Subquery(enrollment[:1]), device))
                .filter(first__isnull=False)
                .values_list("pk", "first")
            )
        return self._first_mfa.get(target.pk)

    def refusal(self, target, company=None) -> str | None:
        """Why the actor may not reset ``target``'s MFA (as an administrator of ``company``), or ``None``."""
        actor = self.actor
        if not is_active_user(actor):
            return _("You cannot reset two-factor authentication.")
        if actor.pk == target.pk:
            return _(
                "You cannot reset your own two-factor authentication. Ask another administrator, or use "
                "“manage.py mfa_reset” on the server if you are locked out."
            )
        if company is not None and company.pk not in self._companies_of(target):
            return _("%(person)s is not an active member of %(company)s.") % {
                "person": display_name(target),
                "company": company,
            }
        if actor.is_superuser:
            return None
        if target.is_superuser:
            return _("Only a superuser can reset a superuser's two-factor authentication.")
        if self.manage_all:
            return None
        if self._holds_manage_all(target):
            return _(
                "%(person)s administers every company; only a superuser can reset their two-factor "
                "authentication."
            ) % {"person": display_name(target)}
        if company is not None and company.pk not in self.administered:
            return _("You are not an administrator of %(company)s.") % {"company": company}
        memberships = self._companies_of(target)
        shared = memberships.keys() & self.administered
        if not shared:
            return _("%(person)s is not a member of a company you administer.") % {
                "person": display_name(target)
            }
        if memberships.keys() - self.administered:
            return _(
                "%(person)s also belongs to a company you do not administer, which relies on their "
                "two-factor authentication too. Ask a superuser, or someone who administers all their "
                "companies, to reset it."
            ) % {"person": display_name(target)}
        # Adding someone to your company must not be a way to strip a factor they set up on their own: only
        # MFA first set up while they were a member of your company is yours to reset. "First" survives a
        # replaced authenticator and regenerated recovery codes, so a new phone does not change the answer.
        first_had_mfa = self._first_had_mfa(target)
        joined = min(memberships[company_id] for company_id in shared)
        if first_had_mfa is not None and first_had_mfa < joined:
            return _(
                "%(person)s set up two-factor authentication before joining your company, so only a "
                "superuser (or someone who manages every company) can reset it."
            ) % {"person": display_name(target)}
        return None

    def may_reset(self, target, company=None) -> bool:
        return self.refusal(target, company) is None
