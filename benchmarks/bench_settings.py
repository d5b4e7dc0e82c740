"""
Settings for the request-overhead benchmark. ``BENCH_CONFIG`` picks what is installed on top of the same
plain Wagtail site:

- ``plain``: Wagtail alone (no django-otp, no wagtail-company-mfa);
- ``otp``: plus django-otp's OTPMiddleware (what any django-otp-based MFA costs);
- ``mfa``: plus wagtail-company-mfa and its middleware, as the installation docs say.
"""

import os

import dj_database_url

CONFIG = os.environ.get("BENCH_CONFIG", "plain")

SECRET_KEY = "benchmark-only"
DEBUG = False
ALLOWED_HOSTS = ["testserver"]
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = "bench_urls"
DATABASES = {"default": dj_database_url.config(default="sqlite:////tmp/wagtail-company-mfa-bench.sqlite3")}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STATIC_URL = "/static/"
WAGTAIL_SITE_NAME = "Benchmark"
WAGTAILADMIN_BASE_URL = "http://testserver"
WAGTAILSEARCH_BACKENDS = {"default": {"BACKEND": "wagtail.search.backends.database"}}

INSTALLED_APPS = [
    "wagtail.sites",
    "wagtail.snippets",
    "wagtail.users",
    "wagtail.documents",
    "wagtail.images",
    "wagtail.admin",
    "wagtail",
    "modelcluster",
    "taggit",
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
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
if CONFIG in ("otp", "mfa"):
    INSTALLED_APPS.insert(0, "django_otp")
    MIDDLEWARE.insert(5, "django_otp.middleware.OTPMiddleware")
if CONFIG == "mfa":
    INSTALLED_APPS.insert(0, "wagtail_company_mfa")
    MIDDLEWARE.insert(6, "wagtail_company_mfa.middleware.CompanyMFAMiddleware")
    WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS = ["9GZdbRsUHHw1q4mhrxTfTTgLK5lRcB7xhZJ2QPkCgzA="]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
