"""
Who may manage which company (SEC-39, SEC-41); whose MFA they may reset is
:mod:`wagtail_company_mfa.companies.reset_rule`'s one rule (SEC-40).

The rules, enforced by every view of the company administration (hiding a button is never the check):

- **Superusers** and holders of the ``wagtail_company_mfa.manage_all_companies`` permission (given to a group
  in Settings → Groups) manage every company: create, edit, delete, members, reports, resets.
- A **company administrator** (an active membership with the *administrator* role) edits the MFA policy
  (switch, date, time zone, grace days) and the members of their own companies, sees their reports and
  resets their members. They cannot create, rename or delete companies, nor change their own membership.
- **Everyone else** sees no Companies menu and gets 403 or 404 from every URL of it.

:data:`company_permission_policy` expresses the same rules as a Wagtail permission policy, so Wagtail's
generic views, menu and URL finder follow them.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.shortcuts import get_object_or_404
from django.utils.translation import pgettext_lazy
from wagtail.permission_policies.base import BasePermissionPolicy

from ..models import Company, CompanyMembership

#: The permission that makes a user an administrator of every company (``app_label.codename``).
MANAGE_ALL_COMPANIES = "wagtail_company_mfa.manage_all_companies"
MANAGE_ALL_CODENAME = "manage_all_companies"

#: Actions a company administrator has on their own companies, in permission-policy terms.
COMPANY_ADMIN_ACTIONS = frozenset({"change", "view"})

_ADMIN_OF_ATTR = "_wagtail_company_mfa_admin_of"
_MENU_CACHE_KEY = "wagtail_company_mfa:administers:{pk}"
#: How long the "is this user a company administrator?" answer for the menu may be reused (seconds).
MENU_CACHE_TIMEOUT = 300


def is_active_user(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def can_manage_all(user) -> bool:
    """Superusers and holders of ``manage_all_companies``: every company, every action."""
    return is_active_user(user) and (user.is_superuser or user.has_perm(MANAGE_ALL_COMPANIES))


def administered_company_ids(user) -> frozenset[int]:
    """
    The ids of the companies ``user`` administers through an active *administrator* membership. One query,
    remembered on the user object for the rest of the request.
    """
    if not is_active_user(user):
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
    if not is_active_user(user):
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


def managed_company_or_404(user, pk, *, prepare=None):
    """
    The company with primary key ``pk`` for a view about it: 403 for someone who manages no company at all,
    404 for a company that exists but is not theirs (no hint that it exists). ``prepare`` takes the queryset
    and returns it with what the view reads with the company, in the same query.
    """
    if not manages_any_company(user):
        raise PermissionDenied
    companies = companies_managed_by(user)
    return get_object_or_404(prepare(companies) if prepare else companies, pk=pk)


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


def users_holding_manage_all():
    """Active users given ``manage_all_companies`` directly or through a group (superusers not included)."""
    permission = Permission.objects.filter(
        content_type__app_label="wagtail_company_mfa", codename=MANAGE_ALL_CODENAME
    )
    holders = Q(user_permissions__in=permission) | Q(groups__permissions__in=permission)
    return get_user_model().objects.filter(holders, is_active=True).distinct()


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
