"""The second factors a user has: the authenticator app, recovery codes, and since when they have had MFA."""

from __future__ import annotations

import contextvars

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_otp.models import Device, ThrottlingMixin, TimestampMixin

from .. import crypto
from ..conf import mfa_settings
from ..recovery_codes import codes as recovery_codes
from ..totp import algorithm as totp

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

    def is_replay(self, token) -> bool:
        """Whether ``token`` is valid right now but its time step was already spent (SEC-05)."""
        return totp.matching_step(self.bin_key, token) is not None

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

    Codes are stored only as keyed HMACs (SEC-17) in :class:`RecoveryCode` rows; using one marks it spent
    with a conditional ``UPDATE`` (SEC-18). Issuing the replacement is the job of
    :func:`wagtail_company_mfa.recovery_codes.flows.use_recovery_code`.
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
        code = recovery_codes.normalize(token)
        # The HMACs first: keys that are not usable stop the attempt here, before anything is counted.
        candidates = recovery_codes.lookups(code) if code is not None else []
        # Count first, as for the authenticator (SEC-06, SEC-10); a right code clears the count below.
        self.throttle_increment()
        if code is None:
            return False
        match = self._find_code(code, candidates)
        if match is None or not match.spend():
            return False
        self.throttle_reset(commit=False)
        self.set_last_used_timestamp(commit=False)
        self.save(update_fields=["throttling_failure_count", "throttling_failure_timestamp", "last_used_at"])
        return True

    def _find_code(self, code: str, candidates: list[str]) -> RecoveryCode | None:
        """
        The unused code matching ``code``, in one query whether it is right or wrong and however many keys
        and codes there are (SEC-17): the code's lookup under every configured key, plus any code stored by
        the earlier PBKDF2 scheme (no lookup), which only those users still have.
        """
        rows = list(
            self.codes.filter(
                models.Q(lookup__in=candidates) | models.Q(lookup__isnull=True), used_at__isnull=True
            )
        )
        # The database found the row by its index; compare_digest confirms it without a timing difference.
        for row in rows:
            if recovery_codes.matches(candidates, row.lookup):
                return row
        # Only a user who still has a code of the earlier scheme pays for PBKDF2, once per such code.
        for row in rows:
            if row.lookup is None and recovery_codes.check_legacy(code, row.code_hash):
                return row
        return None

    @property
    def unused_count(self) -> int:
        return self.codes.filter(used_at__isnull=True).count()


class RecoveryCode(models.Model):
    """
    One recovery code, as ``lookup``: its HMAC-SHA256 under a key derived from the encryption keys, prefixed
    with that key's id (SEC-17). Codes issued before the HMAC have no ``lookup`` and a salted PBKDF2 hash in
    ``code_hash`` instead; they keep working until used or replaced.
    """

    device = models.ForeignKey(RecoveryCodeDevice, on_delete=models.CASCADE, related_name="codes")
    # NULL, not "", marks a code of the earlier scheme: the migration leaves old rows NULL, no data step.
    lookup = models.CharField(max_length=80, null=True, blank=True, editable=False, db_index=True)  # noqa: DJ001
    #: The earlier scheme's salted PBKDF2 hash; empty for codes that have a ``lookup``.
    code_hash = models.CharField(max_length=255, blank=True, editable=False)
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


class _NoFurtherChecks:
    """The end of ``verify_is_allowed``'s chain for a throttle that is not a django-otp device."""

    def verify_is_allowed(self):
        return True, None


class PasskeyThrottle(AtomicThrottlingMixin, _NoFurtherChecks, models.Model):
    """
    The growing delay after failed passkey assertions, per user (SEC-12): a passkey sign-in can fail before
    any credential of the user is known (an unknown credential, another user's), so the count cannot live on
    a device row as it does for codes. Also remembers the last challenge a passkey answered, so that the same
    signed assertion is never accepted twice, even from authenticators that keep no signature counter
    (SEC-05).
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="+",
        verbose_name=_("user"),
    )
    last_challenge = models.CharField(_("last answered challenge (hash)"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("passkey throttle")
        verbose_name_plural = _("passkey throttles")

    def __str__(self) -> str:
        return f"Passkey attempts of user {self.user_id}: {self.throttling_failure_count} failed"
