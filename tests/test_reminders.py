"""
``manage.py mfa_send_reminders`` (SPEC §3.6): reminders N days before each member's own deadline, run from a
frozen clock across several days and many runs; no duplicates; failures and crashes resume cleanly.
"""

from __future__ import annotations

import datetime
import threading
from smtplib import SMTPException

import pytest
import time_machine
from conftest import enroll_user, join, make_company, make_user, use_email_backend
from django.core import mail
from django.core.mail.backends import locmem
from django.core.management import CommandError, call_command
from django.db import connection

from wagtail_company_mfa.models import MemberNotice
from wagtail_company_mfa.notices import delivery as reminders
from wagtail_company_mfa.notices import outbox

pytestmark = pytest.mark.django_db

UTC = datetime.timezone.utc
START = datetime.datetime(2026, 3, 1, 0, 30, tzinfo=UTC)


def at(day: int, hour: int = 0, minute: int = 30) -> datetime.datetime:
    return datetime.datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def run_command(**options) -> None:
    call_command("mfa_send_reminders", verbosity=0, **options)


def sent() -> list[tuple[str, str]]:
    return [(m.to[0].split("@")[0], m.subject) for m in mail.outbox]


def reminders_to(name: str) -> list[str]:
    return [subject for to, subject in sent() if to == name]


def left(days: int) -> str:
    return f"Set up two-factor authentication on Test site: {days} day{'s' if days != 1 else ''} left"


@pytest.fixture
def world(db):
    """
    Bluebird requires MFA from 20 March (00:00 UTC). Acme's date (1 February, Amsterdam) has passed, but late
    joiners get 20 days. Members: ann (not enrolled), ben (enrolled), cat (enrolls on 10 March), lou (joined
    Acme on 25 February, so her own deadline is 17 March 12:00 UTC), eve (Acme since 2025: required already),
    zed (Bluebird, inactive membership).
    """
    with time_machine.travel(START, tick=False):
        bluebird = make_company(
            "Bluebird Contracting", require_mfa=True, enforcement_date=datetime.date(2026, 3, 20)
        )
        acme = make_company(
            "Acme Builders",
            require_mfa=True,
            enforcement_date=datetime.date(2026, 2, 1),
            time_zone="Europe/Amsterdam",
            new_member_grace_days=20,
        )
        users = {name: make_user(name) for name in ("ann", "ben", "cat", "lou", "eve", "zed")}
        for name in ("ann", "ben", "cat"):
            join(users[name], bluebird)
        join(users["zed"], bluebird, is_active=False)
        enroll_user(users["ben"])
        join(users["lou"], acme, joined_at=datetime.datetime(2026, 2, 25, 12, tzinfo=UTC))
        join(users["eve"], acme, joined_at=datetime.datetime(2025, 6, 1, tzinfo=UTC))
    return {"bluebird": bluebird, "acme": acme, **users}


# Across days and runs -------------------------------------------------------------------------------------


def test_hourly_runs_over_three_weeks_send_each_reminder_once_and_on_time(world):
    log: list[tuple[str, str, datetime.datetime]] = []
    with time_machine.travel(START, tick=False) as clock:
        now = START
        while now <= at(21):
            if now == at(10, 9):
                enroll_user(world["cat"])  # after her 14-day reminder, before the 3-day one
            before = len(mail.outbox)
            run_command()
            run_command()  # a second run in the same hour (an overlapping cron job) sends nothing more
            log.extend((to, subject, now) for to, subject in sent()[before:])
            now += datetime.timedelta(hours=1)
            clock.move_to(now)

    assert sorted(log, key=lambda entry: (entry[2], entry[0])) == [
        # lou's own deadline is 17 March 12:00 UTC (joined 25 February + 20 grace days).
        ("lou", left(14), at(3, 12)),
        ("ann", left(14), at(6)),
        ("cat", left(14), at(6)),
        ("lou", left(3), at(14, 12)),
        ("lou", left(1), at(16, 12)),
        ("ann", left(3), at(17)),
        ("ann", left(1), at(19)),
    ]
    # ben is enrolled, eve has been required since before she could be reminded, zed is inactive.
    assert not {"ben", "eve", "zed"} & {to for to, _subject, _when in log}
    assert MemberNotice.objects.filter(status=MemberNotice.Status.SENT).count() == 7


def test_a_sender_that_was_down_sends_only_the_reminder_due_now(world):
    with time_machine.travel(at(18), tick=False):  # first run ever: 2 days before ann's deadline
        run_command()
    assert reminders_to("ann") == [left(2)]  # the 3-day reminder, saying how long is really left
    assert MemberNotice.objects.get(user=world["ann"]).days_before == 3


def test_reminder_text_has_the_deadline_in_the_users_time_zone_and_no_secret(world):
    from wagtail.users.models import UserProfile

    profile = UserProfile.get_for_user(world["lou"])
    profile.current_time_zone = "America/New_York"
    profile.save()
    with time_machine.travel(at(3, 12), tick=False):
        run_command()
    (message,) = mail.outbox
    assert message.to == ["lou@example.com"]
    # 17 March 12:00 UTC is 8:00 in New York (daylight saving time started on 8 March).
    assert "March 17, 2026, 8 a.m. (America/New_York)" in message.body
    html = message.alternatives[0][0]
    assert "America/New_York" in html
    assert "http://testserver/admin/company-mfa/enroll/" in message.body
    assert "Acme Builders" in message.body


def test_moving_the_date_gives_new_reminders_and_drops_the_old_ones(world):
    bluebird = world["bluebird"]
    with time_machine.travel(at(6), tick=False):
        run_command()
    assert reminders_to("ann") == [left(14)]
    with time_machine.travel(at(7), tick=False):
        bluebird.enforcement_date = datetime.date(2026, 4, 30)
        bluebird.save()
        run_command()
    assert reminders_to("ann") == [left(14)]  # nothing due for 30 April yet
    with time_machine.travel(datetime.datetime(2026, 4, 16, 0, 30, tzinfo=UTC), tick=False):
        run_command()
    assert reminders_to("ann") == [left(14), left(14)]
    deadlines = set(MemberNotice.objects.filter(user=world["ann"]).values_list("deadline", flat=True))
    assert deadlines == {
        datetime.datetime(2026, 3, 20, tzinfo=UTC),
        datetime.datetime(2026, 4, 30, tzinfo=UTC),
    }


def test_a_planned_reminder_is_cancelled_if_the_member_enrolls_before_it_goes_out(world):
    with time_machine.travel(at(6), tick=False):
        reminders.plan_reminders()
        enroll_user(world["ann"])
        run_command()
    assert "ann" not in {to for to, _subject in sent()}
    assert MemberNotice.objects.get(user=world["ann"]).status == MemberNotice.Status.CANCELLED


# Late joiners ---------------------------------------------------------------------------------------------


def test_users_added_after_the_date_with_grace_days_get_their_own_deadline(db):
    acme = make_company(
        "Acme Builders", require_mfa=True, enforcement_date=datetime.date(2026, 1, 1), new_member_grace_days=5
    )
    early, late, later = make_user("early"), make_user("late"), make_user("later")
    join(early, acme, joined_at=datetime.datetime(2025, 12, 1, tzinfo=UTC))

    def run_at(moment):
        with time_machine.travel(moment, tick=False):
            run_command()

    with time_machine.travel(datetime.datetime(2026, 3, 1, 9, tzinfo=UTC), tick=False):
        join(late, acme, joined_at=datetime.datetime.now(UTC))  # own deadline: 6 March 09:00
    run_at(datetime.datetime(2026, 3, 1, 9, 30, tzinfo=UTC))  # late: the 14-day reminder is due at once
    with time_machine.travel(datetime.datetime(2026, 3, 4, 18, tzinfo=UTC), tick=False):
        join(later, acme, joined_at=datetime.datetime.now(UTC))  # own deadline: 9 March 18:00
    run_at(
        datetime.datetime(2026, 3, 5, 9, 30, tzinfo=UTC)
    )  # late: 1 day left (the 3-day one is skipped); later: 5
    run_at(datetime.datetime(2026, 3, 8, 18, 30, tzinfo=UTC))  # later: 1 day left

    assert reminders_to("early") == []  # required since 1 January: there are no days left to remind of
    assert reminders_to("late") == [left(5), left(1)]
    # later joined with 5 days to go: the first run after that sent the reminder due then (its "14 days"
    # moment had passed when she joined; it says how long is really left).
    assert reminders_to("later") == [left(5), left(1)]
    assert set(MemberNotice.objects.filter(user=late).values_list("deadline", flat=True)) == {
        datetime.datetime(2026, 3, 6, 9, tzinfo=UTC)
    }
    assert set(MemberNotice.objects.filter(user=later).values_list("days_before", "deadline")) == {
        (14, datetime.datetime(2026, 3, 9, 18, tzinfo=UTC)),
        (1, datetime.datetime(2026, 3, 9, 18, tzinfo=UTC)),
    }


def test_a_late_joiner_without_grace_days_is_required_at_once_and_not_reminded(db):
    acme = make_company("Acme Builders", require_mfa=True, enforcement_date=datetime.date(2026, 1, 1))
    join(make_user("late"), acme, joined_at=datetime.datetime(2026, 3, 1, tzinfo=UTC))
    with time_machine.travel(datetime.datetime(2026, 3, 1, 1, tzinfo=UTC), tick=False):
        run_command()
    assert not mail.outbox
    assert not MemberNotice.objects.exists()


# Failures --------------------------------------------------------------------------------------------------


class FlakyBackend(locmem.EmailBackend):
    """locmem, except that the messages numbered in ``fail`` raise (as a mail server refusing them would)."""

    fail: set[int] = set()
    always_fail = False
    calls = 0

    def send_messages(self, messages):
        FlakyBackend.calls += 1
        if FlakyBackend.always_fail or FlakyBackend.calls in FlakyBackend.fail:
            raise SMTPException("421 Service not available, try again later")
        return super().send_messages(messages)


class Killed(BaseException):
    """The process dying mid-send: not an error the sender can handle."""


class DyingBackend(locmem.EmailBackend):
    """Hands message number ``die_after`` to the "mail server", then the process dies before marking it."""

    die_after = 0
    calls = 0

    def send_messages(self, messages):
        DyingBackend.calls += 1
        sent_count = super().send_messages(messages)
        if DyingBackend.calls == DyingBackend.die_after:
            raise Killed()
        return sent_count


@pytest.fixture
def due_members(db):
    """Six members of a company whose date is 10 days away: a 14-day reminder is due for each."""
    company = make_company(
        "Bluebird Contracting", require_mfa=True, enforcement_date=datetime.date(2026, 3, 11)
    )
    members = [make_user(f"member{index}") for index in range(6)]
    for member in members:
        join(member, company, joined_at=datetime.datetime(2025, 1, 1, tzinfo=UTC))
    return members


def recipients() -> list[str]:
    return sorted(m.to[0].split("@")[0] for m in mail.outbox)


EVERYONE = [f"member{index}" for index in range(6)]


def test_a_message_the_backend_refuses_is_retried_later_and_nothing_is_sent_twice(due_members, settings):
    use_email_backend(settings, "test_reminders.FlakyBackend")
    FlakyBackend.calls, FlakyBackend.fail, FlakyBackend.always_fail = 0, {3}, False

    with time_machine.travel(at(1), tick=False):
        run_command(batch_size=2)
    assert len(mail.outbox) == 5
    failed = MemberNotice.objects.get(status=MemberNotice.Status.PENDING)
    assert failed.attempts == 1

    with time_machine.travel(at(1, 0, 40), tick=False):
        run_command(batch_size=2)  # the refused one waits out its back-off
    assert len(mail.outbox) == 5

    with time_machine.travel(at(1, 1, 30), tick=False):  # the next hourly run
        run_command(batch_size=2)
    assert recipients() == EVERYONE
    assert set(MemberNotice.objects.values_list("status", flat=True)) == {MemberNotice.Status.SENT}


def test_a_mail_server_that_is_down_stops_the_run_and_the_next_run_resumes(due_members, settings):
    use_email_backend(settings, "test_reminders.FlakyBackend")
    FlakyBackend.calls, FlakyBackend.fail, FlakyBackend.always_fail = 0, set(), True

    with time_machine.travel(at(1), tick=False), pytest.raises(CommandError, match="kept failing"):
        run_command(batch_size=2)
    assert not mail.outbox
    # Three tries failed (they wait out the back-off); the rest were given back untouched.
    assert MemberNotice.objects.filter(attempts=1).count() == 3
    assert MemberNotice.objects.filter(claimed_at__isnull=True).count() == 3

    FlakyBackend.always_fail = False
    with time_machine.travel(at(1, 0, 45), tick=False):
        run_command(batch_size=2)
    assert len(mail.outbox) == 3
    with time_machine.travel(at(1, 1, 30), tick=False):
        run_command(batch_size=2)
    assert recipients() == EVERYONE


def test_a_message_refused_every_time_is_given_up_after_five_tries(due_members, settings):
    use_email_backend(settings, "test_reminders.FlakyBackend")
    FlakyBackend.calls, FlakyBackend.always_fail = 0, False
    FlakyBackend.fail = {1, 7, 8, 9, 10}  # the first message of every run from the second run on
    with time_machine.travel(at(1), tick=False):
        run_command()
    for hour in range(1, 5):
        with time_machine.travel(at(1, hour), tick=False):
            if hour < 4:
                run_command()
            else:
                with pytest.raises(CommandError, match="could not be sent after 5 tries"):
                    run_command()
    assert len(mail.outbox) == 5
    given_up = MemberNotice.objects.get(status=MemberNotice.Status.FAILED)
    assert given_up.attempts == 5
    with time_machine.travel(at(2), tick=False):
        run_command()
    assert len(mail.outbox) == 5  # never tried again


def test_a_crash_mid_run_loses_nothing_and_repeats_at_most_the_message_in_flight(
    due_members, settings, monkeypatch
):
    """
    ``kill -9`` after the mail server took message 3 but before its row was marked: nothing runs after that,
    not even the clean-up. Until the claims expire no other run touches them; then every message not yet
    sent goes out once, and message 3 a second time. That one message is the documented duplicate window.
    """
    use_email_backend(settings, "test_reminders.DyingBackend")
    DyingBackend.calls, DyingBackend.die_after = 0, 3
    monkeypatch.setattr(outbox, "release", lambda token, keep=None: None)  # a dead process cleans nothing

    with time_machine.travel(at(1), tick=False), pytest.raises(Killed):
        run_command(batch_size=10)
    assert len(mail.outbox) == 3
    in_flight = mail.outbox[2].to[0].split("@")[0]
    monkeypatch.undo()

    with time_machine.travel(at(1, 0, 40), tick=False):
        run_command()
    assert len(mail.outbox) == 3  # the dead run's claims still hold: no one else sends them

    with time_machine.travel(at(1, 1, 30), tick=False):
        run_command()
    assert recipients() == sorted([*EVERYONE, in_flight])
    assert set(MemberNotice.objects.values_list("status", flat=True)) == {MemberNotice.Status.SENT}


def test_an_interrupted_run_gives_back_what_it_had_not_tried(due_members, settings):
    """Stopped mid-send (but alive to clean up): the untried rows are sent by the very next run."""
    use_email_backend(settings, "test_reminders.DyingBackend")
    DyingBackend.calls, DyingBackend.die_after = 0, 2
    with time_machine.travel(at(1), tick=False), pytest.raises(Killed):
        run_command(batch_size=10)
    assert len(mail.outbox) == 2
    DyingBackend.die_after = 0
    with time_machine.travel(at(1, 0, 35), tick=False):
        run_command()
    assert len(mail.outbox) == 6  # everyone but the one in flight, who waits for its claim to expire
    with time_machine.travel(at(1, 1, 30), tick=False):
        run_command()
    assert len(mail.outbox) == 7
    assert len(set(recipients())) == 6


def test_command_reports_what_it_did(due_members):
    from io import StringIO

    out = StringIO()
    with time_machine.travel(at(1), tick=False):
        call_command("mfa_send_reminders", stdout=out)
    assert "Reminder days: 14, 3, 1. Due now: 6. Sent: 6." in out.getvalue()


def test_reminders_can_be_switched_off(due_members, settings):
    settings.WAGTAIL_COMPANY_MFA_REMINDER_DAYS = []
    with time_machine.travel(at(1), tick=False):
        run_command()
    assert not mail.outbox


def test_reminder_days_setting_is_validated(settings):
    from django.core.exceptions import ImproperlyConfigured

    from wagtail_company_mfa.conf import mfa_settings

    settings.WAGTAIL_COMPANY_MFA_REMINDER_DAYS = [1, 7, 7, 30]
    assert mfa_settings.REMINDER_DAYS == (30, 7, 1)
    settings.WAGTAIL_COMPANY_MFA_REMINDER_DAYS = [0]
    with pytest.raises(ImproperlyConfigured):
        mfa_settings.REMINDER_DAYS  # noqa: B018
    settings.WAGTAIL_COMPANY_MFA_REMINDER_DAYS = ["soon"]
    with pytest.raises(ImproperlyConfigured):
        mfa_settings.REMINDER_DAYS  # noqa: B018


def test_finished_records_are_deleted_a_month_after_their_deadline(due_members):
    with time_machine.travel(at(1), tick=False):
        run_command()
    assert MemberNotice.objects.count() == 6
    with time_machine.travel(datetime.datetime(2026, 4, 9, tzinfo=UTC), tick=False):
        run_command()
    assert MemberNotice.objects.count() == 6
    with time_machine.travel(datetime.datetime(2026, 4, 11, tzinfo=UTC), tick=False):
        run_command()
    assert not MemberNotice.objects.exists()


# Two senders at once, on a database with real row locks --------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks are only real on PostgreSQL")
def test_concurrent_runs_send_each_reminder_once():
    company = make_company(
        "Bluebird Contracting", require_mfa=True, enforcement_date=datetime.date(2026, 3, 11)
    )
    for index in range(60):
        join(make_user(f"racer{index}"), company, joined_at=datetime.datetime(2025, 1, 1, tzinfo=UTC))
    barrier = threading.Barrier(4)
    errors = []

    def sender():
        try:
            barrier.wait()
            reminders.run(batch_size=5)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sender) for _ in range(4)]
    with time_machine.travel(at(1), tick=False):  # the frozen clock is process-wide: every thread sees it
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert not errors
    assert len(mail.outbox) == 60
    assert len({m.to[0] for m in mail.outbox}) == 60
