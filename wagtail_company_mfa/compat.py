"""
The one place for differences between the supported Wagtail versions (7.0 LTS, 7.4 LTS, 8.0) and Django
versions (5.2, 6.0, 6.1).

Feature detection where it is cheap and exact, ``WAGTAIL_VERSION`` where the difference is a documented
change of behaviour. Nothing else in the package branches on versions.
"""

from __future__ import annotations

from wagtail import VERSION as WAGTAIL_VERSION
from wagtail.admin.widgets.button import BaseDropdownMenuButton, ListingButton

try:  # Wagtail 8.0+: permission policies live in a registry, looked up by model.
    from wagtail.permissions import register_permission_policy as _register_permission_policy
except ImportError:  # Wagtail 7.x: the viewset hands its ``permission_policy`` to every view.
    _register_permission_policy = None

__all__ = [
    "HAS_PERMISSION_POLICY_REGISTRY",
    "WAGTAIL_VERSION",
    "email_connection",
    "list_more_button",
    "register_permission_policy",
    "use_permission_policy",
    "user_listing_button_class",
]

#: Wagtail 8.0 looks a model's permission policy up in ``wagtail.permissions.policy_registry`` and deprecates
#: setting ``permission_policy`` on a viewset (``RemovedInWagtail90Warning``); 7.x only knows the latter.
HAS_PERMISSION_POLICY_REGISTRY = _register_permission_policy is not None


def register_permission_policy(model, policy) -> None:
    """
    Make ``policy`` the permission policy of ``model`` for every Wagtail view that looks it up (8.0+). Call
    it before the model's viewset is registered (at import time of ``wagtail_hooks.py``). On 7.x this does
    nothing: the viewset carries the policy instead, see :func:`viewset_permission_policy_attrs`.
    """
    if _register_permission_policy is not None:
        _register_permission_policy(model, policy, exact_class=True)


def use_permission_policy(policy):
    """
    Class decorator for a ``ModelViewSet`` subclass: on Wagtail 7.x, where the viewset passes its
    ``permission_policy`` to its views and menu item, make that ``policy``. On 8.0+ it changes nothing (the
    registry does it, and setting the attribute there is deprecated).
    """

    def decorate(viewset_class):
        if not HAS_PERMISSION_POLICY_REGISTRY:
            viewset_class.permission_policy = policy
        return viewset_class

    return decorate


def user_listing_button_class():
    """
    The button class for ``register_user_listing_buttons`` that shows in the row itself (the MFA status
    tag). From Wagtail 7.1 a ``ListingButton`` with ``allow_in_dropdown = False`` is placed next to the
    row's "More" menu. Wagtail 7.0 puts every hook button in that menu but a dropdown button, which it keeps
    in the row: there, the tag is a ``BaseDropdownMenuButton`` that renders its own template (without
    one, it became a menu item linking to "None"). (``UserListingButton`` was removed in 8.0.)
    """
    if getattr(ListingButton, "allow_in_dropdown", None) is False:
        return ListingButton
    return BaseDropdownMenuButton


def list_more_button(label, url, *, icon_name, priority=100):
    """
    An entry for the "More" menu of a row in a generic index view (``IndexView.get_list_more_buttons``):
    a ``MenuItem`` from ``wagtail.admin.ui.menus`` (Wagtail 7.4+), a ``ListingButton`` before that.
    """
    try:
        from wagtail.admin.ui.menus import MenuItem
    except ImportError:  # Wagtail 7.0
        return ListingButton(label, url=url, icon_name=icon_name, priority=priority)
    return MenuItem(label, url, icon_name=icon_name, priority=priority)


def email_connection():
    """
    A connection to the site's default email backend, for sending many messages over one connection.
    Django 6.1 replaces ``get_connection()`` (deprecated) with ``mailers.default``.
    """
    try:
        from django.core.mail import mailers
    except ImportError:  # Django < 6.1
        from django.core.mail import get_connection

        return get_connection(fail_silently=False)
    return mailers.default
