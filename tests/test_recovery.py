"""Recovery codes: generation, storage, single use, and login with a replacement (SPEC §3.4, SEC-16..21)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import math
import re
import time

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from factories import password_login

from wagtail_company_mfa import crypto
from wagtail_company_mfa.models import RecoveryCode, RecoveryCodeDevice
from wagtail_company_mfa.recovery_codes import codes as recovery_codes
from wagtail_company_mfa.recovery_codes import flows as recovery_flows

RECOVERY_URL = "/admin/company-mfa/verify/recovery-code/"
SAVE_URL = "/admin/company-mfa/recovery-code/"


def text(response) -> str:
    return html.unescape(response.content.decode())


def shown_codes(response) -> list[str]:
    return re.findall(r'id="mfa-recovery-code-\d+" data-mfa-value="([0-9A-Z-]+)"', response.content.decode())


# The codes themselves --------------------------------------------------------------------------------------


def test_codes_have_80_bits_from_the_crockford_alphabet():  # SEC-16
    codes = {recovery_codes.generate() for _ in range(500)}
    assert len(codes) == 500
    for code in codes:
        assert len(code) == 16
        assert set(code) <= set(recovery_codes.ALPHABET)
    assert len(recovery_codes.ALPHABET) == 32
    assert 16 * math.log2(len(recovery_codes.ALPHABET)) == 80


def test_codes_are_shown_grouped():
    assert recovery_codes.display("ABCDEFGHJKMNPQRS") == "ABCD-EFGH-JKMN-PQRS"


@pytest.mark.parametrize(
    "typed",
    ["ABCD-EFGH-JKMN-PQRS", "abcd efgh jkmn pqrs", " ABCDEFGHJKMNPQRS\n", "abcd-efgh-jkmn-pqrs"],
)
def test_typing_variations_are_accepted(typed):
    assert recovery_codes.normalize(typed) == "ABCDEFGHJKMNPQRS"


def test_lookalike_letters_read_as_digits():
    assert recovery_codes.normalize("O1IL-0000-0000-0000") == "0111000000000000"


@pytest.mark.parametrize(
    "typed",
    [
        "ABCD-EFGH-JKMN-PQR",
        "ABCD-EFGH-JKMN-PQRSX",
        "ABCD-EFGH-JKMN-PQR!",
        "",
        None,
        42,
        "ＡＢＣＤ-EFGH-JKMN-PQRS",
        "x" * 500,
    ],
)
def test_malformed_codes_are_refused(typed):
    assert recovery_codes.normalize(typed) is None


def test_stored_as_keyed_hmac_and_the_stored_value_is_not_a_code(settings):  # SEC-17, ADV-16
    code = recovery_codes.generate()
    stored = recovery_codes.lookup(code)
    assert code not in stored
    assert recovery_codes.matches(recovery_codes.lookups(code), stored)
    assert recovery_codes.normalize(stored) is None  # cannot even be typed as a code
    assert not recovery_codes.matches(recovery_codes.lookups(recovery_codes.generate()), stored)
    assert not recovery_codes.matches(recovery_codes.lookups(code), None)
    assert not recovery_codes.matches(recovery_codes.lookups(code), "not a lookup é")


def test_the_lookup_is_keyed(settings):  # SEC-17: a database dump alone cannot test guesses
    code = recovery_codes.generate()
    under_a = recovery_codes.lookup(code)
    settings.WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS = [crypto.generate_key()]
    under_b = recovery_codes.lookup(code)
    assert recovery_codes.key_id_of(under_a) != recovery_codes.key_id_of(under_b)
    assert under_a.partition("$")[2] != under_b.partition("$")[2]
    # Not the plain SHA-256 of the code, nor an HMAC keyed with SECRET_KEY, nor the Fernet key itself.
    assert hashlib.sha256(code.encode()).hexdigest() not in under_b
    assert hmac.new(settings.SECRET_KEY.encode(), code.encode(), "sha256").hexdigest() not in under_b
    (key,) = settings.WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS
    for raw in (key.encode(), base64.urlsafe_b64decode(key)):
        assert hmac.new(raw, code.encode(), "sha256").hexdigest() not in under_b


def test_the_lookup_is_compared_in_constant_time(monkeypatch):  # SEC-17
    compared = []
    real = hmac.compare_digest
    monkeypatch.setattr(
        recovery_codes.hmac, "compare_digest", lambda a, b: compared.append((a, b)) or real(a, b)
    )
    code = recovery_codes.generate()
    assert recovery_codes.matches(recovery_codes.lookups(code), recovery_codes.lookup(code))
    assert compared  # every comparison goes through compare_digest, not ==


@pytest.mark.django_db
@pytest.mark.parametrize("right", [True, False])
def test_a_code_is_checked_with_one_query_and_no_slow_hash(user, settings, monkeypatch, right):  # SEC-17
    settings.WAGTAIL_COMPANY_MFA_RECOVERY_CODES_COUNT = 10
    settings.WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS = [crypto.generate_key(), crypto.generate_key()]
    codes = recovery_flows.issue_recovery_codes(user)
    slow_checks = []
    monkeypatch.setattr(recovery_codes._hasher, "verify", lambda *args: slow_checks.append(args))
    device = RecoveryCodeDevice.objects.get(user=user)
    token = codes[7] if right else recovery_codes.generate()
    with CaptureQueriesContext(connection) as queries:
        assert device.verify_token(token) is right
    code_table = RecoveryCode._meta.db_table
    lookups = [q["sql"] for q in queries if q["sql"].startswith("SELECT") and code_table in q["sql"]]
    assert len(lookups) == 1  # the same single query for a right and a wrong code, 10 codes, 3 keys
    assert "lookup" in lookups[0]
    assert slow_checks == []  # no PBKDF2 for codes stored as an HMAC
    # Counting the failure, the lookup; for a right code also spending it and clearing the count.
    assert len(queries) == (4 if right else 2)


def legacy_code(device) -> str:
    """A code stored the way the package stored them before the HMAC: PBKDF2, no lookup."""
    code = recovery_codes.generate()
    hasher = recovery_codes.RecoveryCodeHasher()
    RecoveryCode.objects.create(device=device, code_hash=hasher.encode(code, hasher.salt()))
    return code


@pytest.mark.django_db
def test_a_code_stored_by_the_old_scheme_still_works_once(client, enrolled_user):  # SEC-17, SEC-18
    device = RecoveryCodeDevice.objects.get(user=enrolled_user)
    device.codes.all().delete()
    old = legacy_code(device)
    password_login(client, enrolled_user)

    response = client.post(RECOVERY_URL, {"code": recovery_codes.display(old)})

    assert response.status_code == 302
    assert response.url.startswith(SAVE_URL)
    (spent,) = device.codes.filter(used_at__isnull=False)
    assert spent.lookup is None
    (replacement,) = device.codes.filter(used_at__isnull=True)
    assert replacement.lookup is not None  # the new one is an HMAC
    assert replacement.code_hash == ""
    assert RecoveryCodeDevice.objects.get(pk=device.pk).verify_token(old) is False


@pytest.mark.django_db
def test_a_user_with_old_scheme_codes_can_still_use_a_new_one(user, settings):  # SEC-17
    settings.WAGTAIL_COMPANY_MFA_RECOVERY_CODES_COUNT = 2
    (new, _other) = recovery_flows.issue_recovery_codes(user)
    device = RecoveryCodeDevice.objects.get(user=user)
    old = legacy_code(device)
    assert device.verify_token(recovery_codes.generate()) is False
    device.throttle_reset()
    assert device.verify_token(new) is True
    assert device.verify_token(old) is True
    assert device.unused_count == 1


@pytest.mark.django_db
def test_a_code_issued_under_an_older_key_works_after_rotation(client, enrolled_user, settings):  # SEC-17
    (code,) = enrolled_user.recovery_codes  # issued under the tests' key, "A"
    key_a = settings.WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS[0]
    settings.WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS = [crypto.generate_key(), key_a]  # [B, A]
    password_login(client, enrolled_user)

    response = client.post(RECOVERY_URL, {"code": code})

    assert response.status_code == 302
    (replacement,) = RecoveryCode.objects.filter(device__user=enrolled_user, used_at__isnull=True)
    assert recovery_codes.key_id_of(replacement.lookup) == recovery_codes.current_key_id()  # issued under B


@pytest.mark.django_db
def test_a_code_stops_working_once_its_key_is_removed(user, settings):  # SEC-17 (documented)
    (code,) = recovery_flows.issue_recovery_codes(user)
    settings.WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS = [crypto.generate_key()]
    assert RecoveryCodeDevice.objects.get(user=user).verify_token(code) is False


@pytest.mark.django_db
def test_key_rotation_says_which_recovery_codes_depend_on_the_old_key(user, other_user, settings, capsys):
    # SEC-17: the codes cannot be re-keyed, so the operator is told what removing the old key would void.
    recovery_flows.issue_recovery_codes(user)
    settings.WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS = [
        crypto.generate_key(),
        *settings.WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS,
    ]
    recovery_flows.issue_recovery_codes(other_user)  # under the new key: not counted

    call_command("mfa_rotate_keys")

    out = capsys.readouterr().out
    assert "1 unused recovery code(s) of 1 user(s) were issued under an older key" in out
    recovery_flows.issue_recovery_codes(user)
    call_command("mfa_rotate_keys")
    assert "recovery code" not in capsys.readouterr().out


@pytest.mark.django_db
def test_codes_issued_before_keys_were_configured_keep_working(user, settings):  # SEC-17
    settings.WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS = []
    (code,) = recovery_flows.issue_recovery_codes(user)
    settings.WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS = [crypto.generate_key()]
    assert RecoveryCodeDevice.objects.get(user=user).verify_token(code) is True


@pytest.mark.django_db
def test_issuing_replaces_every_earlier_code(user):  # SEC-21
    old = recovery_flows.issue_recovery_codes(user)
    new = recovery_flows.issue_recovery_codes(user)
    device = RecoveryCodeDevice.objects.get(user=user)
    assert device.codes.count() == 1
    assert not any(
        recovery_codes.matches(recovery_codes.lookups(old[0]), stored.lookup) for stored in device.codes.all()
    )
    assert device.verify_token(new[0])


@pytest.mark.django_db
def test_count_setting_allows_several_codes(user, settings):
    settings.WAGTAIL_COMPANY_MFA_RECOVERY_CODES_COUNT = 5
    codes = recovery_flows.issue_recovery_codes(user)
    assert len(set(codes)) == 5
    assert RecoveryCodeDevice.objects.get(user=user).unused_count == 5


@pytest.mark.django_db
def test_a_code_works_once(user):  # SEC-18
    (code,) = recovery_flows.issue_recovery_codes(user)
    device = RecoveryCodeDevice.objects.get(user=user)
    assert device.verify_token(code) is True
    device = RecoveryCodeDevice.objects.get(user=user)
    assert device.verify_token(code) is False


# Login with a recovery code --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_recovery_login_spends_the_code_and_shows_its_replacement(client, enrolled_user):  # SEC-19, SEC-20
    (old,) = enrolled_user.recovery_codes
    password_login(client, enrolled_user, next_url="/admin/pages/")
    verify_page = client.get("/admin/company-mfa/verify/?next=/admin/pages/")
    assert "Use a recovery code instead" in text(verify_page)

    response = client.post(
        RECOVERY_URL, {"code": recovery_codes.display(old).lower(), "next": "/admin/pages/"}
    )
    assert response.status_code == 302
    assert response.url == f"{SAVE_URL}?next=%2Fadmin%2Fpages%2F"

    almost = client.get(response.url)
    (new,) = shown_codes(almost)
    assert recovery_codes.normalize(new) != old
    assert "Your recovery code has been used and no longer works" in text(almost)
    assert "set up your authenticator app on your new device" in text(almost)
    assert client.get("/admin/").url.startswith(SAVE_URL)  # save it before anything else

    done = client.post(SAVE_URL, {"confirm": "on", "next": "/admin/pages/"})
    assert done.url == "/admin/pages/"
    assert "You signed in with a recovery code" in text(client.get("/admin/pages/"))

    device = RecoveryCodeDevice.objects.get(user=enrolled_user)
    assert device.unused_count == 1  # invariant across uses (SEC-19)
    assert device.codes.filter(used_at__isnull=False).count() == 1


@pytest.mark.django_db
def test_old_code_is_refused_after_use(client, enrolled_user):  # SEC-18
    (old,) = enrolled_user.recovery_codes
    password_login(client, enrolled_user)
    client.post(RECOVERY_URL, {"code": old})
    client.post(SAVE_URL, {"confirm": "on"})
    client.post("/admin/logout/")

    password_login(client, enrolled_user)
    response = client.post(RECOVERY_URL, {"code": old})
    assert response.status_code == 200
    assert "That recovery code didn't work." in text(response)
    assert client.get("/admin/").url.startswith("/admin/company-mfa/verify/")


@pytest.mark.django_db
def test_recovery_needs_the_password_first(client, enrolled_user):  # SEC-20
    response = client.post(RECOVERY_URL, {"code": enrolled_user.recovery_codes[0]})
    assert response.status_code == 302
    assert response.url.startswith("/admin/login/")
    assert RecoveryCodeDevice.objects.get(user=enrolled_user).unused_count == 1
    assert not RecoveryCode.objects.filter(used_at__isnull=False).exists()


@pytest.mark.django_db
def test_recovery_codes_are_throttled(client, enrolled_user):  # SEC-10, SEC-20
    password_login(client, enrolled_user)
    start = time.time()
    for offset in (0, 1, 3, 7, 15):
        with time_machine.travel(start + offset, tick=False):
            client.post(RECOVERY_URL, {"code": "AAAA-AAAA-AAAA-AAAA"})
    with time_machine.travel(start + 16, tick=False):
        response = client.post(RECOVERY_URL, {"code": enrolled_user.recovery_codes[0]})
    assert "Too many wrong codes." in text(response)
    assert RecoveryCodeDevice.objects.get(user=enrolled_user).unused_count == 1
    assert not RecoveryCode.objects.filter(used_at__isnull=False).exists()


@pytest.mark.django_db
def test_totp_success_does_not_count_against_recovery_codes(client, enrolled_user):  # SEC-13, ADV-12
    for _ in range(3):
        password_login(client, enrolled_user)
        with time_machine.travel(time.time() + _ * 31, tick=False):
            client.post("/admin/company-mfa/verify/", {"code": enrolled_user.phone.code()})
        client.post("/admin/logout/")
    assert RecoveryCodeDevice.objects.get(user=enrolled_user).throttling_failure_count == 0


@pytest.mark.django_db
def test_download_gives_the_unsaved_code_as_a_text_file(client, enrolled_user):
    password_login(client, enrolled_user)
    client.post(RECOVERY_URL, {"code": enrolled_user.recovery_codes[0]})
    (new,) = shown_codes(client.get(SAVE_URL))

    response = client.get("/admin/company-mfa/recovery-code/download/")

    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="recovery-code.txt"'
    assert "no-store" in response["Cache-Control"]
    assert new in response.content.decode()
    client.post(SAVE_URL, {"confirm": "on"})
    assert client.get("/admin/company-mfa/recovery-code/download/").status_code == 302  # shown once only


@pytest.mark.django_db
def test_unsaved_codes_are_encrypted_in_the_session(client, enrolled_user):  # SEC-29: no clear secret at rest
    password_login(client, enrolled_user)
    client.post(RECOVERY_URL, {"code": enrolled_user.recovery_codes[0]})
    (new,) = shown_codes(client.get(SAVE_URL))
    raw = client.session.session_key and client.session._get_session_from_db().session_data
    assert recovery_codes.normalize(new) not in str(dict(client.session))
    assert recovery_codes.normalize(new) not in (raw or "")
