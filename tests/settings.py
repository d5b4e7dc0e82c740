"""
Settings for the test suite. Minimal on purpose: Wagtail, django-otp and this app, wired the way the
installation docs tell a site builder to.

Switches (environment variables):
- ``DATABASE_URL``: e.g. ``postgres://postgres@127.0.0.1:5432/test``; SQLite in memory when unset.
- ``CUSTOM_USER_MODEL=1``: use ``testapp.EmailUser`` (email as username) instead of ``auth.User``.
"""

import os

import dj_database_url
import django

BASE_DIR = os.path.dirname(os.path.abspath(__file__))

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en"
USE_I18N = True

DATABASES = {
    "default": dj_database_url.config(default="sqlite://:memory:", conn_max_age=0),
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # SEC-50: writers take the lock up front, so a conditional UPDATE decides races on SQLite too.
    DATABASES["default"].setdefault("OPTIONS", {})["transaction_mode"] = "IMMEDIATE"
    DATABASES["default"]["TEST"] = {"NAME": os.environ.get("SQLITE_TEST_NAME", ":memory:")}

INSTALLED_APPS = [
    "wagtail_company_mfa",
    "testapp",
    "django_otp",
    # Passkeys and security keys (docs/passkeys.md).
    "django_otp_webauthn",
    "wagtail.users",
    "wagtail.documents",
    "wagtail.api.v2",
    "wagtail.images",
    "wagtail.snippets",
    "wagtail.admin",
    "wagtail",
    "modelcluster",
    "taggit",
    # Django REST framework (a Wagtail dependency): Wagtail's API v2 and the API tests (SEC-48, SEC-49).
    "rest_framework",
    "rest_framework.authtoken",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "wagtail_company_mfa.middleware.CompanyMFAMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

if os.environ.get("CUSTOM_USER_MODEL") == "1":
    AUTH_USER_MODEL = "testapp.EmailUser"
    WAGTAIL_USER_CUSTOM_FIELDS = []

# Fast hashing: these tests are about MFA, not password storage.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# The suite runs in one process, which is what the local-memory cache warning (several workers) is about.
SILENCED_SYSTEM_CHECKS = ["wagtail_company_mfa.W003"]
if django.VERSION >= (6, 1):
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
else:
    EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

STATIC_URL = "/static/"
STATIC_ROOT = os.path.join(BASE_DIR, "test-static")
MEDIA_URL = "/media/"
MEDIA_ROOT = os.path.join(BASE_DIR, "test-media")

WAGTAIL_SITE_NAME = "Test site"
WAGTAILADMIN_BASE_URL = "http://testserver"
WAGTAILSEARCH_BACKENDS = {"default": {"BACKEND": "wagtail.search.backends.database"}}

# A test-only key (never use it anywhere else).
WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS = ["9GZdbRsUHHw1q4mhrxTfTTgLK5lRcB7xhZJ2QPkCgzA="]

# Passkeys (docs/passkeys.md): the test client's host, over http as browsers allow for localhost only.
OTP_WEBAUTHN_RP_ID = "testserver"
OTP_WEBAUTHN_RP_NAME = "Test site"
OTP_WEBAUTHN_ALLOWED_ORIGINS = ["https://testserver"]

# The API authentication docs/api.md recommends: the session (gated by the middleware), HTTP Basic through
# the package's class, and tokens.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "wagtail_company_mfa.rest.BasicAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
}
