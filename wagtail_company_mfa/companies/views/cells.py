"""
Table cells written in Python, for listings whose page shows many rows of many columns (the enrollment
report: 50 rows of 11 columns).

Wagtail renders each cell with a template of its own: a new template context, a lookup of every variable,
the ``human_readable_date`` and ``icon`` inclusion tags each rendering one more template. At 550 cells a
page that is about half of the report's time (docs/performance.md, "The report's page"). The columns here
write the same markup with ``format_html``, from the same functions Wagtail's templates call (its
``timesince_simple`` filter, Django's ``date`` filter, its icon template, rendered once per icon and kept).
``tests/test_report_cells.py`` renders each of them both ways and compares the markup, so a Wagtail release
that changes its own cells is noticed.
"""

from __future__ import annotations

import datetime
from functools import lru_cache

from django.template.defaultfilters import capfirst
from django.template.defaultfilters import date as date_filter
from django.template.loader import render_to_string
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import is_aware, localtime
from wagtail.admin.templatetags.wagtailadmin_tags import human_readable_date as wagtail_human_readable_date
from wagtail.admin.templatetags.wagtailadmin_tags import icon, timesince_simple
from wagtail.admin.ui.tables import Column


@lru_cache(maxsize=64)
def _icon(name: str, classname: str) -> str:
    return render_to_string("wagtailadmin/shared/icon.html", icon(name=name, classname=classname))


def icon_html(name: str, classname: str = "") -> SafeString:
    """Wagtail's ``{% icon name=... classname=... %}``."""
    return mark_safe(_icon(name, classname))  # noqa: S308 (Wagtail's own template, rendered with escaping)


def human_readable_date(value: datetime.date) -> SafeString:
    """Wagtail's ``{% human_readable_date value %}``: "3 days ago", with the date and time in a tooltip."""
    # The tag's own context gives its tooltip format, which differs between Wagtail releases.
    tooltip_format = wagtail_human_readable_date(value)["tooltip_format"]
    if isinstance(value, datetime.datetime) and is_aware(value):
        # As a template shows an aware datetime: in the current time zone.
        value = localtime(value)
    return format_html(
        '<button type="button" class="w-human-readable-date" data-controller="w-tooltip" '
        'data-w-tooltip-content-value="{}" data-w-tooltip-placement-value="top">'
        '<time class="w-human-readable-date__date" datetime="{}">{}</time></button>',
        date_filter(value, tooltip_format),
        date_filter(value, "c"),
        capfirst(timesince_simple(value)),
    )


class PythonCellColumn(Column):
    """
    A :class:`~wagtail.admin.ui.tables.Column` whose cell is ``<td>`` around :meth:`cell_content`, written
    in Python. By default the content is the value, as Wagtail's ``cell.html`` shows it.
    """

    #: Extra attributes of the ``<td>``, written as they are (no values from the row).
    cell_attrs = ""

    def render_cell_html(self, instance, parent_context):
        return format_html(
            "<td{}{}>{}</td>",
            format_html(' class="{}"', self.classname) if self.classname else "",
            mark_safe(self.cell_attrs),  # noqa: S308 (a constant of the class)
            self.cell_content(instance),
        )

    def cell_content(self, instance):
        value = self.get_value(instance)
        if value is None:
            return ""
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return value if str(value).strip() else self.empty_value_display


class PythonDateColumn(PythonCellColumn):
    """Wagtail's :class:`~wagtail.admin.ui.tables.DateColumn`: "3 days ago", the date in a tooltip."""

    def cell_content(self, instance):
        value = self.get_value(instance)
        return human_readable_date(value) if value else ""


def links_html(actions) -> SafeString:
    """A row's action links (``url``, ``label`` and ``aria_label`` of each), in a list."""
    return format_html(
        '<ul class="w-flex w-gap-2 w-flex-wrap">{}</ul>',
        format_html_join(
            "",
            '<li><a class="button button-small button-secondary" href="{}" aria-label="{}">{}</a></li>',
            ((action["url"], action["aria_label"], action["label"]) for action in actions),
        ),
    )
