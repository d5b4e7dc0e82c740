"""
Policy notices (SPEC §3.6): when a company turns Require MFA on with a date, or moves the date, its active
members are emailed, once per (company, enforcement date, member).

The company administration sends ``signals.policy_changed`` once the change is committed; these tests send it
the same way (and once through ``company_flows.save_company``, the administration's own entry point).
"""

from __future__ import annotations

import datetime
from smtplib import SMTPException

import pytest
import time_machine
from django.core import mail
from django.core.mail.backends import locmem
from django.core.management import call_command
from factories import enroll_user, join, make_company, make_user, use_email_backend

from wagtail_company_mfa import signals
from wagtail_company_mfa.companies import flows as company_flows
from wagtail_company_mfa.models import Company, MemberNotice

pytestmark = pytest.mark.django_db

UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 3, 1, 10, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def company(db):
    """Bluebird, MFA off for now, with ann and ben (enrolled) active, and zed inactive."""
    bluebird = make_company("Bluebird Contracting", require_mfa=False)
    ann, ben, zed = make_user("ann"), make_user("ben"), make_user("zed")
    join(ann, bluebird)
    join(ben, bluebird)
    join(zed, bluebird, is_active=False)
    _phone, bluebird.ben_codes = enroll_user(ben)
    return bluebird


def change(company: Company, capture, **fields) -> None:
    """Change the policy and send ``policy_changed`` after commit, as the company administration does."""
    before = {name: getattr(company, name) for name in fields}
    for name, value in fields.items():
        setattr(company, name, value)
    company.save()
    changes = {name: (before[name], value) for name, value in fields.items() if before[name] != value}
    with capture(execute=True):
        signals.policy_changed.send(
            sender=Company, company=company, changes=changes, actor=None, request=None
        )


def inbox() -> list[tuple[str, str]]:
    return [(m.to[0].split("@")[0], m.subject) for m in mail.outbox]


def test_turning_the_requirement_on_emails_each_active_member_once(
    company, django_capture_on_commit_callbacks
):
    change(
        company,
        django_capture_on_commit_callbacks,
        require_mfa=True,
        enforcement_date=datetime.date(2026, 4, 1),
    )

    subject = "Bluebird Contracting requires two-factor authentication on Test site from April 1, 2026"
    assert sorted(inbox()) == [("ann", subject), ("ben", subject)]  # zed's membership is inactive
    ann = next(m for m in mail.outbox if m.to == ["ann@example.com"])
    ben = next(m for m in mail.outbox if m.to == ["ben@example.com"])
    assert "From April 1, 2026, midnight (UTC) you will not be able to sign in without it." in ann.body
    assert "http://testserver/admin/company-mfa/enroll/" in ann.body
    assert "You already use two-factor authentication, so there is nothing for you to do." in ben.body
    assert "Set up now" in ann.alternatives[0][0]


def test_the_same_change_announced_twice_sends_nothing_more(company, django_capture_on_commit_callbacks):
    change(
        company,
        django_capture_on_commit_callbacks,
        require_mfa=True,
        enforcement_date=datetime.date(2026, 4, 1),
    )
    with django_capture_on_commit_callbacks(execute=True):
        signals.policy_changed.send(
            sender=Company,
            company=company,
            changes={"require_mfa": (False, True), "enforcement_date": (None, datetime.date(2026, 4, 1))},
            actor=None,
            request=None,
        )
    assert len(mail.outbox) == 2
    call_command("mfa_send_reminders", verbosity=0)
    assert len(mail.outbox) == 2


def test_moving_the_date_announces_the_new_date_and_moving_back_announces_again(
    company, django_capture_on_commit_callbacks
):
    change(
        company,
        django_capture_on_commit_callbacks,
        require_mfa=True,
        enforcement_date=datetime.date(2026, 4, 1),
    )
    change(company, django_capture_on_commit_callbacks, enforcement_date=datetime.date(2026, 5, 1))
    change(company, django_capture_on_commit_callbacks, enforcement_date=datetime.date(2026, 4, 1))
    assert [subject.rsplit(" from ", 1)[1] for to, subject in inbox() if to == "ann"] == [
        "April 1, 2026",
        "May 1, 2026",
        "April 1, 2026",
    ]


@pytest.mark.parametrize(
    "fields",
    [
        {"new_member_grace_days": 10},  # the date did not move
        {"require_mfa": False},  # turned off: no date to announce
    ],
)
def test_other_changes_send_nothing(company, django_capture_on_commit_callbacks, fields):
    change(
        company,
        django_capture_on_commit_callbacks,
        require_mfa=True,
        enforcement_date=datetime.date(2026, 4, 1),
    )
    mail.outbox.clear()
    change(company, django_capture_on_commit_callbacks, **fields)
    assert not mail.outbox


def test_a_date_in_the_past_says_it_applies_now(company, django_capture_on_commit_callbacks):
    change(
        company,
        django_capture_on_commit_callbacks,
        require_mfa=True,
        enforcement_date=datetime.date(2026, 2, 1),
    )
    ann = next(m for m in mail.outbox if m.to == ["ann@example.com"])
    assert ann.subject == "Bluebird Contracting now requires two-factor authentication on Test site"
    assert "This applies now: you will be asked to set it up the next time you sign in." in ann.body


def test_a_late_joiner_is_told_their_own_date(db, django_capture_on_commit_callbacks):
    acme = make_company(
        "Acme Builders",
        require_mfa=True,
        enforcement_date=datetime.date(2026, 2, 1),
        new_member_grace_days=14,
    )
    join(make_user("lou"), acme, joined_at=datetime.datetime(2026, 2, 20, 9, tzinfo=UTC))
    change(acme, django_capture_on_commit_callbacks, enforcement_date=datetime.date(2026, 2, 10))
    (notice,) = mail.outbox
    assert "From March 6, 2026, 9 a.m. (UTC)" in notice.body  # joined 20 February + 14 days
    assert (
        "This is your own date: the company's date is Feb. 10, 2026, and you joined after it." in notice.body
    )


def test_a_large_company_gets_the_first_notices_at_once_and_the_rest_from_the_command(
    company, settings, django_capture_on_commit_callbacks
):
    settings.WAGTAIL_COMPANY_MFA_POLICY_NOTICE_SEND_LIMIT = 2
    for index in range(5):
        join(make_user(f"extra{index}"), company)
    change(
        company,
        django_capture_on_commit_callbacks,
        require_mfa=True,
        enforcement_date=datetime.date(2026, 4, 1),
    )
    assert len(mail.outbox) == 2
    call_command("mfa_send_reminders", verbosity=0)
    assert len(mail.outbox) == 7
    assert len({m.to[0] for m in mail.outbox}) == 7
    call_command("mfa_send_reminders", verbosity=0)
    assert len(mail.outbox) == 7


class DownBackend(locmem.EmailBackend):
    def send_messages(self, messages):
        raise SMTPException("421 Service not available")


def test_a_mail_failure_never_breaks_the_policy_change_and_the_command_sends_later(
    company, settings, django_capture_on_commit_callbacks
):
    use_email_backend(settings, "test_policy_notices.DownBackend")
    change(
        company,
        django_capture_on_commit_callbacks,
        require_mfa=True,
        enforcement_date=datetime.date(2026, 4, 1),
    )
    company.refresh_from_db()
    assert company.require_mfa
    assert not mail.outbox
    use_email_backend(settings, "django.core.mail.backends.locmem.EmailBackend")
    with time_machine.travel(NOW + datetime.timedelta(hours=1), tick=False):
        call_command("mfa_send_reminders", verbosity=0)
    assert sorted(to for to, _subject in inbox()) == ["ann", "ben"]


def test_save_company_of_the_company_administration_announces_the_change(
    company, django_capture_on_commit_callbacks
):
    company.require_mfa = True
    company.enforcement_date = datetime.date(2026, 4, 1)
    with django_capture_on_commit_callbacks(execute=True):
        company_flows.save_company(company, actor=None)
    assert sorted(to for to, _subject in inbox()) == ["ann", "ben"]
    assert MemberNotice.objects.filter(kind=MemberNotice.Kind.POLICY).count() == 2


def test_notices_never_contain_a_code_or_secret(company, django_capture_on_commit_callbacks):  # SEC-44
    change(
        company,
        django_capture_on_commit_callbacks,
        require_mfa=True,
        enforcement_date=datetime.date(2026, 4, 1),
    )
    dump = "".join(m.subject + m.body + m.alternatives[0][0] for m in mail.outbox)
    assert "otpauth" not in dump
    for code in company.ben_codes:
        assert code not in dump


def test_notice_subject_names_the_companys_own_date(db):
    """The company picked 2 February in Amsterdam; a reader in UTC must not read "1 February"."""
    import datetime

    from django.core import mail
    from django.core.management import call_command
    from factories import join, make_company, make_user

    from wagtail_company_mfa.notices.planning import queue_policy_notices

    company = make_company(
        "Tulip BV", time_zone="Europe/Amsterdam", require_mfa=True, enforcement_date=datetime.date(2031, 2, 2)
    )
    join(make_user("reader"), company)

    queue_policy_notices(company)
    call_command("mfa_send_reminders", verbosity=0)

    subjects = [message.subject for message in mail.outbox]
    assert subjects, "no notice was sent"
    assert all("Feb. 2, 2031" in subject for subject in subjects), subjects


def test_switching_the_requirement_off_tells_the_other_administrators(db, django_capture_on_commit_callbacks):
    """SEC-39: lowering a company's protection is notified, not only audited."""
    import datetime

    from django.core import mail
    from factories import join, make_company, make_user

    from wagtail_company_mfa.models import CompanyMembership

    company = make_company("Acme Builders", require_mfa=True, enforcement_date=datetime.date(2020, 1, 1))
    actor, other_admin, member = make_user("actor"), make_user("other-admin"), make_user("member")
    join(actor, company, role=CompanyMembership.Role.ADMIN)
    join(other_admin, company, role=CompanyMembership.Role.ADMIN)
    join(member, company)

    company.require_mfa = False
    with django_capture_on_commit_callbacks(execute=True):
        company_flows.save_company(company, actor=actor)

    lifted = [m for m in mail.outbox if "no longer requires" in m.subject]
    assert [m.to for m in lifted] == [[other_admin.email]]
    assert "actor" in lifted[0].body
