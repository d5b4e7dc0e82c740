"""The counts at the top of a company's enrollment report, kept between page views (docs/performance.md)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from .companies import Company


class EnrollmentCounts(models.Model):
    """
    A company's members by enrollment state, as last counted, and until when that count holds.

    ``generation`` grows by one with every change that can move a count (a membership, an enrolling device,
    the company's policy: ``companies/counts.py``); a count is only written if the generation is still the one
    read before counting, so a change made while counting is never hidden. The row is a cache: deleting it
    loses nothing but the next page view's time.
    """

    company = models.OneToOneField(
        Company,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="enrollment_counts",
        verbose_name=_("company"),
    )
    generation = models.PositiveBigIntegerField(default=0)
    #: ``None`` until counted, and again after a change.
    members = models.PositiveIntegerField(null=True)
    enrolled = models.PositiveIntegerField(null=True)
    overdue = models.PositiveIntegerField(null=True)
    due = models.PositiveIntegerField(null=True)
    exempt = models.PositiveIntegerField(null=True)
    #: What the counts were made under: the company's policy, its newest membership and the newest enrolling
    #: device (``companies.counts.made_under``).
    made_under = models.CharField(max_length=255, blank=True)
    counted_at = models.DateTimeField(null=True)
    #: The first instant at which time alone may change a count (a deadline passing), or the age limit.
    valid_until = models.DateTimeField(null=True)

    class Meta:
        verbose_name = _("enrollment counts")
        verbose_name_plural = _("enrollment counts")

    def __str__(self) -> str:
        return f"enrollment counts of company {self.company_id} (generation {self.generation})"
