#!/usr/bin/env python
"""
What a request and a login cost with wagtail-company-mfa, against plain Wagtail, measured in one run.

    python benchmarks/request_overhead.py [--repeat 5] [--number 300] [--logins 30]
    python benchmarks/request_overhead.py --instructions [--number 20] [--logins 5] [--jobs 1]
                                          [--urls /admin/,login] [--users enrolled,upcoming]

Each configuration (see bench_settings.py) runs in its own process on its own SQLite file. It creates three
users, all with access to the Wagtail admin, and, for ``mfa``, the companies that give each one the state its
name says (checked with ``policy.requirement_for`` before anything is measured):

- ``enrolled``: a superuser with an authenticator app, signed in with password and code (a verified session;
  their company requires MFA, so the requirement is REQUIRED);
- ``not_required``: a Wagtail editor in a company with Require MFA off, no authenticator, password only;
- ``upcoming``: a Wagtail editor in a company that requires MFA from a date ahead, not enrolled yet.

In ``plain`` and ``otp`` the same users exist and nothing applies to them. Every request goes through
Django's full handler and middleware stack with the test client, signed in through the real login views.

Two measures, per URL and user, plus ``login``: a full sign-in by a user of that kind who has not signed in
before (GET the login page, POST the password and follow the redirects; for ``enrolled`` under ``mfa``, POST
the code on the verify page and follow to the dashboard), one fresh user per login so no code is replayed:

- **time** (default): the configurations take turns, round after round, and the best round of each is kept
  (the median of the rounds in brackets), so background noise hits them alike; with the SQL queries of one
  request (or one login). Timings on a shared machine swing from run to run; compare the ratios.
- **instructions** (``--instructions``): each configuration's worker runs once under
  ``valgrind --tool=callgrind``, and the instructions executed by the ``--number`` requests (``--logins``
  logins) of each URL and user, after the same warm-up, are divided by their number. The worker marks the
  start and end of each measured block by calling ``os.getppid()``, which nothing else in the request path
  calls, and callgrind (``--dump-before=getppid``) writes the count since the previous mark at each one, so
  setup and warm-up are never counted. Instruction counts repeat to within a fraction of a percent from run to
  run whatever the machine is doing, so they show a small change that timings cannot; callgrind runs about
  50 times slower, hence the small default ``--number`` and the ``--urls`` / ``--users`` choice.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONFIGS = ("plain", "otp", "mfa")
URLS = ("/admin/", "/admin/pages/", "/bench/empty/", "/bench/hello/")
LOGIN = "login"
USERS = ("enrolled", "not_required", "upcoming")
PASSWORD = "password"
#: Requests (or logins) made before each measured block: templates, content types and permissions cached.
WARM_REQUESTS = 20
WARM_LOGINS = 3
WARM_INSTRUCTIONS = 3


def worker(args) -> None:
    """Runs inside one configuration's process; prints one JSON line of results."""
    import gc
    import time

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext, setup_test_environment

    setup_test_environment()
    if args.migrate_only:
        call_command("migrate", verbosity=0)
        return
    if not args.migrated:
        call_command("migrate", verbosity=0)
    mfa = "wagtail_company_mfa" in settings.INSTALLED_APPS
    urls = args.urls.split(",")
    users = args.users.split(",")
    if args.instructions:
        warm_requests = warm_logins = WARM_INSTRUCTIONS
    else:
        warm_requests, warm_logins = WARM_REQUESTS, WARM_LOGINS
    world = World(mfa, login_users=warm_logins + 1 + args.logins if LOGIN in urls else 0, kinds=users)

    def mark() -> None:
        # The callgrind run dumps its counters here (--dump-before=getppid); a plain run just makes a syscall.
        os.getppid()

    results = []
    for kind in users:
        client = world.signed_in_client(kind)
        for url in urls:
            if url == LOGIN:
                continue
            response = client.get(url)
            assert response.status_code == 200, (kind, url, response.status_code)
            for _ in range(warm_requests):
                client.get(url)
            with CaptureQueriesContext(connection) as captured:
                client.get(url)
            # Read now: the next request empties the connection's query log.
            queries = len(captured.captured_queries)
            # A full collection now, so one left over from the warm-up does not land in (only) this block.
            gc.collect()
            mark()
            start = time.perf_counter()
            for _ in range(args.number):
                client.get(url)
            elapsed = time.perf_counter() - start
            mark()
            results.append(
                {
                    "url": url,
                    "user": kind,
                    "seconds": elapsed / args.number,
                    "queries": queries,
                }
            )
        if LOGIN in urls:
            from django.test import Client

            logins = iter(world.login_users[kind])
            for _ in range(warm_logins):
                world.full_login(Client(), *next(logins))
            with CaptureQueriesContext(connection) as captured:
                world.full_login(Client(), *next(logins))
            queries = len(captured.captured_queries)
            clients = [Client() for _ in range(args.logins)]
            gc.collect()
            mark()
            start = time.perf_counter()
            for login_client in clients:
                world.full_login(login_client, *next(logins))
            elapsed = time.perf_counter() - start
            mark()
            results.append(
                {
                    "url": LOGIN,
                    "user": kind,
                    "seconds": elapsed / len(clients),
                    "queries": queries,
                    "count": len(clients),
                }
            )
    print(json.dumps(results))


class World:
    """The users (and, under ``mfa``, the companies) every configuration measures, and how they sign in."""

    def __init__(self, mfa: bool, *, login_users: int, kinds):
        from django.contrib.auth.models import Group

        self.mfa = mfa
        self.editors = Group.objects.get(name="Editors")  # Wagtail's own group, with admin access
        if mfa:
            self.companies = self.make_companies()
        self.users = {kind: self.make_user(kind, kind) for kind in kinds}
        # Whoever signs in is a user who has not signed in before, so no code is replayed (SEC-05) and no
        # session registry grows from one login to the next.
        self.login_users = {
            kind: [self.make_user(kind, f"{kind}-login-{index}") for index in range(login_users)]
            for kind in kinds
        }

    @staticmethod
    def make_companies() -> dict:
        import datetime

        from django.utils import timezone

        from wagtail_company_mfa.models import Company

        today = timezone.localdate()
        return {
            "enrolled": Company.objects.create(
                name="Enforced",
                slug="enforced",
                require_mfa=True,
                enforcement_date=today - datetime.timedelta(days=30),
            ),
            "not_required": Company.objects.create(name="Relaxed", slug="relaxed", require_mfa=False),
            "upcoming": Company.objects.create(
                name="Ahead",
                slug="ahead",
                require_mfa=True,
                enforcement_date=today + datetime.timedelta(days=30),
            ),
        }

    def make_user(self, kind: str, username: str):
        """A user of ``kind`` as ``(user, enrollment)``; the enrollment is ``None`` unless one is needed."""
        from django.contrib.auth import get_user_model

        User = get_user_model()
        email = f"{username}@example.com"
        if kind == "enrolled":
            user = User.objects.create_superuser(username, email, PASSWORD)
        else:
            user = User.objects.create_user(username, email, PASSWORD)
            user.groups.add(self.editors)
        if not self.mfa:
            return user, None
        from wagtail_company_mfa.models import CompanyMembership
        from wagtail_company_mfa.policy import Status, requirement_for
        from wagtail_company_mfa.testing import enroll

        CompanyMembership.objects.create(user=user, company=self.companies[kind])
        enrollment = enroll(user) if kind == "enrolled" else None
        expected = {
            "enrolled": Status.REQUIRED,
            "not_required": Status.NOT_REQUIRED,
            "upcoming": Status.UPCOMING,
        }
        status = requirement_for(user).status
        assert status is expected[kind], (username, status)
        return user, enrollment

    def signed_in_client(self, kind: str):
        from django.test import Client

        client = Client()
        self.full_login(client, *self.users[kind])
        return client

    def full_login(self, client, user, enrollment) -> None:
        """The whole sign-in a browser goes through, from the login page to the dashboard."""
        response = client.get("/admin/login/")
        assert response.status_code == 200, response.status_code
        response = client.post(
            "/admin/login/", {"username": user.username, "password": PASSWORD}, follow=True
        )
        if enrollment is not None:
            assert response.resolver_match.view_name == "wagtail_company_mfa:verify", response.redirect_chain
            verify_url = response.redirect_chain[-1][0]
            response = client.post(verify_url, {"code": enrollment.code()}, follow=True)
        assert response.status_code == 200, response.status_code
        assert response.resolver_match.view_name == "wagtailadmin_home", response.redirect_chain


def worker_env(config: str, database: str) -> dict:
    return {
        **os.environ,
        "BENCH_CONFIG": config,
        "DJANGO_SETTINGS_MODULE": "bench_settings",
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
        "DATABASE_URL": f"sqlite:///{database}",
        # The same hash seed in every run, so set and dict orders (and with them instruction counts) repeat.
        "PYTHONHASHSEED": "0",
    }


def worker_args(args) -> list[str]:
    return [
        __file__,
        "--worker",
        "--number",
        str(args.number),
        "--logins",
        str(args.logins),
        "--urls",
        args.urls,
        "--users",
        args.users,
        *(["--instructions"] if args.instructions else []),
    ]


def run_config(config: str, args, database: str, *extra: str) -> list[dict]:
    output = subprocess.run(
        [sys.executable, *worker_args(args), *extra],
        env=worker_env(config, database),
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1]) if output.strip() else []


def run_callgrind(config: str, args, tmp: str) -> list[dict]:
    """One worker run under callgrind: the instructions per request of each measured block."""
    database = f"{tmp}/{config}.sqlite3"
    # The migrations run outside callgrind (they would take minutes under it, and are not measured anyway).
    run_config(config, args, database, "--migrate-only")
    out = Path(tmp) / f"callgrind-{config}"
    out.mkdir()
    completed = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--dump-before=getppid",
            f"--callgrind-out-file={out}/callgrind.out",
            sys.executable,
            *worker_args(args),
            "--migrated",
        ],
        env=worker_env(config, database),
        capture_output=True,
        text=True,
    )
    if completed.returncode:
        sys.exit(f"{config}: the worker failed under callgrind:\n{completed.stderr[-3000:]}")
    results = json.loads(completed.stdout.strip().splitlines()[-1])
    # Dump 1 is everything up to the first mark; then each block's own dump follows its warm-up's.
    counts = {int(path.suffix[1:]): read_total(path) for path in out.glob("callgrind.out.*")}
    if len(counts) != 2 * len(results):
        sys.exit(f"{config}: expected {2 * len(results)} callgrind dumps, found {len(counts)}")
    for index, result in enumerate(results):
        per = result.get("count", args.number)
        result["instructions"] = counts[2 * index + 2] / per
    return results


def read_total(path: Path) -> int:
    for line in path.read_text().splitlines():
        if line.startswith("totals:"):
            return int(line.split()[1])
    raise ValueError(f"no totals in {path}")


def keyed(results: list[dict]) -> dict:
    return {(r["url"], r["user"]): r for r in results}


def environment() -> str:
    import django
    import wagtail

    python = sys.version.split()[0]
    return f"Django {django.get_version()}, Wagtail {wagtail.__version__}, Python {python}, SQLite"


def label(url: str) -> str:
    return "login (full)" if url == LOGIN else url


def report_times(args) -> dict:
    rounds: dict[str, list[dict]] = {config: [] for config in CONFIGS}
    with tempfile.TemporaryDirectory() as tmp:
        for round_number in range(args.repeat):
            for config in CONFIGS:
                database = f"{tmp}/{config}.sqlite3"
                Path(database).unlink(missing_ok=True)
                rounds[config].append(keyed(run_config(config, args, database)))
            print(f"round {round_number + 1}/{args.repeat} done", file=sys.stderr)
    keys = list(rounds["plain"][0])
    best = {c: {k: min(r[k]["seconds"] for r in rounds[c]) for k in keys} for c in CONFIGS}
    median = {c: {k: statistics.median(r[k]["seconds"] for r in rounds[c]) for k in keys} for c in CONFIGS}

    print(environment())
    print(
        f"{args.repeat} rounds x {args.number} requests (or {args.logins} logins) per URL and user; "
        "best round (median of rounds)\n"
    )
    columns = ("plain", "+ django-otp", "+ company-mfa")
    header = (
        f"{'URL':<15}{'user':<14}"
        + "".join(f"{c:>24}" for c in columns)
        + f"{'vs plain':>10}{'vs otp':>9}  queries"
    )
    print(header)
    print("-" * len(header))
    summary = {}
    for key in keys:
        url, user = key
        plain, otp, mfa = (best[c][key] for c in CONFIGS)
        counts = [rounds[c][0][key]["queries"] for c in CONFIGS]
        print(
            f"{label(url):<15}{user:<14}"
            + "".join(f"{best[c][key] * 1e3:.3f} ms ({median[c][key] * 1e3:.3f})".rjust(24) for c in CONFIGS)
            + f"{mfa / plain:>10.3f}{mfa / otp:>9.3f}  {'/'.join(map(str, counts))}"
        )
        summary[f"{url} {user}"] = {
            "ms": {c: best[c][key] * 1e3 for c in CONFIGS},
            "median_ms": {c: median[c][key] * 1e3 for c in CONFIGS},
            "ratio_vs_plain": mfa / plain,
            "ratio_vs_otp": mfa / otp,
            "queries": dict(zip(CONFIGS, counts, strict=True)),
        }
    print("\nqueries: plain / + django-otp / + company-mfa, for one request (one whole login)")
    return summary


def report_instructions(args) -> dict:
    if shutil.which("valgrind") is None:
        sys.exit("--instructions needs valgrind (apt-get install valgrind).")
    from concurrent.futures import ThreadPoolExecutor

    def run(config: str) -> dict:
        results = keyed(run_callgrind(config, args, tmp))
        print(f"{config} done under callgrind", file=sys.stderr)
        return results

    # Instruction counts do not depend on what else the machine runs, so the configurations may run at once.
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(max_workers=args.jobs) as pool:
        runs = dict(zip(CONFIGS, pool.map(run, CONFIGS), strict=True))
    print(environment())
    print(
        f"instructions per request ({args.number} requests, or {args.logins} logins, per URL and user, "
        "after a warm-up), valgrind --tool=callgrind\n"
    )
    columns = ("plain", "+ django-otp", "+ company-mfa")
    header = (
        f"{'URL':<15}{'user':<14}" + "".join(f"{c:>16}" for c in columns) + f"{'vs plain':>10}{'vs otp':>9}"
    )
    print(header)
    print("-" * len(header))
    summary = {}
    for key in runs["plain"]:
        url, user = key
        plain, otp, mfa = (runs[c][key]["instructions"] for c in CONFIGS)
        print(
            f"{label(url):<15}{user:<14}"
            + "".join(f"{runs[c][key]['instructions'] / 1e6:>14.3f} M" for c in CONFIGS)
            + f"{mfa / plain:>10.3f}{mfa / otp:>9.3f}"
        )
        summary[f"{url} {user}"] = {
            "instructions": {c: runs[c][key]["instructions"] for c in CONFIGS},
            "ratio_vs_plain": mfa / plain,
            "ratio_vs_otp": mfa / otp,
        }
    return summary


def choice_list(allowed):
    def parse(value: str) -> str:
        chosen = [item.strip() for item in value.split(",") if item.strip()]
        unknown = [item for item in chosen if item not in allowed]
        if unknown or not chosen:
            raise argparse.ArgumentTypeError(f"choose among {', '.join(allowed)} (got {value!r})")
        return ",".join(chosen)

    return parse


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=5, help="rounds per configuration (best one kept)")
    parser.add_argument(
        "--number", type=int, help="measured requests per URL and user (default 300; 20 with --instructions)"
    )
    parser.add_argument(
        "--logins", type=int, help="logins per user and round (default 30; 5 with --instructions)"
    )
    parser.add_argument(
        "--urls",
        type=choice_list((*URLS, LOGIN)),
        default=",".join((*URLS, LOGIN)),
        help=f"comma-separated, among {', '.join((*URLS, LOGIN))} (default: all)",
    )
    parser.add_argument(
        "--users",
        type=choice_list(USERS),
        default=",".join(USERS),
        help=f"comma-separated, among {', '.join(USERS)} (default: all)",
    )
    parser.add_argument(
        "--instructions", action="store_true", help="count instructions with valgrind instead of timing"
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="with --instructions: configurations run under callgrind at once (default 1; at most 3 help)",
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--migrate-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--migrated", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    if args.number is None:
        args.number = 20 if args.instructions else 300
    if args.logins is None:
        args.logins = 5 if args.instructions else 30
    if min(args.number, args.logins, args.repeat, args.jobs) < 1:
        parser.error("--number, --logins, --repeat and --jobs must be at least 1")
    if args.worker:
        worker(args)
        return
    summary = report_instructions(args) if args.instructions else report_times(args)
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
