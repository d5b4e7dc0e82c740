"""
Settings for the app servers that tests/test_two_servers.py starts with gunicorn: the suite's settings, run
the way a production site with several app servers runs them. DEBUG off, PostgreSQL, and a Redis cache shared
by every process, which also holds the sessions (so nothing about a session is local to one server).

The test sets, in each server's environment:

- ``MFA_SERVERS_DATABASE_NAME``: the test database pytest-django created (``DATABASE_URL`` gives the rest);
- ``MFA_SERVERS_REDIS_URL``: the Redis server;
- ``MFA_SERVERS_KEY_PREFIX``: a cache key prefix of its own, so runs in parallel never share keys;
- ``MFA_SERVERS_EMAIL_DIR``: where the emails are written, one file per connection.
"""

import os

import django
from settings import *  # noqa: F403
from settings import DATABASES

DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
# Passkeys on the servers' own host name (their checks run at start-up: docs/passkeys.md).
OTP_WEBAUTHN_RP_ID = "localhost"
OTP_WEBAUTHN_ALLOWED_ORIGINS = ["http://localhost"]

DATABASES["default"]["NAME"] = os.environ["MFA_SERVERS_DATABASE_NAME"]
DATABASES["default"].pop("TEST", None)

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ.get("MFA_SERVERS_REDIS_URL", "redis://127.0.0.1:6379/0"),
        "KEY_PREFIX": os.environ["MFA_SERVERS_KEY_PREFIX"],
    }
}
# Sessions only in Redis: if anything about a session stayed in one process, the other server would not see
# it and the test would fail.
SESSION_ENGINE = "django.contrib.sessions.backends.cache"

EMAIL_DIR = os.environ["MFA_SERVERS_EMAIL_DIR"]
if django.VERSION >= (6, 1):
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "OPTIONS": {"file_path": EMAIL_DIR},
        }
    }
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = EMAIL_DIR

# With DEBUG off, Django sends tracebacks to ADMINS only; the test shows the servers' output when it fails.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {
        "django": {"handlers": ["stderr"], "level": "WARNING"},
        "wagtail_company_mfa": {"handlers": ["stderr"], "level": "INFO"},
    },
}
