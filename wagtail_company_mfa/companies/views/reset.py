"""
Resetting a member's MFA (SEC-40): a confirmation page with the required "I have verified this
person's request" box, POST with CSRF only, by an administrator whose own session passed MFA (and entered
the password recently), never on themself; plus the MFA state shown for each person on Wagtail's Users page.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.functional import cached_property
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.generic import FormView
from wagtail.admin import messages
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin
from wagtail.admin.widgets import Button

from ... import compat, factors
from ...base import reauth
from ...base.users import display_name
from ...base.view_helpers import safe_next_url, with_next
from .. import permissions, reset_rule
from ..member_forms import ResetForm
from ..reset import RESET_URL_NAME, reset_mfa, reset_url


@method_decorator(never_cache, name="dispatch")
class ResetMFAView(WagtailAdminTemplateMixin, FormView):
    """
    "Reset two-factor authentication" for one person, optionally as an administrator of ``?company=``.

    Refusals, in order: 403 for someone who manages no company; 404 for a company that is not the actor's,
    and for a person outside the actor's companies; the rules of
    :func:`~wagtail_company_mfa.companies.reset_rule.reset_refusal` (shown, with 403); an acting session that
    did not pass MFA (shown, with 403, and a way to set MFA up); a password not entered in the last few
    minutes (sent to re-authenticate first, SEC-25, SEC-33). The reset itself is
    :func:`wagtail_company_mfa.companies.reset.reset_mfa`.
    """

    template_name = "wagtail_company_mfa/reset/confirm.html"
    form_class = ResetForm
    page_title = gettext_lazy("Reset two-factor authentication")
    header_icon = "lock-open"
    companies_index_url_name = None
    edit_url_name = None
    members_url_name = None
    reset_url_name = None

    def setup(self, request, *args, **kwargs):
        super().setup(request, *args, **kwargs)
        actor = request.user
        if not permissions.manages_any_company(actor):
            raise PermissionDenied
        self.target = get_object_or_404(get_user_model(), pk=kwargs["user_pk"])
        if not reset_rule.may_see_person(actor, self.target):
            # A company administrator learns nothing about people outside their companies, not even a name.
            raise Http404
        company_pk = request.POST.get("company") or request.GET.get("company")
        self.requested_company = None
        if company_pk:
            if not str(company_pk).isdigit():
                raise PermissionDenied
            self.requested_company = permissions.managed_company_or_404(actor, int(company_pk))
        self.refusal = reset_rule.reset_refusal(actor, self.target, self.requested_company)
        self.company = (
            reset_rule.reset_company_for(actor, self.target, self.requested_company)
            if self.refusal is None
            else self.requested_company
        )

    def dispatch(self, request, *args, **kwargs):
        if self.refusal is not None:
            return self.refuse(self.refusal)
        if not request.user.is_verified():
            # SEC-40, NIST 800-63B 4.2: a factor is reset only from a session that itself passed MFA.
            return self.refuse(
                gettext(
                    "To reset someone's two-factor authentication, you must have signed in with two-factor "
                    "authentication yourself."
                ),
                needs_mfa=True,
            )
        if not reauth.password_is_recent(request.session):
            here = request.get_full_path()
            reauth_url = reverse("wagtail_company_mfa:reauth")
            return redirect(f"{reauth_url}?{urlencode({'next': here})}")
        return super().dispatch(request, *args, **kwargs)

    def refuse(self, reason: str, *, needs_mfa: bool = False):
        context = self.get_context_data(refusal=reason, needs_mfa=needs_mfa, form=None)
        if needs_mfa:
            enroll = reverse("wagtail_company_mfa:enroll")
            context["setup_url"] = with_next(self.request, enroll)
            context["has_authenticator"] = factors.is_enrolled(self.request.user)
        return self.render_to_response(context, status=403)

    @cached_property
    def has_something_to_reset(self) -> bool:
        # Any device of any factor, confirmed or not: a half-done setup is worth resetting too.
        return bool(factors.factors_of(self.target, confirmed=False))

    def get_page_subtitle(self):
        return display_name(self.target)

    def get_breadcrumbs_items(self):
        items = [*self.breadcrumbs_items]
        if self.companies_index_url_name:
            items.append({"url": reverse(self.companies_index_url_name), "label": gettext("Companies")})
        if self.company is not None and self.edit_url_name:
            items.append(
                {"url": reverse(self.edit_url_name, args=[self.company.pk]), "label": str(self.company)}
            )
            items.append({"url": self.members_url(), "label": gettext("Members")})
        items.append({"url": "", "label": self.get_page_title(), "sublabel": self.get_page_subtitle()})
        return items

    def members_url(self) -> str:
        if self.company is not None and self.members_url_name:
            return reverse(self.members_url_name, args=[self.company.pk])
        return ""

    def get_success_url(self) -> str:
        if self.request.POST.get("next") or self.request.GET.get("next"):
            return safe_next_url(self.request)
        return self.members_url() or reverse("wagtailusers_users:index")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        device = factors.enrolled_device(self.target)
        context.update(
            target=self.target,
            person=display_name(self.target),
            email=getattr(self.target, self.target.get_email_field_name(), "") or "",
            company=self.company,
            device=device,
            has_something_to_reset=self.has_something_to_reset if "refusal" not in kwargs else False,
            cancel_url=self.members_url() or reverse("wagtailadmin_home"),
            next=self.request.POST.get("next") or self.request.GET.get("next") or "",
            action_url=self.request.get_full_path(),
        )
        return context

    def form_valid(self, form):
        person = display_name(self.target)
        if not self.has_something_to_reset:
            messages.info(
                self.request,
                gettext("%(person)s has no two-factor authentication to reset.") % {"person": person},
            )
            return redirect(self.get_success_url())
        result = reset_mfa(self.target, actor=self.request.user, request=self.request, company=self.company)
        messages.success(
            self.request,
            gettext(
                "Two-factor authentication of %(person)s reset: their authenticator app and recovery code no "
                "longer work, and they were signed out everywhere. They have been told by email."
            )
            % {"person": person},
        )
        if result.sessions_ended == 0 and not result.removed_authenticator:
            messages.info(self.request, gettext("They had not finished setting up an authenticator app."))
        return redirect(self.get_success_url())


# The Users listing ------------------------------------------------------------------------------------------


class _ListingState:
    """What the Users listing needs, loaded once per request: who is enrolled, whom the viewer may reset."""

    def __init__(self, viewer):
        self.enrolled = set(factors.enrolled_user_ids())
        self.checker = reset_rule.ResetChecker(viewer)


_LISTING_ATTR = "_wagtail_company_mfa_user_listing"


class MFAStatusTag(compat.user_listing_button_class()):  # type: ignore[misc]
    """A person's MFA state on the Users page: a status tag beside their name, not a button."""

    template_name = "wagtail_company_mfa/companies/mfa_status_tag.html"

    def get_context_data(self, parent_context):
        # Its template reads the tag itself, whichever button class it is (see compat).
        return {"button": self}


def user_listing_buttons(user, request_user):
    """
    For ``register_user_listing_buttons``: each person's MFA state as a status tag ("MFA on" / "MFA off"),
    and "Reset MFA" in the row's menu when the viewer may reset them. Shown only to viewers who manage a
    company. Costs a fixed number of queries per page (enrolled users, and for a company administrator their
    members and the holders of ``manage_all_companies``), not one per row.
    """
    if not permissions.manages_any_company(request_user):
        return []
    state = getattr(request_user, _LISTING_ATTR, None)
    if state is None:
        state = _ListingState(request_user)
        setattr(request_user, _LISTING_ATTR, state)
    name = display_name(user)
    if user.pk not in state.enrolled:
        return [MFAStatusTag(gettext("MFA off"), classname="", icon_name="lock-open", priority=90)]
    buttons = [MFAStatusTag(gettext("MFA on"), classname="w-status--primary", icon_name="lock", priority=90)]
    if state.checker.may_reset(user):
        buttons.append(
            Button(
                gettext("Reset MFA"),
                url=reset_url(RESET_URL_NAME, user),
                icon_name="lock-open",
                # The accessible name starts with the visible text (WCAG 2.5.3), then says whose.
                attrs={"aria-label": gettext("Reset MFA for %(person)s") % {"person": name}},
                priority=91,
            )
        )
    return buttons
