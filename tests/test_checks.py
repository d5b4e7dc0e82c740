"""System checks: each misconfiguration that would switch MFA off has an id and a hint (SPEC §4)."""

import pytest
from django.core import checks

from wagtail_company_mfa import checks as mfa_checks
from wagtail_company_mfa.middleware import CompanyMFAMiddleware

AUTH = "django.contrib.auth.middleware.AuthenticationMiddleware"
OTP = "django_otp.middleware.OTPMiddleware"
OURS = "wagtail_company_mfa.middleware.CompanyMFAMiddleware"
SESSION = "django.contrib.sessions.middleware.SessionMiddleware"


def ids(messages):
    return sorted(message.id for message in messages)


def run_all():
    # As `manage.py check` reports them: without what SILENCED_SYSTEM_CHECKS silences.
    return [
        message
        for message in checks.run_checks()
        if message.id.startswith("wagtail_company_mfa.") and not message.is_silenced()
    ]


def test_test_settings_pass_every_check():
    assert run_all() == []


@pytest.mark.parametrize(
    ("middleware", "expected"),
    [
        ([SESSION, AUTH, OTP, OURS], []),
        ([SESSION, AUTH, OTP], ["wagtail_company_mfa.E001"]),
        ([SESSION, AUTH, OURS], ["wagtail_company_mfa.E002"]),
        ([SESSION, AUTH, OURS, OTP], ["wagtail_company_mfa.E003"]),
        ([SESSION, OTP, AUTH, OURS], ["wagtail_company_mfa.E004"]),
        ([SESSION, OTP, OURS], ["wagtail_company_mfa.E004"]),
        ([SESSION], ["wagtail_company_mfa.E001", "wagtail_company_mfa.E002"]),
        ([SESSION, AUTH, OTP, "test_checks.UnrelatedMiddleware"], ["wagtail_company_mfa.E001"]),
        ([SESSION, AUTH, OTP, "not.importable.Middleware"], ["wagtail_company_mfa.E001"]),
    ],
)
def test_middleware_presence_and_order(settings, middleware, expected):
    settings.MIDDLEWARE = middleware
    assert ids(mfa_checks.check_middleware()) == expected


class UnrelatedMiddleware:
    """A project's own middleware that is not ours."""


class ProjectMFAMiddleware(CompanyMFAMiddleware):
    """A project that customises our middleware by subclassing it."""


def test_a_subclass_of_our_middleware_counts(settings):
    settings.MIDDLEWARE = [SESSION, AUTH, OTP, "test_checks.ProjectMFAMiddleware"]
    assert mfa_checks.check_middleware() == []


def test_messages_have_hints(settings):
    settings.MIDDLEWARE = [SESSION]
    for message in mfa_checks.check_middleware():
        assert message.hint
        assert message.level == checks.ERROR


def test_django_otp_must_be_installed(monkeypatch):
    # Changing INSTALLED_APPS for real would rebuild Wagtail's app registry mid-run; ask the same question.
    real = mfa_checks.settings.apps.is_installed
    monkeypatch.setattr(
        mfa_checks.settings.apps, "is_installed", lambda name: name != "django_otp" and real(name)
    )
    assert ids(mfa_checks.check_installed_apps()) == ["wagtail_company_mfa.E005"]


def test_use_tz_must_be_on(settings):
    settings.USE_TZ = False
    messages = mfa_checks.check_time_zone_support()
    assert ids(messages) == ["wagtail_company_mfa.E006"]
    assert "USE_TZ = True" in messages[0].hint


@pytest.mark.parametrize("value", ["no.such.module.function", 42, "wagtail_company_mfa.conf.PREFIX"])
def test_bad_exemption_setting_is_reported(settings, value):
    settings.WAGTAIL_COMPANY_MFA_EXEMPT_USER = value
    assert ids(mfa_checks.check_settings()) == ["wagtail_company_mfa.E007"]


def test_bad_default_time_zone_is_reported(settings):
    settings.WAGTAIL_COMPANY_MFA_DEFAULT_TIME_ZONE = "Atlantis/Capital"
    messages = mfa_checks.check_settings()
    assert ids(messages) == ["wagtail_company_mfa.E007"]
    assert "Atlantis/Capital" in messages[0].msg


def test_checks_are_registered_with_django():
    registered = checks.registry.registry.get_checks()
    for check in mfa_checks.ALL_CHECKS:
        assert check in registered


def test_cookie_sessions_are_refused(settings):
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    assert ids(mfa_checks.check_sessions()) == ["wagtail_company_mfa.E008"]
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
    assert mfa_checks.check_sessions() == []


def test_missing_encryption_key_warns_outside_debug(settings):  # SEC-43
    settings.WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS = None
    settings.DEBUG = False
    messages = mfa_checks.check_encryption_keys()
    assert ids(messages) == ["wagtail_company_mfa.W001"]
    assert messages[0].level == checks.WARNING
    settings.DEBUG = True
    assert mfa_checks.check_encryption_keys() == []
    settings.DEBUG = False
    settings.WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS = ["x" * 44]
    assert mfa_checks.check_encryption_keys() == []


@pytest.mark.parametrize("factor", [0, -1])
def test_throttling_cannot_be_switched_off(settings, factor):  # SEC-10
    settings.WAGTAIL_COMPANY_MFA_THROTTLE_FACTOR = factor
    messages = mfa_checks.check_settings()
    assert ids(messages) == ["wagtail_company_mfa.E007"]
    assert "THROTTLE_FACTOR" in messages[0].msg


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("REMINDER_DAYS", ["soon"]),
        ("REMINDER_DAYS", [0]),
        ("ENFORCE", "everywhere"),
        ("ENCRYPTION_KEYS", 42),
        ("RECOVERY_CODES_COUNT", "many"),
        ("REQUIRE_SUPERUSERS", "sometimes"),
        ("REQUIRE_SUPERUSERS", 1),
    ],
)
def test_every_unusable_setting_is_reported(settings, name, value):
    setattr(settings, f"WAGTAIL_COMPANY_MFA_{name}", value)
    messages = mfa_checks.check_settings()
    assert ids(messages) == ["wagtail_company_mfa.E007"]
    assert name in messages[0].hint


# The gate's place in MIDDLEWARE: it must wrap request.user before anything reads it (SEC-28) ------------

MESSAGES = "django.contrib.messages.middleware.MessageMiddleware"
LOCALE = "django.middleware.locale.LocaleMiddleware"
REDIRECTS = "wagtail.contrib.redirects.middleware.RedirectMiddleware"


def test_middleware_after_message_middleware_is_refused(settings):  # SEC-28
    settings.MIDDLEWARE = [SESSION, AUTH, OTP, MESSAGES, OURS]
    messages = mfa_checks.check_middleware()
    assert ids(messages) == ["wagtail_company_mfa.E003"]
    assert "MessageMiddleware" in messages[0].msg
    assert MESSAGES in messages[0].hint


def test_message_middleware_before_otp_is_refused_too(settings):
    settings.MIDDLEWARE = [SESSION, MESSAGES, AUTH, OTP, OURS]
    assert ids(mfa_checks.check_middleware()) == ["wagtail_company_mfa.E003"]


def test_middleware_that_may_read_the_user_between_otp_and_ours_is_refused(settings):  # SEC-28
    settings.MIDDLEWARE = [SESSION, AUTH, OTP, "testapp.middleware.UserHeaderMiddleware", OURS, MESSAGES]
    messages = mfa_checks.check_middleware()
    assert ids(messages) == ["wagtail_company_mfa.E013"]
    assert "testapp.middleware.UserHeaderMiddleware" in messages[0].msg
    assert "right after" in messages[0].hint


@pytest.mark.parametrize("between", [[LOCALE], [REDIRECTS], [LOCALE, REDIRECTS]])
def test_middleware_known_to_leave_the_user_alone_may_sit_between(settings, between):
    settings.MIDDLEWARE = [SESSION, AUTH, OTP, *between, OURS, MESSAGES]
    assert mfa_checks.check_middleware() == []


def test_middleware_that_reads_the_user_after_ours_is_fine(settings):
    settings.MIDDLEWARE = [SESSION, AUTH, OTP, OURS, MESSAGES, "testapp.middleware.UserHeaderMiddleware"]
    assert mfa_checks.check_middleware() == []


def test_checks_are_registered_with_the_security_tag():
    # The checks are registered with the tag rather than carrying it as an attribute, so mypy can check them;
    # `manage.py check --tag security` must still run every one of them.
    security = checks.registry.registry.get_checks(include_deployment_checks=True)
    for check in (*mfa_checks.ALL_CHECKS, *mfa_checks.DEPLOY_CHECKS):
        assert check in security
        assert checks.Tags.security in check.tags


# Passkeys -------------------------------------------------------------------------------------------------


def passkey_check_ids(settings, **overrides):
    from wagtail_company_mfa.checks.passkeys import check_passkey_settings

    for name, value in overrides.items():
        setattr(settings, name, value)
    return [message.id for message in check_passkey_settings()]


def test_passkey_settings_of_the_test_site_pass(settings):
    assert passkey_check_ids(settings) == []


def test_an_rp_id_the_site_does_not_serve_is_an_error(settings):
    assert passkey_check_ids(settings, OTP_WEBAUTHN_RP_ID="example.com") == [
        "wagtail_company_mfa.E014",
        "wagtail_company_mfa.E015",
    ]


def test_an_rp_id_that_is_the_parent_of_a_served_host_passes(settings):
    ids = passkey_check_ids(
        settings,
        ALLOWED_HOSTS=["admin.example.com"],
        OTP_WEBAUTHN_RP_ID="example.com",
        OTP_WEBAUTHN_ALLOWED_ORIGINS=["https://admin.example.com"],
    )
    assert ids == []


def test_an_origin_off_the_rp_id_is_an_error_and_one_not_served_a_warning(settings):
    ids = passkey_check_ids(
        settings,
        ALLOWED_HOSTS=["admin.example.com"],
        OTP_WEBAUTHN_RP_ID="example.com",
        OTP_WEBAUTHN_ALLOWED_ORIGINS=["https://admin.example.org", "https://www.example.com"],
    )
    assert ids == ["wagtail_company_mfa.E015", "wagtail_company_mfa.W005"]
    settings.CSRF_TRUSTED_ORIGINS = ["https://www.example.com"]
    assert passkey_check_ids(settings) == ["wagtail_company_mfa.E015"]


def test_passwordless_sign_in_is_an_error(settings):
    backends = ["django.contrib.auth.backends.ModelBackend", "django_otp_webauthn.backends.WebAuthnBackend"]
    assert passkey_check_ids(settings, AUTHENTICATION_BACKENDS=backends) == ["wagtail_company_mfa.E016"]
