"""``manage.py mfa_status``: each company's MFA policy and how far its members are, one line per company."""

import json
from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from wagtail_company_mfa.companies.enrollment import summarize
from wagtail_company_mfa.models import Company


class Command(BaseCommand):
    help = (
        "Print a summary per company: its MFA policy and enforcement date, and how many active members it "
        "has, how many have enrolled and how many are overdue."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--json", action="store_true", dest="as_json", help="Print JSON instead of a table."
        )
        parser.add_argument("--company", help="Only the company with this slug.")

    def handle(self, *args, as_json: bool = False, company=None, **options):
        now = timezone.now()
        companies = Company.objects.order_by("name")
        if company:
            companies = companies.filter(slug=company)
        rows: list[dict[str, Any]] = []
        for item in companies:
            summary = summarize(item, now=now)
            rows.append(
                {
                    "company": item.name,
                    "slug": item.slug,
                    "policy": _policy(item, now),
                    "enforcement_date": item.enforcement_date.isoformat() if item.enforcement_date else None,
                    "time_zone": item.time_zone,
                    "grace_days": item.new_member_grace_days,
                    "members": summary.members,
                    "enrolled": summary.enrolled,
                    "not_enrolled": summary.not_enrolled,
                    "overdue": summary.overdue,
                    "exempt": summary.exempt,
                }
            )
        if as_json:
            self.stdout.write(json.dumps(rows, indent=2))
            return
        if not rows:
            self.stdout.write("No companies.")
            return
        headings = ["Company", "Policy", "Date", "Members", "Enrolled", "Overdue"]
        table = [
            [
                row["company"],
                row["policy"],
                f"{row['enforcement_date']} ({row['time_zone']})" if row["enforcement_date"] else "-",
                str(row["members"]),
                str(row["enrolled"]),
                str(row["overdue"]),
            ]
            for row in rows
        ]
        widths = [max(len(line[i]) for line in [headings, *table]) for i in range(len(headings))]
        for line in [headings, ["-" * width for width in widths], *table]:
            cells = (cell.ljust(width) for cell, width in zip(line, widths, strict=True))
            self.stdout.write("  ".join(cells).rstrip())


def _policy(company, now) -> str:
    if not company.require_mfa:
        return "off"
    if company.enforcement_date is None:
        return "on, no date"
    return "required" if company.enforcement_starts_at <= now else "upcoming"
