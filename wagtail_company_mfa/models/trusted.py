"""Trusted browsers: a browser a user chose to trust skips the second factor, never the password."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class TrustPeriod(models.IntegerChoices):
    """How long a company lets its members trust a browser (``Company.trust_browser_for``), in hours."""

    NEVER = 0, _("At every sign-in")
    HOURS_12 = 12, _("Not again on a trusted browser for 12 hours")
    DAYS_7 = 24 * 7, _("Not again on a trusted browser for 7 days")
    DAYS_30 = 24 * 30, _("Not again on a trusted browser for 30 days")


class TrustedBrowser(models.Model):
    """
    A browser a user trusted at a verification (docs/user-guide.md, "Trusted browsers"). The browser holds a
    random token in a cookie; only its keyed HMAC-SHA256 is stored here, found by one indexed lookup.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("user")
    )
    #: The token's keyed HMAC (``trusted.tokens.lookup``), prefixed with the id of the key it was made with.
    lookup = models.CharField(max_length=80, unique=True)
    #: The django-otp persistent id of the device the trust was granted with; the trust signs in with it.
    device_id = models.CharField(max_length=255)
    #: A keyed HMAC of the user's password hash when trust was granted: a new password ends it.
    password_marker = models.CharField(max_length=80)
    description = models.CharField(_("browser"), max_length=100, blank=True)
    created_at = models.DateTimeField(_("trusted since"), default=timezone.now)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires"))

    class Meta:
        verbose_name = _("trusted browser")
        verbose_name_plural = _("trusted browsers")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "created_at"], name="wagtail_company_mfa_trust_user")]

    def __str__(self) -> str:
        return f"trusted browser of user {self.user_id} until {self.expires_at:%Y-%m-%d %H:%M}"
