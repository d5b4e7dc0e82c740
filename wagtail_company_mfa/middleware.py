"""
The gate: a password-only session of a user who must use MFA reaches nothing but the allow-list (SEC-28).

Place it right after ``django_otp.middleware.OTPMiddleware``. It wraps ``request.user`` lazily as the request
comes in, so everything that reads the user later (the view, decorators, templates, the 404 page and any
middleware placed after this one) gets the gate's answer. The allow-list is by resolved view (URL name, or
Django's static-file views), never by path prefix; the URL is normally resolved already when the user is
first read, so this costs no extra ``resolve()``. A verified session passes on
``request.user.is_verified()``, which OTPMiddleware works out (its device lookup is also what makes a reset or
a removed device count on the very next request, on every app server: SEC-36); this middleware adds no query
to it. Only an authenticated, unverified session costs queries (whether the user has an authenticator, and
what their companies require), so a policy change applies on the next request (SEC-37).
"""

from __future__ import annotations

import functools
import logging
from urllib.parse import urlencode

from asgiref.sync import sync_to_async
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages.storage.base import BaseStorage
from django.db import DatabaseError
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.functional import SimpleLazyObject

from .base import gate, registry
from .base.gate import EXPIRED, MESSAGES, is_json, wants_json
from .base.pending import PENDING_URL_NAMES
from .trusted import gate as trusted_gate

logger = logging.getLogger(__name__)


class CompanyMFAMiddleware:
    """
    Deny by default until the second factor is done, for every user who must use one.

    The gate is lazy: it only wraps ``request.user``. The first time anything reads it (the view, a
    decorator, a template, a later middleware), the session is checked; if it still owes a second factor,
    the reader gets an ``AnonymousUser`` (SEC-28: "behaves as for an anonymous user"). The page is then
    whatever an anonymous visitor gets: a public page is served as to anyone, and where the site would ask
    an anonymous visitor to sign in (a redirect to a login page, a 401 or a 403), the middleware answers
    instead with a redirect to the MFA page (or a 403 JSON body), since this visitor has signed in already
    and has the second step left to do.
    """

    #: Where the gate notes that this request was refused, so the response can be replaced.
    PENDING_ATTRIBUTE = "_wagtail_company_mfa_pending"
    #: Where the gate keeps its answer, so ``request.user`` and ``request.auser()`` decide only once.
    USER_ATTRIBUTE = "_wagtail_company_mfa_user"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # A trusted browser (trusted/gate.py): a pending session with the cookie may be let through first.
        trust = trusted_gate.before_view(request)
        key_before = self._session_key(request)
        # Wrapped here rather than in process_view, so that no reader gets past the gate: a middleware placed
        # after this one reads the user before any view is resolved, and the 404 page of a path no URL
        # pattern matches renders without process_view ever running.
        self.wrap_user(request)
        response = self.get_response(request)
        self._follow_session_key(request, key_before)
        response = trusted_gate.after_view(request, response, trust)
        if request.method == "POST":  # only a password sign-in can be shortened
            response = self._straight_to_second_step(request, response)
        action = getattr(request, self.PENDING_ATTRIBUTE, None)
        if action is None:
            return response
        # This response was made for an anonymous user on a signed-in session: caches must key it on the
        # session cookie (which changes when the second factor is done), never serve it as anyone else's.
        patch_vary_headers(response, ("Cookie",))
        if action == EXPIRED:
            return self.expire(request, response)
        if self.asks_to_sign_in(request, response):
            return self.deny(request, action, response)
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        if match is not None and match.view_name in PENDING_URL_NAMES and self._pending_has_expired(request):
            # SEC-29: the timeout holds on the MFA pages too, so a code posted too late is not even checked,
            # and the session ends.
            return self.deny(request, EXPIRED)
        return None

    def wrap_user(self, request) -> None:
        user = getattr(request, "user", None)
        if user is None:
            return
        request.user = SimpleLazyObject(functools.partial(self._gate, request, user))
        auser = getattr(request, "auser", None)
        if auser is not None:
            request.auser = functools.partial(self._agate, request, auser)

    # The decision itself lives in base/gate.py; these keep the middleware's own names for it.

    def is_gated(self, request) -> bool:
        return gate.is_gated(request)

    def asks_to_sign_in(self, request, response) -> bool:
        return gate.asks_to_sign_in(request, response)

    def pending_action(self, request, user) -> str | None:
        return gate.pending_action(request, user)

    def _pending_has_expired(self, request) -> bool:
        """Whether this session owes a second factor and has waited for it longer than ``PENDING_TIMEOUT``."""
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return False
        try:
            return self.pending_action(request, user) == EXPIRED
        except Exception:
            # SEC-46: an error while deciding never lets the request through.
            logger.exception("wagtail-company-mfa could not decide on a request; treating it as expired.")
            return True

    @staticmethod
    def _session_key(request) -> str | None:
        store = getattr(request, "session", None)
        return getattr(store, "session_key", None)

    def _follow_session_key(self, request, key_before: str | None) -> None:
        """
        Keep the session registry true when this request changed the session key (SEC-36).

        Django's ``update_session_auth_hash`` (Wagtail's account and password forms), ``login()`` and
        anything else may call ``cycle_key()``; whatever did it, the registry row moves with the session, so
        "end my other sessions" still finds it. ``cycle_key()`` stores the new key at once in every
        server-side session engine, so it is known here, before SessionMiddleware saves the session. A
        request that leaves the key alone costs nothing: the key is compared without loading the session.
        """
        key_after = self._session_key(request)
        if (
            not key_before
            or key_after == key_before
            or registry.already_followed(request, key_before, key_after)
        ):
            return
        try:
            registry.follow_key(key_before, key_after, registry.session_user_id(request.session))
        except DatabaseError:
            # The response is already made; a registry that could not be updated must not turn it into a
            # 500. The reset and device checks on every request (SEC-36) do not depend on the registry.
            logger.exception("wagtail-company-mfa could not follow a session to its new key.")

    def _straight_to_second_step(self, request, response):
        """
        After a password sign-in, go straight to the MFA page the target would redirect to anyway: one
        request fewer (the gated one) on every sign-in that needs a second factor.
        """
        try:
            url = gate.second_step_after_sign_in(request, response)
        except Exception:
            # Only a shortcut: without it the target's own request is gated as usual (SEC-46).
            logger.exception("wagtail-company-mfa could not shorten a sign-in redirect.")
            return response
        if url is not None:
            response["Location"] = url
        return response

    def _gate(self, request, user):
        """``user`` if the session may act as them, else an anonymous user (and a note for the response)."""
        decided = getattr(request, self.USER_ATTRIBUTE, None)
        if decided is None:
            decided = self._decide(request, user)
            setattr(request, self.USER_ATTRIBUTE, decided)
        return decided

    def _decide(self, request, user):
        if not user.is_authenticated:
            return user
        try:
            if not self.is_gated(request):
                return user
            action = self.pending_action(request, user)
        except Exception:
            # SEC-46: an error while deciding never lets the request through.
            logger.exception("wagtail-company-mfa could not decide on a request; treating it as unverified.")
            action = EXPIRED
        if action is None:
            return user
        setattr(request, self.PENDING_ATTRIBUTE, action)
        return AnonymousUser()

    async def _agate(self, request, auser):
        decided = getattr(request, self.USER_ATTRIBUTE, None)
        if decided is not None:
            return decided
        return await sync_to_async(self._gate)(request, await auser())

    def deny(self, request, action: str, response=None):
        """
        The answer for a request refused by the gate: a redirect to the MFA page, or 403 JSON (for XHR, for a
        client that asks for JSON, or where the site answered with JSON).
        """
        if action == EXPIRED:
            # SEC-29, SEC-31: the half-logged-in state ends; the whole session goes with it.
            logout(request)
            url = reverse("wagtailadmin_login")
        else:
            url = reverse(gate.page_for(request, action))
        message = str(MESSAGES[action])
        if wants_json(request) or (response is not None and is_json(response)):
            return JsonResponse(
                {"error": f"mfa_{action}_required", "detail": message, "location": url}, status=403
            )
        if request.method in ("GET", "HEAD") and action != EXPIRED:
            url = f"{url}?{urlencode({'next': request.get_full_path()})}"
        response = redirect(url)
        if action == EXPIRED and hasattr(request, "_messages"):
            # MessageMiddleware sits inside this one, so it has already stored this request's messages:
            # store the new one on the response ourselves.
            storage = messages.get_messages(request)
            if isinstance(storage, BaseStorage):  # always, with MessageMiddleware (hasattr above)
                storage.add(messages.WARNING, message)
                storage.update(response)
        return response

    def expire(self, request, response):
        """
        A pending session past its time (SEC-29): it ends here. Where the site asked to sign in, the visitor
        is sent to the login page; a public page is served as it was made, for an anonymous visitor.
        """
        if self.asks_to_sign_in(request, response):
            return self.deny(request, EXPIRED, response)
        logout(request)
        return response
