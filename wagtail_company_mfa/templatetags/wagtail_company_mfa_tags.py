"""
Template helpers of the package's pages: ``{% load wagtail_company_mfa_tags %}``.

- ``{% mfa_field_input field %}``: a form field's input tied to its help text and error for assistive
  technology (``aria-describedby``, ``aria-invalid``), emptied after a wrong value. Used by
  ``wagtail_company_mfa/_code_field.html``.
- ``value|mfa_secret_groups``: a setup key or recovery code as its groups, for ``_copy.html``.
"""

from __future__ import annotations

import copy
import re

from django import template

register = template.Library()


def help_text_id(field) -> str:
    return f"{field.auto_id}-helptext"


def error_id(field) -> str:
    return f"{field.auto_id}-error"


@register.simple_tag
def mfa_field_input(field, autofocus=None):
    """
    The input of ``field``. Its error (``<id>-error``) and help text (``<id>-helptext``) describe it; with an
    error it is marked invalid and rendered empty, so a wrong code is not left to be corrected digit by digit.
    ``autofocus``: ``True`` or ``False`` overrides the widget's own; ``"error"`` focuses it only when it has
    an error, so the error is what a screen reader says first.
    """
    attrs: dict[str, object] = {}
    described_by = []
    if field.help_text:
        described_by.append(help_text_id(field))
    if field.errors:
        described_by.append(error_id(field))
        attrs["aria-invalid"] = "true"
        field = copy.copy(field)
        field.value = lambda: None
    if described_by:
        attrs["aria-describedby"] = " ".join(described_by)
    if autofocus == "error":
        attrs["autofocus"] = bool(field.errors)
    elif autofocus is not None:
        attrs["autofocus"] = bool(autofocus)
    return field.as_widget(attrs=attrs)


@register.filter
def mfa_field_error_id(field) -> str:
    return error_id(field)


@register.filter
def mfa_field_help_text_id(field) -> str:
    return help_text_id(field)


_SEPARATOR = re.compile(r"([\s-]+)")


@register.filter
def mfa_secret_groups(value) -> list[tuple[str, str]]:
    """``"ABCD-EFGH"`` -> ``[("ABCD", "-"), ("EFGH", "")]``: each group and the separator after it."""
    parts = _SEPARATOR.split(str(value).strip())
    groups = parts[0::2]
    separators = [" " if not separator.strip() else separator.strip() for separator in parts[1::2]]
    return list(zip(groups, [*separators, ""], strict=True))
