"""
The Wagtail admin's access check on the MFA pages, answered from the gate's own query (docs/performance.md,
"What an unverified session and a sign-in cost").

Every Wagtail admin view, the MFA pages included, asks ``user.has_perms(["wagtailadmin.access_admin"])``,
which Django's ``ModelBackend`` answers with two queries (the user's own permissions, then their groups'),
once per request, and keeps on the user object for the rest of the request. On the MFA pages the gate asks
the database about this user anyway, so its one query also reads those two sets of permissions, and they are
handed to the user object as ``ModelBackend`` itself would have kept them. The check is the same check on the
same tables in the same request: only the round trips go.

Only where that is exactly what ``ModelBackend`` would compute: every configured backend that keeps
permissions this way is Django's own ``ModelBackend`` or ``AllowAllUsersModelBackend`` (a subclass may
read permissions its own way), the user model has Django's ``user_permissions`` and ``groups``, and the user
is active and not a superuser (a superuser's check asks no query).
"""

from __future__ import annotations

import functools
from typing import Any

from django.contrib.auth import get_backends, get_user_model
from django.contrib.auth.backends import AllowAllUsersModelBackend, ModelBackend
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import FieldDoesNotExist
from django.core.signals import setting_changed
from django.db.models import CharField, F, Value
from django.db.models.functions import Concat
from django.dispatch import receiver

#: How a permission row says where the permission comes from (``ModelBackend``'s two caches).
USER, GROUP = "user", "group"


@functools.cache
def _answerable() -> bool:
    backends = [backend for backend in get_backends() if isinstance(backend, ModelBackend)]
    if not backends or any(
        type(backend) not in (ModelBackend, AllowAllUsersModelBackend) for backend in backends
    ):
        return False
    User = get_user_model()
    try:
        User._meta.get_field("user_permissions")
        User._meta.get_field("groups")
    except FieldDoesNotExist:
        return False
    return True


@receiver(setting_changed)
def _forget(setting, **kwargs):
    if setting in ("AUTHENTICATION_BACKENDS", "AUTH_USER_MODEL"):
        _answerable.cache_clear()


def wanted(user) -> bool:
    """Whether the gate's query should read ``user``'s permissions for ``ModelBackend`` (see above)."""
    return (
        getattr(user, "is_active", False)
        and not getattr(user, "is_superuser", True)
        and not hasattr(user, "_perm_cache")
        and _answerable()
    )


def permission_rows(user_id, fields, *, text_at: int, kind_at: int) -> list:
    """
    For a ``UNION`` with another query whose columns have the types ``fields``: the user's own permissions and
    their groups' permissions, one row each, ``"app_label.codename"`` in column ``text_at`` and :data:`USER`
    or :data:`GROUP` in column ``kind_at``, NULL elsewhere: what ``ModelBackend`` reads, in the same order.
    """
    User = get_user_model()
    through_user = User._meta.get_field("user_permissions").related_query_name()
    through_groups = User._meta.get_field("groups").related_query_name()
    sources = {
        USER: Permission.objects.filter(**{through_user: user_id}),
        GROUP: Permission.objects.filter(group__in=Group.objects.filter(**{through_groups: user_id})),
    }
    querysets = []
    for kind, permissions in sources.items():
        columns: dict[str, Any] = {}
        for index, field in enumerate(fields):
            value: Any
            if index == text_at:
                value = Concat(
                    F("content_type__app_label"), Value("."), F("codename"), output_field=CharField()
                )
            else:
                value = Value(kind if index == kind_at else None, output_field=field)
            columns[f"mfa_column_{index}"] = value
        querysets.append(permissions.annotate(**columns).values_list(*columns).order_by())
    return querysets


def keep(user, permissions: dict[str, set[str]]) -> None:
    """Hand ``permissions`` (by :data:`USER` and :data:`GROUP`) to ``user`` as ``ModelBackend`` keeps them."""
    user._user_perm_cache = set(permissions.get(USER, ()))
    user._group_perm_cache = set(permissions.get(GROUP, ()))
    user._perm_cache = {*user._user_perm_cache, *user._group_perm_cache}
