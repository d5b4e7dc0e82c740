#!/usr/bin/env python
"""
What a verified request costs with wagtail-company-mfa, against plain Wagtail, measured in one run.

    python benchmarks/request_overhead.py [--repeat 7] [--number 200]

Each configuration (see bench_settings.py) runs in its own process on the same SQLite file layout, signs a
user in (for ``mfa``: password, then the 6-digit code, through the real views), then times GET requests
through Django's full handler and middleware stack with the test client and counts their SQL queries. The
configurations take turns, round after round, and the best round of each is kept, so background noise hits
them alike. It prints per URL: time per request, the ratio to plain Wagtail and to Wagtail + django-otp, and
the queries per request.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONFIGS = ("plain", "otp", "mfa")
URLS = ("/admin/", "/admin/pages/", "/bench/empty/", "/bench/hello/")


def worker(number: int) -> None:
    """Runs inside one configuration's process; prints one JSON line of results."""
    import time

    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment

    setup_test_environment()
    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_superuser("bench", "bench@example.com", "password")
    client = Client()
    client.post("/admin/login/", {"username": "bench", "password": "password"})
    if "wagtail_company_mfa" in settings.INSTALLED_APPS:
        from wagtail_company_mfa.models import AuthenticatorDevice
        from wagtail_company_mfa.totp import algorithm as totp

        key = totp.generate_key()
        device = AuthenticatorDevice(user=user, name="bench")
        device.set_key(key)
        device.save()
        response = client.post("/admin/company-mfa/verify/", {"code": totp.code_at(key, time.time())})
        assert response.status_code == 302, response.status_code
    results = {}
    for url in URLS:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        for _ in range(20):  # warm caches (templates, content types, permissions)
            client.get(url)
        with CaptureQueriesContext(connection) as captured:
            client.get(url)
        queries = captured.captured_queries
        start = time.perf_counter()
        for _ in range(number):
            client.get(url)
        elapsed = (time.perf_counter() - start) / number
        results[url] = {"seconds": elapsed, "queries": len(queries)}
    print(json.dumps(results))


def run_config(config: str, number: int, database: str) -> dict:
    env = {
        **os.environ,
        "BENCH_CONFIG": config,
        "DJANGO_SETTINGS_MODULE": "bench_settings",
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
        "DATABASE_URL": f"sqlite:///{database}",
    }
    Path(database).unlink(missing_ok=True)
    output = subprocess.run(
        [sys.executable, __file__, "--worker", "--number", str(number)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=5, help="rounds per configuration (best one kept)")
    parser.add_argument("--number", type=int, default=300, help="requests per URL per round")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    if args.worker:
        worker(args.number)
        return

    rounds: dict[str, list[dict]] = {config: [] for config in CONFIGS}
    with tempfile.TemporaryDirectory() as tmp:
        for round_number in range(args.repeat):
            for config in CONFIGS:
                rounds[config].append(run_config(config, args.number, f"{tmp}/{config}.sqlite3"))
            print(f"round {round_number + 1}/{args.repeat} done", file=sys.stderr)

    best = {
        config: {url: min(r[url]["seconds"] for r in results) for url in URLS}
        for config, results in rounds.items()
    }
    spread = {
        config: {url: statistics.median(r[url]["seconds"] for r in results) for url in URLS}
        for config, results in rounds.items()
    }
    queries = {config: rounds[config][0] for config in CONFIGS}

    import django
    import wagtail

    print(
        f"Django {django.get_version()}, Wagtail {wagtail.__version__}, "
        f"Python {sys.version.split()[0]}, SQLite"
    )
    print(f"{args.repeat} rounds x {args.number} requests per URL; best round (median of rounds)\n")
    columns = ("plain", "+ django-otp", "+ company-mfa")
    header = f"{'URL':<16}" + "".join(f"{c:>24}" for c in columns) + f"{'vs plain':>10}{'vs otp':>9}  queries"
    print(header)
    print("-" * len(header))
    summary = {}
    for url in URLS:
        plain, otp, mfa = (best[c][url] for c in CONFIGS)
        counts = "/".join(str(queries[c][url]["queries"]) for c in CONFIGS)
        print(
            f"{url:<16}"
            + "".join(f"{best[c][url] * 1e3:.3f} ms ({spread[c][url] * 1e3:.3f})".rjust(24) for c in CONFIGS)
            + f"{mfa / plain:>10.3f}{mfa / otp:>9.3f}  {counts}"
        )
        summary[url] = {
            "ms": {c: best[c][url] * 1e3 for c in CONFIGS},
            "ratio_vs_plain": mfa / plain,
            "ratio_vs_otp": mfa / otp,
            "queries": {c: queries[c][url]["queries"] for c in CONFIGS},
        }
    print("\nqueries: plain / + django-otp / + company-mfa")
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
