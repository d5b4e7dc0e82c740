"""
Who may manage which company, and whose MFA they may reset (SPEC §3.7, SEC-39, SEC-40, SEC-41).

The rules, enforced by every view of the company administration (hiding a button is never the check):

- **Superusers** and holders of the ``wagtail_company_mfa.manage_all_companies`` permission (given to a group
  in Settings → Groups) manage every company: create, edit, delete, members, reports, resets.
- A **company administrator** (an active membership with the *administrator* role) edits the MFA policy
  (switch, date, time zone, grace days) and the members of their own companies, sees their reports and
  resets their members. They cannot create, rename or delete companies, nor change their own membership.
- **Everyone else** sees no Companies menu and gets 403 or 404 from every URL of it.

Resetting someone's MFA is refused when the target is the actor themself (anyone: use
``manage.py mfa_reset``); for a company administrator, also when the target is a superuser or holds
``manage_all_companies``, is not an active member of a company they administer, or also belongs to a company
they do not administer (the reset would strip the factor another company relies on: cross-tenant,
SEC-40). Whether the acting *session* is MFA-verified is the view's check, not a property of the user.

:data:`company_permission_policy` expresses the same rules as a Wagtail permission policy, so Wagtail's
generic views, menu and URL finder follow them.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy
from wagtail.permission_policies.base import BasePermissionPolicy

from .models import AuthenticatorDevice, Company, CompanyMembership, MFAEnrollment

#: The permission that makes a user an administrator of every company (``app_label.codename``).
MANAGE_ALL_COMPANIES = "wagtail_company_mfa.manage_all_companies"
MANAGE_ALL_CODENAME = "manage_all_companies"

#: Actions a company administrator has on their own companies, in permission-policy terms.
COMPANY_ADMIN_ACTIONS = frozenset({"change", "view"})

_ADMIN_OF_ATTR = "_wagtail_company_mfa_admin_of"
_MENU_CACHE_KEY = "wagtail_company_mfa:administers:{pk}"
#: How long the "is this user a company administrator?" answer for the menu may be reused (seconds).
MENU_CACHE_TIMEOUT = 300


def _is_active_user(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def can_manage_all(user) -> bool:
    """Superusers and holders of ``manage_all_companies``: every company, every action."""
    return _is_active_user(user) and (user.is_superuser or user.has_perm(MANAGE_ALL_COMPANIES))


def administered_company_ids(user) -> frozenset[int]:
    """
    The ids of the companies ``user`` administers through an active *administrator* membership. One query,
    remembered on the user object for the rest of the request.
    """
    if not _is_active_user(user):
        return frozenset()
    cached = getattr(user, _ADMIN_OF_ATTR, None)
    if cached is None:
        cached = frozenset(
            CompanyMembership.objects.filter(
                user_id=user.pk, is_active=True, role=CompanyMembership.Role.ADMIN
            ).values_list("company_id", flat=True)
        )
        setattr(user, _ADMIN_OF_ATTR, cached)
    return cached


def forget_cached(user) -> None:
    """Drop what this module remembered about ``user`` (after their memberships changed)."""
    if user is not None:
        user.__dict__.pop(_ADMIN_OF_ATTR, None)
        cache.delete(_MENU_CACHE_KEY.format(pk=user.pk))


def forget_cached_membership(sender, instance, **kwargs) -> None:
    """Receiver for ``post_save``/``post_delete`` of a membership: the menu answer may have changed."""
    cache.delete(_MENU_CACHE_KEY.format(pk=instance.user_id))


def manages_any_company(user) -> bool:
    return can_manage_all(user) or bool(administered_company_ids(user))


def shows_companies_menu(user) -> bool:
    """
    Whether the Companies item appears in the Settings menu. The menu is drawn on every admin page, so for a
    user who is neither superuser nor ``manage_all_companies`` holder the answer comes from Django's cache
    (cleared when a membership of theirs is saved or deleted) instead of a query per page. Showing the menu
    grants nothing: every view checks again against the database.
    """
    if not _is_active_user(user):
        return False
    if can_manage_all(user):
        return True
    key = _MENU_CACHE_KEY.format(pk=user.pk)
    answer = cache.get(key)
    if answer is None:
        answer = bool(administered_company_ids(user))
        cache.set(key, answer, MENU_CACHE_TIMEOUT)
    return answer


def companies_managed_by(user):
    """The companies ``user`` may see and edit (a queryset)."""
    if can_manage_all(user):
        return Company.objects.all()
    return Company.objects.filter(pk__in=administered_company_ids(user))


def can_manage_company(user, company) -> bool:
    """Edit ``company``'s policy, manage its members, see its report and history."""
    if company is None or company.pk is None:
        return False
    return can_manage_all(user) or company.pk in administered_company_ids(user)


def managed_company_or_404(user, pk):
    """
    The company with primary key ``pk`` for a view about it: 403 for someone who manages no company at all,
    404 for a company that exists but is not theirs (no hint that it exists).
    """
    if not manages_any_company(user):
        raise PermissionDenied
    return get_object_or_404(companies_managed_by(user), pk=pk)


def can_add_company(user) -> bool:
    return can_manage_all(user)


def can_delete_company(user) -> bool:
    return can_manage_all(user)


def can_edit_company_details(user) -> bool:
    """Rename a company or change its slug: a company administrator edits only the policy."""
    return can_manage_all(user)


def can_change_membership(user, membership) -> bool:
    """
    Change the role of ``membership`` or (de)activate it. A company administrator may not change their own
    membership: they could lock their company out of administration by mistake.
    """
    if not can_manage_company(user, membership.company):
        return False
    return can_manage_all(user) or membership.user_id != user.pk


def holds_manage_all(user) -> bool:
    return bool(user.is_superuser or user.has_perm(MANAGE_ALL_COMPANIES))


# Resetting someone's MFA ------------------------------------------------------------------------------------


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
        self.administered = administered_company_ids(actor) if _is_active_user(actor) else frozenset()
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
            device = AuthenticatorDevice.objects.filter(user_id=OuterRef("pk")).values("created_at")
            self._first_mfa = dict(
                get_user_model()
                .objects.filter(pk__in=self._people())
                .annotate(
                    first=Coalesce(Subquery(enrollment[:1]), Subquery(device.order_by("created_at")[:1]))
                )
                .filter(first__isnull=False)
                .values_list("pk", "first")
            )
        return self._first_mfa.get(target.pk)

    def refusal(self, target, company=None) -> str | None:
        """Why the actor may not reset ``target``'s MFA (as an administrator of ``company``), or ``None``."""
        actor = self.actor
        if not _is_active_user(actor):
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


def users_holding_manage_all():
    """Active users given ``manage_all_companies`` directly or through a group (superusers not included)."""
    permission = Permission.objects.filter(
        content_type__app_label="wagtail_company_mfa", codename=MANAGE_ALL_CODENAME
    )
    holders = Q(user_permissions__in=permission) | Q(groups__permissions__in=permission)
    return get_user_model().objects.filter(holders, is_active=True).distinct()


#: A role as it reads inside a sentence ("added to Acme as a member"): its own message, so that languages
#: that capitalise nouns, or inflect them, translate it as a word in a sentence rather than as a label.
ROLES_IN_SENTENCES = {
    CompanyMembership.Role.MEMBER: pgettext_lazy("role, inside a sentence", "member"),
    CompanyMembership.Role.ADMIN: pgettext_lazy("role, inside a sentence", "administrator"),
}


def role_in_sentence(role) -> str:
    """``role`` (a ``CompanyMembership.Role`` value) for use inside a sentence."""
    try:
        return str(ROLES_IN_SENTENCES[CompanyMembership.Role(role)])
    except ValueError:
        return str(role)


def display_name(user) -> str:
    """How a person is named in the administration and the audit log: full name, else username/email."""
    full_name = user.get_full_name().strip() if hasattr(user, "get_full_name") else ""
    return full_name or user.get_username()


# As a Wagtail permission policy -----------------------------------------------------------------------------


class CompanyPermissionPolicy(BasePermissionPolicy):
    """
    The rules above in Wagtail's terms, for :class:`~wagtail_company_mfa.models.Company`: every action for
    superusers and ``manage_all_companies`` holders; ``change`` and ``view`` of their own companies for
    company administrators; nothing for anyone else. Django's ``add/change/delete_company`` permissions play
    no part (the Groups screen offers only ``manage_all_companies``).
    """

    def __init__(self):
        super().__init__(Company)

    def user_has_permission(self, user, action):
        if can_manage_all(user):
            return True
        return action in COMPANY_ADMIN_ACTIONS and bool(administered_company_ids(user))

    def user_has_any_permission(self, user, actions):
        return any(self.user_has_permission(user, action) for action in actions)

    def user_has_permission_for_instance(self, user, action, instance):
        if can_manage_all(user):
            return True
        return action in COMPANY_ADMIN_ACTIONS and instance.pk in administered_company_ids(user)

    def instances_user_has_any_permission_for(self, user, actions):
        if can_manage_all(user):
            return Company.objects.all()
        if COMPANY_ADMIN_ACTIONS & set(actions):
            return Company.objects.filter(pk__in=administered_company_ids(user))
        return Company.objects.none()

    def users_with_any_permission(self, actions):
        condition = Q(is_superuser=True) | Q(pk__in=users_holding_manage_all().values("pk"))
        if COMPANY_ADMIN_ACTIONS & set(actions):
            condition |= Q(
                company_memberships__is_active=True, company_memberships__role=CompanyMembership.Role.ADMIN
            )
        return get_user_model().objects.filter(condition, is_active=True).distinct()

    def users_with_any_permission_for_instance(self, actions, instance):
        condition = Q(is_superuser=True) | Q(pk__in=users_holding_manage_all().values("pk"))
        if COMPANY_ADMIN_ACTIONS & set(actions):
            condition |= Q(
                company_memberships__company_id=instance.pk,
                company_memberships__is_active=True,
                company_memberships__role=CompanyMembership.Role.ADMIN,
            )
        return get_user_model().objects.filter(condition, is_active=True).distinct()


#: The policy registered for :class:`~wagtail_company_mfa.models.Company` (see ``compat.py``).
company_permission_policy = CompanyPermissionPolicy()
