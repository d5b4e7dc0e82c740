"""
Parallel wrong codes on a SQLite file: every code that is checked is counted, and none ends in a server
error (SEC-06, SEC-10, SEC-50). The burst runs in a subprocess (``sqlite_burst.py``) with a database file of
its own, since the suite's database is in memory or PostgreSQL.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BROWSERS = 12
SCRIPT = Path(__file__).with_name("sqlite_burst.py")


def burst(tmp_path, mode: str) -> dict:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")
    }
    result = subprocess.run(  # noqa: S603 (our own script, fixed arguments)
        [sys.executable, str(SCRIPT), str(tmp_path / "burst.sqlite3"), mode, str(BROWSERS)],
        capture_output=True,
        text=True,
        timeout=240,
        env={**env, "PYTHONWARNINGS": "ignore"},
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("mode", ["IMMEDIATE", "DEFERRED"])
def test_parallel_wrong_codes_on_sqlite_are_all_counted_and_never_a_server_error(tmp_path, mode):
    outcome = burst(tmp_path, mode)

    assert outcome["errors"] == []
    assert outcome["statuses"] == [200] * BROWSERS  # each browser gets the form back, none a 500
    assert outcome["checked"] >= 1
    # The finding: about 7 codes checked, 1 counted. Now each comparison is counted, in its transaction.
    assert outcome["checked"] == outcome["counted"]
    # Every "wrong code" answer is a counted failure: a verdict is never given on an uncounted check.
    assert outcome["wrong_answers"] <= outcome["counted"]
    if mode == "IMMEDIATE":
        # Writers queue for the lock: nobody is told to try again because of the database.
        assert outcome["busy_answers"] == 0
