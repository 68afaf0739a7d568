"""What the document says of files (docs/import-export.md): the CSV and NDJSON an export answers with and an import
takes, as examples in the kinds' own columns (casting/schemas/rows.py), written by the exports' own writer."""

from __future__ import annotations

import datetime as dt

from casting.catalogue.tabular import CSV, NDJSON, Writer
from casting.schemas.rows import LAYOUTS, TOO_LARGE
from casting.web.parsing import FILE_UNSUPPORTED

_SAMPLES = {
    "movies": [(7, "Raids of the Ice", dt.date(2017, 4, 29)), (12, "Echoes of June", dt.date(2026, 6, 12))],
    "actors": [(2, "Chris Pine", 45, "male"), (5, "Gal Gadot", 41, "female")],
    "castings": [(7, "Raids of the Ice", dt.date(2017, 4, 29), 2, "Chris Pine", "Kirk", 1),
                 (7, "Raids of the Ice", dt.date(2017, 4, 29), 5, "Gal Gadot", None, None)],
}


def _file(kind: str, media: str, *, end: bool = True) -> str:
    writer = Writer(LAYOUTS[kind].columns, media)
    rows = _SAMPLES[kind]
    return (writer.header() + writer.rows(rows) + (writer.end(len(rows)) if end else b"")).decode()


_EXPORT_HELP = {
    CSV: "RFC 4180 in UTF-8, with a header row; a cell that would start a spreadsheet formula (=, +, -, @, a tab "
         "or a carriage return) starts with a single quote. The last line is `#end,ROWS`",
    NDJSON: "One JSON object a line, in the columns of the CSV (null for an empty cell), raw. The last line is "
            '`{"end":true,"rows":ROWS}`',
}
_IMPORT_HELP = {
    CSV: "The export's columns, in any order, with a header row; a UTF-8 byte order mark is skipped. A cell "
         "starting a formula is refused unless it carries the export's quote, which is taken off",
    NDJSON: "One JSON object a line, with the export's keys (null or absent: an empty cell)",
}

# By kind, the content of an export's 200: each media type with its schema and example.
EXPORTED = {kind: {media: {"schema": {"type": "string", "description": _EXPORT_HELP[media]},
                           "example": _file(kind, media)} for media in (CSV, NDJSON)} for kind in LAYOUTS}
# The content of an import's body.
IMPORTED = {media: {"schema": {"type": "string", "description": _IMPORT_HELP[media]},
                    "example": _file("actors", media, end=False)} for media in (CSV, NDJSON)}

# An import's own wording of these statuses.
ERROR_EXAMPLES = {
    400: "request body line 2: a quoted cell that starts on this line is never closed",
    413: TOO_LARGE,
    415: FILE_UNSUPPORTED,
}
