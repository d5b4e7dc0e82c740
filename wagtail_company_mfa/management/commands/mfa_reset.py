"""
``manage.py mfa_reset <username-or-email>``: remove a person's authenticator app and recovery codes and end
their sessions, for when no administrator can do it from the admin (for example, the last administrator lost
their phone). The same reset as the admin's (``flows.reset_mfa``): logged, signalled, emailed.
"""

import getpass

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q

from wagtail_company_mfa import factors
from wagtail_company_mfa.base.users import display_name
from wagtail_company_mfa.companies.reset import reset_mfa


class Command(BaseCommand):
    help = (
        "Reset a person's two-factor authentication: their authenticator app and recovery codes are removed "
        "and they are signed out everywhere. They must set MFA up again at their next sign-in if a company "
        "requires it. Use it when no administrator can reset them from the admin."
    )

    def add_arguments(self, parser):
        parser.add_argument("user", help="The person's username or email address.")
        parser.add_argument(
            "--no-input",
            "--noinput",
            action="store_false",
            dest="interactive",
            help="Do not ask for confirmation.",
        )

    def find_user(self, identifier: str):
        User = get_user_model()
        condition = Q(**{f"{User.USERNAME_FIELD}__iexact": identifier})
        email_field = User.get_email_field_name()
        if "@" in identifier and email_field != User.USERNAME_FIELD:
            condition |= Q(**{f"{email_field}__iexact": identifier})
        users = list(User._default_manager.filter(condition)[:3])
        if not users:
            raise CommandError(f"No user has the username or email address {identifier!r}.")
        exact = [user for user in users if user.get_username() == identifier]
        if len(exact) == 1:
            return exact[0]
        if len(users) > 1:
            names = ", ".join(user.get_username() for user in users)
            raise CommandError(
                f"{identifier!r} matches more than one user ({names}). Give the exact username instead."
            )
        return users[0]

    def handle(self, *args, user, interactive, verbosity=1, **options):
        target = self.find_user(user.strip())
        label = f"{display_name(target)} ({target.get_username()})"
        # Any device of any factor, confirmed or not.
        if not factors.factors_of(target, confirmed=False):
            self.stdout.write(f"{label} has no two-factor authentication to reset. Their sessions are kept.")
            return
        if interactive:
            answer = input(
                f"Reset two-factor authentication of {label}? Their authenticator app and recovery codes "
                "stop working and they are signed out everywhere. Type 'yes' to continue: "
            )
            if answer.strip().lower() != "yes":
                raise CommandError("Reset cancelled: nothing was changed.")
        result = reset_mfa(target, actor=None, company=None, via="command", details=_who_ran_it())
        if verbosity >= 1:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Reset two-factor authentication of {label}: "
                    f"authenticator app {'removed' if result.removed_authenticator else 'none'}, "
                    f"recovery codes {'removed' if result.removed_recovery_codes else 'none'}, "
                    f"{result.sessions_ended} session(s) ended. They have been told by email."
                )
            )


def _who_ran_it() -> dict:
    """The operating-system account that ran the command, for the audit log (SEC-45)."""
    try:
        return {"os_user": getpass.getuser()}
    except Exception:  # no login name in this environment (containers, cron)
        return {}
