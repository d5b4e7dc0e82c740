"""
``manage.py mfa_send_reminders`` (SPEC §3.6): reminders N days before each member's own deadline, run from a
frozen clock across several days and many runs; no duplicates; failures and crashes resume cleanly.
"""

from __future__ import annotations

import datetime
import threading
from io import StringIO
from smtplib import SMTPException

import pytest
import time_machine
from django.core import mail
from django.core.mail.backends import locmem
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from factories import enroll_user, join, make_company, make_user, use_email_backend

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


def dies_before_marking(monkeypatch, *, after_marks: int = 0) -> None:
    """
    ``kill -9`` as the run goes to mark a batch sent: the first ``after_marks`` marks reach the database, then
    nothing runs any more, not even the clean-up.
    """
    real_mark_sent = outbox.mark_sent
    marks = 0

    def mark_sent(pks, token):
        nonlocal marks
        marks += 1
        if marks > after_marks:
            raise Killed()
        return real_mark_sent(pks, token)

    monkeypatch.setattr(outbox, "mark_sent", mark_sent)
    monkeypatch.setattr(outbox, "mark_failed", lambda notices, token: (0, 0))
    monkeypatch.setattr(outbox, "release", lambda token, keep=(): None)


def test_a_crash_between_sending_a_batch_and_marking_it_resends_exactly_that_batch(
    due_members, settings, monkeypatch
):
    """
    The documented duplicate window: the mail server accepted batch 2, the process died before its one
    ``UPDATE``. Batch 1 stays sent, batch 3 (never claimed) goes out with the next run, and batch 2 is sent
    again once its claims expire: exactly that batch, and nothing else.
    """
    dies_before_marking(monkeypatch, after_marks=1)
    with time_machine.travel(at(1), tick=False), pytest.raises(Killed):
        run_command(batch_size=2)
    first_run = [m.to[0].split("@")[0] for m in mail.outbox]
    assert first_run == ["member0", "member1", "member2", "member3"]
    monkeypatch.undo()

    with time_machine.travel(at(1, 0, 40), tick=False):
        run_command(batch_size=2)
    # Batch 2's claims still hold: only the rows the dead run never claimed went out.
    assert [m.to[0].split("@")[0] for m in mail.outbox[4:]] == ["member4", "member5"]

    with time_machine.travel(at(1, 1, 30), tick=False):
        run_command(batch_size=2)
    assert [m.to[0].split("@")[0] for m in mail.outbox[6:]] == ["member2", "member3"]
    assert recipients() == sorted([*EVERYONE, "member2", "member3"])
    assert set(MemberNotice.objects.values_list("status", flat=True)) == {MemberNotice.Status.SENT}


def test_a_crash_mid_batch_loses_nothing_and_repeats_at_most_that_batch(due_members, settings, monkeypatch):
    """
    ``kill -9`` after the mail server took message 3 of a batch of 6: nothing of the batch is marked. Until
    the claims expire no other run touches them; then all six go out, the three already sent a second time.
    """
    use_email_backend(settings, "test_reminders.DyingBackend")
    DyingBackend.calls, DyingBackend.die_after = 0, 3
    dies_before_marking(monkeypatch)

    with time_machine.travel(at(1), tick=False), pytest.raises(Killed):
        run_command(batch_size=10)
    assert len(mail.outbox) == 3
    monkeypatch.undo()

    with time_machine.travel(at(1, 0, 40), tick=False):
        run_command()
    assert len(mail.outbox) == 3  # the dead run's claims still hold: no one else sends them

    with time_machine.travel(at(1, 1, 30), tick=False):
        run_command()
    assert recipients() == sorted([*EVERYONE, "member0", "member1", "member2"])
    assert set(MemberNotice.objects.values_list("status", flat=True)) == {MemberNotice.Status.SENT}


def test_a_message_refused_mid_batch_is_the_only_one_retried_and_the_rest_are_marked_at_once(
    due_members, settings
):
    """
    ``send_messages`` hands an SMTP server one message after the other; each goes over on its own, on the
    batch's one connection, so a refusal in the middle says exactly which message did not go out.
    """
    use_email_backend(settings, "test_reminders.FlakyBackend")
    FlakyBackend.calls, FlakyBackend.fail, FlakyBackend.always_fail = 0, {3}, False
    with time_machine.travel(at(1), tick=False), CaptureQueriesContext(connection) as queries:
        run_command(batch_size=10)

    assert recipients() == ["member0", "member1", "member3", "member4", "member5"]
    refused = MemberNotice.objects.get(status=MemberNotice.Status.PENDING)
    assert refused.user.email == "member2@example.com"  # both user models have an email
    assert (refused.attempts, refused.claim_token, refused.claimed_at) == (1, None, at(1))
    assert MemberNotice.objects.filter(status=MemberNotice.Status.SENT, sent_at=at(1)).count() == 5
    marks = [q["sql"] for q in queries if q["sql"].startswith("UPDATE") and "'sent'" in q["sql"]]
    assert len(marks) == 1, marks  # one UPDATE marks the batch, not one per email

    with time_machine.travel(at(1, 1, 30), tick=False):
        run_command(batch_size=10)
    assert recipients() == EVERYONE


class ConnectionBackend(locmem.EmailBackend):
    """locmem that records how the sender uses its connections."""

    opened = 0
    closed = 0
    sent_while_closed = 0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.is_open = False

    def open(self):
        ConnectionBackend.opened += 1
        self.is_open = True
        return True

    def close(self):
        ConnectionBackend.closed += int(self.is_open)
        self.is_open = False

    def send_messages(self, messages):
        ConnectionBackend.sent_while_closed += 0 if self.is_open else len(messages)
        return super().send_messages(messages)


def test_the_mail_connection_is_opened_once_per_batch(due_members, settings):
    use_email_backend(settings, "test_reminders.ConnectionBackend")
    ConnectionBackend.opened = ConnectionBackend.closed = ConnectionBackend.sent_while_closed = 0
    with time_machine.travel(at(1), tick=False):
        run_command(batch_size=2)
    assert len(mail.outbox) == 6
    assert (ConnectionBackend.opened, ConnectionBackend.closed) == (3, 3)
    assert ConnectionBackend.sent_while_closed == 0


def delivery_queries(name: str, members: int, batch_size: int) -> int:
    """The queries of sending the reminders of a new company of ``members``, planned beforehand."""
    company = make_company(name, require_mfa=True, enforcement_date=datetime.date(2026, 3, 11))
    for index in range(members):
        join(
            make_user(f"{name}{index}", admin=False),
            company,
            joined_at=datetime.datetime(2025, 1, 1, tzinfo=UTC),
        )
    reminders.plan_reminders()
    with CaptureQueriesContext(connection) as queries:
        report = reminders.deliver(company_id=company.pk, batch_size=batch_size)
    assert report.sent == members
    # The claim's transaction is a savepoint inside the test's own: not a statement of the sender's.
    return sum(1 for query in queries if not query["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT")))


def test_queries_per_batch_are_constant_not_per_email(db):
    with time_machine.travel(at(1), tick=False):
        two_small = delivery_queries("small", members=6, batch_size=3)
        two_large = delivery_queries("large", members=24, batch_size=12)
        four_large = delivery_queries("more", members=48, batch_size=12)
    assert two_small == two_large  # four times the emails per batch, not one query more
    # Claim (SELECT ... FOR UPDATE SKIP LOCKED, UPDATE), the rows, the enrolled, the memberships, the mark.
    per_batch = (four_large - two_large) / 2
    assert per_batch == 6, per_batch


def test_the_command_prints_a_progress_line_per_batch(due_members, settings):
    use_email_backend(settings, "test_reminders.FlakyBackend")
    FlakyBackend.calls, FlakyBackend.fail, FlakyBackend.always_fail = 0, {3}, False
    out = StringIO()
    with time_machine.travel(at(1), tick=False):
        call_command("mfa_send_reminders", batch_size=2, stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[:3] == [
        "batch 1: 2 sent, 0 failed (2 of 6)",
        "batch 2: 1 sent, 1 failed (4 of 6)",
        "batch 3: 2 sent, 0 failed (6 of 6)",
    ]
    assert lines[3].startswith("Reminder days: 14, 3, 1. Due now: 6. Sent: 5.")


def test_the_progress_lines_say_what_was_cancelled_and_verbosity_0_prints_nothing(due_members):
    enroll_user(due_members[0])
    out = StringIO()
    with time_machine.travel(at(1), tick=False):
        reminders.plan_reminders()
    enroll_user(due_members[1])  # after planning: the row is cancelled when its turn comes
    with time_machine.travel(at(1), tick=False):
        call_command("mfa_send_reminders", batch_size=10, stdout=out)
    assert out.getvalue().splitlines()[0] == "batch 1: 4 sent, 0 failed, 1 cancelled (5 of 5)"

    quiet = StringIO()
    with time_machine.travel(at(1, 2), tick=False):
        call_command("mfa_send_reminders", verbosity=0, stdout=quiet)
    assert quiet.getvalue() == ""


@pytest.mark.parametrize("size", [0, -1, reminders.MAX_BATCH_SIZE + 1])
def test_a_batch_size_out_of_range_is_refused_with_a_clear_message(db, size):
    with pytest.raises(CommandError, match=r"--batch-size must be between 1 and 10,000\."):
        call_command("mfa_send_reminders", batch_size=size, verbosity=0)
    assert not MemberNotice.objects.exists()


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


def test_members_with_only_an_app_are_reminded_to_add_a_passkey_where_the_company_requires_one(world):
    """A company that accepts only phishing-resistant methods: an app is not enough, a passkey is."""
    from wagtail_company_mfa.models import AllowedMethods, Company

    bluebird = Company.objects.filter(name="Bluebird Contracting")
    bluebird.update(allowed_methods=AllowedMethods.PHISHING_RESISTANT)
    with time_machine.travel(at(6), tick=False):  # 14 days before 20 March
        run_command()
    ben = [m for m in mail.outbox if m.to[0].startswith("ben@")]
    assert len(ben) == 1  # enrolled with an app: reminded to add a passkey
    assert "accepts only passkeys and security keys" in ben[0].body
    assert "add a passkey or security key" in ben[0].body
    ann = [m for m in mail.outbox if m.to[0].startswith("ann@")]
    assert "and you have not set it up yet" in ann[0].body
