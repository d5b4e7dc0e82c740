"""Sessions and caches: where the session data lives, and whether every worker process sees the same."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Warning
from django.utils.module_loading import import_string

from .ids import (
    E008_COOKIE_SESSIONS,
    E011_SESSIONS_IN_LOCAL_CACHE,
    W002_CACHED_DB_SESSIONS_IN_LOCAL_CACHE,
    W003_LOCAL_CACHE,
)


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


def check_package_cache(app_configs=None, **kwargs):
    """
    What this package keeps in Django's default cache: only whether to show the Companies menu item
    (``permissions.shows_companies_menu``). No MFA decision reads the cache, so this is a warning about that
    menu item, nothing more.
    """
    # Imported here: the checks load before the app registry is ready, and the models cannot.
    from ..companies.permissions import MENU_CACHE_TIMEOUT

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
