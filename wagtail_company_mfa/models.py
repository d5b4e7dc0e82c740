"""Companies, their MFA policy, and who belongs to them."""

from __future__ import annotations

import contextvars
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
from django_otp.models import Device, ThrottlingMixin, TimestampMixin

from . import crypto, recovery_codes, totp
from .conf import mfa_settings

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
    return mfa_settings.DEFAULT_TIME_ZONE


def validate_enforcement_date(value: datetime.date) -> None:
    """Accept only dates from :data:`MIN_ENFORCEMENT_DATE` to :data:`MAX_ENFORCEMENT_DATE`."""
    if value is not None and not MIN_ENFORCEMENT_DATE <= value <= MAX_ENFORCEMENT_DATE:
        raise ValidationError(
            _("Choose an enforcement date between the years %(min_year)s and %(max_year)s."),
            code="enforcement_date_out_of_range",
            params={"min_year": MIN_ENFORCEMENT_DATE.year, "max_year": MAX_ENFORCEMENT_DATE.year},
        )


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

    def save(self, *args, **kwargs):
        # A reactivated member is treated as a newly joined one (SPEC §2): their grace period restarts.
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


#: What the latest ``verify_token`` of a device in this context did: ``"checked"`` (the code was compared,
#: and counted) or ``"refused"`` (throttled under the row lock, so not compared). django-otp's
#: ``verify_token`` returns only the device or ``None``; this lets the caller tell the user which it was.
last_verify_outcome: contextvars.ContextVar[str] = contextvars.ContextVar(
    "wagtail_company_mfa_last_verify_outcome", default=""
)


class AtomicThrottlingMixin(ThrottlingMixin):
    """
    django-otp's growing delay after wrong codes, with the package's factor, counted by one atomic ``UPDATE``
    so that concurrent failures are all counted (SEC-11, SEC-15).
    """

    class Meta:
        abstract = True

    def verify_is_allowed(self):
        allowed, info = super().verify_is_allowed()
        last_verify_outcome.set("checked" if allowed else "refused")
        return allowed, info

    def get_throttle_factor(self) -> int:
        return mfa_settings.THROTTLE_FACTOR

    def throttle_increment(self, commit=True):
        super().throttle_increment(commit=False)
        if commit:
            type(self).objects.filter(pk=self.pk).update(
                throttling_failure_count=models.F("throttling_failure_count") + 1,
                throttling_failure_timestamp=self.throttling_failure_timestamp,
            )


class AuthenticatorDevice(TimestampMixin, AtomicThrottlingMixin, Device):
    """
    A user's authenticator app (TOTP, RFC 6238): 6 digits, 30-second steps, HMAC-SHA-1, the current step ±1.

    Unlike django-otp's ``TOTPDevice``, the secret is encrypted at rest (SEC-43), a code is accepted only for
    a time step later than the last accepted one, decided by one conditional ``UPDATE`` (SEC-05, SEC-06),
    and the step window never drifts (SEC-09). A user has at most one.
    """

    STEP = 30
    DIGITS = 6
    TOLERANCE = 1

    encrypted_key = models.TextField(_("encrypted secret"), editable=False)
    last_t = models.BigIntegerField(
        _("last accepted time step"),
        default=-1,
        help_text=_("Only codes for a later time step are accepted."),
    )
    enrolled_ip = models.GenericIPAddressField(_("enrolled from IP address"), null=True, blank=True)
    enrolled_user_agent = models.CharField(_("enrolled from browser"), max_length=255, blank=True)

    class Meta(Device.Meta):
        verbose_name = _("authenticator app")
        verbose_name_plural = _("authenticator apps")
        constraints = [
            models.UniqueConstraint(fields=["user"], name="wagtail_company_mfa_one_authenticator_per_user"),
        ]

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        update_fields = kwargs.get("update_fields")
        if self.confirmed and (update_fields is None or "confirmed" in update_fields):
            # Whatever code saved it (enrollment, a replacement, a site's own script), the person has MFA from
            # now on, unless they had it already: a replacement keeps the first date (SEC-40).
            MFAEnrollment.objects.get_or_create(
                user_id=self.user_id, defaults={"first_enrolled_at": self.created_at or timezone.now()}
            )

    @property
    def bin_key(self) -> bytes:
        return crypto.decrypt(self.encrypted_key)

    def set_key(self, key: bytes) -> None:
        self.encrypted_key = crypto.encrypt(key)

    def verify_token(self, token) -> bool:
        """
        Check ``token`` and consume its time step. Call through :func:`django_otp.verify_token`, which
        locks the row for the duration (``select_for_update`` inside a transaction).
        """
        allowed, _info = self.verify_is_allowed()
        if not allowed:
            return False
        # A secret that cannot be decrypted stops the attempt here, before anything is counted or compared.
        key = self.bin_key
        # Count first (SEC-06, SEC-10): the failure is recorded before the code is compared, in the same
        # transaction, and a right code clears it again below. If the database refuses the write ("database
        # is locked" on SQLite), no code has been compared yet; if anything fails later, the transaction
        # rolls back and the caller answers "try again" whatever the code was. Either way, no verdict on a
        # code ever reaches the user without being counted.
        self.throttle_increment()
        step = totp.matching_step(key, token, after=self.last_t)
        # A conditional UPDATE decides: of two requests presenting the same code, one changes the row and
        # the other finds the step already spent (SEC-05, SEC-06), on SQLite as on PostgreSQL.
        return step is not None and self._consume_step(step)

    def _consume_step(self, step: int) -> bool:
        now = timezone.now()
        updated = (
            type(self)
            .objects.filter(pk=self.pk, last_t__lt=step)
            .update(
                last_t=step, last_used_at=now, throttling_failure_count=0, throttling_failure_timestamp=None
            )
        )
        if updated:
            self.last_t, self.last_used_at = step, now
            self.throttling_failure_count, self.throttling_failure_timestamp = 0, None
        return bool(updated)


class MFAEnrollment(models.Model):
    """
    Since when a person has had two-factor authentication, across replaced authenticators and regenerated
    recovery codes. A company administrator may reset only MFA that was set up while the person was a member
    of their company (SEC-40); basing that on the current authenticator's date would let a replacement phone
    turn a factor the company never governed into one it may strip.

    Written when a confirmed authenticator is first saved; removed only when everything is removed (an
    administrator's reset, ``manage.py mfa_reset``, or the person turning MFA off), so the next enrollment
    starts a new record.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="+",
        verbose_name=_("user"),
    )
    first_enrolled_at = models.DateTimeField(_("first enrolled at"))

    class Meta:
        verbose_name = _("MFA enrollment")
        verbose_name_plural = _("MFA enrollments")

    def __str__(self) -> str:
        return f"MFA of user {self.user_id} since {self.first_enrolled_at:%Y-%m-%d %H:%M}"


class RecoveryCodeDevice(AtomicThrottlingMixin, TimestampMixin, Device):
    """
    A user's single-use recovery codes, as a django-otp device so ``otp_login`` and throttling apply.

    Codes are stored only as salted hashes (SEC-17) in :class:`RecoveryCode` rows; using one marks it spent
    with a conditional ``UPDATE`` (SEC-18). Issuing the replacement is the job of
    :func:`wagtail_company_mfa.flows.use_recovery_code`.
    """

    class Meta(Device.Meta):
        verbose_name = _("recovery codes")
        verbose_name_plural = _("recovery codes")
        constraints = [
            models.UniqueConstraint(fields=["user"], name="wagtail_company_mfa_one_recovery_device_per_user"),
        ]

    def verify_token(self, token) -> bool:
        allowed, _info = self.verify_is_allowed()
        if not allowed:
            return False
        # Count first, as for the authenticator (SEC-06, SEC-10); a right code clears the count below.
        self.throttle_increment()
        code = recovery_codes.normalize(token)
        if code is not None:
            for candidate in self.codes.filter(used_at__isnull=True):
                if recovery_codes.check(code, candidate.code_hash) and candidate.spend():
                    self.throttle_reset(commit=False)
                    self.set_last_used_timestamp(commit=False)
                    self.save(
                        update_fields=[
                            "throttling_failure_count",
                            "throttling_failure_timestamp",
                            "last_used_at",
                        ]
                    )
                    return True
        return False

    @property
    def unused_count(self) -> int:
        return self.codes.filter(used_at__isnull=True).count()


class RecoveryCode(models.Model):
    device = models.ForeignKey(RecoveryCodeDevice, on_delete=models.CASCADE, related_name="codes")
    code_hash = models.CharField(max_length=255, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("recovery code")
        verbose_name_plural = _("recovery codes")

    def __str__(self) -> str:
        # Never the code, never the hash (SEC-44).
        state = "used" if self.used_at else "unused"
        return f"recovery code #{self.pk} ({state})"

    def spend(self) -> bool:
        """Mark this code used; False if another request spent it first."""
        now = timezone.now()
        updated = RecoveryCode.objects.filter(pk=self.pk, used_at__isnull=True).update(used_at=now)
        if updated:
            self.used_at = now
        return bool(updated)


class UserSession(models.Model):
    """
    A session a user signed in with, so that a security change can end the user's other sessions on every
    app server (SEC-36). Written at sign-in and when the session key rotates; never read per request.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    session_key = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("signed-in session")
        verbose_name_plural = _("signed-in sessions")

    def __str__(self) -> str:
        return f"session of user {self.user_id} since {self.created_at:%Y-%m-%d %H:%M}"


# Policy notices and reminders (issue 4) -------------------------------------------------------------------


class MemberNotice(models.Model):
    """
    One email about a company's MFA deadline to one member: a policy notice (the company turned Require MFA
    on with a date, or moved the date) or a reminder N days before the member's own deadline.

    It is both the outbox and the ledger that keeps each notice to one delivery: a unique constraint stops
    a second row for the same (user, company, deadline, days before) reminder or (user, company, enforcement
    date) policy notice, a sender *claims* pending rows before sending, and marks each one sent right after
    its email is handed to the mail server. See ``wagtail_company_mfa.reminders``.
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
