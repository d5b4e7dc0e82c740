"""
Findings from running the package in production shape: several app servers, DEBUG off, shared caches,
SQLite under load. Each test is named after the finding it proves fixed.
"""

from __future__ import annotations

import base64
import logging
import os

import pytest
import time_machine
from django.contrib.sessions.backends.cache import SessionStore as CacheSessionStore
from django.core import checks
from django.core.management import CommandError, call_command
from django.db import OperationalError
from factories import enroll_user, password_login, reauthenticate, verify_with_code
from test_enroll import setup_key, text
from wagtail.models import ModelLogEntry

from wagtail_company_mfa import checks as mfa_checks
from wagtail_company_mfa import crypto
from wagtail_company_mfa.base import verification
from wagtail_company_mfa.models import AuthenticatorDevice, RecoveryCode, RecoveryCodeDevice
from wagtail_company_mfa.totp import algorithm as totp

#: The key tests/settings.py configures: "server A".
KEY_A = "9GZdbRsUHHw1q4mhrxTfTTgLK5lRcB7xhZJ2QPkCgzA="
VERIFY_URL = "/admin/company-mfa/verify/"
RECOVERY_URL = "/admin/company-mfa/verify/recovery-code/"
ENROLL_URL = "/admin/company-mfa/enroll/"
E007 = "wagtail_company_mfa.E007"


def ids(messages):
    return sorted(message.id for message in messages)


def pieces(value: str, size: int = 6) -> set[str]:
    """Every run of ``size`` characters of ``value``: none of them may appear in a message."""
    return {value[i : i + size] for i in range(max(0, len(value) - size + 1))}


# 1. Encryption keys ----------------------------------------------------------------------------------------

SHORT_KEY = base64.urlsafe_b64encode(b"sixteen byte key").decode()  # valid base64, but 16 bytes, not 32
GOOD_KEY = crypto.generate_key()


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        ([""], "Entry 1 of WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS is not a Fernet key: it is empty"),
        (["garbage"], "Entry 1 of WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS is not a Fernet key"),
        ([GOOD_KEY, "garbage"], "Entry 2 of WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS is not a Fernet key"),
        (
            [GOOD_KEY, SHORT_KEY],
            "Entry 2 of WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS is not a Fernet key: it decodes",
        ),
        (
            [GOOD_KEY, 42],
            "Entry 2 of WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS is not a Fernet key: it is of type int",
        ),
        (f"{GOOD_KEY},{GOOD_KEY}", "Entry 1 of WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS is not a Fernet key: it "),
        ({GOOD_KEY}, "must be a list of Fernet keys, newest first, not a set"),
        ({"key": GOOD_KEY}, "must be a list of Fernet keys, newest first, not a dict"),
    ],
    ids=["empty", "garbage", "second-garbage", "wrong-length", "not-a-string", "comma-string", "set", "dict"],
)
def test_unusable_encryption_key_is_a_check_error_naming_its_position_not_its_value(settings, keys, expected):
    settings.WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS = keys
    messages = mfa_checks.check_settings()
    assert ids(messages) == [E007]
    assert expected in messages[0].msg
    assert messages[0].level == checks.ERROR
    said = messages[0].msg + messages[0].hint
    for secret in (GOOD_KEY, SHORT_KEY, "garbage"):
        assert not any(piece in said for piece in pieces(secret)), said
    # The other key checks do not crash on it (E007 already says what is wrong).
    assert mfa_checks.check_encryption_keys() == []
    assert mfa_checks.check_encryption_keys_deploy() == []


def test_a_good_key_list_passes(settings):
    settings.WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS = [GOOD_KEY, KEY_A]
    assert mfa_checks.check_settings() == []


def test_documented_key_line_runs_without_the_environment_variable_and_fails_the_deploy_check(
    settings, monkeypatch
):
    monkeypatch.delenv("MFA_KEYS", raising=False)
    # The line docs/installation.md shows, evaluated in a shell that lacks the variable.
    settings.WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS = [k for k in os.environ.get("MFA_KEYS", "").split(",") if k]
    settings.DEBUG = False
    assert mfa_checks.check_settings() == []  # manage.py still runs
    assert ids(mfa_checks.check_encryption_keys()) == ["wagtail_company_mfa.W001"]
    deploy = [
        m for m in checks.run_checks(include_deployment_checks=True) if m.id.startswith("wagtail_company")
    ]
    assert "wagtail_company_mfa.E012" in ids(deploy)
    assert [m.level for m in deploy if m.id == "wagtail_company_mfa.E012"] == [checks.ERROR]
    # Not a deployment check: plain `manage.py check` only warns.
    assert "wagtail_company_mfa.E012" not in ids(checks.run_checks())

    settings.DEBUG = True
    assert mfa_checks.check_encryption_keys_deploy() == []
    settings.DEBUG = False
    monkeypatch.setenv("MFA_KEYS", f"{GOOD_KEY},{KEY_A}")
    settings.WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS = [k for k in os.environ.get("MFA_KEYS", "").split(",") if k]
    assert mfa_checks.check_settings() == []
    assert mfa_checks.check_encryption_keys_deploy() == []


def unreadable_records(caplog):
    return [
        r for r in caplog.records if r.name.startswith("wagtail_company_mfa") and r.levelno == logging.ERROR
    ]


def assert_clear_page(response):
    assert response.status_code == 503
    assert response.templates[0].name == "wagtail_company_mfa/unavailable.html"
    assert "Your authenticator can't be checked right now" in text(response)
    assert "Contact your administrator." in text(response)
    assert "Traceback" not in text(response)


def assert_no_key_in(said: str):
    for key in (KEY_A, GOOD_KEY):
        assert not any(piece in said for piece in pieces(key)), said


@pytest.mark.django_db
def test_secret_encrypted_on_another_server_gets_a_clear_page_a_log_line_and_an_audit_entry(
    client, enrolled_user, settings, caplog
):
    device = AuthenticatorDevice.objects.get(user=enrolled_user)  # encrypted under key A
    password_login(client, enrolled_user)
    settings.WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS = [GOOD_KEY]  # this server only has key B

    with caplog.at_level(logging.INFO, logger="wagtail_company_mfa"):
        response = verify_with_code(client, enrolled_user.phone.code())

    assert_clear_page(response)
    [record] = unreadable_records(caplog)
    assert f"Authenticator #{device.pk} of user #{enrolled_user.pk}" in record.getMessage()
    assert "InvalidToken" in record.getMessage()
    assert record.exc_info is None  # one clear line, no traceback
    assert_no_key_in(record.getMessage())
    entry = ModelLogEntry.objects.get(
        action=verification.ACTION_SECRET_UNREADABLE, object_id=str(enrolled_user.pk)
    )
    assert entry.data["device_id"] == device.pk
    assert entry.data["cause"] == "invalid_token"
    assert str(entry.message) == (
        "The authenticator app could not be checked: no configured key decrypts its secret"
    )
    device.refresh_from_db()
    assert device.throttling_failure_count == 0  # nothing was checked, so nothing is counted
    assert client.get("/admin/").url.startswith(VERIFY_URL)  # still not verified (SEC-46)

    settings.WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS = [GOOD_KEY, KEY_A]  # the key lists agree again
    assert verify_with_code(client, enrolled_user.phone.code()).status_code == 302


@pytest.mark.django_db
def test_secret_encrypted_on_another_server_gets_a_clear_page_when_re_authenticating(
    client, enrolled_user, settings, caplog
):
    start = 1_900_000_000
    with time_machine.travel(start, tick=False):
        password_login(client, enrolled_user)
        assert verify_with_code(client, enrolled_user.phone.code()).status_code == 302
    with time_machine.travel(start + 600, tick=False):  # past REAUTH_TIMEOUT: the code is asked again
        settings.WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS = [GOOD_KEY]
        with caplog.at_level(logging.INFO, logger="wagtail_company_mfa"):
            response = reauthenticate(client, code=enrolled_user.phone.code())

    assert_clear_page(response)
    assert len(unreadable_records(caplog)) == 1
    assert ModelLogEntry.objects.filter(action=verification.ACTION_SECRET_UNREADABLE).count() == 1


@pytest.mark.django_db
def test_unusable_key_list_at_runtime_gets_the_clear_page_not_a_server_error(
    client, enrolled_user, settings, caplog
):
    password_login(client, enrolled_user)
    settings.WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS = [KEY_A, "garbage"]

    with caplog.at_level(logging.INFO, logger="wagtail_company_mfa"):
        response = verify_with_code(client, enrolled_user.phone.code())

    assert_clear_page(response)
    [record] = unreadable_records(caplog)
    assert "Entry 2 of WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS" in record.getMessage()
    assert "garbage" not in record.getMessage()
    assert_no_key_in(record.getMessage())
    entry = ModelLogEntry.objects.get(action=verification.ACTION_SECRET_UNREADABLE)
    assert entry.data["cause"] == "improperly_configured"


@pytest.mark.django_db
def test_unusable_key_list_at_runtime_stops_enrollment_with_the_clear_page(
    client, required_user, settings, caplog
):
    password_login(client, required_user)
    settings.WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS = ["garbage"]
    with caplog.at_level(logging.INFO, logger="wagtail_company_mfa"):
        response = client.get(ENROLL_URL)
    assert_clear_page(response)
    assert "garbage" not in caplog.text
    assert not AuthenticatorDevice.objects.filter(user=required_user).exists()


@pytest.mark.django_db
def test_pending_setup_key_from_another_server_restarts_the_setup_with_a_message(
    client, required_user, settings, caplog
):
    password_login(client, required_user)
    first = client.get(ENROLL_URL)
    assert first.status_code == 200
    old_key = setup_key(first)
    settings.WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS = [GOOD_KEY]  # the next request lands on server B

    with caplog.at_level(logging.INFO, logger="wagtail_company_mfa"):
        response = client.post(ENROLL_URL, {"code": crypto_code(old_key)}, follow=True)

    assert response.status_code == 200
    assert response.redirect_chain[0][0].startswith(ENROLL_URL)
    assert "Your setup could not be continued, so it has started again with a new key." in text(response)
    new_key = setup_key(response)
    assert new_key != old_key
    assert not AuthenticatorDevice.objects.filter(user=required_user).exists()  # nothing half-saved
    assert any("cannot be decrypted" in r.getMessage() for r in caplog.records)
    assert not any(
        piece in caplog.text for piece in pieces(base64.b32encode(old_key).decode())
    )  # never the secret

    # The restarted setup works on this server.
    done = client.post(ENROLL_URL, {"code": crypto_code(new_key)})
    assert done.status_code == 302
    assert AuthenticatorDevice.objects.get(user=required_user).bin_key == new_key


def crypto_code(key: bytes) -> str:
    from factories import Authenticator

    return Authenticator(key).code()


@pytest.mark.django_db
def test_key_rotation_reports_each_unreadable_secret_continues_and_exits_non_zero(
    user, other_user, settings, capsys
):
    lost_key = crypto.generate_key()
    settings.WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS = [lost_key]
    enroll_user(other_user)  # encrypted with a key that is about to go missing
    settings.WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS = [KEY_A]
    phone, _codes = enroll_user(user)
    lost = AuthenticatorDevice.objects.get(user=other_user)
    settings.WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS = [GOOD_KEY, KEY_A]

    with pytest.raises(CommandError, match="1 secret\\(s\\) could not be decrypted"):
        call_command("mfa_rotate_keys")

    output = capsys.readouterr()
    assert "Re-encrypted 1 authenticator secret(s)." in output.out
    assert f"Authenticator #{lost.pk} (user #{other_user.pk}) cannot be decrypted" in output.err
    settings.WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS = [GOOD_KEY]
    assert AuthenticatorDevice.objects.get(user=user).bin_key == phone.key  # moved onto the new key


@pytest.mark.django_db
def test_key_rotation_with_an_unusable_key_list_is_a_command_error(settings):
    settings.WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS = [KEY_A, "garbage"]
    with pytest.raises(CommandError, match="Entry 2 of WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS"):
        call_command("mfa_rotate_keys")


# 3. (in part) A database error while counting: refused, never a server error, never an uncounted check --

BUSY = "Your code couldn't be checked just now, and it was not counted. Try again in a moment."


def database_locked(self, commit=True):
    raise OperationalError("database is locked")


@pytest.mark.django_db
def test_database_locked_while_counting_refuses_the_attempt_without_checking_the_code(
    client, enrolled_user, monkeypatch
):  # SEC-06, SEC-10
    password_login(client, enrolled_user)
    compared = []
    real_matching_step = totp.matching_step

    def recording_matching_step(*args, **kwargs):
        compared.append(kwargs)
        return real_matching_step(*args, **kwargs)

    monkeypatch.setattr(totp, "matching_step", recording_matching_step)
    monkeypatch.setattr(AuthenticatorDevice, "throttle_increment", database_locked)

    right = enrolled_user.phone.code()
    wrong = next(code for code in ("000000", "111111") if code != right)
    for code in (wrong, right):  # the same answer for a wrong and a right code
        response = verify_with_code(client, code)
        assert response.status_code == 200
        assert BUSY in text(response)
        assert "didn't work" not in text(response)
    assert compared == []  # no code was ever compared
    assert AuthenticatorDevice.objects.get(user=enrolled_user).throttling_failure_count == 0
    assert client.get("/admin/").url.startswith(VERIFY_URL)
    monkeypatch.undo()
    assert verify_with_code(client, enrolled_user.phone.code()).status_code == 302


@pytest.mark.django_db
def test_database_locked_while_counting_a_recovery_code_refuses_it(client, enrolled_user, monkeypatch):
    password_login(client, enrolled_user)
    monkeypatch.setattr(RecoveryCodeDevice, "throttle_increment", database_locked)

    response = client.post(RECOVERY_URL, {"code": enrolled_user.recovery_codes[0]})

    assert response.status_code == 200
    assert BUSY in text(response)
    assert RecoveryCodeDevice.objects.get(user=enrolled_user).unused_count == 1  # not spent
    assert not RecoveryCode.objects.filter(used_at__isnull=False).exists()
    assert client.get("/admin/").url.startswith(VERIFY_URL)


# 2. Caches shared by several workers -----------------------------------------------------------------------

CACHE = "django.contrib.sessions.backends.cache"
CACHED_DB = "django.contrib.sessions.backends.cached_db"
DB = "django.contrib.sessions.backends.db"
LOCMEM = "django.core.cache.backends.locmem.LocMemCache"
DUMMY = "django.core.cache.backends.dummy.DummyCache"
SHARED = [
    "django.core.cache.backends.filebased.FileBasedCache",
    "django.core.cache.backends.redis.RedisCache",
    "django.core.cache.backends.memcached.PyMemcacheCache",
    "django.core.cache.backends.memcached.PyLibMCCache",
    "django.core.cache.backends.db.DatabaseCache",
]


def cache_settings(settings, engine, backend, *, debug=False, alias="default"):
    settings.SESSION_ENGINE = engine
    settings.SESSION_CACHE_ALIAS = alias
    settings.CACHES = {"default": {"BACKEND": LOCMEM}, alias: {"BACKEND": backend, "LOCATION": "unused"}}
    settings.DEBUG = debug


@pytest.mark.parametrize(
    ("engine", "backend", "debug", "expected"),
    [
        (CACHE, LOCMEM, False, ["wagtail_company_mfa.E011"]),
        (CACHE, DUMMY, False, ["wagtail_company_mfa.E011"]),
        (CACHE, DUMMY, True, ["wagtail_company_mfa.E011"]),  # a dummy cache keeps no session, ever
        (CACHE, LOCMEM, True, []),  # runserver: one process
        (CACHED_DB, LOCMEM, False, ["wagtail_company_mfa.W002"]),
        (CACHED_DB, LOCMEM, True, []),
        (CACHED_DB, DUMMY, False, []),  # every read goes to the database
        (DB, LOCMEM, False, []),
        (DB, DUMMY, False, []),
        *[(engine, backend, False, []) for engine in (CACHE, CACHED_DB) for backend in SHARED],
    ],
)
def test_sessions_on_a_process_local_cache_are_reported(settings, engine, backend, debug, expected):
    cache_settings(settings, engine, backend, debug=debug)
    messages = mfa_checks.check_session_cache()
    assert ids(messages) == expected
    for message in messages:
        assert message.hint
        assert "SESSION_CACHE_ALIAS" in message.hint


def test_the_session_cache_alias_is_the_one_checked(settings):
    cache_settings(settings, CACHE, LOCMEM, alias="sessions")
    settings.CACHES["default"] = {"BACKEND": "django.core.cache.backends.redis.RedisCache"}
    messages = mfa_checks.check_session_cache()
    assert ids(messages) == ["wagtail_company_mfa.E011"]
    assert "'sessions'" in messages[0].msg

    cache_settings(settings, CACHE, "django.core.cache.backends.redis.RedisCache", alias="sessions")
    settings.CACHES["default"] = {"BACKEND": LOCMEM}  # the default cache does not hold the sessions
    assert mfa_checks.check_session_cache() == []


def test_cached_db_warning_says_the_database_stays_authoritative(settings):
    cache_settings(settings, CACHED_DB, LOCMEM)
    [message] = mfa_checks.check_session_cache()
    assert message.level == checks.WARNING
    assert "The database stays authoritative" in message.msg
    assert "MFA itself still holds" in message.msg


class SessionStore(CacheSessionStore):
    """A project's own cache session engine: ``SESSION_ENGINE = "test_deployment"`` (this module)."""


def test_a_subclass_of_the_cache_session_engine_counts(settings):
    settings.SESSION_ENGINE = "test_deployment"
    settings.CACHES = {"default": {"BACKEND": LOCMEM}}
    settings.SESSION_CACHE_ALIAS = "default"
    settings.DEBUG = False
    assert ids(mfa_checks.check_session_cache()) == ["wagtail_company_mfa.E011"]


@pytest.mark.parametrize(
    ("backend", "debug", "expected"),
    [
        (LOCMEM, False, ["wagtail_company_mfa.W003"]),
        (LOCMEM, True, []),
        (DUMMY, False, []),  # nothing kept, so nothing stale: a query per admin page instead
        *[(backend, False, []) for backend in SHARED],
    ],
)
def test_package_state_in_a_process_local_cache_is_reported(settings, backend, debug, expected):
    settings.CACHES = {"default": {"BACKEND": backend, "LOCATION": "unused"}}
    settings.DEBUG = debug
    messages = mfa_checks.check_package_cache()
    assert ids(messages) == expected
    if messages:
        # Honest about what depends on it: the menu item, not MFA.
        assert "Companies menu item" in messages[0].msg
        assert "No MFA decision uses the cache" in messages[0].msg
        assert "SILENCED_SYSTEM_CHECKS" in messages[0].hint


# 3. SQLite -------------------------------------------------------------------------------------------------

SQLITE = "django.db.backends.sqlite3"


@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
@pytest.mark.parametrize(
    ("options", "debug", "expected"),
    [
        ({}, False, ["wagtail_company_mfa.W004"]),
        ({"transaction_mode": "DEFERRED"}, False, ["wagtail_company_mfa.W004"]),
        ({"transaction_mode": "EXCLUSIVE"}, False, ["wagtail_company_mfa.W004"]),
        ({"transaction_mode": "IMMEDIATE"}, False, []),
        ({"transaction_mode": "immediate"}, False, []),
        ({}, True, []),
    ],
)
def test_sqlite_without_immediate_transactions_is_reported(settings, options, debug, expected):
    settings.DATABASES = {
        "default": {"ENGINE": SQLITE, "NAME": "db.sqlite3", "OPTIONS": options},
        "other": {"ENGINE": "django.db.backends.postgresql", "NAME": "x"},
    }
    settings.DEBUG = debug
    messages = mfa_checks.check_sqlite_transaction_mode()
    assert ids(messages) == expected
    for message in messages:
        assert "'default'" in message.msg
        assert '"transaction_mode": "IMMEDIATE"' in message.hint


def test_sandbox_settings_use_immediate_transactions_on_sqlite(monkeypatch):
    import runpy
    from pathlib import Path

    monkeypatch.delenv("DATABASE_URL", raising=False)
    sandbox = runpy.run_path(str(Path(__file__).parent.parent / "sandbox" / "sandbox" / "settings.py"))
    database = sandbox["DATABASES"]["default"]
    assert database["ENGINE"] == SQLITE
    assert database["OPTIONS"]["transaction_mode"] == "IMMEDIATE"


@pytest.mark.parametrize(
    ("address", "url"),
    [
        (None, "http://127.0.0.1:8000"),
        ("127.0.0.1:8001", "http://127.0.0.1:8001"),
        ("8002", "http://127.0.0.1:8002"),
        ("0.0.0.0:9000", "http://127.0.0.1:9000"),
        ("localhost:8080", "http://localhost:8080"),
    ],
)
def test_sandbox_prints_and_links_the_address_it_serves(monkeypatch, address, url):
    """`make sandbox SANDBOX_ADDR=...`: the printed sign-in address and the emails' links follow it."""
    import runpy
    from pathlib import Path

    if address is None:
        monkeypatch.delenv("SANDBOX_ADDR", raising=False)
    else:
        monkeypatch.setenv("SANDBOX_ADDR", address)
    sandbox = runpy.run_path(str(Path(__file__).parent.parent / "sandbox" / "sandbox" / "settings.py"))
    assert sandbox["WAGTAILADMIN_BASE_URL"] == url
