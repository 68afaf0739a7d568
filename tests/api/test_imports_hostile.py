"""Hostile and broken files at POST /imports: each a clear 4xx naming the line (and the column) at fault, nothing
written, never a 500; the formulas a spreadsheet would run, and the export's own quoted form of them; the size
limits, refused before the body is read."""

from __future__ import annotations

import codecs
import io
import socket

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from casting.config import MAX_IMPORT_BYTES, MAX_IMPORT_ROWS
from tests.api.test_imports import CSV, NDJSON, csv_text, outcome, problems, uploader
from tests.utils.asserters import assert_error
from tests.utils.records import row_counts

HEADER = "title,release_date"


@pytest.fixture
def upload(client, producer):
    return uploader(client, producer)


def titles(api) -> list[str]:
    return sorted(movie["title"] for movie in api("GET", "/movies?per_page=100").json["movies"])


# --- encodings and bytes -------------------------------------------------------------------------------------


def test_a_utf8_byte_order_mark_is_skipped_as_excel_writes_one(api, upload):
    body = codecs.BOM_UTF8 + csv_text(HEADER, "Amélie,2001-04-25").encode()
    assert outcome(upload("movies", body))["created"] == 1
    assert titles(api) == ["Amélie"]


@pytest.mark.parametrize(("encoding", "line"), [("utf-16", None), ("utf-16-le", 1), ("utf-32", None),
                                                ("utf-32-be", 1)])
def test_utf16_and_utf32_are_refused_with_or_without_their_mark(app, upload, encoding, line):
    body = csv_text(HEADER, "Amélie,2001-04-25").encode(encoding)
    refused = assert_error(upload("movies", body), 400, "body")
    assert ("UTF-16 or UTF-32" in refused["message"]) if line is None else ("NUL byte" in refused["message"])
    assert row_counts(app) == (0, 0, 0)


def test_a_nul_byte_and_bytes_that_are_not_utf8_are_refused_naming_their_line(app, upload):
    nul = assert_error(upload("movies", csv_text(HEADER, "A,2020-01-01", "B\x00,2020-01-01").encode()), 400)
    assert nul["message"].startswith("request body line 3: holds a NUL byte")
    latin = assert_error(upload("movies", csv_text(HEADER, "A,2020-01-01", "Amélie,2001-04-25").encode("latin-1")), 400)
    assert latin["message"] == "request body line 3: is not UTF-8: save the file as UTF-8"
    assert row_counts(app) == (0, 0, 0)


def test_a_quote_left_open_is_refused_naming_the_line_it_opens_on(app, upload):
    body = csv_text(HEADER, "A,2020-01-01", '"Open, never closed,2020-01-01', "C,2020-01-01", "D,2020-01-01")
    refused = assert_error(upload("movies", body), 400, "body")
    assert refused["message"] == "request body line 3: a quoted cell that starts on this line is never closed"
    stray = assert_error(upload("movies", csv_text(HEADER, '"A"B,2020-01-01')), 400)
    assert stray["message"].startswith("request body line 2: is not CSV as RFC 4180 writes it")
    assert row_counts(app) == (0, 0, 0)


def test_quoted_cells_may_hold_commas_quotes_and_line_breaks_and_lines_count_from_where_rows_start(api, upload):
    body = csv_text(HEADER, '"Salt, and ""Signal""",2016-02-12', '"Two\r\nlines",2020-01-01', ",2020-01-01")
    report = outcome(upload("movies", body), 422)
    assert problems(report) == [(3, "title", "must not contain control characters (U+0000-U+001F, U+007F-U+009F: "
                                             "line breaks, tabs, escape sequences)"),
                                (5, "title", "is required")]
    assert outcome(upload("movies", csv_text(HEADER, '"Salt, and ""Signal""",2016-02-12')))["created"] == 1
    assert titles(api) == ['Salt, and "Signal"']


# --- shapes --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("header", "expected"), [
    ("title", [(1, "release_date", "is required (match=natural)")]),
    ("title,release_date,rating", [(1, "rating", "is not a column of this file: id, title, release_date are")]),
    ("title,title,release_date", [(1, "title", "is given twice")]),
    ("title;release_date", [(1, None, "columns are separated by commas (RFC 4180), not semicolons: save the file as "
                                      "CSV with commas")]),
])
def test_a_header_without_the_columns_is_refused(app, upload, header, expected):
    report = outcome(upload("movies", csv_text(header, "T,2020-01-01,x")), 422)
    assert problems(report) == expected
    assert row_counts(app) == (0, 0, 0)


def test_an_empty_file_and_a_header_of_ten_thousand_columns_are_refused(app, upload):
    assert assert_error(upload("movies", b""), 400)["message"].startswith("request body the file is empty")
    wide = ",".join(["title", "release_date", *(f"c{i}" for i in range(9998))])
    report = outcome(upload("movies", csv_text(wide, "T,2020-01-01" + ",x" * 9998)), 422)
    assert report["problem_count"] == 11  # ten named, and one for the rest
    assert problems(report)[-1] == (1, None, "and 9,988 more columns this file does not have")
    by_id = outcome(upload("movies", csv_text("title,release_date", "T,2020-01-01" + ",x" * 9999)), 422)
    assert problems(by_id) == [(2, None, "has 10001 cells, and the header 2")]
    assert row_counts(app) == (0, 0, 0)


def test_ragged_rows_are_each_reported_and_blank_lines_skipped(app, upload):
    body = csv_text(HEADER, "A,2020-01-01", "", "B", "C,2020-01-01,extra", "D,2020-01-01", "")
    report = outcome(upload("movies", body), 422)
    assert problems(report) == [(4, None, "has 1 cells, and the header 2"), (5, None, "has 3 cells, and the header 2")]
    assert report["rows"] == 4 and report["created"] == 2
    assert row_counts(app) == (0, 0, 0)


def test_the_same_record_twice_in_a_file_names_both_lines(app, api, upload):
    body = csv_text(HEADER, "A,2020-01-01", "B,2020-01-01", "A,2020-01-01")
    assert problems(outcome(upload("movies", body), 422)) == [
        (4, "title", "names the same movie as line 2 (by title and release_date): a file gives each movie once")]
    by_id = csv_text("id,title,release_date", "7,A,2020-01-01", "7,B,2020-01-01")
    assert problems(outcome(upload("movies", by_id, match="id"), 422)) == [
        (2, "id", "no movie with id 7"),
        (3, "id", "names the same movie as line 2 (by id): a file gives each movie once")]
    assert row_counts(app) == (0, 0, 0)


def test_the_end_line_is_skipped_at_the_end_and_refused_anywhere_else(api, upload):
    assert outcome(upload("movies", csv_text(HEADER, "A,2020-01-01", "#end,1")))["rows"] == 1
    report = outcome(upload("movies", csv_text(HEADER, "B,2020-01-01", "#end,1", "C,2020-01-01")), 422)
    assert problems(report) == [(3, None, "the end-of-export line must be the file's last")]
    ndjson = '{"title": "D", "release_date": "2020-01-01"}\n{"end": true, "rows": 1}\n{"end": true, "rows": 2}\n'
    assert problems(outcome(upload("movies", ndjson, NDJSON), 422)) == [
        (2, None, "the end-of-export line must be the file's last")]
    assert titles(api) == ["A"]


# --- formulas ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("cell", "shown"), [("=1+1", "="), ("+1", "+"), ("-1", "-"), ("@SUM(A1)", "@"),
                                             ('"\tx"', "a tab"), ('"\rx"', "a carriage return")])
def test_a_cell_that_starts_a_formula_is_refused_unless_it_carries_the_quote(app, upload, cell, shown):
    report = outcome(upload("movies", csv_text(HEADER, f"{cell},2020-01-01")), 422)
    [(line, column, message)] = problems(report)
    assert (line, column) == (2, "title") and message.startswith(f"starts with {shown}, which a spreadsheet runs")
    assert row_counts(app) == (0, 0, 0)


@pytest.mark.parametrize(("cell", "stored"), [("'=1+1", "=1+1"), ("'-ism", "-ism"), ("'@home", "@home"),
                                              ("''=x", "'=x"), ("'Tis the Season", "'Tis the Season"),
                                              ("x=1", "x=1")])
def test_the_exports_quote_comes_off_and_other_quotes_stay(api, upload, cell, stored):
    assert outcome(upload("movies", csv_text(HEADER, f"{cell},2020-01-01")))["created"] == 1
    assert titles(api) == [stored]


def test_formulas_are_looked_for_in_text_columns_only(api, upload):
    report = outcome(upload("actors", csv_text("name,age,gender", "N,-1,x", "M,=1,y")), 422)
    assert problems(report) == [(2, "age", "must be greater than or equal to 0"), (3, "age", "must be an integer")]


# --- the rules, worded as the JSON writes word them ------------------------------------------------------------


@pytest.mark.parametrize(("column", "cell", "value"), [
    ("title", "x" * 201, "x" * 201), ("title", "\u202eevil", "\u202eevil"), ("title", "\u200b", "\u200b"),
    ("title", " ", " "), ("release_date", "2020-02-30", "2020-02-30"), ("release_date", "5/1/2020", "5/1/2020"),
])
def test_a_cell_breaking_a_rule_is_worded_as_the_json_write_words_it(api, upload, column, cell, value):
    row = {"title": "T", "release_date": "2020-01-01", column: value}
    json_answer = assert_error(api("POST", "/movies", json=row), 422, column)
    cells = {"title": "T", "release_date": "2020-01-01", column: cell}
    report = outcome(upload("movies", csv_text(HEADER, f'"{cells["title"]}",{cells["release_date"]}')), 422)
    assert problems(report) == [(2, column, json_answer["details"][column][0])]


@pytest.mark.parametrize(("cell", "value"), [("151", 151), ("-1", -1), ("abc", "abc"), ("30.5", "30.5"),
                                             ("1" * 30, 10**30)])
def test_an_age_breaking_a_rule_is_worded_as_the_json_write_words_it(api, upload, cell, value):
    json_answer = assert_error(api("POST", "/actors", json={"name": "N", "age": value, "gender": "x"}), 422, "age")
    report = outcome(upload("actors", csv_text("name,age,gender", f"N,{cell},x")), 422)
    assert problems(report) == [(2, "age", json_answer["details"]["age"][0])]


@pytest.mark.parametrize("cell", ["7", "007", "+7", "-7", "-0", "1" * 22, "1" * 23, "9" * 30, "\u00b2", "\u0661\u0662",
                                  "\uff17", "7.0", "1_000", "0x1f", "abc"])
def test_a_csv_integer_cell_of_plain_digits_reads_as_the_integer_pattern_reads_it(cell):
    """Plain ASCII digits skip the pattern (tabular._csv_rows' fast path): the same value either way."""
    from casting.catalogue import tabular
    from casting.schemas.rows import ACTORS

    read = list(tabular.rows(f"name,age,gender\nN,{cell},x\n".encode(), tabular.CSV, ACTORS, "natural", []))
    assert read == [(2, {"name": "N", "age": tabular._integer(cell) if tabular._INTEGER.fullmatch(cell) else cell,
                         "gender": "x"})]


# --- content types and sizes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("content_type", "extra"), [
    ("application/json", {}), ("text/plain", {}), ("text/csv; charset=utf-16", {}),
    ("text/csv", {"Content-Encoding": "gzip"}), (None, {}),
])
def test_a_body_that_is_not_a_utf8_file_is_a_415(app, client, producer, content_type, extra):
    headers = {**producer, **extra, **({"Content-Type": content_type} if content_type else {})}
    response = client.post("/imports?type=movies", data=b"title,release_date\r\nT,2020-01-01\r\n", headers=headers)
    assert_error(response, 415)
    assert response.headers["Accept-Encoding"] == "identity"
    assert row_counts(app) == (0, 0, 0)


class Sized(io.RawIOBase):
    """A body of `size` bytes to the test client, which measures a body by seeking to its end."""

    size = 0
    _at = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        self._at = self.size if whence == 2 else offset
        return self._at

    def tell(self) -> int:
        return self._at


class Untouchable(Sized):
    """A request body that must not be read: a test fails if anything reads it."""

    def __init__(self):
        self.read_from = False

    def readinto(self, buffer) -> int:
        self.read_from = True
        raise AssertionError("the body was read")


def test_a_declared_gigabyte_is_a_413_before_a_byte_is_read(app, client, producer):
    body = Untouchable()
    response = client.post("/imports?type=movies", input_stream=body, headers={**producer, "Content-Type": CSV},
                           environ_overrides={"CONTENT_LENGTH": str(10**9)})
    refused = assert_error(response, 413)
    assert "flask import" in refused["message"] and "20 MiB" in refused["message"]
    assert body.read_from is False
    assert row_counts(app) == (0, 0, 0)


class Counting(Sized):
    """A chunked body of `size` bytes (a valid file padded with blank lines), counting what is read of it."""

    def __init__(self, size: int):
        self.head = csv_text(HEADER, "Padded,2020-01-01").encode()
        self.size, self.given = size, 0

    def readinto(self, buffer) -> int:
        count = min(len(buffer), self.size - self.given)
        chunk = (self.head[self.given:] + b"\r\n" * count)[:count] if self.given < len(self.head) else b"\n" * count
        buffer[:count] = chunk
        self.given += count
        return count


@pytest.mark.parametrize(("size", "status"), [(MAX_IMPORT_BYTES, 200), (MAX_IMPORT_BYTES + 1, 413),
                                              (50 * 2**20, 413)])
def test_a_chunked_body_is_read_up_to_the_limit_and_refused_one_byte_past_it(app, api, client, producer, size, status):
    body = Counting(size)
    # A chunked request has no Content-Length (werkzeug reads none beside Transfer-Encoding), and its server
    # marks the end of the body.
    response = client.post("/imports?type=movies", input_stream=body, environ_overrides={"wsgi.input_terminated": True},
                           headers={**producer, "Content-Type": CSV, "Transfer-Encoding": "chunked"})
    assert body.given <= MAX_IMPORT_BYTES + 1  # reading stopped at the limit
    if status == 200:
        assert outcome(response)["created"] == 1
    else:
        assert "flask import" in assert_error(response, 413)["message"]
        assert row_counts(app) == (0, 0, 0)


def test_more_rows_than_an_http_import_takes_is_a_413_that_points_to_the_command_line(app, upload):
    body = csv_text("name,age,gender", *(["N,1,x"] * (MAX_IMPORT_ROWS + 1)))
    refused = assert_error(upload("actors", body), 413)
    assert "100,000 rows" in refused["message"] and "flask import" in refused["message"]
    assert row_counts(app) == (0, 0, 0)


# --- anything else: never a 500 --------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(body=st.one_of(st.binary(max_size=300), st.text(alphabet='ab,"\r\n\t=\x00é\ufeff;{}:1-', max_size=120)),
       kind=st.sampled_from(["movies", "actors", "castings"]), media=st.sampled_from([CSV, NDJSON]),
       match=st.sampled_from(["natural", "id"]))
def test_any_body_gets_a_clear_answer_never_a_500(client, producer, body, kind, media, match):
    data = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    response = client.post(f"/imports?type={kind}&match={match}&dry_run=true", data=data,
                           headers={**producer, "Content-Type": media})
    assert response.status_code in (200, 400, 413, 422), (response.status_code, data, response.get_data()[:300])
    assert response.json["success"] is (response.status_code == 200)


def test_gunicorn_answers_a_declared_gigabyte_with_a_413_without_waiting_for_it(gunicorn, local_issuer):
    """For real: only the headers are sent, announcing 1 GB; the answer comes without a byte of the body."""
    token = local_issuer.mint("executive-producer")
    host, port = gunicorn.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall((f"POST /imports?type=movies HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
                      f"Content-Type: text/csv\r\nContent-Length: {10**9}\r\n\r\n").encode())
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), answer[:300]
    assert b"flask import" in body


def test_an_ndjson_number_of_five_thousand_digits_is_out_of_range_not_unreadable(upload):
    """As in JSON bodies: Python would refuse to read it (4,300 digits at most); it stands in as too large."""
    line = '{"name": "N", "age": ' + "9" * 5000 + ', "gender": "x"}\n'
    report = outcome(upload("actors", line, NDJSON), 422)
    assert problems(report) == [(1, "age", "must be less than or equal to 150")]
