from django.core.management.base import BaseCommand, CommandError

from wagtail_company_mfa.conf import mfa_settings
from wagtail_company_mfa.notices import delivery as reminders
from wagtail_company_mfa.notices import outbox


class Command(BaseCommand):
    help = (
        "Email members who have not set up two-factor authentication N days before their deadline "
        "(WAGTAIL_COMPANY_MFA_REMINDER_DAYS), and send any policy notices still waiting. Safe to run from "
        "cron every hour: nobody gets the same email twice, and an interrupted run is picked up by the next "
        "one."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--batch-size",
            type=int,
            default=reminders.DELIVERY_BATCH_SIZE,
            help=(
                f"Emails sent per batch (default {reminders.DELIVERY_BATCH_SIZE}, at most "
                f"{reminders.MAX_BATCH_SIZE}). Memory use follows it; a crash can repeat at most one batch."
            ),
        )

    def handle(self, *args, batch_size, verbosity=1, **options):
        if not 1 <= batch_size <= reminders.MAX_BATCH_SIZE:
            raise CommandError(f"--batch-size must be between 1 and {reminders.MAX_BATCH_SIZE:,}.")
        report = reminders.run(
            batch_size=batch_size, progress=self.write_progress if verbosity >= 1 else None
        )
        if verbosity >= 1:
            days = ", ".join(str(day) for day in mfa_settings.REMINDER_DAYS) or "none"
            self.stdout.write(
                f"Reminder days: {days}. Due now: {report.planned}. Sent: {report.sent}. "
                f"Cancelled (no longer applicable): {report.cancelled}. "
                f"To retry later: {report.retry_later}. Given up: {report.failed}. "
                f"Old records deleted: {report.deleted}."
            )
        if verbosity >= 2:
            for error in report.errors:
                self.stderr.write(error)
        if report.aborted:
            raise CommandError(
                "Stopped because emails kept failing to send (is the mail server reachable?). "
                "Nothing was lost: the next run continues where this one stopped."
            )
        if report.failed:
            raise CommandError(
                f"{report.failed} email(s) could not be sent after {outbox.MAX_ATTEMPTS} tries."
            )

    def write_progress(self, batch: reminders.Batch) -> None:
        """One line per batch, for cron logs: "batch 3: 500 sent, 0 failed (1,500 of 90,000)"."""
        cancelled = f", {batch.cancelled:,} cancelled" if batch.cancelled else ""
        # Another run may have taken some of the rows counted at the start, or new ones been planned since.
        of = f" of {batch.total:,}" if batch.total is not None else ""
        self.stdout.write(
            f"batch {batch.number}: {batch.sent:,} sent, {batch.failed:,} failed{cancelled} "
            f"({batch.done:,}{of})"
        )
