"""
The columns of the enrollment report's CSV and XLSX exports, and the per-row pipeline that fills them
(docs/performance.md, "Enrollment report").

An export reads plain tuples from the database (``values_list`` on :func:`.enrollment.member_queryset`, in
chunks), never model instances, and turns each tuple into a row of cells with one small function per column.
Each :class:`ExportColumn` says which selected values it needs (``fields``, and any ``annotations`` it adds to
the queryset), what kind of cell it makes (:data:`TEXT`, :data:`LABEL`, :data:`DATETIME`) and how it makes the
value from those fields (``value``). The formats then only turn a kind into a cell: a :data:`TEXT` cell is
made formula-safe (docs/security.md, "Exports"), a :data:`DATETIME` is written in the administrator's zone.

The enrollment report's own columns are in ``report_export.py``. A column taken from the factor registry
(``factors/``), one per factor or one "Methods" column, is an :class:`ExportColumn` whose ``annotations``
are the registry's SQL expressions (an ``Exists`` per factor, say) and whose ``value`` turns them into text;
``report_export.report_columns`` is the one list to add it to.
"""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import spreadsheet

#: Text a member typed (a name, an address): made formula-safe in every format.
TEXT = "text"
#: Text the package wrote (a translated label): written as it is.
LABEL = "label"
#: An aware datetime or ``None``: shown in the administrator's time zone.
DATETIME = "datetime"

#: A spreadsheet cell starting with one of these may be read as a formula by Excel, LibreOffice or Google
#: Sheets (CSV injection, OWASP): the text of a name or an email address is then executed, not shown.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

#: Rows read from the database at a time, and written to the CSV stream at a time.
CHUNK_SIZE = 2000


def neutralise_formula(value):
    """``value`` made inert for a spreadsheet: text that could start a formula gets a leading ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return f"'{value}"
    return value


@dataclass(frozen=True)
class ExportColumn:
    """One column of an export."""

    #: The column's name in the view's ``list_export``.
    key: str
    #: Its heading; ``zone`` is the name of the administrator's time zone (for the datetime columns).
    heading: Callable[[str], str]
    #: The names it reads from the members' ``values_list``, passed to :attr:`value` in this order.
    fields: tuple[str, ...]
    #: How its cell is written: :data:`TEXT`, :data:`LABEL` or :data:`DATETIME`.
    kind: str = TEXT
    #: The cell's value from those fields' values; the first field's value as it is by default.
    value: Callable[..., Any] | None = None
    #: Annotations the column adds to the members' queryset (to be named in :attr:`fields`).
    annotations: dict[str, Any] = field(default_factory=dict)


# The pipeline -----------------------------------------------------------------------------------------------


def _row_function(columns: Sequence[ExportColumn], cells: Sequence[Callable]) -> tuple[list[str], Callable]:
    """
    The fields to select for ``columns``, and ``row(values) -> list of cells``: for each column, its
    ``value`` applied to its fields of the tuple ``values``, then its cell writer (``cells``, one per column).

    ``row`` is written out once per export as one expression per column (``[cell_0(values[3]),
    cell_1(value_1(values[0], values[1])), ...]``), so a row costs those calls and nothing else: no dict, no
    object, no loop over the columns.
    """
    selected: list[str] = []
    for column in columns:
        for name in column.fields:
            if name not in selected:
                selected.append(name)
    namespace: dict[str, Callable] = {}
    expressions = []
    for number, (column, cell) in enumerate(zip(columns, cells, strict=True)):
        arguments = ", ".join(f"values[{selected.index(name)}]" for name in column.fields)
        namespace[f"cell_{number}"] = cell
        if column.value is None:
            if len(column.fields) != 1:
                raise ValueError(f"Export column {column.key!r} reads several fields: give it a value.")
            expressions.append(f"cell_{number}({arguments})")
        else:
            namespace[f"value_{number}"] = column.value
            expressions.append(f"cell_{number}(value_{number}({arguments}))")
    source = "def row(values):\n    return [" + ", ".join(expressions) + "]\n"
    exec(compile(source, "<export row>", "exec"), namespace)  # noqa: S102 (our own expressions only)
    return selected, namespace["row"]


def _annotated(queryset, columns: Sequence[ExportColumn]):
    """``queryset`` with the annotations that ``columns`` add."""
    annotations: dict[str, Any] = {}
    for column in columns:
        annotations.update(column.annotations)
    return queryset.annotate(**annotations) if annotations else queryset


class _Echo:
    """A file whose ``write`` returns what it is given (for ``csv.writer`` into a stream)."""

    def write(self, value):
        return value


def _csv_cells(columns: Sequence[ExportColumn], zone: datetime.tzinfo) -> list[Callable]:
    def text(value):
        if not value:
            return ""
        if value.__class__ is not str:
            value = str(value)
        return f"'{value}" if value.startswith(FORMULA_TRIGGERS) else value

    def label(value):
        return value

    def moment(value):
        # "2027-02-28 18:00" in the administrator's zone.
        return value.astimezone(zone).isoformat(" ", "minutes")[:16] if value is not None else ""

    return [{TEXT: text, LABEL: label, DATETIME: moment}[column.kind] for column in columns]


def _xlsx_cells(columns: Sequence[ExportColumn], zone: datetime.tzinfo) -> list[Callable]:
    def text(value):
        if not value:
            return spreadsheet.EMPTY_CELL
        if value.__class__ is not str:
            value = str(value)
        return spreadsheet.text_cell(f"'{value}" if value.startswith(FORMULA_TRIGGERS) else value)

    def moment(value):
        if value is None:
            return spreadsheet.EMPTY_CELL
        return spreadsheet.datetime_cell(value.astimezone(zone).replace(tzinfo=None))

    return [{TEXT: text, LABEL: spreadsheet.text_cell, DATETIME: moment}[column.kind] for column in columns]


def _rows(queryset, columns, cells, chunk_size) -> Iterator[list]:
    selected, row = _row_function(columns, cells)
    values = _annotated(queryset, columns).values_list(*selected)
    for item in values.iterator(chunk_size=chunk_size):
        yield row(item)


def headings(columns: Iterable[ExportColumn], zone_name: str) -> list[str]:
    return [str(column.heading(zone_name)) for column in columns]


def stream_csv(
    queryset,
    columns: Sequence[ExportColumn],
    *,
    zone: datetime.tzinfo,
    zone_name: str,
    chunk_size: int = CHUNK_SIZE,
) -> Iterator[str]:
    """
    The CSV file of ``queryset``'s members, as text chunks: the heading first (before any query), then the
    rows, written ``chunk_size`` at a time as they are read.
    """
    writer = csv.writer(_Echo())
    yield writer.writerow(headings(columns, zone_name))
    buffer = io.StringIO()
    chunk_writer = csv.writer(buffer)
    batch: list[list] = []
    for row in _rows(queryset, columns, _csv_cells(columns, zone), chunk_size):
        batch.append(row)
        if len(batch) >= chunk_size:
            chunk_writer.writerows(batch)
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            batch = []
    if batch:
        chunk_writer.writerows(batch)
        yield buffer.getvalue()


def write_xlsx(
    queryset,
    columns: Sequence[ExportColumn],
    output,
    *,
    zone: datetime.tzinfo,
    zone_name: str,
    date_format: str,
    chunk_size: int = CHUNK_SIZE,
) -> None:
    """The XLSX workbook of ``queryset``'s members, written into the binary file ``output`` as it is read."""
    heading = "".join(spreadsheet.text_cell(text) for text in headings(columns, zone_name))
    spreadsheet.write_cell_rows(
        [heading],
        _joined(_rows(queryset, columns, _xlsx_cells(columns, zone), chunk_size)),
        output,
        date_format=date_format,
    )


def _joined(rows: Iterable[list[str]]) -> Iterator[str]:
    for row in rows:
        yield "".join(row)
