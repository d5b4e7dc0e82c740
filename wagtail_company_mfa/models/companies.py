"""Companies, their MFA policy, and who belongs to them."""

from __future__ import annotations

import datetime
import functools
import logging
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..conf import mfa_settings
from .trusted import TrustPeriod

logger = logging.getLogger(__name__)

#: The longest grace period a company may give late joiners, in days.
MAX_GRACE_DAYS = 365

#: The earliest and latest enforcement dates a company may choose. Far enough apart for any real policy,
#: and far enough from the ends of Python's calendar (years 1 and 9999) that turning the date into an
#: instant in any time zone, plus a grace period, cannot overflow (docs/policy.md, "Enforcement date").
MIN_ENFORCEMENT_DATE = datetime.date(2000, 1, 1)
MAX_ENFORCEMENT_DATE = datetime.date(9000, 12, 31)


@functools.cache
def _known_time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def validate_time_zone(value: str) -> None:
    """Accept only IANA zone names this Python knows (``Europe/Amsterdam``, ``UTC``...)."""
    if value not in _known_time_zones():
        raise ValidationError(
            _("“%(value)s” is not a time zone this site knows. Use an IANA name such as “Europe/Amsterdam”."),
            code="invalid_time_zone",
            params={"value": value},
        )


def default_time_zone() -> str:
    """
    A new company's time zone: ``DEFAULT_TIME_ZONE`` (by default the project's ``TIME_ZONE``) when it names
    a zone this Python knows, else UTC (a system check reports a bad setting).
    """
    zone = mfa_settings.DEFAULT_TIME_ZONE
    return zone if zone in _known_time_zones() else "UTC"


def validate_enforcement_date(value: datetime.date) -> None:
    """Accept only dates from :data:`MIN_ENFORCEMENT_DATE` to :data:`MAX_ENFORCEMENT_DATE`."""
    if value is not None and not MIN_ENFORCEMENT_DATE <= value <= MAX_ENFORCEMENT_DATE:
        raise ValidationError(
            _("Choose an enforcement date between the years %(min_year)s and %(max_year)s."),
            code="enforcement_date_out_of_range",
            params={"min_year": MIN_ENFORCEMENT_DATE.year, "max_year": MAX_ENFORCEMENT_DATE.year},
        )


class AllowedMethods(models.TextChoices):
    """Which second factors a company counts (``Company.allowed_methods``; the strictest company wins)."""

    ANY = "any", _("Any method")
    PHISHING_RESISTANT = "phishing_resistant", _("Phishing-resistant only (passkeys and security keys)")


class Company(models.Model):
    """
    A group of users with an MFA policy.

    The policy is three fields: the ``require_mfa`` switch, the ``enforcement_date`` (a calendar date that
    starts at 00:00 in the company's ``time_zone``) and ``new_member_grace_days`` for people who join after
    that date. The requirement of a user across all their companies is computed by
    :func:`wagtail_company_mfa.policy.requirement_for`.
    """

    name = models.CharField(_("name"), max_length=255)
    slug = models.SlugField(
        _("slug"),
        max_length=255,
        unique=True,
        help_text=_("A short, unique name used in URLs and exports."),
    )
    time_zone = models.CharField(
        _("time zone"),
        max_length=64,
        default=default_time_zone,
        validators=[validate_time_zone],
        help_text=_("The enforcement date starts at 00:00 in this time zone."),
    )
    require_mfa = models.BooleanField(
        _("require MFA"),
        default=False,
        help_text=_("From the enforcement date on, members must sign in with a second factor."),
    )
    enforcement_date = models.DateField(
        _("enforcement date"),
        null=True,
        blank=True,
        validators=[validate_enforcement_date],
        help_text=_("Members may enroll as soon as a date is set; from this date on, MFA is required."),
    )
    new_member_grace_days = models.PositiveSmallIntegerField(
        _("grace days for new members"),
        default=0,
        validators=[
            MinValueValidator(0, message=_("The grace period cannot be negative.")),
            MaxValueValidator(
                MAX_GRACE_DAYS,
                message=_("The grace period can be at most %(limit_value)s days."),
            ),
        ],
        help_text=_(
            "People who join after the enforcement date get this many days from joining to set up MFA."
        ),
    )
    allowed_methods = models.CharField(
        _("allowed methods"),
        max_length=24,
        choices=AllowedMethods.choices,
        default=AllowedMethods.ANY,
        help_text=_(
            "Which second factors count for members. With phishing-resistant only, a member who has only an "
            "authenticator app must add a passkey or security key, from the same date as MFA itself."
        ),
    )
    trust_browser_for = models.PositiveIntegerField(
        _("ask for the second factor"),
        choices=TrustPeriod.choices,
        default=TrustPeriod.NEVER,
        help_text=_(
            "Whether members may tick “Trust this browser” when they verify, and for how long. The strictest "
            "of a member's companies wins. The password is always asked."
        ),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("company")
        verbose_name_plural = _("companies")
        ordering = ["name"]
        permissions = [
            (
                "manage_all_companies",
                _("Can manage every company's MFA policy, members and resets"),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(new_member_grace_days__lte=MAX_GRACE_DAYS),
                name="wagtail_company_mfa_grace_days_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        if self.require_mfa and self.enforcement_date is None:
            raise ValidationError(
                {"enforcement_date": _("Choose the date from which members must use MFA.")},
                code="enforcement_date_required",
            )

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return company_zone(self.time_zone, company_id=self.pk)

    @property
    def enforcement_starts_at(self) -> datetime.datetime | None:
        """The aware instant at which the enforcement date begins (00:00 in the company's time zone)."""
        if self.enforcement_date is None:
            return None
        return start_of_day(self.enforcement_date, self.time_zone, company_id=self.pk)

    @property
    def policy_is_set(self) -> bool:
        """True when the switch is on and a date is set: members may (and later must) enroll."""
        return self.require_mfa and self.enforcement_date is not None


def company_zone(time_zone: str, *, company_id=None) -> zoneinfo.ZoneInfo:
    """
    The zone named ``time_zone``, or UTC (with a warning naming the company) for a name this Python does not
    know: a value written around the form's validation must not break every page that shows a deadline.
    """
    try:
        return zoneinfo.ZoneInfo(time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        logger.warning(
            "Company %s has an unknown time zone %r; its enforcement date is taken to start in UTC.",
            company_id,
            time_zone,
        )
        return zoneinfo.ZoneInfo("UTC")


def clamp_enforcement_date(day: datetime.date, *, company_id=None) -> datetime.date:
    """
    ``day`` moved into the range a company may choose. A stored date outside it (written around the form's
    validation) is logged and treated as the nearest date inside it, so the company still requires MFA,
    from the earliest or the latest instant the package supports (docs/policy.md).
    """
    if MIN_ENFORCEMENT_DATE <= day <= MAX_ENFORCEMENT_DATE:
        return day
    clamped = min(max(day, MIN_ENFORCEMENT_DATE), MAX_ENFORCEMENT_DATE)
    logger.warning(
        "Company %s has the enforcement date %s, outside the supported range %s to %s; it is treated as %s.",
        company_id,
        day.isoformat(),
        MIN_ENFORCEMENT_DATE.isoformat(),
        MAX_ENFORCEMENT_DATE.isoformat(),
        clamped.isoformat(),
    )
    return clamped


def start_of_day(day: datetime.date, time_zone: str, *, company_id=None) -> datetime.datetime:
    """
    00:00 of ``day`` in ``time_zone``, as an aware UTC datetime. Never raises: a date outside the supported
    range is clamped into it and an unknown zone is taken as UTC, each with a warning naming ``company_id``.

    Where a zone skips midnight (a DST change at 00:00), the day starts at the first instant that exists:
    ``fold=0`` maps the missing wall time onto the offset in force before the gap, which is the moment of
    the change itself.
    """
    day = clamp_enforcement_date(day, company_id=company_id)
    zone = company_zone(time_zone, company_id=company_id)
    local = datetime.datetime.combine(day, datetime.time.min, tzinfo=zone)
    return local.astimezone(datetime.timezone.utc)


class CompanyMembership(models.Model):
    """A user's place in a company. Inactive memberships count for nothing."""

    class Role(models.TextChoices):
        MEMBER = "member", _("Member")
        ADMIN = "admin", _("Administrator")

    company = models.ForeignKey(
        Company, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("company")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="company_memberships",
        verbose_name=_("user"),
    )
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.MEMBER)
    is_active = models.BooleanField(
        _("active"),
        default=True,
        help_text=_("Inactive members are ignored. Reactivating a member restarts their grace period."),
    )
    joined_at = models.DateTimeField(_("joined at"), default=timezone.now)

    class Meta:
        verbose_name = _("company membership")
        verbose_name_plural = _("company memberships")
        ordering = ["company", "user"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "company"],
                name="wagtail_company_mfa_unique_membership",
                violation_error_message=_("This person is already a member of this company."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.company}"

    #: ``is_active`` as loaded from the database (``None`` if it was deferred): see ``save``.
    _loaded_is_active: bool | None

    def save(self, *args, **kwargs):
        # A reactivated member is treated as a newly joined one (docs/policy.md): their grace period restarts.
        if self.is_active and getattr(self, "_loaded_is_active", None) is False:
            self.joined_at = timezone.now()
            update_fields = kwargs.get("update_fields")
            if update_fields is not None and "is_active" in update_fields:
                kwargs["update_fields"] = {*update_fields, "joined_at"}
        super().save(*args, **kwargs)
        self._loaded_is_active = self.is_active

    @classmethod
    def from_db(cls, db, field_names, values, **kwargs):
        instance = super().from_db(db, field_names, values, **kwargs)
        instance._loaded_is_active = instance.__dict__.get("is_active")
        return instance

    @property
    def is_admin(self) -> bool:
        return self.role == self.Role.ADMIN
