"""
Emails to users (SEC-27), rendered from overridable templates and sent through Django's email backend.

Each email ``name`` has three templates under ``wagtail_company_mfa/emails/``: ``<name>_subject.txt``,
``<name>.txt`` and ``<name>.html``. A site overrides any of them by putting a template with the same path in
its own templates directory. Emails never contain a code or a secret (SEC-44).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from ..conf import mfa_settings

logger = logging.getLogger(__name__)


def user_language(user) -> str:
    """The language the user picked in their Wagtail account, or the site's."""
    profile = getattr(user, "wagtail_userprofile", None)
    return getattr(profile, "preferred_language", "") or settings.LANGUAGE_CODE


def admin_url() -> str:
    """The address of the site's admin, from ``WAGTAILADMIN_BASE_URL``, or ``""`` when it is not set."""
    base = (getattr(settings, "WAGTAILADMIN_BASE_URL", "") or "").rstrip("/")
    return f"{base}{reverse('wagtailadmin_home')}" if base else ""


def build_email(user, name: str, context: dict | None = None) -> EmailMultiAlternatives | None:
    """The message for ``user``, or ``None`` if they have no email address."""
    address = getattr(user, user.get_email_field_name(), "") or ""
    if not address:
        return None
    context = {
        "user": user,
        "site_name": mfa_settings.ISSUER,
        # The admin's address (``WAGTAILADMIN_BASE_URL``), which each email's footer names with the site.
        "admin_url": admin_url(),
        **(context or {}),
    }
    with translation.override(user_language(user)):
        subject = " ".join(
            render_to_string(f"wagtail_company_mfa/emails/{name}_subject.txt", context).split()
        )
        body = render_to_string(f"wagtail_company_mfa/emails/{name}.txt", context)
        html = render_to_string(f"wagtail_company_mfa/emails/{name}.html", context)
    message = EmailMultiAlternatives(subject, body, to=[address])
    message.attach_alternative(html, "text/html")
    return message


def send(user, name: str, context: dict | None = None, *, fail_silently: bool = True) -> bool:
    """
    Send email ``name`` to ``user``. A notification must never undo the change it reports, so by default a
    failing mail server is logged, not raised. Returns whether a message went out.
    """
    message = build_email(user, name, context)
    if message is None:
        return False
    try:
        message.send()
    except Exception:
        if not fail_silently:
            raise
        logger.exception("Could not send the %r email to user %s.", name, user.pk)
        return False
    return True
