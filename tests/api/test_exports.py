"""GET /movies/export, /actors/export and /castings/export (docs/import-export.md): the import's columns in CSV or
NDJSON, chosen by format or Accept, with the lists' filters and sort, safe to open in a spreadsheet, an ETag from
the catalogue version, the reads' permissions and rate limit; and an export imports back as it is."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest

from tests.api.test_imports import CSV, NDJSON, outcome, uploader
from tests.utils.asserters import assert_error
from tests.utils.records import new_actor, new_movie


@pytest.fixture
def api(api):
    """The producer's calls, each answer read whole and closed: an export left unread holds its snapshot (on
    SQLite, the database's read lock) until it is closed, as a server closes every answer."""

    def call(method: str, path: str, **kwargs):
        response = api(method, path, **kwargs)
        response.get_data()
        response.close()
        return response

    return call


def rows_of(response) -> list[list[str]]:
    """A CSV answer's records, its end line included."""
    return list(csv.reader(io.StringIO(response.get_data(as_text=True), newline="")))


def objects_of(response) -> list[dict]:
    return [json.loads(line) for line in response.get_data(as_text=True).splitlines()]


@pytest.fixture
def cast(api):
    """Two movies and three actors, two of them cast in the first movie with roles."""
    dev, mira, ravi = new_actor(api, "Dev Patel", 36, "male"), new_actor(api, "Mira Nair", 60, "female"), \
        new_actor(api, "Ravi Shah", 28, "male")
    first = new_movie(api, "Echoes of June", "2026-06-12", cast=[
        {"actor_id": dev["id"], "character": "Arjun", "billing": 1}, {"actor_id": mira["id"]}])
    second = new_movie(api, "Copper Sky", "2020-08-21", actor_ids=[ravi["id"]])
    return first, second, dev, mira, ravi


def test_each_export_is_a_csv_of_the_import_columns_ending_with_its_end_line(api, cast):
    first, second, dev, mira, ravi = cast
    today = dt.datetime.now(dt.UTC).date().isoformat()
    movies = api("GET", "/movies/export")
    assert movies.status_code == 200 and movies.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert movies.headers["Content-Disposition"] == f'attachment; filename="movies-{today}.csv"'
    assert movies.get_data(as_text=True) == (
        "id,title,release_date\r\n"
        f"{first['id']},Echoes of June,2026-06-12\r\n{second['id']},Copper Sky,2020-08-21\r\n#end,2,\r\n")
    assert rows_of(api("GET", "/actors/export")) == [
        ["id", "name", "age", "gender"], [str(dev["id"]), "Dev Patel", "36", "male"],
        [str(mira["id"]), "Mira Nair", "60", "female"], [str(ravi["id"]), "Ravi Shah", "28", "male"],
        ["#end", "3", "", ""]]
    castings = api("GET", "/castings/export")
    assert castings.headers["Content-Disposition"] == f'attachment; filename="castings-{today}.csv"'
    assert rows_of(castings) == [
        ["movie_id", "movie_title", "movie_release_date", "actor_id", "actor_name", "character", "billing"],
        [str(first["id"]), "Echoes of June", "2026-06-12", str(dev["id"]), "Dev Patel", "Arjun", "1"],
        [str(first["id"]), "Echoes of June", "2026-06-12", str(mira["id"]), "Mira Nair", "", ""],
        [str(second["id"]), "Copper Sky", "2020-08-21", str(ravi["id"]), "Ravi Shah", "", ""],
        ["#end", "3", "", "", "", "", ""]]


def test_ndjson_has_the_same_columns_raw_with_nulls_and_its_own_end_line(api, cast):
    first, _, dev, mira, _ = cast
    response = api("GET", "/castings/export?format=ndjson")
    assert response.headers["Content-Type"] == "application/x-ndjson"
    assert response.headers["Content-Disposition"].endswith('.ndjson"')
    objects = objects_of(response)
    assert objects[0] == {"movie_id": first["id"], "movie_title": "Echoes of June", "movie_release_date": "2026-06-12",
                          "actor_id": dev["id"], "actor_name": "Dev Patel", "character": "Arjun", "billing": 1}
    assert objects[1]["character"] is None and objects[1]["billing"] is None
    assert objects[-1] == {"end": True, "rows": 3}


@pytest.mark.parametrize(("accept", "query", "media"), [
    (None, "", CSV), ("*/*", "", CSV), ("text/*", "", CSV), ("application/x-ndjson", "", NDJSON),
    ("text/csv;q=0.2, application/x-ndjson", "", NDJSON), ("application/json, text/csv;q=0.5", "", CSV),
    ("application/x-ndjson", "?format=csv", CSV), ("application/json", "?format=ndjson", NDJSON),
])
def test_format_wins_over_accept_which_chooses_else_csv(api, accept, query, media):
    response = api("GET", f"/movies/export{query}", headers={"Accept": accept} if accept else {})
    assert response.status_code == 200 and response.mimetype == media
    assert "Accept" in response.headers["Vary"]


def test_an_accept_that_allows_neither_format_is_a_406(api):
    refused = assert_error(api("GET", "/actors/export", headers={"Accept": "application/json"}), 406)
    assert "format=csv" in refused["message"]
    assert_error(api("GET", "/actors/export?format=xlsx"), 400, "format")


def test_the_lists_filters_and_sort_apply_and_paging_does_not(api, cast):
    first, second, dev, mira, ravi = cast
    by_title = rows_of(api("GET", "/movies/export?sort=-title&released_after=2020-01-01"))
    assert [row[1] for row in by_title[1:-1]] == ["Echoes of June", "Copper Sky"]
    assert [row[1] for row in rows_of(api("GET", "/movies/export?q=copper"))[1:-1]] == ["Copper Sky"]
    assert [row[1] for row in rows_of(api("GET", f"/movies/export?actor_id={ravi['id']}"))[1:-1]] == ["Copper Sky"]
    actors = rows_of(api("GET", "/actors/export?gender=MALE&sort=-age"))
    assert [row[1] for row in actors[1:-1]] == ["Dev Patel", "Ravi Shah"]
    assert [row[1] for row in rows_of(api("GET", f"/actors/export?movie_id={first['id']}&min_age=40"))[1:-1]] == [
        "Mira Nair"]
    assert [row[4] for row in rows_of(api("GET", "/castings/export?character=arj"))[1:-1]] == ["Dev Patel"]
    assert [row[4] for row in rows_of(api("GET", f"/castings/export?movie_id={second['id']}"))[1:-1]] == ["Ravi Shah"]
    assert [row[1] for row in rows_of(api("GET", f"/castings/export?actor_id={mira['id']}"))[1:-1]] == [
        "Echoes of June"]
    for paging in ("page=1", "per_page=5", "cursor=abc"):
        assert_error(api("GET", f"/movies/export?{paging}"), 400, paging.split("=")[0])


def test_cells_that_would_start_a_formula_are_quoted_in_csv_and_raw_in_ndjson(api):
    titles = ["=HYPERLINK(\"http://x\",\"y\")", "+1", "-ism", "@home", "'=already", "'Tis", "Salt, and \"Signal\""]
    for title in titles:
        new_movie(api, title, "2020-01-01")
    exported = [row[1] for row in rows_of(api("GET", "/movies/export"))[1:-1]]
    assert exported == ["'=HYPERLINK(\"http://x\",\"y\")", "'+1", "'-ism", "'@home", "''=already", "'Tis",
                        "Salt, and \"Signal\""]
    assert '"Salt, and ""Signal"""' in api("GET", "/movies/export").get_data(as_text=True)  # RFC 4180 quoting
    assert [item["title"] for item in objects_of(api("GET", "/movies/export?format=ndjson"))[:-1]] == titles
    actors = rows_of(api("GET", "/castings/export"))
    assert actors == [actors[0], ["#end", "0", "", "", "", "", ""]]


def test_an_unchanged_catalogue_is_a_304_per_format_and_any_write_changes_the_etag(api, cast):
    csv_answer = api("GET", "/movies/export")
    ndjson_answer = api("GET", "/movies/export", headers={"Accept": NDJSON})
    assert csv_answer.headers["ETag"] != ndjson_answer.headers["ETag"]  # two representations of one URL
    again = api("GET", "/movies/export", headers={"If-None-Match": csv_answer.headers["ETag"]})
    assert again.status_code == 304 and again.headers["ETag"] == csv_answer.headers["ETag"] and not again.data
    assert api("GET", "/movies/export", headers={"If-None-Match": csv_answer.headers["ETag"],
                                                 "Accept": NDJSON}).status_code == 200
    other_sort = api("GET", "/movies/export?sort=-id", headers={"If-None-Match": csv_answer.headers["ETag"]})
    assert other_sort.status_code == 200
    new_actor(api, "Someone Else")  # an actor: the catalogue version moves, for every export
    changed = api("GET", "/movies/export", headers={"If-None-Match": csv_answer.headers["ETag"]})
    assert changed.status_code == 200 and changed.headers["ETag"] != csv_answer.headers["ETag"]


def test_head_answers_the_headers_without_the_file(api, cast):
    response = api("HEAD", "/actors/export")
    assert response.status_code == 200 and response.data == b""
    assert response.headers["ETag"] == api("GET", "/actors/export").headers["ETag"]
    assert response.headers["Content-Disposition"].startswith("attachment;")


@pytest.mark.parametrize(("path", "permission"), [("/movies/export", "get:movies"), ("/actors/export", "get:actors"),
                                                   ("/castings/export", "get:movies")])
def test_exports_need_the_permission_of_reading_what_they_hold(client, issuer, path, permission):
    assert_error(client.get(path), 401)
    others = [p for p in ("get:movies", "get:actors") if p != permission]
    lacking = client.get(path, headers={"Authorization": "Bearer " + issuer.mint("casting-assistant",
                                                                                 permissions=others)})
    assert permission in assert_error(lacking, 403)["message"]
    with client.get(path, headers={"Authorization": "Bearer " + issuer.mint("casting-assistant")}) as assistant:
        assert assistant.status_code == 200


def test_public_reads_open_the_exports_too(make_app, _schema, issuer):
    public = make_app(PUBLIC_READS=True).test_client()
    for path in ("/movies/export", "/actors/export", "/castings/export"):
        with public.get(path) as response:
            assert response.status_code == 200, path
            assert response.headers["Cache-Control"] == "no-cache"  # a cache revalidates it each time
    token = {"Authorization": "Bearer " + issuer.mint("casting-assistant")}
    with public.get("/movies/export", headers=token) as response:
        assert response.headers["Cache-Control"] == "no-store"


def test_exports_are_rate_limited_as_reads(make_app, _schema, issuer):
    limited = make_app(RATELIMIT_ENABLED=True, RATE_LIMIT_READS="2/minute").test_client()
    token = {"Authorization": "Bearer " + issuer.mint("casting-assistant", sub="exports|rate")}
    with limited.get("/movies/export", headers=token) as first:
        assert first.status_code == 200 and first.headers["X-RateLimit-Limit"] == "2"
    assert limited.get("/movies", headers=token).status_code == 200  # one budget with the lists
    refused = limited.get("/actors/export", headers=token)
    assert_error(refused, 429)
    assert int(refused.headers["Retry-After"]) >= 1


# --- round trips ---------------------------------------------------------------------------------------------


@pytest.fixture
def upload(client, producer):
    return uploader(client, producer)


@pytest.mark.parametrize("fmt", ["csv", "ndjson"])
@pytest.mark.parametrize("match", ["natural", "id"])
def test_an_export_imports_back_as_it_is(api, upload, fmt, match):
    """Every kind exported and imported again: every row unchanged, no history entry, the catalogue version where
    it was (the lists still answer 304), formulas, quotes, commas and accents included."""
    titles = ["=1+1", "'Tis", "-ism", "Salt, and \"Signal\"", "Amélie", "@home"]
    movies = [new_movie(api, title, f"20{10 + n}-01-0{n + 1}") for n, title in enumerate(titles)]
    actors = [new_actor(api, name, 30 + n, gender) for n, (name, gender) in
              enumerate([("+Plus", "non-binary"), ("Lupita Nyong'o", "female"), ("Zoë, Kravitz", "female")])]
    api("PUT", f"/movies/{movies[0]['id']}/cast", json={"cast": [
        {"actor_id": actors[0]["id"], "character": "=Self", "billing": 2},
        {"actor_id": actors[1]["id"], "character": "Nakia, \"the spy\""}, {"actor_id": actors[2]["id"], "billing": 7}]})
    api("PUT", f"/movies/{movies[1]['id']}/actors/{actors[1]['id']}")
    etag = api("GET", "/movies").headers["ETag"]
    entries = api("GET", "/history").json["total"]
    media = {"csv": CSV, "ndjson": NDJSON}[fmt]
    for kind, count in (("movies", 6), ("actors", 3), ("castings", 4)):
        exported = api("GET", f"/{kind}/export?format={fmt}")
        report = outcome(upload(kind, exported.get_data(), media, match=match))
        assert (report["rows"], report["unchanged"], report["created"], report["updated"]) == (count, count, 0, 0)
    assert api("GET", "/history").json["total"] == entries
    assert api("GET", "/movies", headers={"If-None-Match": etag}).status_code == 304


def test_an_edited_export_changes_exactly_what_was_edited(api, upload, cast):
    first, second, dev, mira, ravi = cast
    text = api("GET", "/actors/export").get_data(as_text=True).replace("Mira Nair,60", "Mira Nair,61")
    report = outcome(upload("actors", text, match="id"))
    assert (report["updated"], report["unchanged"], report["created"]) == (1, 2, 0)
    [entry] = api("GET", f"/history?request_id={report['request_id']}").json["history"]
    assert entry["record"] == {"type": "actor", "id": mira["id"]} and entry["after"]["age"] == 61
