"""
The enrollment report's cells are written in Python (companies/views/cells.py) with the markup of Wagtail's
own cell templates: each is rendered both ways here and compared, element by element, so that a Wagtail
release that changes its cells is noticed.
"""

from __future__ import annotations

import datetime

import pytest
import time_machine
from bs4 import BeautifulSoup
from django.template import Context, Template
from django.utils import timezone, translation
from wagtail.admin.ui.tables import Column, DateColumn

from wagtail_company_mfa.companies.views.cells import (
    PythonCellColumn,
    PythonDateColumn,
    human_readable_date,
    icon_html,
    links_html,
)

UTC = datetime.timezone.utc
NOW = datetime.datetime(2027, 3, 10, 12, 0, tzinfo=UTC)


def shape(html: str) -> list:
    """Every element's name, attributes and own text (whitespace collapsed), in document order."""
    soup = BeautifulSoup(html, "html.parser")
    return [
        (
            element.name,
            sorted(
                (name, " ".join(value) if isinstance(value, list) else value)
                for name, value in element.attrs.items()
            ),
            " ".join("".join(element.find_all(string=True, recursive=False)).split()),
        )
        for element in soup.find_all(True)
    ]


def render(source: str, **context) -> str:
    return Template("{% load wagtailadmin_tags %}" + source).render(Context(context))


DATES = [
    NOW - datetime.timedelta(seconds=20),
    NOW - datetime.timedelta(hours=5, minutes=3),
    NOW - datetime.timedelta(days=400),
    datetime.datetime(2026, 10, 25, 1, 30, tzinfo=UTC),
    datetime.date(2027, 2, 1),
]


@pytest.mark.parametrize("language", ["en", "nl", "de", "fr", "es", "pt-br"])
@pytest.mark.parametrize("value", DATES, ids=lambda value: value.isoformat())
def test_a_date_is_written_as_wagtails_human_readable_date(language, value):
    with (
        time_machine.travel(NOW, tick=False),
        translation.override(language),
        timezone.override("Europe/Amsterdam"),
    ):
        assert shape(human_readable_date(value)) == shape(
            render("{% human_readable_date value %}", value=value)
        )


@pytest.mark.parametrize(
    ("name", "classname"),
    [("success", "default w-text-positive-100"), ("warning", "default"), ("circle-xmark", "")],
)
def test_an_icon_is_wagtails_icon(name, classname):
    expected = render("{% icon name=name classname=classname %}", name=name, classname=classname or None)
    assert shape(icon_html(name, classname or "icon")) == shape(expected)


class Row:
    def __init__(self, value):
        self.value = value


def cells(python_column, wagtail_column, value):
    context = {"row": None, "table": None, "request": None}
    return (
        python_column.render_cell_html(Row(value), context),
        wagtail_column.render_cell_html(Row(value), context),
    )


@pytest.mark.parametrize("value", ["Anna Test", "<b>Ann & Bob</b>", "", "   ", None, 0, 12, 3.5])
@pytest.mark.parametrize("classname", [None, "title"])
def test_a_text_cell_is_wagtails_cell(value, classname):
    ours, wagtails = cells(
        PythonCellColumn("value", classname=classname), Column("value", classname=classname), value
    )
    assert shape(ours) == shape(wagtails)
    assert "<b>" not in ours


@pytest.mark.parametrize("value", [*DATES, None])
def test_a_date_cell_is_wagtails_date_cell(value):
    with time_machine.travel(NOW, tick=False), timezone.override("America/New_York"):
        ours, wagtails = cells(PythonDateColumn("value"), DateColumn("value"), value)
    assert shape(ours) == shape(wagtails)


def test_action_links_are_escaped():
    html = links_html([{"url": "/reset/?a=1&b=2", "label": "Reset <MFA>", "aria_label": 'Reset "x"'}])
    assert shape(html) == [
        ("ul", [("class", "w-flex w-gap-2 w-flex-wrap")], ""),
        ("li", [], ""),
        (
            "a",
            [
                ("aria-label", 'Reset "x"'),
                ("class", "button button-small button-secondary"),
                ("href", "/reset/?a=1&b=2"),
            ],
            "Reset <MFA>",
        ),
    ]
    assert "Reset &lt;MFA&gt;" in html
