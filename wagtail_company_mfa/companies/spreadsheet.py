"""
A minimal XLSX writer for exports of any size: one sheet of text, numbers and dates, written row by row into
the zip, so memory does not grow with the number of rows (docs/performance.md, "Enrollment report").

openpyxl's write-only mode (what Wagtail's own export uses) also keeps one row in memory, but it builds a cell
object and an XML element per cell, which makes a 100,000-member export take minutes. The file written here is
what openpyxl writes for the same values: shared package parts, inline strings, ISO dates (``t="d"``) with a
date format.
"""

from __future__ import annotations

import datetime
import re
import zipfile
from xml.sax.saxutils import escape, quoteattr

#: Characters XML 1.0 cannot hold at all (openpyxl refuses them); dropped from text cells.
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    "</Types>"
)
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/>'
    "</Relationships>"
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name={name} sheetId="1" r:id="rId1"/></sheets>'
    "</workbook>"
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>'
    "</Relationships>"
)
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<numFmts count="1"><numFmt numFmtId="164" formatCode={date_format}/></numFmts>'
    '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)
_SHEET_START = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
)
_SHEET_END = "</sheetData></worksheet>"


#: An empty cell.
EMPTY_CELL = "<c/>"


def text_cell(value: str) -> str:
    """A text cell: always an inline string, so nothing a member typed becomes a formula."""
    text = escape(_ILLEGAL.sub("", value))
    return f'<c t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'


def datetime_cell(value: datetime.datetime | datetime.date) -> str:
    """A date or a naive datetime, with the workbook's date format."""
    return f'<c t="d" s="1"><v>{value.isoformat()}</v></c>'


def _cell(value) -> str:
    """One ``<c>`` element for a value of any supported type."""
    if value is None or value == "":
        return EMPTY_CELL
    if isinstance(value, str):
        return text_cell(value)
    if isinstance(value, bool):
        return f'<c t="b"><v>{int(value)}</v></c>'
    if isinstance(value, int | float):
        return f"<c><v>{value!r}</v></c>"
    if isinstance(value, datetime.datetime):
        return datetime_cell(value.replace(tzinfo=None))
    if isinstance(value, datetime.date):
        return datetime_cell(value)
    return text_cell(str(value))


def write_xlsx(rows, output, *, date_format: str = "yyyy-mm-dd hh:mm", sheet_name: str = "Sheet1") -> None:
    """
    Write ``rows`` (an iterable of sequences of cell values: text, numbers, booleans, naive datetimes, dates
    or ``None``; the first one is the heading) as an XLSX workbook to the binary file ``output``.
    """
    cells = ("".join(_cell(value) for value in row) for row in rows)
    write_cell_rows([], cells, output, date_format=date_format, sheet_name=sheet_name)


def write_cell_rows(
    heading, rows, output, *, date_format: str = "yyyy-mm-dd hh:mm", sheet_name: str = "Sheet1"
) -> None:
    """
    Write the rows ``heading`` then ``rows`` (iterables of strings, each the cells of one row already
    written with :func:`text_cell`, :func:`datetime_cell`...) as an XLSX workbook to the binary file
    ``output``, a few hundred rows at a time.
    """
    with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _ROOT_RELS)
        archive.writestr("xl/workbook.xml", _WORKBOOK.format(name=quoteattr(sheet_name)))
        archive.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        archive.writestr("xl/styles.xml", _STYLES.format(date_format=quoteattr(date_format)))
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(_SHEET_START.encode())
            batch = [f"<row>{row}</row>" for row in heading]
            for row in rows:
                batch.append(f"<row>{row}</row>")
                if len(batch) >= 500:
                    sheet.write("".join(batch).encode())
                    batch = []
            batch.append(_SHEET_END)
            sheet.write("".join(batch).encode())
