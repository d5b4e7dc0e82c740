"""
Django system checks for the mistakes that would silently switch MFA off, one module per concern.

Run with ``manage.py check`` (``--deploy`` adds the deployment-only ones); the ids are listed in
docs/installation.md.
"""

from .database import check_sqlite_transaction_mode
from .ids import (  # noqa: F401 (the ids, as they were importable from here)
    E001_MIDDLEWARE_MISSING,
    E002_OTP_MIDDLEWARE_MISSING,
    E003_MIDDLEWARE_ORDER,
    E004_OTP_BEFORE_AUTH,
    E005_DJANGO_OTP_NOT_INSTALLED,
    E006_USE_TZ_OFF,
    E007_BAD_SETTING,
    E008_COOKIE_SESSIONS,
    E009_REST_BASIC_AUTHENTICATION,
    E010_REST_TOKEN_VIEW,
    E011_SESSIONS_IN_LOCAL_CACHE,
    E012_NO_ENCRYPTION_KEY_DEPLOY,
    E013_MIDDLEWARE_BETWEEN,
    W001_NO_ENCRYPTION_KEY,
    W002_CACHED_DB_SESSIONS_IN_LOCAL_CACHE,
    W003_LOCAL_CACHE,
    W004_SQLITE_DEFERRED,
)
from .middleware import check_middleware
from .passkeys import check_passkey_settings
from .rest import check_rest_basic_authentication, check_rest_token_views
from .sessions import check_package_cache, check_session_cache, check_sessions
from .settings import (
    check_encryption_keys,
    check_encryption_keys_deploy,
    check_installed_apps,
    check_settings,
    check_time_zone_support,
)

ALL_CHECKS = (
    check_middleware,
    check_installed_apps,
    check_time_zone_support,
    check_settings,
    check_sessions,
    check_encryption_keys,
    check_rest_basic_authentication,
    check_rest_token_views,
    check_session_cache,
    check_package_cache,
    check_sqlite_transaction_mode,
    check_passkey_settings,
)

#: Checks that only ``manage.py check --deploy`` runs.
DEPLOY_CHECKS = (check_encryption_keys_deploy,)
