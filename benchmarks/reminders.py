#!/usr/bin/env python
"""
What ``manage.py mfa_send_reminders`` costs for a large company, on SQLite.

    python benchmarks/reminders.py [--members 100000] [--enrolled 0.1] [--batch-size 500] [--no-trace]

It seeds one company whose enforcement date is 10 days away (so a reminder is due for every member who has not
enrolled) with ``--members`` members, a share ``--enrolled`` of whom already have an authenticator, all with
``bulk_create``; then it runs the command's work (``reminders.run()``) once with Django's locmem email
backend and reports the wall time, the peak memory allocated by Python during the run (``tracemalloc``), the
SQL queries, and the emails sent. A second run straight after shows the cost of a run with nothing to send.

locmem keeps every message in ``django.core.mail.outbox``; that list, which a real mail server does not
have, would grow with the number of emails and hide what the sender itself holds, so the backend used here
counts the messages and empties the outbox after each one. Everything else is stock.

Run it with several ``--members`` values to see that the peak memory does not grow with the company size,
and with ``--no-trace`` for the time without tracemalloc's own overhead.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from django.core import mail
from django.core.mail.backends import locmem

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--enrolled", type=float, default=0.1, help="share of members already enrolled")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--no-trace", action="store_true", help="time the run without tracemalloc")
    args = parser.parse_args()

    database = Path(tempfile.gettempdir()) / f"wagtail-company-mfa-reminders-bench-{os.getpid()}.sqlite3"
    database.unlink(missing_ok=True)
    os.environ["DATABASE_URL"] = f"sqlite:///{database}"
    os.environ["BENCH_CONFIG"] = "mfa"
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench_settings"
    sys.path.insert(0, str(HERE))

    import django

    django.setup()
    from django.core.management import call_command
    from django.test.utils import override_settings

    call_command("migrate", verbosity=0)
    seed(args.members, args.enrolled)
    backend = "__main__.CountingBackend"
    email = (
        {"MAILERS": {"default": {"BACKEND": backend}}}
        if django.VERSION >= (6, 1)
        else {"EMAIL_BACKEND": backend}
    )
    with override_settings(**email):
        first = measure(args.batch_size, trace=not args.no_trace)
        second = measure(args.batch_size, trace=not args.no_trace)
    enrolled = int(args.members * args.enrolled)
    print(f"members: {args.members:,} ({enrolled:,} enrolled), batch size {args.batch_size}, SQLite file")
    for label, result in (("first run", first), ("second run", second)):
        peak = f"peak {result['peak_mib']:.1f} MiB" if result["traced"] else "tracemalloc off"
        print(
            f"{label:>10}: {result['seconds']:.1f} s, {peak}, {result['queries']:,} queries, "
            f"{result['emails']:,} emails ({result['report']})"
        )
    database.unlink(missing_ok=True)


def seed(members: int, enrolled_share: float) -> None:
    import datetime

    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from wagtail_company_mfa import crypto
    from wagtail_company_mfa.models import AuthenticatorDevice, Company, CompanyMembership
    from wagtail_company_mfa.totp import algorithm as totp

    User = get_user_model()
    started = time.perf_counter()
    company = Company.objects.create(
        name="Bluebird Contracting",
        slug="bluebird",
        time_zone="UTC",
        require_mfa=True,
        enforcement_date=timezone.localdate() + datetime.timedelta(days=10),
    )
    joined = timezone.now() - datetime.timedelta(days=365)
    chunk = 5000
    # One encrypted secret reused for every enrolled member: the benchmark is about reminders, not crypto.
    encrypted_key = crypto.encrypt(totp.generate_key())
    enrolled_every = round(1 / enrolled_share) if enrolled_share else 0
    for start in range(0, members, chunk):
        users = User.objects.bulk_create(
            User(username=f"member{index}", email=f"member{index}@example.com", password="!")
            for index in range(start, min(start + chunk, members))
        )
        CompanyMembership.objects.bulk_create(
            CompanyMembership(user=user, company=company, joined_at=joined) for user in users
        )
        if enrolled_every:
            AuthenticatorDevice.objects.bulk_create(
                AuthenticatorDevice(user=user, name="app", confirmed=True, encrypted_key=encrypted_key)
                for user in users[::enrolled_every]
            )
    print(f"seeded {members:,} members in {time.perf_counter() - started:.1f} s", file=sys.stderr)


def measure(batch_size: int, *, trace: bool) -> dict:
    from django.db import connection

    from wagtail_company_mfa.notices import delivery as reminders

    queries = 0

    def count(execute, sql, params, many, context):
        nonlocal queries
        queries += 1
        return execute(sql, params, many, context)

    CountingBackend.sent = 0
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    with connection.execute_wrapper(count):
        report = reminders.run(batch_size=batch_size)
    seconds = time.perf_counter() - started
    peak = 0
    if trace:
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    summary = f"sent={report.sent} cancelled={report.cancelled} planned={report.planned}"
    return {
        "seconds": seconds,
        "peak_mib": peak / 2**20,
        "traced": trace,
        "queries": queries,
        "emails": CountingBackend.sent,
        "report": summary,
    }


class CountingBackend(locmem.EmailBackend):
    """Django's locmem backend (it builds every message in full), minus the ever-growing outbox."""

    sent = 0

    def send_messages(self, messages):
        count = super().send_messages(messages)
        CountingBackend.sent += count
        mail.outbox.clear()
        return count


if __name__ == "__main__":
    main()
