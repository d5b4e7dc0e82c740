from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from wagtail_company_mfa import crypto
from wagtail_company_mfa.models import AuthenticatorDevice, RecoveryCode
from wagtail_company_mfa.recovery_codes import codes as recovery_codes


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored TOTP secret with the first key in WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS. "
        "Run it after putting a new key first; then the old keys can be removed."
    )

    def handle(self, *args, **options):
        try:
            crypto.rotate(crypto.encrypt(b"-"))  # the key list is usable at all (check E007 says why not)
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None
        rotated = failed = 0
        for pk in AuthenticatorDevice.objects.values_list("pk", flat=True).iterator():
            with transaction.atomic():
                device = AuthenticatorDevice.objects.select_for_update().filter(pk=pk).first()
                if device is None:
                    continue
                try:
                    device.encrypted_key = crypto.rotate(device.encrypted_key)
                except crypto.InvalidToken:
                    # Reported and skipped: one unreadable secret must not keep the others on the old key.
                    failed += 1
                    self.stderr.write(
                        f"Authenticator #{pk} (user #{device.user_id}) cannot be decrypted with any "
                        "configured key; left as it is."
                    )
                    continue
                device.save(update_fields=["encrypted_key"])
                rotated += 1
        self.stdout.write(f"Re-encrypted {rotated} authenticator secret(s).")
        self.report_recovery_codes()
        if failed:
            # A non-zero exit, so a deployment script stops before the old key is removed.
            raise CommandError(
                f"{failed} secret(s) could not be decrypted: put the key they were encrypted with back into "
                "WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS and run this again. Do not remove any key yet."
            )

    def report_recovery_codes(self):
        """
        Recovery codes are stored as an HMAC of the code, which cannot be re-keyed without the code itself:
        say how many still depend on an older key, so the operator knows what removing it would void.
        """
        current = f"{recovery_codes.current_key_id()}$"
        older = RecoveryCode.objects.filter(used_at__isnull=True, lookup__isnull=False).exclude(
            lookup__startswith=current
        )
        codes = older.count()
        if not codes:
            return
        users = older.values("device__user_id").distinct().count()
        self.stdout.write(
            f"{codes} unused recovery code(s) of {users} user(s) were issued under an older key and cannot "
            "be re-keyed (only their HMAC is stored). They keep working while that key stays in "
            "WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS and stop working once it is removed: keep it until they are "
            "used, or have those users show a new recovery code on their Security tab."
        )
