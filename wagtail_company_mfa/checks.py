"""
Django system checks for the mistakes that would silently switch MFA off (SPEC §4).

Run with ``manage.py check`` (``--deploy`` adds the deployment-only ones).
"""

from __future__ import annotations

import importlib.util

from django.apps import apps
from django.conf import settings
from django.core.checks import Error, Tags, Warning
from django.utils.module_loading import import_string

MIDDLEWARE_PATH = "wagtail_company_mfa.middleware.CompanyMFAMiddleware"
OTP_MIDDLEWARE_PATH = "django_otp.middleware.OTPMiddleware"
AUTH_MIDDLEWARE_PATH = "django.contrib.auth.middleware.AuthenticationMiddleware"
MESSAGE_MIDDLEWARE_PATH = "django.contrib.messages.middleware.MessageMiddleware"

#: Middleware that may sit between OTPMiddleware and ours because it never reads ``request.user``. Anything
#: else there would read the user before the gate wraps it, so it would see the real user of a session that
#: still owes its second factor (SEC-28).
USER_BLIND_MIDDLEWARE = frozenset(
    {
        "django.middleware.security.SecurityMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.common.BrokenLinkEmailsMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.middleware.locale.LocaleMiddleware",
        "django.middleware.gzip.GZipMiddleware",
        "django.middleware.http.ConditionalGetMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
        "wagtail.contrib.redirects.middleware.RedirectMiddleware",
    }
)

E001_MIDDLEWARE_MISSING = "wagtail_company_mfa.E001"
E002_OTP_MIDDLEWARE_MISSING = "wagtail_company_mfa.E002"
E003_MIDDLEWARE_ORDER = "wagtail_company_mfa.E003"
E004_OTP_BEFORE_AUTH = "wagtail_company_mfa.E004"
E005_DJANGO_OTP_NOT_INSTALLED = "wagtail_company_mfa.E005"
E006_USE_TZ_OFF = "wagtail_company_mfa.E006"
E007_BAD_SETTING = "wagtail_company_mfa.E007"
E008_COOKIE_SESSIONS = "wagtail_company_mfa.E008"
E013_MIDDLEWARE_BETWEEN = "wagtail_company_mfa.E013"
W001_NO_ENCRYPTION_KEY = "wagtail_company_mfa.W001"
E009_REST_BASIC_AUTHENTICATION = "wagtail_company_mfa.E009"
E010_REST_TOKEN_VIEW = "wagtail_company_mfa.E010"  # noqa: S105 (a check id, not a password)
E011_SESSIONS_IN_LOCAL_CACHE = "wagtail_company_mfa.E011"
E012_NO_ENCRYPTION_KEY_DEPLOY = "wagtail_company_mfa.E012"
W002_CACHED_DB_SESSIONS_IN_LOCAL_CACHE = "wagtail_company_mfa.W002"
W003_LOCAL_CACHE = "wagtail_company_mfa.W003"
W004_SQLITE_DEFERRED = "wagtail_company_mfa.W004"


def _middleware_index(middleware: list[str], target: str) -> int | None:
    """Position of ``target`` (or a subclass of it) in ``middleware``, or ``None``."""
    try:
        target_cls = import_string(target)
    except ImportError:
        target_cls = None
    for index, path in enumerate(middleware):
        if path == target:
            return index
        if target_cls is None:
            continue
        try:
            cls = import_string(path)
        except ImportError:
            continue
        if isinstance(cls, type) and issubclass(cls, target_cls):
            return index
    return None


def check_middleware(app_configs=None, **kwargs):
    middleware = list(getattr(settings, "MIDDLEWARE", None) or [])
    ours = _middleware_index(middleware, MIDDLEWARE_PATH)
    otp = _middleware_index(middleware, OTP_MIDDLEWARE_PATH)
    auth = _middleware_index(middleware, AUTH_MIDDLEWARE_PATH)
    errors = []
    if ours is None:
        errors.append(
            Error(
                "CompanyMFAMiddleware is not installed, so MFA is not enforced.",
                hint=f"Add '{MIDDLEWARE_PATH}' to MIDDLEWARE, right after '{OTP_MIDDLEWARE_PATH}'.",
                id=E001_MIDDLEWARE_MISSING,
            )
        )
    if otp is None:
        errors.append(
            Error(
                "django-otp's OTPMiddleware is not installed, so no session can ever be verified.",
                hint=f"Add '{OTP_MIDDLEWARE_PATH}' to MIDDLEWARE after '{AUTH_MIDDLEWARE_PATH}'.",
                id=E002_OTP_MIDDLEWARE_MISSING,
            )
        )
    elif ours is not None and ours < otp:
        errors.append(
            Error(
                "CompanyMFAMiddleware comes before django-otp's OTPMiddleware.",
                hint=f"Move '{MIDDLEWARE_PATH}' below '{OTP_MIDDLEWARE_PATH}' in MIDDLEWARE.",
                id=E003_MIDDLEWARE_ORDER,
            )
        )
    if otp is not None and (auth is None or otp < auth):
        errors.append(
            Error(
                "django-otp's OTPMiddleware must come after Django's AuthenticationMiddleware.",
                hint=f"Place '{OTP_MIDDLEWARE_PATH}' below '{AUTH_MIDDLEWARE_PATH}' in MIDDLEWARE.",
                id=E004_OTP_BEFORE_AUTH,
            )
        )
    if ours is not None and otp is not None and otp < ours:
        errors.extend(_gate_position_errors(middleware, ours, otp))
    return errors


def _gate_position_errors(middleware: list[str], ours: int, otp: int) -> list[Error]:
    """
    The gate must wrap ``request.user`` before anything reads it: directly after OTPMiddleware, or with only
    middleware in between that never reads the user, and before MessageMiddleware (whose storage the gate
    writes to when it ends an expired sign-in).
    """
    errors = []
    messages_index = _middleware_index(middleware, MESSAGE_MIDDLEWARE_PATH)
    if messages_index is not None and messages_index < ours:
        errors.append(
            Error(
                "CompanyMFAMiddleware comes after Django's MessageMiddleware.",
                hint=f"Move '{MIDDLEWARE_PATH}' up, right after '{OTP_MIDDLEWARE_PATH}' and before "
                f"'{MESSAGE_MIDDLEWARE_PATH}'.",
                id=E003_MIDDLEWARE_ORDER,
            )
        )
    between = [
        path
        for path in middleware[otp + 1 : ours]
        # MessageMiddleware and AuthenticationMiddleware misplaced have their own errors (above, and E004).
        if path not in USER_BLIND_MIDDLEWARE and path not in (MESSAGE_MIDDLEWARE_PATH, AUTH_MIDDLEWARE_PATH)
    ]
    if between:
        errors.append(
            Error(
                "Middleware between OTPMiddleware and CompanyMFAMiddleware may read request.user before "
                "the MFA gate wraps it, and see the real user of a half-signed-in session: "
                f"{', '.join(between)}.",
                hint=f"Move '{MIDDLEWARE_PATH}' up, right after '{OTP_MIDDLEWARE_PATH}'. If you are sure "
                "that middleware never reads the user, silence this check in SILENCED_SYSTEM_CHECKS.",
                id=E013_MIDDLEWARE_BETWEEN,
            )
        )
    return errors


check_middleware.tags = (Tags.security,)


def check_installed_apps(app_configs=None, **kwargs):
    if not apps.is_installed("django_otp"):
        return [
            Error(
                "'django_otp' is not in INSTALLED_APPS.",
                hint="wagtail-company-mfa stores its devices through django-otp: add 'django_otp' to "
                "INSTALLED_APPS, then run migrate.",
                id=E005_DJANGO_OTP_NOT_INSTALLED,
            )
        ]
    return []


check_installed_apps.tags = (Tags.security,)


def check_time_zone_support(app_configs=None, **kwargs):
    if not settings.USE_TZ:
        return [
            Error(
                "USE_TZ is False. Enforcement dates start at midnight in each company's time zone, which "
                "needs aware datetimes.",
                hint="Set USE_TZ = True (the default since Django 5.0).",
                id=E006_USE_TZ_OFF,
            )
        ]
    return []


check_time_zone_support.tags = (Tags.security,)


def check_settings(app_configs=None, **kwargs):
    from django.core.exceptions import ImproperlyConfigured

    from .conf import MFASettings, mfa_settings
    from .models import validate_time_zone

    errors = []
    # Read every setting once: each property raises ImproperlyConfigured for a value it cannot use.
    for name, attribute in vars(MFASettings).items():
        if not isinstance(attribute, property):
            continue
        try:
            getattr(mfa_settings, name)
        except (ImproperlyConfigured, TypeError, ValueError) as exc:
            errors.append(
                Error(
                    str(exc) or f"WAGTAIL_COMPANY_MFA_{name} has a value that cannot be used.",
                    hint=f"See WAGTAIL_COMPANY_MFA_{name} in the settings reference of the documentation.",
                    id=E007_BAD_SETTING,
                )
            )
    if errors:
        return errors
    if mfa_settings.THROTTLE_FACTOR < 1:
        errors.append(
            Error(
                "WAGTAIL_COMPANY_MFA_THROTTLE_FACTOR is below 1, which turns off the delay after wrong codes "
                "and lets anyone who knows a password guess the second factor.",
                hint="Leave it unset (1 second, doubling) or set a larger whole number of seconds.",
                id=E007_BAD_SETTING,
            )
        )
    try:
        validate_time_zone(mfa_settings.DEFAULT_TIME_ZONE)
    except Exception:
        errors.append(
            Error(
                f"WAGTAIL_COMPANY_MFA_DEFAULT_TIME_ZONE = {mfa_settings.DEFAULT_TIME_ZONE!r} is not a known "
                "time zone.",
                hint="Use an IANA time zone name such as 'Europe/Amsterdam' or 'UTC'.",
                id=E007_BAD_SETTING,
            )
        )
    return errors


check_settings.tags = (Tags.security,)


def check_sessions(app_configs=None, **kwargs):
    if settings.SESSION_ENGINE == "django.contrib.sessions.backends.signed_cookies":
        return [
            Error(
                "Signed-cookie sessions keep session data in the browser, where a reset or sign-out "
                "elsewhere cannot reach it and half-finished MFA steps could be replayed.",
                hint="Use a server-side SESSION_ENGINE: db (the default), cache or cached_db.",
                id=E008_COOKIE_SESSIONS,
            )
        ]
    return []


check_sessions.tags = (Tags.security,)


def check_encryption_keys(app_configs=None, **kwargs):
    from django.core.exceptions import ImproperlyConfigured

    from .conf import mfa_settings

    try:
        keys = mfa_settings.ENCRYPTION_KEYS
    except ImproperlyConfigured:
        return []  # check_settings reports it (E007)
    if keys or settings.DEBUG:
        return []
    return [
        Warning(
            "WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS is not set, so TOTP secrets are encrypted with a key "
            "derived from SECRET_KEY: rotating SECRET_KEY would lock every enrolled user out.",
            hint='Generate a key with `python -c "from wagtail_company_mfa.crypto import generate_key; '
            'print(generate_key())"`, set WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS = [key] from your '
            "secrets store, then run `manage.py mfa_rotate_keys`.",
            id=W001_NO_ENCRYPTION_KEY,
        )
    ]


check_encryption_keys.tags = (Tags.security,)


# Django REST framework (SEC-48, SEC-49) --------------------------------------------------------------------
#
# DRF is imported only inside these functions, and only once it is importable: the rest of the package never
# needs it.

REST_BASIC_PATH = "rest_framework.authentication.BasicAuthentication"
OUR_REST_BASIC_PATH = "wagtail_company_mfa.rest.BasicAuthentication"
OUR_OBTAIN_AUTH_TOKEN_PATH = "wagtail_company_mfa.rest.obtain_auth_token"  # noqa: S105 (a dotted path)
WAGTAIL_ADMIN_URLCONF = "wagtail.admin.urls"


def _rest_framework_importable() -> bool:
    # Not apps.is_installed(): DRF authenticates requests without "rest_framework" in INSTALLED_APPS.
    return importlib.util.find_spec("rest_framework") is not None


def _gate_is_site_wide() -> bool:
    from django.core.exceptions import ImproperlyConfigured

    from .conf import mfa_settings

    try:
        return mfa_settings.ENFORCE == "site"
    except ImproperlyConfigured:
        # E007 reports the value; meanwhile assume the stricter reading.
        return True


def _is_plain_basic(cls) -> bool:
    """DRF's ``BasicAuthentication`` or a subclass of it that is not ours (which applies the policy)."""
    from rest_framework.authentication import BasicAuthentication

    from .rest import BasicAuthentication as OurBasicAuthentication

    return (
        isinstance(cls, type)
        and issubclass(cls, BasicAuthentication)
        and not issubclass(cls, OurBasicAuthentication)
    )


def _dotted(cls) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _routed_drf_views():
    """
    ``(route, view class)`` for every DRF view in the root URLconf, outside the Wagtail admin's. Cheap (no
    request, no database) and enough to catch DRF's own views routed as they are documented; a view built by
    hand, or one served through a Wagtail page's routing, is not seen.
    """
    from django.urls import URLPattern, URLResolver, get_resolver
    from rest_framework.views import APIView

    def walk(patterns, prefix):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                if getattr(pattern.urlconf_module, "__name__", None) == WAGTAIL_ADMIN_URLCONF:
                    # Wagtail wraps these views (its admin API included) in require_admin_access, which
                    # asks for the session's user, so the gate holds them before DRF authenticates at all.
                    continue
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                callback = pattern.callback
                # APIView.as_view() and ViewSet.as_view() set ``cls``; functools.wraps keeps it on decorators.
                cls = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
                if isinstance(cls, type) and issubclass(cls, APIView):
                    yield "/" + prefix + str(pattern.pattern), cls

    try:
        return list(walk(get_resolver().url_patterns, ""))
    except Exception:
        # A URLconf that does not import is Django's own check's to report (urls.E004 and friends).
        return []


def _uses_default_authentication(cls) -> bool:
    from rest_framework.views import APIView

    for klass in cls.__mro__:
        if klass is APIView:
            return True
        if "authentication_classes" in vars(klass):
            return False
    return True


def _token_view_class():
    """DRF's ``ObtainAuthToken``, or ``None`` when its app (and so its ``Token`` model) is not installed."""
    if not apps.is_installed("rest_framework.authtoken"):
        return None
    from rest_framework.authtoken.views import ObtainAuthToken

    return ObtainAuthToken


def check_rest_basic_authentication(app_configs=None, **kwargs):
    """
    E009: DRF's ``BasicAuthentication`` checks a password on every request, inside the view, where the
    site-wide gate cannot see it, so it lets a user who must use MFA in with the password alone.
    """
    if not _rest_framework_importable() or not _gate_is_site_wide():
        return []
    from rest_framework.settings import DEFAULTS

    hint = (
        f"Use '{OUR_REST_BASIC_PATH}' instead: it refuses the password of a user who must use MFA. See "
        "'APIs and other credentials' in the documentation."
    )
    configured = (getattr(settings, "REST_FRAMEWORK", None) or {}).get("DEFAULT_AUTHENTICATION_CLASSES")
    defaults = configured if configured is not None else DEFAULTS["DEFAULT_AUTHENTICATION_CLASSES"]
    plain_defaults = []
    for entry in defaults:
        try:
            cls = import_string(entry) if isinstance(entry, str) else entry
        except ImportError:
            continue  # DRF itself reports a class it cannot import.
        if _is_plain_basic(cls):
            plain_defaults.append(_dotted(cls))
    errors = []
    if configured is not None and plain_defaults:
        errors.append(
            Error(
                "REST_FRAMEWORK['DEFAULT_AUTHENTICATION_CLASSES'] includes "
                f"{', '.join(repr(path) for path in plain_defaults)}, which lets a user who must use MFA "
                "into the API with the password alone.",
                hint=hint,
                id=E009_REST_BASIC_AUTHENTICATION,
            )
        )
    token_view = _token_view_class()
    for route, cls in _routed_drf_views():
        if token_view is not None and issubclass(cls, token_view):
            continue  # It authenticates from the request body and needs no user: E010's concern.
        view_hint = hint
        if not _uses_default_authentication(cls):
            plain = [_dotted(auth) for auth in cls.authentication_classes if _is_plain_basic(auth)]
        elif configured is None:
            # DRF's built-in default has BasicAuthentication: reported where a routed view relies on it.
            plain = plain_defaults
            view_hint = (
                f"DRF's default authentication classes include '{REST_BASIC_PATH}'. Set "
                f"REST_FRAMEWORK['DEFAULT_AUTHENTICATION_CLASSES'] with '{OUR_REST_BASIC_PATH}' in its place."
            )
        else:
            plain = []  # The configured default is reported once, above.
        if plain:
            errors.append(
                Error(
                    f"The API view {_dotted(cls)} at {route!r} authenticates with "
                    f"{', '.join(repr(path) for path in plain)}, which lets a user who must use MFA in with "
                    "the password alone.",
                    hint=view_hint,
                    id=E009_REST_BASIC_AUTHENTICATION,
                )
            )
    return errors


check_rest_basic_authentication.tags = (Tags.security,)


def check_rest_token_views(app_configs=None, **kwargs):
    """
    E010: DRF's ``ObtainAuthToken`` gives a token (the user's existing one, too) for a username and password.
    An Error, not a Warning: a token from it works on every later request without MFA, which switches MFA off
    for the API as surely as E009.
    """
    if not _rest_framework_importable() or not _gate_is_site_wide():
        return []
    token_view = _token_view_class()
    if token_view is None:
        return []
    from .rest.authtoken import ObtainAuthToken as OurObtainAuthToken

    return [
        Error(
            f"The token endpoint {_dotted(cls)} at {route!r} hands out an API token for a password alone, "
            "also to a user who must use MFA.",
            hint=f"Route it to '{OUR_OBTAIN_AUTH_TOKEN_PATH}' instead. See 'APIs and other credentials' in "
            "the documentation.",
            id=E010_REST_TOKEN_VIEW,
        )
        for route, cls in _routed_drf_views()
        if issubclass(cls, token_view) and not issubclass(cls, OurObtainAuthToken)
    ]


check_rest_token_views.tags = (Tags.security,)


def check_encryption_keys_deploy(app_configs=None, **kwargs):
    """
    ``check --deploy``: no keys outside ``DEBUG`` is an error there, not a warning. The documented settings
    line leaves the list empty where the environment variable is missing, so that ``manage.py`` still runs in
    a shell without it; on a production server the same empty list would quietly encrypt new secrets with
    the ``SECRET_KEY`` fallback, which the other servers cannot read (SEC-43).
    """
    from django.core.exceptions import ImproperlyConfigured

    from .conf import mfa_settings

    try:
        keys = mfa_settings.ENCRYPTION_KEYS
    except ImproperlyConfigured:
        return []  # check_settings reports it (E007)
    if keys or settings.DEBUG:
        return []
    return [
        Error(
            "WAGTAIL_COMPANY_MFA_ENCRYPTION_KEYS is empty on a deployment (DEBUG is off): TOTP secrets would "
            "be encrypted with a key derived from SECRET_KEY, which app servers with the keys set cannot "
            "read, and rotating SECRET_KEY would lock every enrolled user out.",
            hint="Set the environment variable the setting reads (the same key list on every app server) "
            "before deploying; see 'Encryption keys' in the installation guide.",
            id=E012_NO_ENCRYPTION_KEY_DEPLOY,
        )
    ]


check_encryption_keys_deploy.tags = (Tags.security,)


# Caches and sessions shared by several worker processes ----------------------------------------------------


def _cache_kind(alias: str) -> str | None:
    """``"dummy"`` or ``"local"`` (one process only) for the cache ``alias``, else ``None``."""
    from django.core.cache.backends.dummy import DummyCache
    from django.core.cache.backends.locmem import LocMemCache

    config = (getattr(settings, "CACHES", None) or {}).get(alias)
    if not isinstance(config, dict):
        return None  # Django's own checks report a missing cache
    try:
        backend = import_string(config.get("BACKEND", ""))
    except ImportError:
        return None
    if isinstance(backend, type) and issubclass(backend, DummyCache):
        return "dummy"
    if isinstance(backend, type) and issubclass(backend, LocMemCache):
        return "local"
    return None


def _session_engine_kind() -> str | None:
    """``"cache"`` or ``"cached_db"`` for the session engine (or a subclass of either), else ``None``."""
    from importlib import import_module

    from django.contrib.sessions.backends import cache as cache_sessions
    from django.contrib.sessions.backends import cached_db

    try:
        store = import_module(settings.SESSION_ENGINE).SessionStore
    except (ImportError, AttributeError):
        return None
    if isinstance(store, type) and issubclass(store, cached_db.SessionStore):
        return "cached_db"
    if isinstance(store, type) and issubclass(store, cache_sessions.SessionStore):
        return "cache"
    return None


def check_session_cache(app_configs=None, **kwargs):
    engine = _session_engine_kind()
    if engine is None:
        return []
    alias = getattr(settings, "SESSION_CACHE_ALIAS", "default")
    kind = _cache_kind(alias)
    if engine == "cache" and (kind == "dummy" or (kind == "local" and not settings.DEBUG)):
        where = (
            "a dummy cache, which keeps nothing"
            if kind == "dummy"
            else "a local-memory cache, which each worker process has to itself"
        )
        return [
            Error(
                f"Sessions are stored only in the cache '{alias}', {where}: a sign-in made on one worker is "
                "unknown to the others, so users are sent back to the sign-in page at random and a "
                "sign-out or reset cannot reach the other workers.",
                hint=f"Point CACHES['{alias}'] (SESSION_CACHE_ALIAS) at a shared cache (Redis, Memcached, "
                "the database cache), or use SESSION_ENGINE = 'django.contrib.sessions.backends.db'.",
                id=E011_SESSIONS_IN_LOCAL_CACHE,
            )
        ]
    if engine == "cached_db" and kind == "local" and not settings.DEBUG:
        return [
            Warning(
                f"Sessions are cached in '{alias}', a local-memory cache each worker process has to itself. "
                "The database stays authoritative for a session a worker has not cached, so sign-ins work, "
                "but a worker that cached a session keeps serving its copy until it expires: a session "
                "ended on another worker (sign-out, 'sign out other sessions', an administrator's reset) "
                "can go on there, and changes made on another worker are missed. MFA itself still holds: "
                "django-otp reloads the device from the database on every request.",
                hint=f"Point CACHES['{alias}'] (SESSION_CACHE_ALIAS) at a shared cache (Redis, Memcached, "
                "the database cache), or use SESSION_ENGINE = 'django.contrib.sessions.backends.db'.",
                id=W002_CACHED_DB_SESSIONS_IN_LOCAL_CACHE,
            )
        ]
    return []


check_session_cache.tags = (Tags.security,)


def check_package_cache(app_configs=None, **kwargs):
    """
    What this package keeps in Django's default cache: only whether to show the Companies menu item
    (``permissions.shows_companies_menu``). No MFA decision reads the cache, so this is a warning about that
    menu item, nothing more.
    """
    from .permissions import MENU_CACHE_TIMEOUT

    if settings.DEBUG or _cache_kind("default") != "local":
        return []
    return [
        Warning(
            "The default cache is a local-memory cache, which each worker process has to itself. "
            "wagtail-company-mfa keeps only one thing there: whether to show someone the Companies menu "
            "item. With several workers, that item can appear or disappear up to "
            f"{MENU_CACHE_TIMEOUT // 60} minutes late on other workers after a person becomes or stops being "
            "a company administrator. No MFA decision uses the cache, and every company page checks the "
            "database again.",
            hint="Use a shared cache (Redis, Memcached, the database cache) for CACHES['default'], or add "
            f"'{W003_LOCAL_CACHE}' to SILENCED_SYSTEM_CHECKS if the site runs a single process.",
            id=W003_LOCAL_CACHE,
        )
    ]


check_package_cache.tags = (Tags.security,)


# SQLite ----------------------------------------------------------------------------------------------------


def check_sqlite_transaction_mode(app_configs=None, **kwargs):
    """SEC-50: on SQLite, writers must take the write lock when their transaction begins."""
    if settings.DEBUG:
        return []
    messages = []
    for alias, config in (getattr(settings, "DATABASES", None) or {}).items():
        if not isinstance(config, dict) or "sqlite" not in str(config.get("ENGINE", "")):
            continue
        mode = (config.get("OPTIONS") or {}).get("transaction_mode")
        if str(mode or "").upper() == "IMMEDIATE":
            continue
        messages.append(
            Warning(
                f"The SQLite database '{alias}' starts transactions in DEFERRED mode. When two requests "
                "check a code at the same moment, one of them fails with 'database is locked' instead of "
                "waiting its turn; the package then refuses that attempt ('try again in a moment') rather "
                "than check a code it could not count, so people see spurious refusals.",
                hint=f'Add "OPTIONS": {{"transaction_mode": "IMMEDIATE"}} to DATABASES[\'{alias}\'].',
                id=W004_SQLITE_DEFERRED,
            )
        )
    return messages


check_sqlite_transaction_mode.tags = (Tags.security,)


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
)

#: Checks that only ``manage.py check --deploy`` runs.
DEPLOY_CHECKS = (check_encryption_keys_deploy,)
