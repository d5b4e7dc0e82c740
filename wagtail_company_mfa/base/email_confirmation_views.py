"""
The emailed confirmation before a first enrollment (`WAGTAIL_COMPANY_MFA_CONFIRM_FIRST_ENROLLMENT_BY_EMAIL`).

Someone who has only the password of a user who must enroll could otherwise set up their own authenticator
and keep the account. With the setting on, the setup page is reached only after a link emailed to the
account's address has been opened **in the same browser session**: the link carries a signed nonce that only
that session holds, so it proves control of the mailbox and of this browser at once. See "First enrollment"
in docs/security.md.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.core import signing
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.generic import TemplateView, View

from ..base.users import user_email
from ..conf import mfa_settings
from ..notices import emails
from . import email_confirmation
from .email_confirmation import needs_email_confirmation
from .session import now
from .view_helpers import mfa_view, safe_next_url, with_next

SIGNING_SALT = "wagtail_company_mfa.enroll_email"
#: Seconds before another link may be sent from the same session.
RESEND_AFTER = 60


def email_address(user) -> str:
    return user_email(user)


def masked(address: str) -> str:
    """``a•••@example.com``: enough for the owner to recognise, little for a password thief."""
    local, _at, domain = address.partition("@")
    return f"{local[:1]}•••@{domain}" if domain else "•••"


@mfa_view
class EnrollEmailView(TemplateView):
    """ "Confirm it's you": send the link, and say where it went."""

    template_name = "wagtail_company_mfa/enroll_email.html"

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect("wagtailadmin_login")
        if not needs_email_confirmation(request):
            return redirect(with_next(request, reverse("wagtail_company_mfa:enroll")))
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        address = email_address(self.request.user)
        context.update(
            address=masked(address) if address else "",
            sent=email_confirmation.email_confirmation(self.request.session, self.request.user) is not None,
            next=safe_next_url(self.request),
        )
        return context

    def post(self, request, *args, **kwargs):
        user = request.user
        here = with_next(request, reverse("wagtail_company_mfa:enroll_email"))
        if not email_address(user):
            return redirect(here)
        earlier = email_confirmation.email_confirmation(request.session, user)
        if earlier and now() - earlier.get("sent_at", 0) < RESEND_AFTER:
            messages.warning(request, _("We sent a link less than a minute ago. Check your inbox first."))
            return redirect(here)
        nonce = email_confirmation.start_email_confirmation(request.session, user)
        token = signing.dumps({"u": str(user.pk), "n": nonce}, salt=SIGNING_SALT)
        link = request.build_absolute_uri(reverse("wagtail_company_mfa:enroll_email_confirm", args=[token]))
        link = f"{link}?{urlencode({'next': safe_next_url(request)})}"
        context = {"confirm_url": link, "minutes": max(1, mfa_settings.SETUP_TIMEOUT // 60)}
        if not emails.send(user, "confirm_enrollment", context):
            email_confirmation.clear_email_confirmation(request.session)
            messages.error(
                request,
                _("We couldn't send the email. Try again in a few minutes, or contact your administrator."),
            )
            return redirect(here)
        messages.success(
            request,
            _("We sent a link to %(address)s. Open it in this browser to continue.")
            % {"address": masked(email_address(user))},
        )
        return redirect(here)


@mfa_view
class EnrollEmailConfirmView(View):
    """The emailed link: confirms this session's request, then goes on to the setup page."""

    def get(self, request, token):
        if not request.user.is_authenticated:
            messages.error(
                request, _("Sign in, then open the newest link in the browser where you asked for it.")
            )
            return redirect("wagtailadmin_login")
        back = with_next(request, reverse("wagtail_company_mfa:enroll_email"))
        try:
            data = signing.loads(token, salt=SIGNING_SALT, max_age=mfa_settings.SETUP_TIMEOUT)
        except signing.SignatureExpired:
            messages.error(request, _("This link has expired. Ask for a new one."))
            return self._no_referrer(redirect(back))
        except signing.BadSignature:
            messages.error(
                request,
                _("This link is not valid. Copy the whole link from the email, or ask for a new one."),
            )
            return self._no_referrer(redirect(back))
        if not isinstance(data, dict) or data.get("u") != str(request.user.pk):
            messages.error(request, _("This link is for another account."))
            return self._no_referrer(redirect(back))
        if not email_confirmation.confirm_email(request.session, request.user, str(data.get("n", ""))):
            messages.error(
                request,
                _(
                    "This link was sent to another browser, or a newer one replaced it. Open the newest link "
                    "in the browser where you asked for it."
                ),
            )
            return self._no_referrer(redirect(back))
        messages.success(request, _("Thank you. Now set up your authenticator app."))
        return self._no_referrer(redirect(with_next(request, reverse("wagtail_company_mfa:enroll"))))

    @staticmethod
    def _no_referrer(response):
        # The link's token is in the path: keep it out of the next page's Referer (SEC-23's spirit).
        response["Referrer-Policy"] = "no-referrer"
        return response
