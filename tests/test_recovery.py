"""Recovery codes: generation, storage, single use, and login with a replacement (SPEC §3.4, SEC-16..21)."""

from __future__ import annotations

import html
import math
import re
import time

import pytest
import time_machine
from conftest import password_login

from wagtail_company_mfa.models import RecoveryCode, RecoveryCodeDevice
from wagtail_company_mfa.recovery_codes import codes as recovery_codes
from wagtail_company_mfa.recovery_codes import flows as recovery_flows

RECOVERY_URL = "/admin/company-mfa/verify/recovery-code/"
SAVE_URL = "/admin/company-mfa/recovery-code/"


def text(response) -> str:
    return html.unescape(response.content.decode())


def shown_codes(response) -> list[str]:
    return re.findall(r'id="mfa-recovery-code-\d+" value="([0-9A-Z-]+)"', response.content.decode())


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


def test_stored_as_salted_hash_and_the_hash_is_not_a_code():  # SEC-17, ADV-16
    code = recovery_codes.generate()
    first, second = recovery_codes.make_hash(code), recovery_codes.make_hash(code)
    assert first != second  # salted
    assert code not in first
    assert recovery_codes.check(code, first)
    assert not recovery_codes.check(first, first)
    assert recovery_codes.normalize(first) is None
    assert not recovery_codes.check(code, "not a hash")


@pytest.mark.django_db
def test_issuing_replaces_every_earlier_code(user):  # SEC-21
    old = recovery_flows.issue_recovery_codes(user)
    new = recovery_flows.issue_recovery_codes(user)
    device = RecoveryCodeDevice.objects.get(user=user)
    assert device.codes.count() == 1
    assert not any(recovery_codes.check(old[0], stored.code_hash) for stored in device.codes.all())
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
