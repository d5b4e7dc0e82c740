"""
The company administrator's recovery toolkit beside "Reset MFA" (docs/admin-guide.md, "When someone loses
their phone"): issue a one-time access code, and require re-enrollment. Both are refused exactly where a
reset is (``ResetChecker``: never for oneself, never across companies, never for a more privileged
account), from a session that passed MFA with a recent password, after "I have verified this person's
request", POST with CSRF only: the checks of :class:`~.reset.ResetMFAView`, which these views extend.
"""

from __future__ import annotations

from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.functional import cached_property
from django.utils.translation import gettext, gettext_lazy
from wagtail.admin import messages

from ... import factors
from ...access_codes import codes, flows
from ...access_codes.forms import IssueAccessCodeForm
from ...base.users import display_name
from ..member_forms import ResetForm
from .reset import ResetMFAView


class _ToolkitView(ResetMFAView):
    @cached_property
    def has_something_to_reset(self) -> bool:
        # Only someone with a factor can be let past it, or asked to replace it.
        return factors.is_enrolled(self.target)

    def nothing_to_do(self):
        messages.info(
            self.request,
            gettext("%(person)s has not set up two-factor authentication.")
            % {"person": display_name(self.target)},
        )
        return redirect(self.get_success_url())


class IssueAccessCodeView(_ToolkitView):
    """ "Issue a one-time access code": shown once, on the page that answers the POST, never again."""

    template_name = "wagtail_company_mfa/access_codes/issue.html"
    form_class = IssueAccessCodeForm
    page_title = gettext_lazy("Issue a one-time access code")
    header_icon = "key"

    def form_valid(self, form):
        if not self.has_something_to_reset:
            return self.nothing_to_do()
        code, row = flows.issue_access_code(
            self.target,
            actor=self.request.user,
            hours=form.cleaned_data["valid_for"],
            request=self.request,
            company=self.company,
        )
        context = self.get_context_data(form=None, code=codes.display(code), access_code=row)
        # Rendered here, not after a redirect: the code is in this response and nowhere else (never_cache).
        return TemplateResponse(self.request, "wagtail_company_mfa/access_codes/issued.html", context)


class RequireReenrollmentView(_ToolkitView):
    """ "Require re-enrollment": the person sets MFA up again right after their next sign-in."""

    template_name = "wagtail_company_mfa/access_codes/reenroll.html"
    form_class = ResetForm
    page_title = gettext_lazy("Require re-enrollment")
    header_icon = "rotate"

    def form_valid(self, form):
        if not self.has_something_to_reset:
            return self.nothing_to_do()
        flows.require_reenrollment(
            self.target, actor=self.request.user, request=self.request, company=self.company
        )
        messages.success(
            self.request,
            gettext(
                "%(person)s must set up two-factor authentication again right after their next sign-in. "
                "They have been told by email."
            )
            % {"person": display_name(self.target)},
        )
        return redirect(self.get_success_url())
