"""Statements whose number does not grow with the rows they read or write (an import's): the rows travel as one
JSON parameter that the database unfolds into a table, PostgreSQL with json_to_recordset, SQLite with
json_each, so that 100,000 new actors are one INSERT, their changes one UPDATE and a lookup by 100,000 names
one SELECT (SQLite, which takes at most 32,766 parameters a statement, could not even run an IN list of
them). The database parses the JSON in C; one statement is what the import costs in round trips. PostgreSQL's
biggest write, an import's new records, takes its rows by COPY instead (`copied`)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import (
    JSON,
    Column,
    ColumnElement,
    FromClause,
    MetaData,
    Table,
    bindparam,
    column,
    delete,
    func,
    insert,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy import cast as cast_to

from models import db


def _postgresql() -> bool:
    return db.engine.dialect.name == "postgresql"


def _encode(value):
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not a value of a row")


def recordset(columns: list, rows: list[dict]) -> FromClause:
    """`rows` (dicts by column name) as a table with `columns` (each a name and a type), from one bound JSON
    parameter."""
    if not _postgresql():
        return _sqlite_recordset(columns, rows)
    payload = bindparam(None, json.dumps(rows, default=_encode, ensure_ascii=False, separators=(",", ":")))
    return (func.json_to_recordset(cast_to(payload, JSON))
            .table_valued(*(column(c.name, c.type) for c in columns))
            .render_derived(name="rows", with_types=True))


def _sqlite_recordset(columns: list, rows: list[dict]) -> FromClause:
    """SQLite keeps dates and times as text in SQLAlchemy's own format: values go in already in it."""
    dialect = db.engine.dialect
    processors = {}
    for c in columns:
        if not isinstance(c.type, JSON):  # JSON values go in as JSON, which json_extract hands back as its text
            processor = c.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                processors[c.name] = processor
    if processors:
        rows = [{**row, **{name: process(row[name]) for name, process in processors.items() if name in row}}
                for row in rows]
    payload = bindparam(None, json.dumps(rows, default=_encode, ensure_ascii=False, separators=(",", ":")))
    each = func.json_each(payload).table_valued("value")
    return select(*(func.json_extract(each.c.value, f"$.{c.name}").label(c.name) for c in columns)).subquery("rows")


def copy_rows(table: str, rows: Iterable[Sequence], columns: Sequence[str] = (),
              force_null: Sequence[str] = ()) -> None:
    """PostgreSQL: `rows` (each the values of `columns` in order, or of all the table's) into the table `table` (its
    name as SQL), with one COPY in the session's transaction. Text is quoted, so that an empty one stays text (an
    unquoted empty cell is NULL); numbers bare, dates ISO. None is written as a quoted empty cell, which only the
    `force_null` columns read as NULL (a text column would read ''); the cursor is closed after."""
    data = io.StringIO()
    csv.writer(data, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n").writerows(rows)
    data.seek(0)
    listed = f" ({', '.join(columns)})" if columns else ""
    options = f", FORCE_NULL ({', '.join(force_null)})" if force_null else ""
    cursor = db.session.connection().connection.driver_connection.cursor()
    try:
        cursor.copy_expert(f"COPY {table}{listed} FROM STDIN WITH (FORMAT csv{options})", data)
    finally:
        cursor.close()


@contextmanager
def copied(source: Table, names: list[str], rows: list[dict]) -> Iterator[Table]:
    """PostgreSQL: `rows` (dicts by column name) as a temporary table with the columns `names` of `source`, sent
    with one COPY (about half the time the JSON parameter takes to be encoded, sent and unfolded, at 100,000
    new records) and dropped after. Read whole, it gives the rows in their order: a heap filled in one go, read by
    the session that owns it (no synchronized or parallel scan of a temporary table). No value is None (see
    copy_rows): new records' fields are all given."""
    staged = Table(f"staged_{source.name}", MetaData(), *(Column(name, source.c[name].type) for name in names),
                   prefixes=["TEMPORARY"], postgresql_on_commit="DROP")
    connection = db.session.connection()
    staged.create(connection)
    quote = connection.dialect.identifier_preparer.quote
    copy_rows(quote(staged.name), ([row[name] for name in names] for row in rows), [quote(name) for name in names])
    yield staged
    staged.drop(connection)


def among(target: ColumnElement, values) -> ColumnElement[bool]:
    """`target IN values`, with the values as one parameter, however many there are."""
    rows = recordset([column("value", target.type)], [{"value": value} for value in values])
    return target.in_(select(rows.c.value))


def pairs_among(first: ColumnElement, second: ColumnElement, pairs) -> ColumnElement[bool]:
    """`(first, second) IN pairs`, with the pairs as one parameter."""
    rows = recordset([column("a", first.type), column("b", second.type)], [{"a": a, "b": b} for a, b in pairs])
    return tuple_(first, second).in_(select(rows.c.a, rows.c.b))


def insert_rows(table: Table, rows: list[dict], constants: dict | None = None) -> None:
    """One INSERT of every row (dicts with the same keys, columns of `table`), each also with `constants` (values
    the same for every row, sent once: a history entry's time, subject and request id)."""
    if not rows:
        return
    constants = constants or {}
    columns = [table.c[name] for name in rows[0]]
    source = recordset(columns, rows)
    names = [c.name for c in columns]
    values = [bindparam(None, value, type_=table.c[name].type) for name, value in constants.items()]
    db.session.execute(insert(table).from_select([*constants, *names],
                                                 select(*values, *(source.c[name] for name in names))))


def update_rows(table: Table, rows: list[dict], key: str = "id") -> None:
    """One UPDATE setting each row's columns on the row of `table` whose `key` it names."""
    if not rows:
        return
    columns = [table.c[name] for name in rows[0]]
    source = recordset(columns, rows)
    db.session.execute(update(table).where(table.c[key] == source.c[key])
                       .values({c.name: source.c[c.name] for c in columns if c.name != key}))


def delete_pairs(table: Table, first: str, second: str, pairs) -> None:
    """One DELETE of the rows of `table` whose (`first`, `second`) is among `pairs`."""
    if pairs:
        db.session.execute(delete(table).where(pairs_among(table.c[first], table.c[second], pairs)))


def new_ids(table: Table, count: int) -> list[int]:
    """`count` ids for new rows of `table`, never given before: from its sequence on PostgreSQL (one statement);
    on SQLite from the highest id it ever gave (AUTOINCREMENT's sqlite_sequence), under the write lock every
    SQLite write holds."""
    if count == 0:
        return []
    if _postgresql():
        sequence = func.pg_get_serial_sequence(table.name, "id")
        ids = db.session.scalars(select(func.nextval(sequence)).select_from(func.generate_series(1, count)))
        return sorted(ids)
    given = db.session.scalar(text("SELECT seq FROM sqlite_sequence WHERE name = :table"), {"table": table.name})
    highest = max(given or 0, db.session.scalar(select(func.max(table.c.id))) or 0)
    return list(range(highest + 1, highest + count + 1))
