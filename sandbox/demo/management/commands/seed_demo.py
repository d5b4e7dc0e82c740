"""
``manage.py seed_demo``: the sandbox's demo companies and accounts (SPEC §6), created or put back in place.

Idempotent: a second run changes nothing, and a run after the demo data was changed (in the admin, or by
trying the flows: enrolling bob, resetting erin...) puts it back. The enforcement dates are relative to today
in each company's time zone, so a run on a later day moves them along with it.
"""

from __future__ import annotations

import base64
import datetime
import zoneinfo
from dataclasses import dataclass

from cryptography.fernet import InvalidToken
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from wagtail_company_mfa.models import (
    AuthenticatorDevice,
    Company,
    CompanyMembership,
    RecoveryCodeDevice,
)
from wagtail_company_mfa.policy import Requirement, Status, requirement_for
from wagtail_company_mfa.recovery_codes import codes as recovery_codes

#: Every demo account's password.
PASSWORD = "mfa-demo-2026"

#: erin's authenticator secret. SANDBOX ONLY: it is published here so that testers can compute her codes.
#: It is the well-known 80-bit demo key; real enrollments always get a fresh 160-bit secret, and enrollment
#: refuses anything under 128 bits, so only this seed can store a key this short.
ERIN_SETUP_KEY = "JBSWY3DPEHPK3PXP"
ERIN_KEY = base64.b32decode(ERIN_SETUP_KEY)

#: A one-liner that prints erin's current code with any Python that has ``cryptography``.
CODE_ONE_LINER = (
    'python -c "import base64, time; '
    "from cryptography.hazmat.primitives.hashes import SHA1; "
    "from cryptography.hazmat.primitives.twofactor.totp import TOTP; "
    f"print(TOTP(base64.b32decode('{ERIN_SETUP_KEY}'), 6, SHA1(), 30, enforce_key_length=False)"
    '.generate(time.time()).decode())"'
)

#: Memberships are back-dated this far, so that they all predate every enforcement date and no grace applies.
JOINED_DAYS_AGO = 90

MEMBER = CompanyMembership.Role.MEMBER
ADMIN = CompanyMembership.Role.ADMIN


@dataclass(frozen=True)
class DemoCompany:
    slug: str
    name: str
    time_zone: str
    require_mfa: bool
    #: The enforcement date, in days from today in the company's time zone (``None``: no date).
    days_from_today: int | None
    #: How long a member may trust a browser, in hours (``Company.trust_browser_for``; 0: never).
    trust_browser_for: int = 0


@dataclass(frozen=True)
class DemoUser:
    username: str
    first_name: str
    last_name: str
    email: str
    #: ``(company slug, role)`` pairs.
    companies: tuple[tuple[str, str], ...]
    superuser: bool = False
    enrolled: bool = False


COMPANIES = (
    # Trusted browsers for 7 days, so that erin can try "Trust this browser".
    DemoCompany("acme-builders", "Acme Builders", "America/Chicago", True, -7, trust_browser_for=24 * 7),
    DemoCompany("bluebird-contracting", "Bluebird Contracting", "Europe/London", True, 30),
    DemoCompany("cedar-homes", "Cedar Homes", "Australia/Sydney", False, None),
)

USERS = (
    DemoUser(
        "admin",
        "Ada",
        "Admin",
        "admin@sandbox.example",
        (("acme-builders", ADMIN), ("bluebird-contracting", ADMIN), ("cedar-homes", ADMIN)),
        superuser=True,
    ),
    DemoUser("alice", "Alice", "Archer", "alice@acme.example", (("acme-builders", MEMBER),)),
    DemoUser("bob", "Bob", "Brennan", "bob@bluebird.example", (("bluebird-contracting", MEMBER),)),
    DemoUser("carol", "Carol", "Chen", "carol@cedar.example", (("cedar-homes", MEMBER),)),
    DemoUser(
        "dave",
        "Dave",
        "Dawson",
        "dave@cedar.example",
        (("cedar-homes", MEMBER), ("acme-builders", MEMBER)),
    ),
    DemoUser("erin", "Erin", "Evans", "erin@acme.example", (("acme-builders", MEMBER),), enrolled=True),
    # A company-scoped administrator: an ordinary editor who administers Bluebird only.
    DemoUser("frank", "Frank", "Fischer", "frank@bluebird.example", (("bluebird-contracting", ADMIN),)),
)

EDITORS_GROUP = "Editors"


class Command(BaseCommand):
    help = (
        "Create the sandbox's demo companies and accounts, or put them back as they should be, and print "
        "the accounts with their passwords and MFA state. Safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--new-recovery-code",
            action="store_true",
            help="Replace erin's recovery code(s) even if she has an unused one, so that it can be shown.",
        )

    def handle(self, *args, new_recovery_code=False, **options):
        self.changes: list[str] = []
        now = timezone.now()
        with transaction.atomic():
            editors = self.ensure_editors_group()
            companies = {spec.slug: self.ensure_company(spec, now) for spec in COMPANIES}
            users = []
            fresh_codes = None
            for spec in USERS:
                user = self.ensure_user(spec, editors)
                self.ensure_memberships(user, spec, companies, now)
                if spec.enrolled:
                    fresh_codes = self.ensure_enrolled(user, new_recovery_code=new_recovery_code)
                else:
                    self.ensure_not_enrolled(user)
                users.append((spec, user))

        if self.changes:
            self.stdout.write("Demo data updated:")
            for change in self.changes:
                self.stdout.write(f"  - {change}")
        else:
            self.stdout.write("Demo data already in place: nothing changed.")
        self.stdout.write("")
        self.print_accounts(users, companies, now)
        self.print_erin(fresh_codes)

    # Seeding ------------------------------------------------------------------------------------------------

    def _sync(self, obj, label: str, **values) -> None:
        """Set the fields of ``obj`` that differ from ``values`` and save only those."""
        changed = [name for name, value in values.items() if getattr(obj, name) != value]
        if not changed:
            return
        for name in changed:
            setattr(obj, name, values[name])
        obj.save(update_fields=changed)
        self.changes.append(f"{label}: fixed {', '.join(changed)}")

    def ensure_editors_group(self) -> Group:
        group, created = Group.objects.get_or_create(name=EDITORS_GROUP)
        if created:
            self.changes.append(f"group {EDITORS_GROUP!r}: created")
        access_admin = Permission.objects.get(content_type__app_label="wagtailadmin", codename="access_admin")
        if not group.permissions.filter(pk=access_admin.pk).exists():
            group.permissions.add(access_admin)
            self.changes.append(f"group {EDITORS_GROUP!r}: given access to the Wagtail admin")
        return group

    def ensure_company(self, spec: DemoCompany, now: datetime.datetime) -> Company:
        if spec.days_from_today is None:
            enforcement_date = None
        else:
            today = now.astimezone(zoneinfo.ZoneInfo(spec.time_zone)).date()
            enforcement_date = today + datetime.timedelta(days=spec.days_from_today)
        values = {
            "name": spec.name,
            "time_zone": spec.time_zone,
            "require_mfa": spec.require_mfa,
            "enforcement_date": enforcement_date,
            "new_member_grace_days": 0,
            "trust_browser_for": spec.trust_browser_for,
        }
        company = Company.objects.filter(slug=spec.slug).first()
        if company is None:
            company = Company.objects.create(slug=spec.slug, **values)
            self.changes.append(f"company {spec.name!r}: created")
        else:
            self._sync(company, f"company {spec.name!r}", **values)
        return company

    def ensure_user(self, spec: DemoUser, editors: Group):
        User = get_user_model()
        values = {
            "first_name": spec.first_name,
            "last_name": spec.last_name,
            "email": spec.email,
            "is_active": True,
            "is_superuser": spec.superuser,
            # Only the superuser may use the Django admin; the Wagtail admin needs no is_staff.
            "is_staff": spec.superuser,
        }
        user = User.objects.filter(username=spec.username).first()
        if user is None:
            user = User(username=spec.username, **values)
            user.set_password(PASSWORD)
            user.save()
            user.groups.set([editors])
            self.changes.append(f"user {spec.username!r}: created")
            return user
        else:
            self._sync(user, f"user {spec.username!r}", **values)
            if not user.check_password(PASSWORD):
                user.set_password(PASSWORD)
                user.save(update_fields=["password"])
                self.changes.append(f"user {spec.username!r}: password reset to the demo password")
        if {group.pk for group in user.groups.all()} != {editors.pk}:
            user.groups.set([editors])
            self.changes.append(f"user {spec.username!r}: put in the {EDITORS_GROUP!r} group only")
        return user

    def ensure_memberships(self, user, spec: DemoUser, companies: dict[str, Company], now) -> None:
        wanted = {companies[slug].pk: role for slug, role in spec.companies}
        joined_at = now - datetime.timedelta(days=JOINED_DAYS_AGO)
        # Anything later than this could fall after an enforcement date and bring in a grace period.
        latest_join = now - datetime.timedelta(days=JOINED_DAYS_AGO // 2)

        extra = CompanyMembership.objects.filter(user=user).exclude(company_id__in=wanted)
        for membership in extra.select_related("company"):
            self.changes.append(f"user {spec.username!r}: removed from {membership.company.name!r}")
        extra.delete()

        existing = {m.company_id: m for m in CompanyMembership.objects.filter(user=user)}
        for company_id, role in wanted.items():
            label = f"membership {spec.username!r} @ {self._company_name(companies, company_id)!r}"
            membership = existing.get(company_id)
            if membership is None:
                CompanyMembership.objects.create(
                    user=user, company_id=company_id, role=role, is_active=True, joined_at=joined_at
                )
                self.changes.append(f"{label}: created")
                continue
            values = {"role": role, "is_active": True}
            if membership.joined_at > latest_join:
                values["joined_at"] = joined_at
            changed = [name for name, value in values.items() if getattr(membership, name) != value]
            if changed:
                # A queryset update, not save(): saving a reactivated membership restarts its grace period
                # at "now", which is exactly the drift being undone here.
                CompanyMembership.objects.filter(pk=membership.pk).update(**values)
                self.changes.append(f"{label}: fixed {', '.join(changed)}")

    @staticmethod
    def _company_name(companies: dict[str, Company], company_id: int) -> str:
        return next(company.name for company in companies.values() if company.pk == company_id)

    def ensure_enrolled(self, user, *, new_recovery_code: bool) -> list[str] | None:
        """erin: one confirmed authenticator with the published key, and an unused recovery code."""
        label = f"user {user.username!r}"
        device = AuthenticatorDevice.objects.filter(user=user).first()
        if device is None:
            device = AuthenticatorDevice(user=user, name="Authenticator app", confirmed=True)
            device.set_key(ERIN_KEY)
            device.save()
            self.changes.append(f"{label}: authenticator app set up")
        else:
            try:
                key_is_right = device.bin_key == ERIN_KEY
            except InvalidToken:  # encrypted with another key: treat it as drift
                key_is_right = False
            if not key_is_right:
                device.set_key(ERIN_KEY)
                device.last_t = -1
                device.save(update_fields=["encrypted_key", "last_t"])
                self.changes.append(f"{label}: authenticator key put back to the demo key")
            self._sync(
                device,
                f"authenticator of {user.username!r}",
                confirmed=True,
                throttling_failure_count=0,
                throttling_failure_timestamp=None,
            )

        codes_device = RecoveryCodeDevice.objects.filter(user=user).first()
        if new_recovery_code or codes_device is None or codes_device.unused_count == 0:
            # Imported here so that the rest of the command does not depend on the flows module.
            from wagtail_company_mfa.recovery_codes.flows import issue_recovery_codes

            codes = issue_recovery_codes(user)
            self.changes.append(f"{label}: new recovery code issued")
            return codes
        self._sync(
            codes_device,
            f"recovery codes of {user.username!r}",
            confirmed=True,
            throttling_failure_count=0,
            throttling_failure_timestamp=None,
        )
        return None

    def ensure_not_enrolled(self, user) -> None:
        for model, what in (
            (AuthenticatorDevice, "authenticator app"),
            (RecoveryCodeDevice, "recovery codes"),
        ):
            deleted, _ = model.objects.filter(user=user).delete()
            if deleted:
                self.changes.append(f"user {user.username!r}: {what} removed (the demo starts unenrolled)")

    # Output -------------------------------------------------------------------------------------------------

    def print_accounts(self, users, companies: dict[str, Company], now) -> None:
        names = {slug: company.name for slug, company in companies.items()}
        enrolled = set(
            AuthenticatorDevice.objects.filter(
                user__in=[user for _spec, user in users], confirmed=True
            ).values_list("user_id", flat=True)
        )
        header = ("Username", "Password", "Companies", "MFA requirement", "Enrolled")
        rows = [header]
        for spec, user in users:
            memberships = ", ".join(
                names[slug] + (" (admin)" if role == ADMIN else "") for slug, role in spec.companies
            )
            rows.append(
                (
                    spec.username + (" (superuser)" if spec.superuser else ""),
                    PASSWORD,
                    memberships,
                    describe(requirement_for(user, now=now)),
                    "yes" if user.pk in enrolled else "no",
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        for index, row in enumerate(rows):
            self.stdout.write(
                "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            )
            if index == 0:
                self.stdout.write("  ".join("-" * width for width in widths))
        admin_url = getattr(settings, "WAGTAILADMIN_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
        self.stdout.write("")
        self.stdout.write(
            f"Sign in at {admin_url}/admin/ (the Django admin is at {admin_url}/django-admin/)."
        )

    def print_erin(self, fresh_codes: list[str] | None) -> None:
        grouped = " ".join(ERIN_SETUP_KEY[i : i + 4] for i in range(0, len(ERIN_SETUP_KEY), 4))
        self.stdout.write("")
        self.stdout.write("erin is enrolled. Her authenticator (sandbox only, never use a published key):")
        self.stdout.write(f"  setup key: {ERIN_SETUP_KEY}  ({grouped})")
        self.stdout.write(
            "  add it to an authenticator app as a time-based key, or print her current code with:"
        )
        self.stdout.write(f"  {CODE_ONE_LINER}")
        if fresh_codes:
            self.stdout.write("")
            label = "recovery code" if len(fresh_codes) == 1 else "recovery codes"
            self.stdout.write(f"erin's new {label} (shown only now; only a hash is stored):")
            for code in fresh_codes:
                self.stdout.write(f"  {recovery_codes.display(code)}")
        else:
            self.stdout.write("")
            self.stdout.write(
                "erin already has an unused recovery code; it is stored hashed, so it cannot be shown again. "
                "Run `manage.py seed_demo --new-recovery-code` for a new one."
            )


def describe(requirement: Requirement) -> str:
    """``NOT_REQUIRED``, ``UPCOMING until <date>`` or ``REQUIRED since <date>``, as the table shows it."""
    if not requirement.companies:
        return requirement.status.name
    first = requirement.companies[0]
    local = first.deadline.astimezone(zoneinfo.ZoneInfo(first.time_zone))
    when = local.date().isoformat()
    if local.time() != datetime.time.min:
        when += local.strftime(" %H:%M")
    word = "until" if requirement.status is Status.UPCOMING else "since"
    return f"{requirement.status.name} {word} {when} ({first.company_name})"
