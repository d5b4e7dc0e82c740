"""The database: SQLite's transaction mode."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Warning

from .ids import W004_SQLITE_DEFERRED


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
