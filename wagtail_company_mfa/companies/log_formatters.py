"""
Readable audit-log messages for the company administration, shown in a company's and a user's
history and in Wagtail's site history report. They read only what the entries store: names, roles, policy
values and counts. No entry ever holds a code, a secret or a hash (SEC-44).
"""

from __future__ import annotations

from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from wagtail.log_actions import LogFormatter

from ..models import Company
from . import flows, reset
from .forms import format_policy_value
from .permissions import role_in_sentence


def _data(log_entry) -> dict:
    return log_entry.data if isinstance(log_entry.data, dict) else {}


def _role(value) -> str:
    return role_in_sentence(value)


def _field_label(name: str) -> str:
    try:
        return str(capfirst(getattr(Company._meta.get_field(name), "verbose_name", name)))
    except Exception:  # a field renamed since the entry was written
        return name


class PolicyChangedFormatter(LogFormatter):
    label = gettext_lazy("Change MFA policy")

    def format_message(self, log_entry):
        changes = _data(log_entry).get("changes")
        if not isinstance(changes, dict) or not changes:
            return _("Changed the MFA policy")
        parts = []
        for name in flows.POLICY_FIELDS:
            change = changes.get(name)
            if not isinstance(change, dict):
                continue
            parts.append(
                _("%(field)s: %(old)s → %(new)s")
                % {
                    "field": _field_label(name),
                    "old": format_policy_value(name, change.get("old")),
                    "new": format_policy_value(name, change.get("new")),
                }
            )
        return _("Changed the MFA policy: %(changes)s") % {"changes": "; ".join(parts)}


class MemberAddedFormatter(LogFormatter):
    label = gettext_lazy("Add member")

    def format_message(self, log_entry):
        data = _data(log_entry)
        try:
            values = {"member": data["member"], "role": _role(data["role"])}
        except KeyError:
            return _("Added a member")
        if data.get("reactivated"):
            return _("Reactivated %(member)s as %(role)s") % values
        return _("Added %(member)s as %(role)s") % values


class MemberRemovedFormatter(LogFormatter):
    label = gettext_lazy("Remove member")

    def format_message(self, log_entry):
        try:
            return _("Removed %(member)s (membership deactivated)") % {"member": _data(log_entry)["member"]}
        except KeyError:
            return _("Removed a member")


class MemberRoleChangedFormatter(LogFormatter):
    label = gettext_lazy("Change member role")

    def format_message(self, log_entry):
        data = _data(log_entry)
        try:
            return _("Changed the role of %(member)s from %(old)s to %(new)s") % {
                "member": data["member"],
                "old": _role(data["old_role"]),
                "new": _role(data["new_role"]),
            }
        except KeyError:
            return _("Changed a member's role")


class MemberResetFormatter(LogFormatter):
    label = gettext_lazy("Reset member's MFA")

    def format_message(self, log_entry):
        try:
            member = _data(log_entry)["member"]
            return _("Reset the two-factor authentication of %(member)s") % {"member": member}
        except KeyError:
            return _("Reset a member's two-factor authentication")


class ResetFormatter(LogFormatter):
    label = gettext_lazy("Reset MFA")

    def format_message(self, log_entry):
        data = _data(log_entry)
        if data.get("via") == "command":
            return _("Two-factor authentication reset on the server (manage.py mfa_reset)")
        if data.get("company"):
            return _("Two-factor authentication reset by an administrator of %(company)s") % {
                "company": data["company"]
            }
        return _("Two-factor authentication reset by an administrator")


#: Action name → formatter, registered by ``wagtail_hooks.py``.
FORMATTERS = {
    flows.ACTION_POLICY_CHANGED: PolicyChangedFormatter,
    flows.ACTION_MEMBER_ADDED: MemberAddedFormatter,
    flows.ACTION_MEMBER_REMOVED: MemberRemovedFormatter,
    flows.ACTION_MEMBER_ROLE_CHANGED: MemberRoleChangedFormatter,
    reset.ACTION_MEMBER_RESET: MemberResetFormatter,
    reset.ACTION_RESET: ResetFormatter,
}
