"""Files of records, as exports write them and imports read them (docs/import-export.md): CSV (RFC 4180, UTF-8,
a header row) and NDJSON (one JSON object a line), each ending with an end-of-export line.

Writing: a CSV cell that a spreadsheet would run as a formula (one starting with =, +, -, @, a tab or a
carriage return, OWASP's list) gets a leading single quote, as OWASP advises; so does one that starts with
quotes before such a character, so that reading the file back takes off exactly the quote the export added.
NDJSON is written raw.

Reading: what makes the file unreadable as a whole (not UTF-8, a NUL byte, a quote never closed) is a
FileError, with its line; what is wrong with a line or a cell (a missing column, a ragged row, a formula, a
line that is not a JSON object) is a Problem of the import's report, with its line and column.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from casting.schemas.rows import Layout

CSV, NDJSON = "text/csv", "application/x-ndjson"
FORMATS = {"csv": CSV, "ndjson": NDJSON}
EXTENSIONS = {CSV: "csv", NDJSON: "ndjson"}
# What a spreadsheet runs as a formula when a cell starts with it (OWASP, "CSV Injection").
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_QUOTED_FORMULA = re.compile(r"'+[=+\-@\t\r]")
_MARKS = frozenset("'=+-@\t\r")  # what a text cell that needs a closer look starts with
END_MARK = "#end"  # the first cell of a CSV export's last line; NDJSON's last line is {"end": true, "rows": N}
_INTEGER = re.compile(r"[+-]?[0-9]+")
_WIDE_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


# --- writing ---------------------------------------------------------------------------------------------------


def neutralised(text: str) -> str:
    """A CSV cell a spreadsheet shows as the text it is: a formula's first character, and quotes before one,
    behind one more quote."""
    if text.startswith(TRIGGERS) or (text.startswith("'") and _QUOTED_FORMULA.match(text)):
        return "'" + text
    return text


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return neutralised(value)
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


class Writer:
    """Encodes rows (tuples in the layout's column order) as one format's text, a batch at a time."""

    def __init__(self, columns: tuple[str, ...], media: str):
        self.columns = columns
        self.media = media
        self._buffer = io.StringIO()
        self._csv = csv.writer(self._buffer, lineterminator="\r\n")  # RFC 4180: CRLF, quotes where needed

    def _take(self) -> bytes:
        text = self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        return text.encode()

    def header(self) -> bytes:
        if self.media == NDJSON:
            return b""
        self._csv.writerow(self.columns)
        return self._take()

    def rows(self, rows: Iterable[tuple]) -> bytes:
        if self.media == NDJSON:
            columns = self.columns
            return "".join(json.dumps(dict(zip(columns, row, strict=True)), ensure_ascii=False, separators=(",", ":"),
                                      default=_iso) + "\n" for row in rows).encode()
        self._csv.writerows([_cell(value) for value in row] for row in rows)
        return self._take()

    def end(self, count: int) -> bytes:
        """The last line, written only once every row has been: a file without it was cut short."""
        if self.media == NDJSON:
            return json.dumps({"end": True, "rows": count}, separators=(",", ":")).encode() + b"\n"
        self._csv.writerow([END_MARK, str(count), *[""] * (len(self.columns) - 2)])
        return self._take()


def _iso(value):
    return value.isoformat()


# --- reading ---------------------------------------------------------------------------------------------------


class FileError(Exception):
    """The file cannot be read at all: nothing in it is looked at further."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(f"line {line}: {message}" if line else message)
        self.line = line


class TooManyRows(Exception):
    """More rows than the caller takes (an HTTP import's limit)."""


@dataclass(frozen=True)
class Problem:
    line: int
    column: str | None
    message: str

    def as_json(self) -> dict:
        return {"line": self.line, "column": self.column, "message": self.message}


Row = tuple[int, "dict | None"]  # a record's line, and its cells by column (None: the line is wrong as a whole)


def text_of(raw: bytes) -> str:
    """The file as text: UTF-8, a leading UTF-8 byte order mark skipped (Excel's "CSV UTF-8" writes one, as
    JSON bodies may); UTF-16 and UTF-32, with or without their mark, and NUL bytes are refused."""
    if raw.startswith(_WIDE_BOMS):
        raise FileError("the file is UTF-16 or UTF-32: save it as UTF-8 (Excel: CSV UTF-8)")
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8):]
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise FileError("holds a NUL byte: the file is not UTF-8 text (UTF-16, or not text at all)",
                        raw.count(b"\n", 0, nul) + 1)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileError("is not UTF-8: save the file as UTF-8", raw.count(b"\n", 0, exc.start) + 1) from None


def rows(raw: bytes, media: str, layout: Layout, match: str, problems: list[Problem]) -> Iterator[Row]:
    """The records of a file of `layout`'s kind, read with `match`'s columns, one at a time as they are read
    (an import checks and writes them a batch at a time: memory does not grow with the file): each its line
    and its cells (values as the row's rules take them, empty cells left out), or None for a line wrong as a
    whole. What is wrong with a line goes to `problems` as it is found; FileError when the file cannot be read."""
    text = text_of(raw)
    return (_ndjson_rows if media == NDJSON else _csv_rows)(text, layout, match, problems)


def _csv_rows(text: str, layout: Layout, match: str, problems: list[Problem]) -> Iterator[Row]:
    records = _csv_records(text)
    header = next(records, None)
    if header is None:
        raise FileError("the file is empty: it needs a header line naming its columns")
    columns = _csv_header(header[1], layout, match, problems)
    if columns is None:
        return
    width, ignored = len(columns), layout.ignored(match)
    # Each column read, with what its cells need (decided once, not for each of 100,000 rows).
    read = [(index, column, column in layout.text, column in layout.integers)
            for index, column in enumerate(columns) if column not in ignored]
    pending_end: int | None = None
    for line, cells in records:
        if not cells:
            continue  # a blank line (one a spreadsheet leaves at the end)
        if pending_end is not None:
            problems.append(Problem(pending_end, None, "the end-of-export line must be the file's last"))
            pending_end = None
        if cells[0] == END_MARK:
            pending_end = line
            continue
        if len(cells) != width:
            problems.append(Problem(line, None, f"has {len(cells)} cells, and the header {width}"))
            yield line, None
            continue
        values = {}
        for index, column, is_text, is_integer in read:
            cell = cells[index]
            if not cell:
                continue
            if is_text:
                if cell[0] in _MARKS:  # a formula, or the export's quote before one
                    cell = _text_cell(cell, line, column, problems)
            elif is_integer:
                if cell.isascii() and cell.isdigit() and len(cell) <= 22:  # the common case: plain digits
                    cell = int(cell)
                elif _INTEGER.fullmatch(cell):
                    cell = _integer(cell)
            values[column] = cell
        yield line, values


def _csv_records(text: str) -> Iterator[tuple[int, list[str]]]:
    """Each record with the line it starts on; FileError for what RFC 4180 does not allow."""
    reader = csv.reader(_lines(text), strict=True)
    start = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if "end of data" in str(exc):
                raise FileError("a quoted cell that starts on this line is never closed", start) from None
            raise FileError(f"is not CSV as RFC 4180 writes it ({exc}): a quote inside a quoted cell is "
                            "written twice (\"\")", start) from None
        yield start, cells
        start = reader.line_num + 1


_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")


def _lines(text: str) -> Iterator[str]:
    """The text's lines with their endings (CRLF, LF or CR), one at a time, as a file opened with newline=""
    gives them to the csv module; io.StringIO would first copy the whole text at four bytes a character."""
    return map(re.Match.group, _LINE.finditer(text))


def _csv_header(header: list[str], layout: Layout, match: str, problems: list[Problem]) -> tuple[str, ...] | None:
    """The header's columns when they are those this import needs; None (problems on line 1) otherwise."""
    wanted, known = layout.required(match), set(layout.columns)
    if len(header) == 1 and ";" in header[0]:
        problems.append(Problem(1, None, "columns are separated by commas (RFC 4180), not semicolons: "
                                         "save the file as CSV with commas"))
        return None
    unknown = [name for name in dict.fromkeys(header) if name not in known]
    found = [Problem(1, name[:100], "is not a column of this file: " + ", ".join(layout.columns) + " are")
             for name in unknown[:10]]
    if len(unknown) > 10:  # a file of 10,000 columns is one problem more, not 10,000
        found.append(Problem(1, None, f"and {len(unknown) - 10:,} more columns this file does not have"))
    found += [Problem(1, name, "is given twice") for name in dict.fromkeys(header) if header.count(name) > 1]
    found += [Problem(1, name, f"is required (match={match})") for name in wanted if name not in header]
    problems.extend(found)
    return None if found else tuple(header)


def _text_cell(cell: str, line: int, column: str, problems: list[Problem]) -> str:
    """A text cell as it is meant: the export's neutralising quote taken off; a formula refused."""
    if cell.startswith("'") and _QUOTED_FORMULA.match(cell):
        return cell[1:]
    if cell.startswith(TRIGGERS):
        shown = {"\t": "a tab", "\r": "a carriage return"}.get(cell[0], cell[0])
        problems.append(Problem(line, column, f"starts with {shown}, which a spreadsheet runs as a formula: "
                                              f"to import the text, start it with a single quote ('{cell[:1]})"))
    return cell


def _integer(digits: str) -> int:
    """A whole number of any length: one too long for any column stands in as 10**21 and fails its range check,
    as in JSON bodies (casting/web/parsing.py)."""
    if len(digits) <= 22:
        return int(digits)
    return -(10**21) if digits.startswith("-") else 10**21


# --- NDJSON ----------------------------------------------------------------------------------------------------


class _DuplicateKey(Exception):
    pass


def _object(pairs: list[tuple[str, object]]) -> dict:
    found: dict = {}
    for key, value in pairs:
        if key in found:
            raise _DuplicateKey(key)
        found[key] = value
    return found


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _ndjson_rows(text: str, layout: Layout, match: str, problems: list[Problem]) -> Iterator[Row]:
    ignored = layout.ignored(match)
    pending_end: int | None = None
    for number, line in enumerate(io.StringIO(text, newline="\n"), start=1):
        if not line.strip():
            continue
        if pending_end is not None:
            problems.append(Problem(pending_end, None, "the end-of-export line must be the file's last"))
            pending_end = None
        try:
            # As JSON bodies are read: exact decimals, no NaN, each key once.
            data = json.loads(line, parse_float=Decimal, parse_int=_integer, parse_constant=_refuse_constant,
                              object_pairs_hook=_object)
        except _DuplicateKey as exc:
            problems.append(Problem(number, str(exc.args[0])[:100], "must appear only once"))
            yield number, None
            continue
        except (ValueError, RecursionError):
            problems.append(Problem(number, None, "is not valid JSON"))
            yield number, None
            continue
        if isinstance(data, dict) and data.get("end") is True and set(data) == {"end", "rows"}:
            pending_end = number
            continue
        if not isinstance(data, dict):
            problems.append(Problem(number, None, "must be a JSON object"))
            yield number, None
        else:
            # null is an empty cell: the column says nothing.
            yield number, {k: v for k, v in data.items() if k not in ignored and v is not None}


def kind_of(raw: bytes, media: str, layouts: Iterable[Layout]) -> Layout | None:
    """The kind of records a file holds, from its header (or its first NDJSON line's keys): the layout whose
    columns it is made of; None when no layout fits."""
    head = raw[:65536]
    if head.startswith(_WIDE_BOMS) or b"\x00" in head:
        return None
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    if media == NDJSON:
        first = next((line for line in text.split("\n") if line.strip()), "")
        try:
            names = set(json.loads(first))
        except (ValueError, TypeError):
            return None
    else:
        try:
            names = set(next(csv.reader(io.StringIO(text, newline="")), []))
        except csv.Error:
            return None
    fits = [layout for layout in layouts if names and names <= set(layout.columns) and set(layout.values) <= names]
    return fits[0] if len(fits) == 1 else None
