"""
"Stop trusting" one browser, or all of them, from the Security tab. POST only (CSRF-protected by Django);
no password again, since revoking only takes access away. Only one's own: another user's id is a 404.
"""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.generic import View
from wagtail.admin import messages

from ..account.panel import security_tab_url
from ..base.view_helpers import mfa_view
from . import cookie, flows


@mfa_view
class RevokeView(View):
    http_method_names = ["post", "options"]

    def post(self, request, pk):
        current = flows.current_browser_id(request)
        if not flows.revoke(request, pk):
            raise Http404
        messages.success(request, _("That browser is no longer trusted."))
        response = redirect(security_tab_url())
        if current == pk:
            cookie.clear_cookie(response)
        return response


@mfa_view
class RevokeAllView(View):
    http_method_names = ["post", "options"]

    def post(self, request):
        count = flows.revoke_all(request.user, flows.REVOKED_BY_USER, request=request)
        if count:
            messages.success(request, _("No browser is trusted any more."))
        response = redirect(security_tab_url())
        cookie.clear_cookie(response)
        return response
