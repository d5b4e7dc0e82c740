"""
``manage.py mfa_reset`` (for a locked-out last administrator) and ``manage.py mfa_status`` (SPEC §3.9).
"""

from __future__ import annotations

import datetime
import io
import json

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from factories import enroll_user, join, make_company, make_user
from wagtail.models import ModelLogEntry

from wagtail_company_mfa.companies import reset
from wagtail_company_mfa.models import AuthenticatorDevice, CompanyMembership, RecoveryCodeDevice, UserSession

pytestmark = pytest.mark.django_db


@pytest.fixture
def locked_out_admin(db):
    """The only administrator of a company that requires MFA, who lost their phone."""
    company = make_company("Acme Builders", require_mfa=True, enforcement_date=datetime.date(2020, 1, 1))
    admin = make_user("boss", superuser=True, first_name="Bea", last_name="Boss")
    join(admin, company, role=CompanyMembership.Role.ADMIN)
    admin.phone, admin.recovery_codes = enroll_user(admin)
    UserSession.objects.create(user=admin, session_key="s" * 32)
    return admin


def run(*args, answer: str | None = None, monkeypatch=None) -> str:
    out = io.StringIO()
    if answer is not None:
        monkeypatch.setattr("builtins.input", lambda prompt: answer)
    call_command(*args, stdout=out)
    return out.getvalue()


def test_mfa_reset_without_prompt(locked_out_admin, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        output = run("mfa_reset", locked_out_admin.get_username(), "--no-input")
    assert "Reset two-factor authentication of Bea Boss" in output
    assert "authenticator app removed, recovery codes removed, 1 session(s) ended" in output
    assert not AuthenticatorDevice.objects.filter(user=locked_out_admin).exists()
    assert not RecoveryCodeDevice.objects.filter(user=locked_out_admin).exists()
    assert not UserSession.objects.filter(user=locked_out_admin).exists()
    # SEC-45: logged with no acting user (the server did it), marked as coming from the command.
    entry = ModelLogEntry.objects.get(action=reset.ACTION_RESET)
    assert entry.user_id is None
    assert entry.data["via"] == "command"
    assert "os_user" in entry.data
    assert entry.formatter.format_message(entry) == (
        "Two-factor authentication reset on the server (manage.py mfa_reset)"
    )
    # SEC-27: the person is told, with no administrator named.
    (message,) = mail.outbox
    assert message.to == [locked_out_admin.email]
    assert "A site administrator has just reset two-factor authentication" in message.body


def test_mfa_reset_by_email_address(locked_out_admin):
    run("mfa_reset", "BOSS@example.com", "--no-input")
    assert not AuthenticatorDevice.objects.filter(user=locked_out_admin).exists()


def test_mfa_reset_asks_for_confirmation(locked_out_admin, monkeypatch):
    with pytest.raises(CommandError, match="cancelled"):
        run("mfa_reset", locked_out_admin.get_username(), answer="no", monkeypatch=monkeypatch)
    assert AuthenticatorDevice.objects.filter(user=locked_out_admin).exists()
    run("mfa_reset", locked_out_admin.get_username(), answer="yes", monkeypatch=monkeypatch)
    assert not AuthenticatorDevice.objects.filter(user=locked_out_admin).exists()


def test_mfa_reset_unknown_user(db):
    with pytest.raises(CommandError, match="No user has the username or email address"):
        run("mfa_reset", "nobody", "--no-input")


def test_mfa_reset_with_nothing_to_reset(db):
    person = make_user("plain")
    UserSession.objects.create(user=person, session_key="p" * 32)
    output = run("mfa_reset", person.get_username(), "--no-input")
    assert "has no two-factor authentication to reset" in output
    assert UserSession.objects.filter(user=person).exists()
    assert not ModelLogEntry.objects.filter(action=reset.ACTION_RESET).exists()


def test_after_the_reset_the_admin_signs_in_and_must_enroll(client, locked_out_admin):
    from factories import password_login

    run("mfa_reset", locked_out_admin.get_username(), "--no-input")
    password_login(client, locked_out_admin)
    response = client.get("/admin/")
    assert response["Location"].startswith("/admin/company-mfa/required/")


@pytest.fixture
def companies(db):
    acme = make_company("Acme Builders", require_mfa=True, enforcement_date=datetime.date(2020, 1, 1))
    bluebird = make_company(
        "Bluebird Contracting", require_mfa=True, enforcement_date=datetime.date(2999, 1, 1)
    )
    make_company("Cedar Homes")
    for number in range(3):
        person = make_user(f"acme{number}")
        join(person, acme)
        if number == 0:
            enroll_user(person)
    join(make_user("gone"), acme, is_active=False)
    join(make_user("blue"), bluebird)
    return acme, bluebird


def test_mfa_status_table(companies):
    lines = run("mfa_status").splitlines()
    assert lines[0].split() == ["Company", "Policy", "Date", "Members", "Enrolled", "Overdue"]
    acme = next(line for line in lines if line.startswith("Acme Builders"))
    assert acme.split()[2:] == ["required", "2020-01-01", "(UTC)", "3", "1", "2"]
    bluebird = next(line for line in lines if line.startswith("Bluebird"))
    assert bluebird.split()[2:] == ["upcoming", "2999-01-01", "(UTC)", "1", "0", "0"]
    cedar = next(line for line in lines if line.startswith("Cedar Homes"))
    assert cedar.split()[2:] == ["off", "-", "0", "0", "0"]


def test_mfa_status_json(companies):
    rows = json.loads(run("mfa_status", "--json"))
    acme = next(row for row in rows if row["slug"] == "acme-builders")
    assert acme == {
        "company": "Acme Builders",
        "slug": "acme-builders",
        "policy": "required",
        "enforcement_date": "2020-01-01",
        "time_zone": "UTC",
        "grace_days": 0,
        "members": 3,
        "enrolled": 1,
        "not_enrolled": 2,
        "overdue": 2,
        "exempt": 0,
    }


def test_mfa_status_one_company(companies):
    rows = json.loads(run("mfa_status", "--json", "--company", "bluebird-contracting"))
    assert [row["company"] for row in rows] == ["Bluebird Contracting"]
