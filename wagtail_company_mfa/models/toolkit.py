"""
The company administrator's recovery toolkit (docs/admin-guide.md, "When someone loses their phone"): a
one-time access code an administrator issues, the throttle of wrong access codes, and a request that a
person set up their MFA again at their next sign-in.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .devices import AtomicThrottlingMixin, _NoFurtherChecks


class AccessCode(models.Model):
    """
    A single-use code an administrator gave a person who lost every factor, stored only as ``lookup``: its
    keyed HMAC-SHA256 under a key derived from the encryption keys, as recovery codes are (SEC-17). It lets
    its person past the second factor once, straight into setting MFA up again; spent by one conditional
    ``UPDATE`` (SEC-18).
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("user"),
    )
    lookup = models.CharField(max_length=80, editable=False, db_index=True)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("issued by"),
    )
    company = models.ForeignKey(
        "wagtail_company_mfa.Company",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("company"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    expires_at = models.DateTimeField(_("expires at"))
    used_at = models.DateTimeField(_("used at"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("access code")
        verbose_name_plural = _("access codes")

    def __str__(self) -> str:
        state = "used" if self.used_at else "unused"
        return f"Access code of user {self.user_id} ({state}, expires {self.expires_at:%Y-%m-%d %H:%M})"


class AccessCodeThrottle(AtomicThrottlingMixin, _NoFurtherChecks, models.Model):
    """
    The growing delay after wrong access codes, per user, counted in the database (SEC-10, SEC-11, SEC-12):
    the person has no device left to count them on.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="+",
        verbose_name=_("user"),
    )

    class Meta:
        verbose_name = _("access code throttle")
        verbose_name_plural = _("access code throttles")

    def __str__(self) -> str:
        return f"Access code attempts of user {self.user_id}: {self.throttling_failure_count} failed"


class ReenrollmentRequest(models.Model):
    """
    An administrator asked ``user`` to set MFA up again: at their next sign-in (after their current second
    factor) they must add a new factor and save a new recovery code before anything else; then the factors
    they had before ``requested_at`` are removed and this row with them.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="+",
        verbose_name=_("user"),
    )
    requested_at = models.DateTimeField(_("requested at"), default=timezone.now)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("requested by"),
    )

    class Meta:
        verbose_name = _("re-enrollment request")
        verbose_name_plural = _("re-enrollment requests")

    def __str__(self) -> str:
        return f"Re-enrollment of user {self.user_id} requested {self.requested_at:%Y-%m-%d %H:%M}"
