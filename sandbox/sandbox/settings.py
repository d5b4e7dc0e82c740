"""
Settings for the wagtail-company-mfa sandbox: a small Wagtail site to try the add-on by hand.

Development only (``DEBUG = True``, fixed keys that are published in this repository). The settings a real
site needs are marked "wagtail-company-mfa" below; docs/installation.md explains each.

Environment variables:
- ``DATABASE_URL``: e.g. ``postgres://postgres@127.0.0.1:5432/sandbox``; ``sandbox/db.sqlite3`` when unset.
"""

import os
from pathlib import Path

import dj_database_url
import django

#: sandbox/ (where manage.py, db.sqlite3 and media/ live).
BASE_DIR = Path(__file__).resolve().parent.parent

# Sandbox only: this key is public. Never copy it into a real project.
SECRET_KEY = "sandbox-only-not-secret-4f1c0d2e9b8a7c6d5e4f3a2b1c0d9e8f"
DEBUG = True
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]", "testserver"]

INSTALLED_APPS = [
    "demo",
    # wagtail-company-mfa, and django-otp whose device framework it builds on.
    "wagtail_company_mfa",
    "django_otp",
    # Passkeys and security keys (docs/passkeys.md).
    "django_otp_webauthn",
    "wagtail.contrib.forms",
    "wagtail.contrib.redirects",
    "wagtail.embeds",
    "wagtail.sites",
    "wagtail.users",
    "wagtail.snippets",
    "wagtail.documents",
    "wagtail.images",
    "wagtail.search",
    "wagtail.admin",
    "wagtail",
    "modelcluster",
    "taggit",
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
    # wagtail-company-mfa: django-otp marks verified sessions (it needs request.user, so it comes after
    # AuthenticationMiddleware), then the company MFA gate decides (it needs is_verified(), so it comes after
    # OTPMiddleware).
    "django_otp.middleware.OTPMiddleware",
    "wagtail_company_mfa.middleware.CompanyMFAMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "wagtail.contrib.redirects.middleware.RedirectMiddleware",
]

ROOT_URLCONF = "sandbox.urls"
WSGI_APPLICATION = "sandbox.wsgi.application"

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

DATABASES = {
    "default": dj_database_url.config(default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}", conn_max_age=0),
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # wagtail-company-mfa (SEC-50, check W004): writers take the lock when their transaction begins, so
    # simultaneous code checks wait their turn instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {})["transaction_mode"] = "IMMEDIATE"

# One process (runserver), so the local-memory cache is enough here. A real site with several workers
# needs a shared cache (Redis, Memcached, the database cache).
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
# wagtail-company-mfa needs aware datetimes: enforcement dates start at 00:00 in each company's time zone.
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "static"
MEDIA_URL = "/media/"
MEDIA_ROOT = BASE_DIR / "media"

DATA_UPLOAD_MAX_NUMBER_FIELDS = 10_000

# Emails (MFA reminders, reset notices) are printed on the runserver console instead of being sent.
# Django 6.1 replaces EMAIL_BACKEND with MAILERS (and warns about the old setting).
if django.VERSION >= (6, 1):
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.console.EmailBackend"}}
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = "mfa-sandbox@localhost"

# Wagtail
WAGTAIL_SITE_NAME = "Company MFA sandbox"

# Passkeys: browsers allow them over plain http on localhost only (never on a bare IP address), so open the
# sandbox at http://localhost:<port>/admin/. With DEBUG on, the package also accepts the origin of the
# request itself when it is localhost, whatever the port (docs/passkeys.md).
OTP_WEBAUTHN_RP_ID = "localhost"
OTP_WEBAUTHN_RP_NAME = WAGTAIL_SITE_NAME
OTP_WEBAUTHN_ALLOWED_ORIGINS = ["http://localhost:8000"]


def served_at(address: str) -> str:
    """The URL of what `make sandbox` serves (runserver's address: `PORT`, `HOST:PORT`, `0.0.0.0:PORT`)."""
    host, _, port = address.rpartition(":")
    host = host or "127.0.0.1"
    if host in ("0.0.0.0", "0", "[::]"):  # noqa: S104 (served on every interface; shown as this machine)
        host = "127.0.0.1"
    return f"http://{host}:{port}"


# The address `make sandbox` serves (Makefile's SANDBOX_ADDR), so links in emails and the printed sign-in
# address point where the site really is.
WAGTAILADMIN_BASE_URL = served_at(os.environ.get("SANDBOX_ADDR") or "127.0.0.1:8000")
WAGTAILSEARCH_BACKENDS = {"default": {"BACKEND": "wagtail.search.backends.database"}}
WAGTAILDOCS_EXTENSIONS = ["csv", "docx", "odt", "pdf", "pptx", "rtf", "txt", "xlsx", "zip"]

# wagtail-company-mfa
# SANDBOX ONLY: a fixed, published Fernet key, so that TOTP secrets (erin's demo authenticator) stay readable
# across restarts and re-seeding. A real site generates its own key and keeps it out of the repository:
#   python -c "from wagtail_company_mfa.crypto import generate_key; print(generate_key())"
WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS = ["qp298YnuRb_hzTPco8-2rsJuqRS-lQENB9KnAnWSUEM="]
# Superusers (and holders of "manage all companies") answer to the strictest company, member or not: the
# default, shown here. `admin` is REQUIRED through Acme either way; with False a superuser outside every
# company would sign in with a password alone, with True every superuser must use MFA at once.
WAGTAIL_COMPANY_MFA_REQUIRE_SUPERUSERS = "when_any_company_requires"

# No avatars from gravatar.com: the demo runs without internet access, and editors' emails stay on this site.
WAGTAIL_GRAVATAR_PROVIDER_URL = None
