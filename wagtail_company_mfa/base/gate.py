"""
The gate's decision, as small functions the middleware calls (``middleware.py``): what a session still owes
before it may go on, and where a password sign-in goes next (SEC-28, SEC-29). Whether a request's view is
behind the gate and whether a response asks a visitor to sign in are in ``base/routes.py`` (importable from
here too). Nothing here touches the response; the middleware does.

A verified session passes on ``request.user.is_verified()``; only an authenticated, unverified session costs
queries (whether the user is enrolled, and what their companies require), so a policy change applies on the
next request (SEC-37).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from django.contrib.auth import SESSION_KEY
from django.urls import Resolver404, get_resolver, get_script_prefix, get_urlconf, reverse
from django.urls import resolve as resolve_path
from django.utils.translation import gettext_lazy
from django_otp import DEVICE_ID_SESSION_KEY

from .. import factors
from ..access_codes import setup_again
from ..companies.policy import Requirement, standing_for, standing_with_permissions
from ..recovery_codes import unsaved
from . import admin_access, methods, pending
from .pending import PENDING_URL_NAMES
from .routes import (  # noqa: F401 (the gate's names, importable from here)
    ALLOWED_URL_NAMES,
    FILE_VIEWS,
    LOGIN_URL_NAMES,
    WAGTAIL_ADMIN_URLCONF,
    GateConfig,
    _match_is_gated,
    admin_views,
    asks_to_sign_in,
    gate_config,
    is_gated,
    is_json,
    is_login_match,
    is_login_url,
    wants_json,
)

logger = logging.getLogger(__name__)

VERIFY = "verify"
ENROLL = "enroll"
SAVE_CODES = "save_codes"
ADD_METHOD = "add_method"
SETUP_AGAIN = "setup_again"
EXPIRED = "expired"

#: Where each pending action is done.
MFA_PAGES = {
    VERIFY: "wagtail_company_mfa:verify",
    ENROLL: "wagtail_company_mfa:required",
    SAVE_CODES: "wagtail_company_mfa:save_codes",
    ADD_METHOD: "wagtail_company_mfa:required",
    SETUP_AGAIN: "wagtail_company_mfa:setup_again",
}
MESSAGES = {
    VERIFY: gettext_lazy("Enter the code from your authenticator app to continue."),
    ENROLL: gettext_lazy("Set up two-factor authentication to continue."),
    SAVE_CODES: gettext_lazy("Confirm that you have saved your recovery code to continue."),
    ADD_METHOD: gettext_lazy("Add a passkey or security key to continue: your company requires one."),
    SETUP_AGAIN: gettext_lazy("Set up two-factor authentication again to continue."),
    EXPIRED: gettext_lazy("Your sign-in has expired. Please sign in again."),
}


#: Where :func:`standing` keeps its answer on the request: ``(user pk, Standing)``.
STANDING_ATTRIBUTE = "_wagtail_company_mfa_standing"


@dataclass(frozen=True)
class Standing:
    """What the policy requires of a user and which factors they have, as asked once for a request."""

    requirement: Requirement
    #: The keys of the factors the user has (``factors.factors_of``).
    factors: frozenset[str]

    @property
    def is_enrolled(self) -> bool:
        return factors.enrolls(self.factors)


def standing(request, user) -> Standing:
    """
    The requirement and the factors of ``user``, in one query, asked once per request: the gate asks it for
    a session that has not passed the second factor, and the MFA pages, the dashboard panel and the sign-in
    reminder of the same request reuse the answer instead of asking again. Never kept beyond the request, so
    a policy change, a reset or a new device counts on the next request, on every app server (SEC-36,
    SEC-37).
    """
    known = getattr(request, STANDING_ATTRIBUTE, None)
    if known is not None and known[0] == user.pk:
        return known[1]
    match = getattr(request, "resolver_match", None)
    if match is not None and match.view_name in PENDING_URL_NAMES and admin_access.wanted(user):
        # An MFA page: Wagtail's admin access check is about to read the user's permissions; the same query
        # reads them for it (base/admin_access.py).
        requirement, keys, permissions = standing_with_permissions(user)
        if permissions is not None:
            admin_access.keep(user, permissions)
    else:
        requirement, keys = standing_for(user)
    answer = Standing(requirement=requirement, factors=keys)
    setattr(request, STANDING_ATTRIBUTE, (user.pk, answer))
    return answer


def forget_standing(request) -> None:
    """Drop the request's :func:`standing`, after this request changed the user's factors."""
    if hasattr(request, STANDING_ATTRIBUTE):
        delattr(request, STANDING_ATTRIBUTE)


def page_for(request, action: str) -> str:
    """
    The URL name of the MFA page for ``action``: for the second factor, the verify page of the factor the
    user would use first (the factor registry's order), from the answer this request already has.
    """
    if action == VERIFY:
        known = getattr(request, STANDING_ATTRIBUTE, None)
        if known is not None:
            return factors.verify_url_name(known[1].factors)
    return MFA_PAGES[action]


def pending_action(request, user) -> str | None:
    """What this session must do before it may go on, or ``None`` if nothing."""
    if user.is_verified():
        # Freshly issued recovery codes must be saved before anything else; then a factor the user's
        # companies accept must be added, if the one used does not count for them (noted at verification).
        if unsaved.has_unsaved_codes(request.session):
            return SAVE_CODES
        if setup_again.due(request.session):
            return SETUP_AGAIN
        return ADD_METHOD if methods.due(request.session) is not None else None
    known = standing(request, user)
    # SEC-26: a user with an authenticator is always asked for it, whatever the policy says.
    if known.is_enrolled:
        action = VERIFY
    elif setup_again.due(request.session):
        # Signed in with an access code: a new factor before anything else (docs/admin-guide.md).
        action = SETUP_AGAIN
    elif known.requirement.is_required:
        action = ENROLL
    else:
        return None
    if pending.pending_has_expired(request.session):
        return EXPIRED
    return action


def second_step_after_sign_in(request, response) -> str | None:
    """
    Where a password sign-in that just succeeded should send the browser instead of its target: the MFA
    page the gate would answer that target with anyway (with the target as ``next``), one redirect and one
    gated request sooner; or ``None`` to leave the response alone. Only for a Wagtail admin page behind the
    gate, and only with the answer the sign-in already asked for this user (the sign-in reminder): no query
    of its own. The session is checked again on the MFA page itself, as on every request (SEC-28, SEC-37).
    """
    match = request.resolver_match
    if request.method != "POST" or match is None or not is_login_match(match):
        return None
    location = response.get("Location") if response.status_code in (302, 303) else None
    session = getattr(request, "session", None)
    if not location or session is None or DEVICE_ID_SESSION_KEY in session:
        return None
    known = getattr(request, STANDING_ATTRIBUTE, None)
    user_id = session.get(SESSION_KEY)
    if known is None or user_id is None or str(known[0]) != str(user_id):
        return None
    if known[1].is_enrolled:
        action = VERIFY
    elif known[1].requirement.is_required:
        action = ENROLL
    else:
        return None
    parts = urlsplit(location)
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return None  # the target is not a path of this site: let the gate decide there
    prefix = get_script_prefix()
    path = "/" + parts.path[len(prefix) :] if parts.path.startswith(prefix) else parts.path
    urlconf = getattr(request, "urlconf", None) or get_urlconf()
    try:
        target = resolve_path(path, urlconf)
    except Resolver404:
        return None
    # Only a Wagtail admin page: it always asks an anonymous visitor to sign in, so the gate would answer it
    # with the MFA page. A public page stays what it is for such a session (served as to anyone).
    if target.url_name is None or target.func not in admin_views(get_resolver(urlconf)):
        return None
    if not _match_is_gated(target, urlconf):
        return None
    page = factors.verify_url_name(known[1].factors) if action == VERIFY else MFA_PAGES[action]
    return f"{reverse(page)}?{urlencode({'next': location})}"
