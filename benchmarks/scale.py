#!/usr/bin/env python
"""
What the company administration costs as a company grows: 10 to 100,000 members, measured in one run.

    python benchmarks/scale.py [--sizes 10,1000,10000,100000] [--rounds 3] [--companies 1000] [--json FILE]
                               [--only report,csv,...] [--exempt none|python|sql]

Each size runs in its own process on its own SQLite file (``bench_settings.py``, configuration ``mfa``). The
process seeds one company that requires MFA with that many members, all with ``bulk_create``:

- about half are enrolled: an authenticator row (one encrypted secret, made once, reused) and a recovery code
  (one keyed lookup, made once, reused), joined long before the enforcement date;
- 2 % are overdue: joined before the enforcement date (20 days ago), not enrolled;
- the rest are late joiners (the company gives 30 grace days) who joined 17 to 19 days ago and have not
  enrolled: their own deadlines are 11 to 13 days ahead, so the 14-day reminder is due for every one of them
  (overdue members get no reminder: their deadline has passed);
- 1 % are company administrators.

It also seeds ``--companies`` companies in all (the others with two members each) for the Companies listing.

Then, signed in as a verified superuser (``wagtail_company_mfa.testing.login_verified``) with Django's test
client through the whole middleware stack, it measures each of these, with its SQL queries (one request under
``CaptureQueriesContext``) and its wall time (the best of ``--rounds`` rounds, after one warm-up):

- the enrollment report's first page, and the page filtered to "Not enrolled";
- the report's CSV and XLSX exports: time, rows per second, the peak memory allocated by Python
  (``tracemalloc``, in a separate round so that its overhead is not in the time) and how far the process's
  resident memory rose above its level before the request (Linux: the peak is reset through
  ``/proc/self/clear_refs``, then read as ``VmHWM``; 0 when the export fits in memory the process already
  holds). A streamed response is consumed chunk by chunk without being kept; a plain response's
  ``.content`` is read;
- the members page, and the Companies listing;
- one user's recovery code checked with the device's ``verify_token`` inside a transaction, as
  ``django_otp.verify_token`` (which ``base.verification`` calls) does it, minus its ``SELECT ... FOR
  UPDATE`` of the device: the right code and a wrong one, queries, and the best wall and CPU time per check;
- last, one run of ``manage.py mfa_send_reminders`` (one round only: a second run has nothing to send) with
  an email backend that counts messages and keeps none: emails, queries (counted by an execute wrapper, not
  kept), queries per email and milliseconds per email.

``--only`` measures some of these (``report``, ``report_not_enrolled``, ``csv``, ``xlsx``, ``members``,
``companies``, ``recovery_code``, ``reminders``); ``--exempt`` sets ``WAGTAIL_COMPANY_MFA_EXEMPT_USER`` to a
callable that exempts one member in ten, alone (``python``: asked once per member who is not enrolled) or
with its ``exempt_users`` queryset (``sql``).

It prints one table, sizes as columns. Ratios are against the smallest size in the run. ``--sizes 10,1000``
takes about a minute on an idle machine (two on a loaded one); 100,000 members take several minutes once the
report streams and the reminders run in batches, most of an hour before (docs/performance.md, "At scale").
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from django.core.mail.backends import locmem

HERE = Path(__file__).resolve().parent
DEFAULT_SIZES = "10,1000,10000,100000"
SEED_CHUNK = 5000


def exempt_sevens(user) -> bool:
    """For ``--exempt``: members whose username ends in 7 (one in ten) are exempt."""
    return user.get_username().endswith("7")


def exempt_sevens_in_sql(users):
    """The same members, as a queryset of users (for ``--exempt sql``)."""
    return users.filter(username__endswith="7")


def exempt_sevens_both(user) -> bool:
    return exempt_sevens(user)


exempt_sevens_both.exempt_users = exempt_sevens_in_sql  # type: ignore[attr-defined]


class CountingBackend(locmem.EmailBackend):
    """Django's locmem backend (every message is built in full), without keeping the messages."""

    sent = 0

    def send_messages(self, messages):
        from django.core import mail

        count = super().send_messages(messages)
        CountingBackend.sent += count
        mail.outbox.clear()
        return count


# Seeding ----------------------------------------------------------------------------------------------------


def seed(members: int, companies: int) -> dict:
    """One company of ``members`` members (see the module docstring), and ``companies - 1`` small ones."""
    import datetime

    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from wagtail_company_mfa import crypto
    from wagtail_company_mfa.models import (
        AuthenticatorDevice,
        Company,
        CompanyMembership,
        MFAEnrollment,
        RecoveryCode,
        RecoveryCodeDevice,
    )
    from wagtail_company_mfa.recovery_codes import codes as recovery_codes
    from wagtail_company_mfa.totp import algorithm as totp

    User = get_user_model()
    now = timezone.now()
    company = Company.objects.create(
        name="Bluebird Contracting",
        slug="bluebird",
        time_zone="UTC",
        require_mfa=True,
        enforcement_date=timezone.localdate() - datetime.timedelta(days=20),
        new_member_grace_days=30,
    )
    long_ago = now - datetime.timedelta(days=400)
    enrolled_on = now - datetime.timedelta(days=100)
    # One secret and one recovery-code lookup for everyone: the benchmark is about listings, not crypto.
    encrypted_key = crypto.encrypt(totp.generate_key())
    code_lookup = recovery_codes.lookup(recovery_codes.generate())
    counts = {"enrolled": 0, "overdue": 0, "late": 0}

    def kind(index: int) -> str:
        if index % 50 == 0:
            return "overdue"
        return "enrolled" if index % 2 else "late"

    for start in range(0, members, SEED_CHUNK):
        indexes = range(start, min(start + SEED_CHUNK, members))
        users = User.objects.bulk_create(
            User(
                username=f"member{index:06d}",
                email=f"member{index}@example.com",
                first_name=f"First{index % 997}",
                last_name=f"Last{index:06d}",
                password="!",
            )
            for index in indexes
        )
        kinds = [kind(index) for index in indexes]
        for value in kinds:
            counts[value] += 1
        CompanyMembership.objects.bulk_create(
            CompanyMembership(
                user=user,
                company=company,
                role=CompanyMembership.Role.ADMIN if index % 100 == 1 else CompanyMembership.Role.MEMBER,
                joined_at=now - datetime.timedelta(days=17 + index % 3) if value == "late" else long_ago,
            )
            for index, user, value in zip(indexes, users, kinds, strict=True)
        )
        enrolled = [user for user, value in zip(users, kinds, strict=True) if value == "enrolled"]
        AuthenticatorDevice.objects.bulk_create(
            AuthenticatorDevice(
                user=user,
                name="Authenticator app",
                confirmed=True,
                encrypted_key=encrypted_key,
                created_at=enrolled_on,
                last_used_at=now - datetime.timedelta(days=user.pk % 30),
            )
            for user in enrolled
        )
        MFAEnrollment.objects.bulk_create(
            MFAEnrollment(user=user, first_enrolled_at=enrolled_on) for user in enrolled
        )
        devices = RecoveryCodeDevice.objects.bulk_create(
            RecoveryCodeDevice(user=user, name="Recovery codes", confirmed=True, created_at=enrolled_on)
            for user in enrolled
        )
        RecoveryCode.objects.bulk_create(
            RecoveryCode(device=device, lookup=code_lookup) for device in devices
        )

    # The other companies, for the Companies listing: no policy (so no reminders), two members each.
    others = Company.objects.bulk_create(
        Company(name=f"Company {number:04d}", slug=f"company-{number:04d}", time_zone="UTC")
        for number in range(1, companies)
    )
    user_ids = list(User.objects.order_by("pk").values_list("pk", flat=True)[:200])
    CompanyMembership.objects.bulk_create(
        CompanyMembership(
            company=other, user_id=user_ids[(number + step) % len(user_ids)], joined_at=long_ago
        )
        for number, other in enumerate(others)
        for step in (0, 1)
        if len(user_ids) > step
    )
    return {"company": company, "counts": counts}


# Measuring --------------------------------------------------------------------------------------------------


def consume(response) -> int:
    """Read the whole body without keeping it; the number of bytes."""
    if response.streaming:
        size = 0
        # The test client closes the response when the iteration ends, as a WSGI server would.
        for chunk in response.streaming_content:
            size += len(chunk)
        return size
    return len(response.content)


def measure_get(client, url: str, rounds: int, *, trace: bool = False) -> dict:
    """
    One request under CaptureQueriesContext (it also warms the caches), then the best of ``rounds`` timed
    requests, and with ``trace`` one more under tracemalloc for the peak memory.
    """
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
        size = consume(response)
    assert response.status_code == 200, (url, response.status_code)
    # Read now: ``captured_queries`` reads the connection's log, which every later request clears.
    queries = len(captured.captured_queries)
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        consume(client.get(url))
        best = min(best, time.perf_counter() - started)
    result = {"seconds": best, "queries": queries, "bytes": size}
    if trace:
        tracemalloc.start()
        consume(client.get(url))
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        result["peak_mib"] = peak / 2**20
        result["rss_growth_mib"] = rss_growth(lambda: consume(client.get(url)))
    return result


def _status_kib(name: str) -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(f"{name}:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def rss_growth(run) -> float | None:
    """
    How far the process's resident memory rose above where it was while ``run()`` ran, in MiB (Linux: the
    peak is reset through ``/proc/self/clear_refs`` first, then read as ``VmHWM``); ``None`` elsewhere.
    """
    import gc

    gc.collect()
    before = _status_kib("VmRSS")
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
    except OSError:
        return None
    run()
    peak = _status_kib("VmHWM")
    if before is None or peak is None:
        return None
    return max(0, peak - before) / 1024


def measure_recovery_code(user, rounds: int) -> dict:
    """The right code and a wrong one, on one member's recovery-code device, ``rounds`` checks each."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from wagtail_company_mfa.models import RecoveryCodeDevice
    from wagtail_company_mfa.recovery_codes import codes as recovery_codes
    from wagtail_company_mfa.recovery_codes.flows import add_codes, issue_recovery_codes

    [code] = issue_recovery_codes(user)[-1:]
    results = {}
    for label in ("right", "wrong"):
        best_wall = best_cpu = float("inf")
        queries = None
        for number in range(rounds + 1):
            # Not timed: a fresh device (no throttling delay from the previous wrong code), and for the right
            # code one not spent yet, as a sign-in with a recovery code leaves it (a replacement is issued).
            RecoveryCodeDevice.objects.filter(user=user).update(
                throttling_failure_count=0, throttling_failure_timestamp=None
            )
            device = RecoveryCodeDevice.objects.get(user=user)
            token = code if label == "right" else recovery_codes.generate()
            with CaptureQueriesContext(connection) as captured:
                wall, cpu = time.perf_counter(), time.process_time()
                with transaction.atomic():
                    verified = device.verify_token(token)
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            assert verified == (label == "right"), (label, verified)
            if number == 0:  # the first check warms caches; its queries are counted, its time is not
                queries = len(captured.captured_queries)
            else:
                best_wall, best_cpu = min(best_wall, wall), min(best_cpu, cpu)
            if label == "right":
                [code] = add_codes(device, 1)
        results[label] = {"queries": queries, "wall_us": best_wall * 1e6, "cpu_us": best_cpu * 1e6}
    return results


def measure_reminders() -> dict:
    import django
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import override_settings

    queries = 0

    def count(execute, sql, params, many, context):
        nonlocal queries
        queries += 1
        return execute(sql, params, many, context)

    backend = "__main__.CountingBackend"
    email = (
        {"MAILERS": {"default": {"BACKEND": backend}}}
        if django.VERSION >= (6, 1)
        else {"EMAIL_BACKEND": backend}
    )
    CountingBackend.sent = 0
    with override_settings(**email), connection.execute_wrapper(count):
        started = time.perf_counter()
        call_command("mfa_send_reminders", verbosity=0)
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "queries": queries, "emails": CountingBackend.sent}


MEASUREMENTS = (
    "report",
    "report_not_enrolled",
    "csv",
    "xlsx",
    "members",
    "companies",
    "recovery_code",
    "reminders",
)


EXEMPT_RULES = {"none": None, "python": "scale.exempt_sevens", "sql": "scale.exempt_sevens_both"}


def worker(size: int, rounds: int, companies: int, only: frozenset[str], exempt: str) -> None:
    """Runs inside one size's process; prints one JSON line of results."""
    import django
    from django.conf import settings

    django.setup()
    settings.WAGTAIL_COMPANY_MFA_EXEMPT_USER = EXEMPT_RULES[exempt]
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client
    from django.urls import reverse

    from wagtail_company_mfa.testing import login_verified

    # Not Django's setup_test_environment(): it instruments every template render (a signal per template,
    # for the test client's response.templates), which a production server does not pay. Only its email
    # backend is wanted: no email leaves the benchmark.
    locmem_backend = "django.core.mail.backends.locmem.EmailBackend"
    if django.VERSION >= (6, 1):
        settings.MAILERS = {"default": {"BACKEND": locmem_backend}}
    else:
        settings.EMAIL_BACKEND = locmem_backend
    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    seeded = seed(size, companies)
    seed_seconds = time.perf_counter() - started
    company = seeded["company"]

    admin = get_user_model().objects.create_superuser("bench-admin", "bench-admin@example.com", "password")
    client = Client()
    login_verified(client, admin)
    report = reverse("wagtail_company_mfa_companies:report", args=[company.pk])
    pages = {
        "report": (report, False),
        "report_not_enrolled": (f"{report}?state=not_enrolled", False),
        "csv": (f"{report}?export=csv", True),
        "xlsx": (f"{report}?export=xlsx", True),
        "members": (reverse("wagtail_company_mfa_companies:members", args=[company.pk]), False),
        "companies": (reverse("wagtail_company_mfa_companies:index"), False),
    }
    results: dict = {"size": size, "counts": seeded["counts"], "seed_seconds": seed_seconds}
    for key, (url, trace) in pages.items():
        if key in only:
            results[key] = measure_get(client, url, rounds, trace=trace)
    if "recovery_code" in only:
        # One enrolled member in the middle of the company.
        member = company.memberships.filter(user__username=f"member{(size // 2) | 1:06d}").get().user
        results["recovery_code"] = measure_recovery_code(member, max(rounds, 10))
    if "reminders" in only:
        # Last: it leaves notice rows behind.
        results["reminders"] = measure_reminders()
    results["total_seconds"] = time.perf_counter() - started
    print(json.dumps(results))


# The parent process -----------------------------------------------------------------------------------------


def prepare(template: Path) -> None:
    """Migrate the SQLite file every size starts from, in a process of its own."""
    env = {
        **os.environ,
        "BENCH_CONFIG": "mfa",
        "DJANGO_SETTINGS_MODULE": "bench_settings",
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
        "DATABASE_URL": f"sqlite:///{template}",
    }
    command = [
        sys.executable,
        "-c",
        "import django; django.setup(); from django.core.management import "
        "call_command; call_command('migrate', verbosity=0)",
    ]
    subprocess.run(command, env=env, check=True)


def run_size(
    size: int,
    rounds: int,
    companies: int,
    database: Path,
    template: Path,
    only: frozenset[str],
    exempt: str,
) -> dict:
    env = {
        **os.environ,
        "BENCH_CONFIG": "mfa",
        "DJANGO_SETTINGS_MODULE": "bench_settings",
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
        "DATABASE_URL": f"sqlite:///{database}",
    }
    # Migrated once per run (``--prepare``); each size starts from a copy of that file.
    shutil.copyfile(template, database)
    command = [sys.executable, __file__, "--worker", str(size), "--rounds", str(rounds)]
    command += ["--companies", str(companies), "--only", ",".join(sorted(only)), "--exempt", exempt]
    output = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
    database.unlink(missing_ok=True)
    return json.loads(output.strip().splitlines()[-1])


def duration(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms" if seconds < 10 else f"{seconds:.1f} s"


def print_table(results: list[dict], rounds: int, companies: int) -> None:
    import django
    import wagtail

    print(
        f"Django {django.get_version()}, Wagtail {wagtail.__version__}, Python {sys.version.split()[0]}, "
        f"SQLite; best of {rounds} rounds; {companies:,} companies"
    )
    base = results[0]
    columns = [f"{r['size']:,} members" for r in results]
    rows: list[tuple[str, list[str]]] = []

    def page(label: str, key: str) -> None:
        if key not in base:
            return
        cells = []
        for r in results:
            cell = f"{duration(r[key]['seconds'])}, {r[key]['queries']} q"
            if r is not base:
                cell += f", {r[key]['seconds'] / base[key]['seconds']:.1f}x"
            cells.append(cell)
        rows.append((label, cells))

    def rss(value) -> str:
        return "-" if value is None else f"{value:.1f} MiB"

    def export(label: str, key: str) -> None:
        if key not in base:
            return
        page(label, key)
        rows.append(
            (
                f"  {label}: rows/s, peak, RSS +",
                [
                    f"{r['size'] / r[key]['seconds']:,.0f}/s, {r[key]['peak_mib']:.1f} MiB, "
                    f"{rss(r[key].get('rss_growth_mib'))}"
                    for r in results
                ],
            )
        )

    rows.append(
        (
            "seeded (enrolled/overdue/late)",
            ["/".join(f"{v:,}" for v in r["counts"].values()) for r in results],
        )
    )
    page("report, first page", "report")
    page("report, not enrolled", "report_not_enrolled")
    export("CSV export", "csv")
    export("XLSX export", "xlsx")
    page("members page", "members")
    page("Companies listing", "companies")
    if "recovery_code" in base:
        for label in ("right", "wrong"):
            rows.append(
                (
                    f"recovery code, {label}",
                    [
                        "{queries} q, {wall_us:,.0f} us wall, {cpu_us:,.0f} us CPU".format(
                            **r["recovery_code"][label]
                        )
                        for r in results
                    ],
                )
            )
    if "reminders" in base:
        rows.append(
            (
                "reminder run",
                [
                    f"{duration(r['reminders']['seconds'])}, {r['reminders']['emails']:,} emails, "
                    f"{r['reminders']['queries']:,} q"
                    for r in results
                ],
            )
        )
        rows.append(
            (
                "  per email",
                [
                    f"{r['reminders']['queries'] / r['reminders']['emails']:.2f} q, "
                    f"{r['reminders']['seconds'] / r['reminders']['emails'] * 1e3:.2f} ms"
                    if r["reminders"]["emails"]
                    else "-"
                    for r in results
                ],
            )
        )
    rows.append(
        ("process (seeding)", [f"{r['total_seconds']:.0f} s ({r['seed_seconds']:.0f} s)" for r in results])
    )
    first = max(len(label) for label, _ in rows)
    widths = [max(len(column), *(len(cells[i]) for _, cells in rows)) for i, column in enumerate(columns)]
    header = " " * first + "".join(
        f"  {column:>{width}}" for column, width in zip(columns, widths, strict=True)
    )
    print(header)
    print("-" * len(header))
    for label, cells in rows:
        print(
            f"{label:<{first}}"
            + "".join(f"  {cell:>{width}}" for cell, width in zip(cells, widths, strict=True))
        )
    print(
        "\nq: SQL queries of one request (or check, or run); ratios (x) against the smallest size; "
        "peak: tracemalloc; RSS +: resident memory above the level before the request"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes", default=DEFAULT_SIZES, help=f"members per company, comma-separated ({DEFAULT_SIZES})"
    )
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds per measurement (best one kept)")
    parser.add_argument("--companies", type=int, default=1000, help="companies in the Companies listing")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument(
        "--tmpdir", help="where the SQLite files go (default: the system's temporary directory)"
    )
    parser.add_argument(
        "--only",
        default=",".join(MEASUREMENTS),
        help=f"measure only these, comma-separated (default all: {','.join(MEASUREMENTS)})",
    )
    parser.add_argument(
        "--exempt",
        choices=sorted(EXEMPT_RULES),
        default="none",
        help="WAGTAIL_COMPANY_MFA_EXEMPT_USER exempting one member in ten: none (default), python (the "
        "callable alone), sql (the callable with its exempt_users queryset)",
    )
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rounds < 1 or args.companies < 1:
        parser.error("--rounds and --companies must be at least 1")
    only = frozenset(name.strip() for name in args.only.split(",") if name.strip())
    if not only or only - set(MEASUREMENTS):
        parser.error(f"--only takes some of {','.join(MEASUREMENTS)}")
    if args.worker is not None:
        worker(args.worker, args.rounds, args.companies, only, args.exempt)
        return
    try:
        sizes = sorted({int(size.replace("_", "")) for size in args.sizes.split(",") if size.strip()})
    except ValueError:
        parser.error(f"--sizes must be whole numbers separated by commas, not {args.sizes!r}")
    if not sizes or sizes[0] < 2:
        parser.error("--sizes must name at least one size, each at least 2")

    results = []
    with tempfile.TemporaryDirectory(dir=args.tmpdir) as tmp:
        template = Path(tmp) / "migrated.sqlite3"
        prepare(template)
        for size in sizes:
            started = time.perf_counter()
            results.append(
                run_size(
                    size,
                    args.rounds,
                    args.companies,
                    Path(tmp) / f"scale-{size}.sqlite3",
                    template,
                    only,
                    args.exempt,
                )
            )
            print(f"{size:,} members done in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    print_table(results, args.rounds, args.companies)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
