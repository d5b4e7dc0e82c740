"""
A burst of wrong codes against a SQLite *file*, in real threads (SEC-06, SEC-10, SEC-50).

Run by ``test_sqlite_burst.py`` in a process of its own, because the suite's own database is SQLite in
memory (or PostgreSQL), where "database is locked" cannot happen::

    python tests/sqlite_burst.py DB_FILE IMMEDIATE|DEFERRED BROWSERS

It builds the tables in DB_FILE, signs BROWSERS browsers in through Wagtail's login, has them all post the
same wrong code to the verify page at the same moment, and prints one JSON object: the status codes, how
many codes the authenticator compared ("checked"), how many failures the database counted ("counted"), and
how many answers said "wrong code" or "try again in a moment".
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time

TESTS = os.path.dirname(os.path.abspath(__file__))


def main(db_file: str, mode: str, browsers: int) -> dict:
    sys.path.insert(0, TESTS)
    os.environ["DATABASE_URL"] = f"sqlite:///{db_file}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "settings"

    import django
    from django.conf import settings

    options = settings.DATABASES["default"].setdefault("OPTIONS", {})
    if mode == "DEFERRED":
        options.pop("transaction_mode", None)  # SQLite's (and Django's) default
    else:
        options["transaction_mode"] = mode
    django.setup()

    from django.apps import apps
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment

    from wagtail_company_mfa.models import AuthenticatorDevice
    from wagtail_company_mfa.totp import algorithm as totp

    setup_test_environment()
    # The tables straight from the models: the migrations are not what this is about, and take long.
    settings.MIGRATION_MODULES = {config.label: None for config in apps.get_app_configs()}
    call_command("migrate", run_syncdb=True, verbosity=0)

    from django.contrib.auth import get_user_model

    User = get_user_model()
    fields = {"email": "burst@example.com"}
    if User.USERNAME_FIELD != "email":
        fields["username"] = "burst"
    user = User.objects.create_superuser(password="pw", **fields)
    key = totp.generate_key()
    device = AuthenticatorDevice(user=user, name="Authenticator app", confirmed=True)
    device.set_key(key)
    device.save()

    now = time.time()
    valid = {totp.code_at(key, now + offset * totp.STEP) for offset in (-1, 0, 1, 2)}
    wrong = next(code for code in (f"{n:06d}" for n in range(1000)) if code not in valid)

    clients = []
    for _ in range(browsers):
        client = Client()
        response = client.post("/admin/login/", {"username": user.get_username(), "password": "pw"})
        assert response.status_code == 302, response.status_code
        clients.append(client)
    connection.close()

    # "Checked": every comparison the authenticator makes against its stored secret.
    checked = 0
    lock = threading.Lock()
    real_matching_step = totp.matching_step

    def counting_matching_step(secret, token, **kwargs):
        nonlocal checked
        if "after" in kwargs:  # the device's own check (flows' replay check passes no `after`)
            with lock:
                checked += 1
        return real_matching_step(secret, token, **kwargs)

    totp.matching_step = counting_matching_step

    barrier = threading.Barrier(browsers)
    results = []

    def submit(client):
        try:
            barrier.wait()
            try:
                response = client.post("/admin/company-mfa/verify/", {"code": wrong})
            except Exception as exc:  # a server error, as the test client re-raises it
                with lock:
                    results.append({"status": 500, "error": f"{type(exc).__name__}: {exc}"})
                return
            body = response.content.decode()
            with lock:
                results.append(
                    {
                        "status": response.status_code,
                        "wrong": "didn&#x27;t work" in body,
                        "busy": "couldn&#x27;t be checked just now" in body,
                    }
                )
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    totp.matching_step = real_matching_step

    device.refresh_from_db()
    return {
        "statuses": sorted(result["status"] for result in results),
        "errors": [result["error"] for result in results if "error" in result],
        "checked": checked,
        "counted": device.throttling_failure_count,
        "wrong_answers": sum(1 for result in results if result.get("wrong")),
        "busy_answers": sum(1 for result in results if result.get("busy")),
    }


if __name__ == "__main__":
    sys.stdout.write(json.dumps(main(sys.argv[1], sys.argv[2], int(sys.argv[3]))) + "\n")
