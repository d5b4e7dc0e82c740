"""
Races, proven on PostgreSQL with real threads and real transactions (SEC-06, SEC-18, SEC-50): N browsers
submitting the same code at the same moment get exactly one success.
"""

from __future__ import annotations

import datetime
import json
import threading

import pytest
from django.db import connection
from django.test import Client
from factories import enroll_user, join, make_company, make_user, password_login

from wagtail_company_mfa.models import RecoveryCodeDevice

pytestmark = [
    pytest.mark.postgres,
    # serialized_rollback puts back the rows Wagtail's migrations made (groups, root page) for later tests.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks are only real on PostgreSQL"),
]

BROWSERS = 8


def race(clients, url, data, *, as_json: bool = False) -> list[int]:
    """POST ``data`` (as a form, or as JSON) to ``url`` from every client at once; return the status codes."""
    barrier = threading.Barrier(len(clients))
    results: list[int] = []
    lock = threading.Lock()

    def submit(client):
        try:
            barrier.wait()
            if as_json:
                response = client.post(url, json.dumps(data), content_type="application/json")
            else:
                response = client.post(url, data)
            with lock:
                results.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == len(clients)
    return results


@pytest.fixture
def racing_user(db):
    user = make_user("racer")
    join(user, make_company("Race Co", require_mfa=True, enforcement_date=datetime.date(2020, 1, 1)))
    phone, codes = enroll_user(user)
    user.phone, user.recovery_codes = phone, codes
    return user


def logged_in_browsers(user, count=BROWSERS):
    browsers = []
    for _ in range(count):
        browser = Client()
        password_login(browser, user)
        browsers.append(browser)
    return browsers


@pytest.mark.parametrize("round_", range(3))
def test_one_totp_code_verifies_one_session(racing_user, round_):
    browsers = logged_in_browsers(racing_user)
    results = race(browsers, "/admin/company-mfa/verify/", {"code": racing_user.phone.code()})
    assert sorted(results) == [200] * (BROWSERS - 1) + [302]
    verified = [b for b in browsers if b.get("/admin/").status_code == 200]
    assert len(verified) == 1


@pytest.mark.parametrize("round_", range(3))
def test_one_recovery_code_is_spent_once(racing_user, round_):
    browsers = logged_in_browsers(racing_user)
    results = race(
        browsers, "/admin/company-mfa/verify/recovery-code/", {"code": racing_user.recovery_codes[0]}
    )
    assert sorted(results) == [200] * (BROWSERS - 1) + [302]
    device = RecoveryCodeDevice.objects.get(user=racing_user)
    assert device.codes.filter(used_at__isnull=False).count() == 1
    assert device.unused_count == 1  # exactly one replacement was issued


@pytest.mark.parametrize("round_", range(3))
def test_one_passkey_answer_verifies_once(db, round_):
    """
    The same signed answer, sent N times at once in one session (all reading the same challenge before any
    has used it), from a synced passkey whose counter stays 0: exactly one passes (SEC-05).
    """
    from soft_authenticator import SoftAuthenticator

    user = make_user("passkey-racer")
    join(user, make_company("Race Co", require_mfa=True, enforcement_date=datetime.date(2020, 1, 1)))
    passkey = SoftAuthenticator(counts=False)
    setup = Client()
    password_login(setup, user)
    begin = setup.post("/admin/company-mfa/passkeys/add/begin/", "", content_type="application/json").json()
    answer = passkey.create(begin)
    added = setup.post(
        "/admin/company-mfa/passkeys/add/complete/", json.dumps(answer), content_type="application/json"
    )
    assert added.status_code == 200, added.content

    signing_in = Client()
    password_login(signing_in, user)
    options = signing_in.post(
        "/admin/company-mfa/verify/passkey/begin/", "", content_type="application/json"
    ).json()
    assertion = passkey.get(options)
    browsers = []
    for _ in range(BROWSERS):
        browser = Client()
        browser.cookies = signing_in.cookies  # the same session: the same challenge
        browsers.append(browser)
    results = race(browsers, "/admin/company-mfa/verify/passkey/complete/", assertion, as_json=True)
    assert results.count(200) == 1, results
    # The others are refused: the answer already used (400), the session already changed key under them
    # (400), already gone by the time they read it (403), or held back by the failures counted just before
    # (429). Never a server error.
    assert all(status in (200, 400, 403, 429) for status in results), results


@pytest.mark.parametrize("round_", range(3))
def test_one_access_code_is_spent_once(racing_user, round_):
    # SEC-18: a conditional UPDATE ... WHERE used_at IS NULL AND expires_at > now decides; never a 500.
    from wagtail_company_mfa.access_codes import flows as access_code_flows
    from wagtail_company_mfa.models import AccessCode, AuthenticatorDevice

    admin = make_user(f"issuer{round_}", superuser=True)
    code, _row = access_code_flows.issue_access_code(racing_user, actor=admin, hours=1)
    browsers = logged_in_browsers(racing_user)
    results = race(browsers, "/admin/company-mfa/verify/access-code/", {"code": code})
    assert 500 not in results
    assert results.count(302) == 1
    assert sorted(results) == [200] * (BROWSERS - 1) + [302]
    assert AccessCode.objects.filter(user=racing_user, used_at__isnull=False).count() == 1
    assert not AuthenticatorDevice.objects.filter(user=racing_user).exists()


def test_counts_made_while_someone_enrolls_are_not_kept(monkeypatch):
    """
    A page counts the members on one connection; meanwhile a member enrolls and commits on another. The
    page's counts miss that enrollment, so they must not be kept: the conditional UPDATE on the generation
    read before counting writes nothing, and the next page view counts again (companies/counts.py).
    """
    from wagtail_company_mfa.companies import counts
    from wagtail_company_mfa.models import Company, EnrollmentCounts

    company = make_company("Counted Co", require_mfa=True, enforcement_date=datetime.date(2020, 1, 1))
    members = [make_user(f"counted{index}") for index in range(3)]
    for member in members:
        join(member, company)
    now = datetime.datetime.now(datetime.timezone.utc)
    counted, enrolled = threading.Event(), threading.Event()
    original = counts.count_members

    def count_then_wait(*args, **kwargs):
        result = original(*args, **kwargs)
        counted.set()
        assert enrolled.wait(timeout=30)
        return result

    monkeypatch.setattr(counts, "count_members", count_then_wait)
    shown = []

    def page_view():
        try:
            fresh = counts.with_kept_counts(Company.objects.all()).get(pk=company.pk)
            shown.append(counts.kept_summary(fresh, now=now))
        finally:
            connection.close()

    def enroll():
        try:
            assert counted.wait(timeout=30)
            enroll_user(members[0])
        finally:
            enrolled.set()
            connection.close()

    threads = [threading.Thread(target=page_view), threading.Thread(target=enroll)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert [summary.enrolled for summary in shown] == [0]
    assert EnrollmentCounts.objects.get(company=company).members is None
    monkeypatch.setattr(counts, "count_members", original)
    fresh = counts.with_kept_counts(Company.objects.all()).get(pk=company.pk)
    assert counts.kept_summary(fresh, now=now).enrolled == 1
    # Kept now: the row holds what a fresh count says.
    assert EnrollmentCounts.objects.get(company=company).enrolled == 1
