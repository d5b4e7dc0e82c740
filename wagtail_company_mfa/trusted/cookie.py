"""
The trusted-browser cookie: ``HttpOnly``, ``SameSite=Lax``, scoped to the Wagtail admin's path, ``Secure``
when the request is or ``SESSION_COOKIE_SECURE`` is set (docs/security.md, SEC-32, SEC-38).
"""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse

COOKIE_NAME = "wagtail_company_mfa_trusted"


def cookie_path() -> str:
    return reverse("wagtailadmin_home")


def set_cookie(request, response, token: str, *, max_age: int) -> None:
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=max_age,
        path=cookie_path(),
        secure=request.is_secure() or bool(settings.SESSION_COOKIE_SECURE),
        httponly=True,
        samesite="Lax",
    )


def clear_cookie(response) -> None:
    response.delete_cookie(COOKIE_NAME, path=cookie_path(), samesite="Lax")
