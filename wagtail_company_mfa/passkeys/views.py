"""
The passkey pages: "Add a passkey or security key", "Use your passkey" at sign-in, and renaming and removing
one from the Security tab; and the four JSON endpoints of the two WebAuthn ceremonies, which the browser code
of django-otp-webauthn calls (docs/passkeys.md).

The endpoints subclass django-otp-webauthn's views, keeping their parsing and error answers, with the
package's rules: the password again before a registration (SEC-25), a verified session before a new factor
is added to an enrolled account, never a passwordless sign-in, failed assertions throttled per user.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlsplit

from django import forms
from django.contrib.sessions.backends.base import UpdateError
from django.db import DatabaseError
from django.http import Http404, JsonResponse
from django.middleware import csrf
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.generic import TemplateView, View
from django_otp_webauthn import exceptions as webauthn_errors
from django_otp_webauthn.views import (
    BeginCredentialAuthenticationView,
    BeginCredentialRegistrationView,
    CompleteCredentialAuthenticationView,
    CompleteCredentialRegistrationView,
)
from wagtail.admin import messages

from .. import factors
from ..account.panel import security_tab_url
from ..account.views import SecurityActionView
from ..base import email_confirmation, gate, methods, pending, reauth, verification
from ..base.view_helpers import PendingView, mfa_view, retry_message, safe_next_url, with_next
from ..companies.policy import requirement_for
from ..models import PasskeyThrottle
from . import flows
from .helper import helper_for

if TYPE_CHECKING:
    # What the mixins are used with, so that their ``super()`` calls are checked against it.
    from django.views.generic import View as _ActionBase
    from django_otp_webauthn.views import BaseWebAuthnView as _CeremonyBase
else:
    _ActionBase = _CeremonyBase = object

logger = logging.getLogger(__name__)


class Refused(webauthn_errors.OTPWebAuthnApiError):
    """A ceremony the package's rules refuse, with the reason in words for the user."""

    status_code = 403
    default_code = "refused"


def reauth_url(request, here: str) -> str:
    return f"{reverse('wagtail_company_mfa:reauth')}?{urlencode({'next': here})}"


def registration_refusal(request) -> str | None:
    """Why the signed-in user may not register a passkey right now, in words for them, or ``None``."""
    user = request.user
    enrolled = factors.is_enrolled(user)
    if enrolled and not user.is_verified():
        return _("Sign in with your second factor first.")
    if not reauth.password_is_recent(request.session) or (
        enrolled and not reauth.mfa_is_recent(request.session)
    ):
        return _("For your security, confirm it's you again: reload this page.")
    if not enrolled and email_confirmation.needs_email_confirmation(request):
        return _("Confirm your email address first: reload this page.")
    if len(flows.passkeys_of(user)) >= flows.MAX_PASSKEYS:
        return _("You have %(count)s passkeys, the most an account can have. Remove one first.") % {
            "count": flows.MAX_PASSKEYS
        }
    return None


def needs_a_hostname(request) -> bool:
    """Whether the page was opened at a bare IP address, where browsers refuse passkeys."""
    hostname = urlsplit(f"//{request.get_host()}").hostname or ""
    try:
        ipaddress.ip_address(hostname)
    except ValueError:
        return False
    return True


def throttled_until(user):
    """Until when failed passkey answers hold ``user``'s next try back, or ``None``."""
    throttle = PasskeyThrottle.objects.filter(user_id=user.pk or 0).first()
    return verification.locked_until_for(throttle) if throttle is not None else None


def ceremony_configuration(request, *, next_url: str) -> dict:
    """The settings django-otp-webauthn's browser code reads (``otp_webauthn_config``), with our endpoints."""
    query = "?" + urlencode({"next": next_url})
    return {
        "autocompleteLoginFieldSelector": None,
        "nextFieldSelector": "input[name='next']",
        "csrfToken": csrf.get_token(request),
        "beginAuthenticationUrl": reverse("wagtail_company_mfa:passkey_auth_begin"),
        "completeAuthenticationUrl": reverse("wagtail_company_mfa:passkey_auth_complete"),
        "beginRegistrationUrl": reverse("wagtail_company_mfa:passkey_register_begin"),
        "completeRegistrationUrl": reverse("wagtail_company_mfa:passkey_register_complete") + query,
    }


# The JSON endpoints ----------------------------------------------------------------------------------------


class CeremonyMixin(_CeremonyBase):
    """What the four endpoints share: the package's helper, and no server error for a database failure."""

    def get_helper(self):
        return helper_for(self.request)

    def handle_exception(self, exc):
        if isinstance(exc, UpdateError):
            # The session ended or changed key while this request used it (another tab, a concurrent
            # request that completed first): nothing was done here.
            return JsonResponse(
                {
                    "detail": _("Your sign-in changed in another tab or window. Reload this page."),
                    "code": "session_changed",
                },
                status=400,
            )
        if isinstance(exc, DatabaseError):
            logger.warning("A database error stopped a passkey ceremony; nothing was saved: %s", exc)
            return JsonResponse(
                {
                    "detail": _(
                        "This couldn't be done just now, and nothing was changed. Try again in a moment."
                    ),
                    "code": "busy",
                },
                status=503,
            )
        return super().handle_exception(exc)


@method_decorator(never_cache, name="dispatch")
class RegisterBeginView(CeremonyMixin, BeginCredentialRegistrationView):
    """The options for a new credential (the user's own passkeys excluded)."""

    def user_is_mfa_enrolled(self, user) -> bool:
        return factors.is_enrolled(user)

    def check_can_register(self):
        problem = registration_refusal(self.request)
        if problem:
            raise Refused(detail=problem)


@method_decorator(never_cache, name="dispatch")
class RegisterCompleteView(CeremonyMixin, CompleteCredentialRegistrationView):
    """Verify and save the new credential; answers where the browser goes next."""

    user_is_mfa_enrolled = RegisterBeginView.user_is_mfa_enrolled
    check_can_register = RegisterBeginView.check_can_register

    def post(self, request, *args, **kwargs):
        state = self.get_state()  # taken out of the session (and saved) first: a state is used once
        try:
            added = flows.add_passkey(request, self.get_helper(), state, request.data)
        except flows.CEREMONY_ERRORS as exc:
            logger.info("A passkey registration of user #%s was refused: %s", request.user.pk, exc)
            return JsonResponse(
                {
                    "detail": _(
                        "This passkey could not be added: the answer from your browser could not be "
                        "verified. Try again."
                    ),
                    "code": "invalid_registration",
                },
                status=400,
            )
        after = safe_next_url(request)
        rename = reverse("wagtail_company_mfa:passkey_rename", args=[added.device.pk])
        url = f"{rename}?{urlencode({'next': after, 'new': '1'})}"
        if added.first:
            url = f"{reverse('wagtail_company_mfa:save_codes')}?{urlencode({'next': url})}"
        return JsonResponse({"id": added.device.pk, "redirect_url": url})


class AuthenticationRulesMixin(CeremonyMixin):
    """A passkey is a second factor only: there must be a user past the password step (SEC-28)."""

    def check_can_authenticate(self):
        user = self.get_user()
        if user is None or not user.is_active:
            raise webauthn_errors.NotAuthenticated()
        session = self.request.session
        if not user.is_verified() and pending.pending_has_expired(session):
            raise Refused(detail=_("Your sign-in has expired. Please sign in again."))
        if locked_until := throttled_until(user):
            raise Refused(detail=retry_message(locked_until), code="throttled")
        if not flows.passkeys_of(user):
            raise webauthn_errors.CredentialNotFound(detail=_("You have no passkey on this account."))


@method_decorator(never_cache, name="dispatch")
class AuthBeginView(AuthenticationRulesMixin, BeginCredentialAuthenticationView):
    """The options for an assertion: a challenge, and the user's own credentials."""


@method_decorator(never_cache, name="dispatch")
class AuthCompleteView(AuthenticationRulesMixin, CompleteCredentialAuthenticationView):
    """Check the assertion; on success the session is verified (or, already verified, re-confirmed)."""

    def post(self, request, *args, **kwargs):
        state = self.get_state()  # taken out of the session (and saved) first: a state is used once
        attempt = flows.verify_passkey(request, self.get_helper(), state, request.data)
        if attempt.ok and attempt.device is not None:
            return JsonResponse({"id": attempt.device.pk, "redirect_url": safe_next_url(request)})
        if attempt.locked_until:
            return JsonResponse(
                {"detail": retry_message(attempt.locked_until), "code": "throttled"}, status=429
            )
        return JsonResponse(
            {
                "detail": _("That passkey didn't work. Try again, or use another way to sign in."),
                "code": "invalid_authentication",
            },
            status=400,
        )


# The pages -------------------------------------------------------------------------------------------------


@mfa_view
class AddView(TemplateView):
    """ "Add a passkey or security key": at enrollment, for a company that requires one, or as another one."""

    template_name = "wagtail_company_mfa/passkeys/add.html"

    def get(self, request, *args, **kwargs):
        user = request.user
        enrolled = factors.is_enrolled(user)
        here = with_next(request, reverse("wagtail_company_mfa:passkey_add"))
        if enrolled and not user.is_verified():
            return redirect(with_next(request, reverse(factors.verify_url_name(factors.factors_of(user)))))
        if not reauth.password_is_recent(request.session) or (
            enrolled and not reauth.mfa_is_recent(request.session)
        ):
            return redirect(reauth_url(request, here))
        if not enrolled and email_confirmation.needs_email_confirmation(request):
            return redirect(with_next(request, reverse("wagtail_company_mfa:enroll_email")))
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        request = self.request
        next_url = safe_next_url(request)
        return {
            **super().get_context_data(**kwargs),
            "next": next_url,
            "needs_a_hostname": needs_a_hostname(request),
            "configuration": ceremony_configuration(request, next_url=next_url),
            "first": not factors.is_enrolled(request.user),
            "due_companies": methods.due(request.session) or [],
            "refusal": registration_refusal(request),
            "passkey_count": len(flows.passkeys_of(request.user)),
        }


@mfa_view
class VerifyView(PendingView, TemplateView):
    """ "Use your passkey": the second step of a user who has one."""

    template_name = "wagtail_company_mfa/passkeys/verify.html"
    factor_key = "passkeys"

    def dispatch(self, request, *args, **kwargs):
        # A verified session comes here to confirm it is still them before a change to their MFA ("Enter
        # your password" sends it); a pending one to sign in.
        self.confirming = request.user.is_verified()
        if self.confirming:
            if not flows.passkeys_of(request.user):
                return redirect(safe_next_url(request))
            return View.dispatch(self, request, *args, **kwargs)
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        request = self.request
        keys = frozenset() if self.confirming else gate.standing(request, request.user).factors
        keys = factors.factors_of(request.user) if self.confirming else keys
        context.update(
            configuration=ceremony_configuration(request, next_url=context["next"]),
            needs_a_hostname=needs_a_hostname(request),
            confirming=self.confirming,
            alternatives=[
                {"factor": factor, "url": with_next(request, reverse(factor.verify_url_name))}
                for factor in factors.all_factors()
                if factor.key in keys and factor.key != self.factor_key and factor.alternative_label
            ]
            if not self.confirming
            else [],
        )
        if locked_until := throttled_until(request.user):
            context["throttle_message"] = retry_message(locked_until)
        return context

    def post(self, request, *args, **kwargs):
        return self.http_method_not_allowed(request, *args, **kwargs)


class PasskeyNameForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Name"),
        max_length=flows.MAX_NAME_LENGTH,
        help_text=gettext_lazy(
            "So you can tell your passkeys apart, for example “Work laptop” or "
            "“Blue key”."
        ),
        error_messages={"required": gettext_lazy("Give the passkey a name.")},
    )


class PasskeyActionMixin(_ActionBase):
    """A Security-tab page about one of the user's own passkeys (another user's is a 404)."""

    def get_passkey(self):
        model = flows.credential_model()
        owner: int = self.request.user.pk or 0
        try:
            return model.objects.get(pk=self.kwargs["pk"], user_id=owner, confirmed=True)
        except model.DoesNotExist:
            raise Http404 from None


@mfa_view
class RenameView(PasskeyActionMixin, SecurityActionView):
    """ "Name your passkey": right after adding one, or later from the Security tab."""

    template_name = "wagtail_company_mfa/passkeys/rename.html"
    page_title = gettext_lazy("Name your passkey")
    header_icon = "key"

    def dispatch(self, request, *args, **kwargs):
        # Renaming changes nothing about how the user signs in: no re-authentication. The session is verified
        # (the gate sees to it), and the passkey must be the user's own.
        self.passkey = self.get_passkey()
        self.form = PasskeyNameForm(request.POST or None, initial={"name": self.passkey.name})
        # Past SecurityActionView's own dispatch: its checks are made above, for this passkey.
        return super(SecurityActionView, self).dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        return {
            **super().get_context_data(**kwargs),
            "passkey": self.passkey,
            "form": self.form,
            "is_new": self.request.GET.get("new") == "1",
            "next": self._next(),
        }

    def get_action_url(self) -> str:
        return self.request.get_full_path()

    def _next(self) -> str:
        if "next" in self.request.GET or "next" in self.request.POST:
            return safe_next_url(self.request)
        return security_tab_url()

    def post(self, request, *args, **kwargs):
        if not self.form.is_valid():
            return self.render_to_response(self.get_context_data(), status=400)
        name = self.form.cleaned_data["name"].strip()
        if name != self.passkey.name:
            flows.rename(request, self.passkey, name)
            messages.success(request, _("Passkey renamed to “%(name)s”.") % {"name": name})
        return redirect(self._next())


@mfa_view
class RemoveView(PasskeyActionMixin, SecurityActionView):
    """ "Remove passkey": behind the password again, refused where it would leave the user without MFA."""

    template_name = "wagtail_company_mfa/passkeys/remove.html"
    page_title = gettext_lazy("Remove passkey")
    header_icon = "bin"

    def dispatch(self, request, *args, **kwargs):
        self.passkey = self.get_passkey()
        if not reauth.recently_authenticated(request):
            here = reverse("wagtail_company_mfa:passkey_remove", args=[self.passkey.pk])
            return redirect(reauth_url(request, here))
        # Past SecurityActionView's own dispatch: its checks are made above, for this passkey.
        return super(SecurityActionView, self).dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        return {
            **super().get_context_data(**kwargs),
            "passkey": self.passkey,
            "requirement": requirement_for(self.request.user),
        }

    def get_action_url(self) -> str:
        return reverse("wagtail_company_mfa:passkey_remove", args=[self.passkey.pk])

    def post(self, request, *args, **kwargs):
        try:
            flows.remove(request, self.passkey)
        except flows.RemovalRefused as refusal:
            if refusal.reason == flows.LAST_FACTOR:
                messages.error(
                    request,
                    _(
                        "This is your only second factor, so it can't be removed. Add another one first, or "
                        "turn two-factor authentication off."
                    ),
                )
            else:
                messages.error(
                    request,
                    _(
                        "This passkey can't be removed: your company accepts only passkeys and security "
                        "keys, and it is your last one. Add another one first."
                    ),
                )
            return redirect(security_tab_url())
        except flows.credential_model().DoesNotExist:
            raise Http404 from None
        messages.success(request, _("Passkey “%(name)s” removed.") % {"name": self.passkey.name})
        return redirect(security_tab_url())
