"""Emails about a company's MFA deadline: the outbox and ledger of policy notices and reminders."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .companies import Company


class MemberNotice(models.Model):
    """
    One email about a company's MFA deadline to one member: a policy notice (the company turned Require MFA
    on with a date, or moved the date) or a reminder N days before the member's own deadline.

    It is both the outbox and the ledger that keeps each notice to one delivery: a unique constraint stops
    a second row for the same (user, company, deadline, days before) reminder or (user, company, enforcement
    date) policy notice, a sender *claims* pending rows before sending, and marks a batch's rows sent once
    the mail server has accepted their emails. See ``wagtail_company_mfa.notices``.
    """

    class Kind(models.TextChoices):
        POLICY = "policy", _("Policy notice")
        REMINDER = "reminder", _("Reminder")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENT = "sent", _("Sent")
        #: No longer true when its turn came (the member enrolled, left, or the date moved): not sent.
        CANCELLED = "cancelled", _("Cancelled")
        #: The mail server refused it too many times.
        FAILED = "failed", _("Failed")
        #: A policy notice for a date the company has since moved away from: kept for the record, and no
        #: longer blocking a new notice should the company move back to that date.
        SUPERSEDED = "superseded", _("Superseded")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("user")
    )
    company = models.ForeignKey(
        Company, on_delete=models.CASCADE, related_name="+", verbose_name=_("company")
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    #: The company's enforcement date the notice is about.
    enforcement_date = models.DateField(_("enforcement date"))
    #: The member's own deadline (the enforcement instant, or later for a late joiner with grace days).
    deadline = models.DateTimeField(_("deadline"))
    #: For a reminder: how many days before the deadline it is due (one of ``REMINDER_DAYS``); 0 otherwise.
    days_before = models.PositiveSmallIntegerField(_("days before"), default=0)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    #: Which run of the sender holds the row, and since when (a lease: an expired claim may be taken over).
    claim_token = models.UUIDField(null=True, blank=True, editable=False)
    claimed_at = models.DateTimeField(null=True, blank=True, editable=False)
    attempts = models.PositiveSmallIntegerField(_("failed attempts"), default=0)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("MFA notice")
        verbose_name_plural = _("MFA notices")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "company", "deadline", "days_before"],
                condition=models.Q(kind="reminder"),
                name="wagtail_company_mfa_one_reminder",
            ),
            models.UniqueConstraint(
                fields=["user", "company", "enforcement_date"],
                condition=models.Q(kind="policy") & ~models.Q(status="superseded"),
                name="wagtail_company_mfa_one_policy_notice",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "kind", "id"], name="wagtail_company_mfa_notice_q"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for user {self.user_id} @ company {self.company_id} ({self.status})"
