"""TOTP secrets are encrypted at rest with rotatable keys independent of SECRET_KEY (SEC-43)."""

import binascii

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import connection
from factories import enroll_user

from wagtail_company_mfa import crypto
from wagtail_company_mfa.models import AuthenticatorDevice

pytestmark = pytest.mark.django_db

OLD_KEY = "9GZdbRsUHHw1q4mhrxTfTTgLK5lRcB7xhZJ2QPkCgzA="


def stored_row(device) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT encrypted_key FROM {AuthenticatorDevice._meta.db_table} WHERE id = %s", [device.pk]
        )
        return cursor.fetchone()[0]


def test_secret_is_not_stored_in_clear(user):
    phone, _codes = enroll_user(user)
    device = AuthenticatorDevice.objects.get(user=user)
    raw = stored_row(device)
    assert binascii.hexlify(phone.key).decode() not in raw
    assert crypto.decrypt(raw) == phone.key


def test_rotating_secret_key_does_not_lock_anyone_out(user, settings):
    phone, _codes = enroll_user(user)
    settings.SECRET_KEY = "a-completely-new-secret-key"
    assert AuthenticatorDevice.objects.get(user=user).bin_key == phone.key


def test_key_rotation(user, settings, capsys):
    phone, _codes = enroll_user(user)
    new_key = crypto.generate_key()
    settings.WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS = [new_key, OLD_KEY]

    call_command("mfa_rotate_keys")

    assert "Re-encrypted 1 authenticator secret(s)." in capsys.readouterr().out
    settings.WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS = [new_key]  # the old key can now go
    assert AuthenticatorDevice.objects.get(user=user).bin_key == phone.key


def test_secret_under_an_unknown_key_fails_closed(user, settings):  # SEC-46
    enroll_user(user)
    settings.WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS = [crypto.generate_key()]
    device = AuthenticatorDevice.objects.get(user=user)
    with pytest.raises(crypto.InvalidToken):
        device.bin_key  # noqa: B018


def test_rotation_reports_secrets_it_cannot_read(user, settings, capsys):
    enroll_user(user)
    settings.WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS = [crypto.generate_key()]
    with pytest.raises(CommandError, match="could not be decrypted"):
        call_command("mfa_rotate_keys")


def test_malformed_keys_are_a_configuration_error(settings):
    settings.WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS = ["not-a-fernet-key"]
    with pytest.raises(ImproperlyConfigured, match="Entry 1 of WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS"):
        crypto.encrypt(b"x" * 20)


def test_without_configured_keys_a_key_is_derived_from_secret_key(settings):
    settings.WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS = None
    token = crypto.encrypt(b"s" * 20)
    assert crypto.decrypt(token) == b"s" * 20
    settings.SECRET_KEY = "changed"
    with pytest.raises(crypto.InvalidToken):
        crypto.decrypt(token)


def test_secrets_stored_before_keys_were_configured_can_be_rotated_onto_them(user, settings, capsys):
    settings.WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS = None  # a site that enrolled users before setting keys
    phone, _codes = enroll_user(user)
    settings.WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS = [crypto.generate_key()]
    assert AuthenticatorDevice.objects.get(user=user).bin_key == phone.key  # still readable

    call_command("mfa_rotate_keys")

    settings.SECRET_KEY = "rotated-after-the-move"
    assert AuthenticatorDevice.objects.get(user=user).bin_key == phone.key
