"""POST /imports (docs/import-export.md): a file of movies, actors or castings checked by the JSON writes' rules,
matched by id or natural key, written all or nothing with its history, or only checked (a dry run); its
permissions, its Idempotency-Key, and a constant number of statements however many rows."""

from __future__ import annotations

import json

import pytest

from tests.utils.asserters import assert_error
from tests.utils.records import new_actor, new_movie, row_counts

CSV, NDJSON = "text/csv", "application/x-ndjson"


def csv_text(*lines: str) -> str:
    return "".join(line + "\r\n" for line in lines)


def ndjson_text(*objects: dict) -> str:
    return "".join(json.dumps(item) + "\n" for item in objects)


def uploader(client, default_headers: dict):
    """send(kind, body, media=CSV, headers=..., **query) -> the answer of POST /imports?type=kind&..."""

    def send(kind: str, body: str | bytes, media: str = CSV, headers: dict | None = None, **query):
        params = "&".join(f"{k}={v}" for k, v in {"type": kind, **query}.items())
        data = body.encode() if isinstance(body, str) else body
        return client.post(f"/imports?{params}", data=data,
                           headers={**(default_headers if headers is None else headers), "Content-Type": media})

    return send


@pytest.fixture
def upload(client, producer):
    return uploader(client, producer)


def outcome(response, status: int = 200) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    return response.json["import"]


def counts(report: dict) -> tuple[int, int, int, int]:
    return report["rows"], report["created"], report["updated"], report["unchanged"]


def problems(report: dict) -> list[tuple[int, str | None, str]]:
    return [(p["line"], p["column"], p["message"]) for p in report["problems"]]


def entries(api, **filters) -> list[dict]:
    query = "&".join(f"{k}={v}" for k, v in filters.items())
    return api("GET", f"/history?per_page=100&{query}").json["history"]


# --- what an import does -----------------------------------------------------------------------------------


def test_a_file_creates_its_records_and_the_same_file_again_changes_nothing(api, upload):
    body = csv_text("title,release_date", "Raids of the Ice,2017-04-29", "  Echoes of June ,2026-06-12")
    first = outcome(upload("movies", body))
    assert counts(first) == (2, 2, 0, 0) and first["problems"] == [] and first["dry_run"] is False
    listed = api("GET", "/movies?sort=title").json["movies"]
    assert [(m["title"], m["release_date"]) for m in listed] == [("Echoes of June", "2026-06-12"),
                                                                 ("Raids of the Ice", "2017-04-29")]
    again = outcome(upload("movies", body))
    assert counts(again) == (2, 0, 0, 2)
    assert api("GET", "/movies").json["total"] == 2  # matched by title and release date: nothing twice
    # Every record it created has its entry, under the import's request id; the second import wrote none.
    made = entries(api, request_id=first["request_id"])
    assert sorted((e["action"], e["record"]["id"]) for e in made) == sorted(("created", m["id"]) for m in listed)
    assert entries(api, request_id=again["request_id"]) == []
    assert {e["after"]["title"] for e in made} == {"Raids of the Ice", "Echoes of June"}


def test_an_import_answers_with_its_request_id_and_history_finds_it_by_that(api, upload):
    response = upload("actors", csv_text("name,age,gender", "Dev Patel,36,male"), headers=None)
    report = outcome(response)
    assert report["request_id"] == response.headers["X-Request-ID"]
    [entry] = entries(api, request_id=report["request_id"])
    assert entry["action"] == "created" and entry["after"] == {"name": "Dev Patel", "age": 36, "gender": "male",
                                                                "movie_ids": [], "movies": []}
    assert entry["subject"] == "local|executive-producer"
    assert_error(api("GET", "/history?request_id=not%20an%20id"), 400, "request_id")


@pytest.mark.parametrize(("kind", "body", "single"), [
    ("movies", {"title": "Raids of the Ice", "release_date": "2017-04-29"}, "/movies"),
    ("actors", {"name": "Gal Gadot", "age": 41, "gender": "female"}, "/actors"),
])
def test_an_imported_records_entry_is_the_one_a_single_create_writes(api, upload, kind, body, single):
    api("POST", single, json=body)
    [by_post] = api("GET", "/history").json["history"]
    renamed = {**body, **({"title": "Copper Sky"} if kind == "movies" else {"name": "Dev Patel"})}
    report = outcome(upload(kind, csv_text(",".join(renamed), ",".join(str(v) for v in renamed.values()))))
    [by_import] = entries(api, request_id=report["request_id"])
    assert {k: by_import[k] for k in ("action", "before", "subject", "by")} == {
        k: by_post[k] for k in ("action", "before", "subject", "by")}
    assert by_import["after"] == {**by_post["after"], **renamed}
    assert list(by_import["after"]) == list(by_post["after"])  # the same keys, in the same order
    assert by_import["record"]["type"] == by_post["record"]["type"] and "other" not in by_import


def test_actors_are_matched_by_name_and_their_age_and_gender_are_updated(api, upload):
    dev = new_actor(api, "Dev Patel", 36, "male")
    report = outcome(upload("actors", csv_text("name,age,gender", "Dev Patel,37,male", "Mira Nair,60,female")))
    assert counts(report) == (2, 1, 1, 0)
    assert api("GET", f"/actors/{dev['id']}").json["actor"]["age"] == 37
    [created, updated] = sorted(entries(api, request_id=report["request_id"]), key=lambda e: e["action"])
    assert updated["action"] == "updated" and updated["record"]["id"] == dev["id"]
    assert (updated["before"]["age"], updated["after"]["age"]) == (36, 37)


def test_a_name_two_actors_share_is_refused_with_their_ids_under_natural_keys(api, upload):
    first, second = new_actor(api, "Chris Pine"), new_actor(api, "Chris Pine")
    report = outcome(upload("actors", csv_text("name,age,gender", "Chris Pine,46,male")), 422)
    assert problems(report) == [(2, "name", f"matches 2 actors (ids {first['id']}, {second['id']}): import with "
                                            "match=id to say which")]
    by_id = outcome(upload("actors", csv_text("id,name,age,gender", f"{second['id']},Chris Pine,46,male"),
                           match="id"))
    assert counts(by_id) == (1, 0, 1, 0)
    assert api("GET", f"/actors/{first['id']}").json["actor"]["age"] == 45


def test_by_id_a_row_updates_its_record_an_empty_id_creates_and_an_unknown_id_is_a_problem(api, upload):
    movie = new_movie(api, "Raids of the Ice", "2017-04-29")
    body = csv_text("id,title,release_date", f"{movie['id']},Raids of the Ice II,2017-04-29", ",Copper Sky,2020-08-21")
    report = outcome(upload("movies", body, match="id"))
    assert counts(report) == (2, 1, 1, 0)
    assert api("GET", f"/movies/{movie['id']}").json["movie"]["title"] == "Raids of the Ice II"
    missing = outcome(upload("movies", csv_text("id,title,release_date", "999,Ghost,2020-01-01"), match="id"), 422)
    assert problems(missing) == [(2, "id", "no movie with id 999")]
    assert api("GET", "/movies").json["total"] == 2


def test_ids_of_another_deployment_are_ignored_under_natural_keys(api, upload):
    body = csv_text("id,title,release_date", "9999,Raids of the Ice,2017-04-29")
    report = outcome(upload("movies", body))
    assert counts(report) == (1, 1, 0, 0)
    [movie] = api("GET", "/movies").json["movies"]
    assert movie["id"] != 9999


def test_ndjson_rows_are_json_objects_with_the_same_columns(api, upload):
    body = ndjson_text({"id": None, "name": "Riz Ahmed", "age": 44, "gender": "male"},
                       {"name": "=Cmd|' /C calc'!A0", "age": 30.0, "gender": "male"})
    report = outcome(upload("actors", body, NDJSON))
    assert counts(report) == (2, 2, 0, 0)
    names = {a["name"] for a in api("GET", "/actors").json["actors"]}
    assert names == {"Riz Ahmed", "=Cmd|' /C calc'!A0"}  # NDJSON is raw: JSON strings are text, never formulas
    bad = ndjson_text({"name": "A", "age": "30", "gender": "x"}, {"name": "B", "age": 1, "gender": "x", "role": 1},
                      {"name": "C", "age": 1.5, "gender": "x"})
    refused = outcome(upload("actors", bad + "[1]\nnot json\n" + '{"name": "D", "name": "E"}\n', NDJSON), 422)
    assert problems(refused) == [(1, "age", "must be an integer"), (2, "role", "is not a known field"),
                                 (3, "age", "must be an integer"), (4, None, "must be a JSON object"),
                                 (5, None, "is not valid JSON"), (6, "name", "must appear only once")]


# --- castings ------------------------------------------------------------------------------------------------


CASTING_HEADER = "movie_title,movie_release_date,actor_name,character,billing"


def test_castings_name_their_movie_and_actor_by_natural_key_or_id(api, upload):
    movie = new_movie(api, "Raids of the Ice", "2017-04-29")
    chris, gal = new_actor(api, "Chris Pine"), new_actor(api, "Gal Gadot", 41, "female")
    body = csv_text(CASTING_HEADER, "Raids of the Ice,2017-04-29,Chris Pine,Kirk,1",
                    "Raids of the Ice,2017-04-29,Gal Gadot,,")
    report = outcome(upload("castings", body))
    assert counts(report) == (2, 2, 0, 0)
    assert api("GET", f"/movies/{movie['id']}").json["movie"]["actors"] == [
        {"id": chris["id"], "name": "Chris Pine", "character": "Kirk", "billing": 1},
        {"id": gal["id"], "name": "Gal Gadot"}]
    # The casting states its role whole: empty cells clear a character and a billing.
    by_id = csv_text("movie_id,actor_id,character,billing", f"{movie['id']},{chris['id']},,",
                     f"{movie['id']},{gal['id']},Lin,1")
    changed = outcome(upload("castings", by_id, match="id"))
    assert counts(changed) == (2, 0, 2, 0)
    assert api("GET", f"/movies/{movie['id']}").json["movie"]["actors"] == [
        {"id": gal["id"], "name": "Gal Gadot", "character": "Lin", "billing": 1},
        {"id": chris["id"], "name": "Chris Pine"}]
    # One entry on the movie, and one on each actor naming the movie, as a whole-cast PUT writes them.
    made = entries(api, request_id=changed["request_id"])
    assert sorted((e["action"], e["record"]["type"], e["record"]["id"]) for e in made) == sorted([
        ("updated", "movie", movie["id"]), ("updated", "actor", chris["id"]), ("updated", "actor", gal["id"])])
    assert all(e["other"]["id"] == movie["id"] for e in made if e["record"]["type"] == "actor")


def test_casting_references_that_find_nothing_or_twice_are_problems(app, api, upload):
    new_movie(api, "Raids of the Ice", "2017-04-29")
    new_actor(api, "Chris Pine")
    body = csv_text(CASTING_HEADER, "Raids of the Ice,2017-04-30,Chris Pine,,", "Raids of the Ice,2017-04-29,Nobody,,",
                    "Raids of the Ice,2017-04-29,Chris Pine,Kirk,", "Raids of the Ice,2017-04-29,Chris Pine,Jim,")
    report = outcome(upload("castings", body), 422)
    assert problems(report) == [
        (2, "movie_title", "no movie titled 'Raids of the Ice' released on 2017-04-30"),
        (3, "actor_name", "no actor named 'Nobody'"),
        (5, "actor_name", "names the same casting (movie 1, actor 1) as line 4: a file gives each casting once")]
    assert row_counts(app) == (1, 1, 0)


def test_billings_may_trade_places_in_one_file_but_never_collide(api, upload):
    a, b, c = (new_actor(api, name) for name in ("A", "B", "C"))
    billed = [{"actor_id": actor["id"], "billing": n} for n, actor in enumerate((a, b, c), start=1)]
    movie = new_movie(api, "M", "2020-01-01", cast=billed)
    header = "movie_id,actor_id,character,billing"
    swapped = outcome(upload("castings", csv_text(header, f"{movie['id']},{a['id']},,2", f"{movie['id']},{b['id']},,1"),
                             match="id"))
    assert counts(swapped) == (2, 0, 2, 0)
    cast = api("GET", f"/movies/{movie['id']}").json["movie"]["actors"]
    assert [x["id"] for x in cast] == [b["id"], a["id"], c["id"]]
    held = outcome(upload("castings", csv_text(header, f"{movie['id']},{a['id']},,3"), match="id"), 422)
    assert problems(held) == [(2, "billing", f"3 is held by actor {c['id']} in movie {movie['id']}: to reorder the "
                                             "cast, give that casting another billing in the same file")]
    twice = outcome(upload("castings", csv_text(header, f"{movie['id']},{a['id']},,5", f"{movie['id']},{c['id']},,5"),
                           match="id"), 422)
    assert problems(twice) == [(3, "billing", f"must not give two castings of movie {movie['id']} the same billing "
                                              "(line 2 gives 5 too)")]


# --- all or nothing, dry runs, retries ---------------------------------------------------------------------


def test_a_bad_last_row_writes_nothing_and_the_report_says_what_would_have_happened(app, api, upload):
    new_actor(api, "Row 1", 20, "female")
    lines = [f"Row {i},{20 + i % 50},female" for i in range(1, 301)] + ["Row 301,151,female"]
    before = api("GET", "/actors")
    history_before = api("GET", "/history").json["total"]
    report = outcome(upload("actors", csv_text("name,age,gender", *lines)), 422)
    assert counts(report) == (301, 299, 1, 0)  # the valid rows' would-be counts
    assert problems(report) == [(302, "age", "must be less than or equal to 150")]
    assert row_counts(app) == (0, 1, 0)
    assert api("GET", "/history").json["total"] == history_before
    after = api("GET", "/actors", headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 304  # the catalogue version did not move


def test_a_dry_run_checks_and_counts_and_writes_nothing(app, api, upload):
    new_actor(api, "Dev Patel", 36, "male")
    etag = api("GET", "/actors").headers["ETag"]
    body = csv_text("name,age,gender", "Dev Patel,37,male", "Mira Nair,60,female", "Dev Patel,36,male")
    refused = outcome(upload("actors", body, dry_run="true"), 422)
    assert refused["dry_run"] is True and counts(refused) == (3, 1, 1, 0)
    assert problems(refused) == [(4, "name", "names the same actor as line 2 (by name): a file gives each actor once")]
    clean = outcome(upload("actors", csv_text("name,age,gender", "Dev Patel,37,male", "Mira Nair,60,female"),
                           dry_run="true"))
    assert clean["dry_run"] is True and counts(clean) == (2, 1, 1, 0)
    assert row_counts(app) == (0, 1, 0)
    assert api("GET", "/actors", headers={"If-None-Match": etag}).status_code == 304
    assert entries(api, request_id=clean["request_id"]) == []
    assert [a["age"] for a in api("GET", "/actors").json["actors"]] == [36]


def test_an_idempotency_key_replays_the_first_answer_and_imports_once(api, upload, producer):
    body = csv_text("title,release_date", "Raids of the Ice,2017-04-29")
    keyed = {**producer, "Idempotency-Key": "import-1"}
    first = upload("movies", body, headers=keyed)
    assert first.status_code == 200 and "Idempotent-Replayed" not in first.headers
    replay = upload("movies", body, headers=keyed)
    assert replay.status_code == 200 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json == first.json  # the first outcome: "created": 1, not "unchanged": 1
    assert api("GET", "/movies").json["total"] == 1
    assert len(entries(api, request_id=first.json["import"]["request_id"])) == 1
    other = upload("movies", csv_text("title,release_date", "Copper Sky,2020-08-21"), headers=keyed)
    assert_error(other, 422, "Idempotency-Key")
    # A refused file's 422 is kept too: the same bytes again get it again, and still write nothing.
    bad = csv_text("title,release_date", ",2020-01-01")
    once = upload("movies", bad, headers={**producer, "Idempotency-Key": "import-2"})
    twice = upload("movies", bad, headers={**producer, "Idempotency-Key": "import-2"})
    assert once.status_code == twice.status_code == 422 and twice.headers["Idempotent-Replayed"] == "true"


def test_an_if_match_on_an_import_is_a_412_as_on_every_create(upload, producer):
    response = upload("movies", csv_text("title,release_date", "T,2020-01-01"), headers={**producer, "If-Match": "*"})
    assert_error(response, 412)


# --- permissions ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("role", "kind", "body", "status"), [
    ("casting-assistant", "movies", "title,release_date\r\nT,2020-01-01\r\n", 403),
    ("casting-assistant", "actors", "name,age,gender\r\nN,1,x\r\n", 403),
    ("casting-assistant", "castings", "movie_id,actor_id,character,billing\r\n1,1,,\r\n", 403),
    ("casting-director", "movies", "title,release_date\r\nT,2020-01-01\r\n", 403),
    ("casting-director", "actors", "name,age,gender\r\nN,1,x\r\n", 200),
    ("executive-producer", "movies", "title,release_date\r\nT,2020-01-01\r\n", 200),
])
def test_each_kind_needs_the_permission_its_single_writes_need(app, headers, upload, role, kind, body, status):
    response = upload(kind, body, headers=headers(role), match="id" if kind == "castings" else "natural")
    if status == 403:
        refused = assert_error(response, 403)
        needed = {"movies": "post:movies", "actors": "post:actors", "castings": "patch:movies"}[kind]
        assert needed in refused["message"]
        assert row_counts(app) == (0, 0, 0)
    else:
        assert response.status_code == status, response.json


def test_changing_existing_records_also_needs_the_patch_permission(app, api, upload, issuer):
    new_actor(api, "Dev Patel", 36, "male")
    creator = {"Authorization": "Bearer " + issuer.mint("casting-director", permissions=["post:actors"])}
    created = outcome(upload("actors", csv_text("name,age,gender", "Mira Nair,60,female"), headers=creator))
    assert created["created"] == 1
    refused = assert_error(upload("actors", csv_text("name,age,gender", "Dev Patel,37,male"), headers=creator), 403)
    assert "patch:actors" in refused["message"] and "1 existing actors" in refused["message"]
    assert [a["age"] for a in api("GET", "/actors?q=Dev").json["actors"]] == [36]


def test_no_token_is_a_401_and_a_bad_type_a_400(client, upload):
    assert_error(client.post("/imports?type=movies", data=b"title,release_date\r\n", content_type=CSV), 401)
    assert_error(upload("directors", "x"), 400, "type")
    assert_error(upload("movies", "title,release_date\r\n", match="title"), 400, "match")
    assert_error(upload("movies", "title,release_date\r\n", dry_run="yes"), 400, "dry_run")


# --- statements --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["movies", "actors", "castings"])
def test_the_statements_of_an_import_do_not_grow_with_its_rows(api, upload, count_statements, kind):
    def file(first: int, size: int) -> str:
        if kind == "movies":
            return csv_text("title,release_date", *(f"Movie {i},2020-01-01" for i in range(first, first + size)))
        if kind == "actors":
            return csv_text("name,age,gender", *(f"Actor {i},30,female" for i in range(first, first + size)))
        rows = (f"Movie {i},2020-01-01,Actor {i},Role {i},1" for i in range(first, first + size))
        return csv_text(CASTING_HEADER, *rows)

    if kind == "castings":  # the movies and actors they name
        outcome(upload("movies", csv_text("title,release_date", *(f"Movie {i},2020-01-01" for i in range(450)))))
        outcome(upload("actors", csv_text("name,age,gender", *(f"Actor {i},30,female" for i in range(450)))))
    seen = []
    for first, size in ((0, 5), (50, 400)):
        with count_statements() as statements:
            report = outcome(upload(kind, file(first, size)))
        assert report["created"] == size
        seen.append(statements())
    assert seen[0] == seen[1], seen
    with count_statements() as statements:  # the same 400 again: all unchanged, still the same statements or fewer
        assert outcome(upload(kind, file(50, 400)))["unchanged"] == 400
    assert statements() <= seen[1]


# --- castings written in SQL (PostgreSQL) ------------------------------------------------------------------


def test_castings_written_in_sql_have_the_very_entries_the_python_path_writes(app, api, upload, monkeypatch):
    """PostgreSQL writes an import's castings and builds their entries in SQL (casting/catalogue/castings_sql.py);
    the same file imported the Python way (SQLite's) from the same casts gives the same entries, in the same
    order: new castings, changed roles, billings trading places, an actor cast in three movies of the file (each
    entry starting where the one before ended), castings the file does not name (on movies before and after those
    it names), and a row left as it is."""
    from casting.catalogue import imports
    from models import db

    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("SQLite writes castings the Python way only")
    a, b, c, d, e = (new_actor(api, name, 30 + n, ("female", "male", "non-binary")[n % 3])
                     for n, name in enumerate(("Ana", "Ben", "Cy", "Dee", "Eve")))
    m1, m2, m3, m4, m5 = (new_movie(api, title, f"202{n}-01-01") for n, title in enumerate(("One", "Two", "Three",
                                                                                            "Four", "Five")))
    casts = {m1["id"]: [{"actor_id": a["id"], "character": "Old", "billing": 1}, {"actor_id": e["id"]}],
             m2["id"]: [{"actor_id": b["id"], "billing": 1}],
             m3["id"]: [{"actor_id": d["id"], "character": "Dee", "billing": 2}], m4["id"]: [],
             # (Five: castings the file leaves alone, on a movie after every one the file names)
             m5["id"]: [{"actor_id": a["id"], "character": "Later", "billing": 1}, {"actor_id": c["id"]}]}
    rows = [(m3, a, "", ""), (m1, a, "New", 2), (m1, b, "", 1), (m2, a, "Ace", ""), (m2, b, "Bee", 3),
            (m3, c, "Sea", 1), (m2, c, "", ""), (m1, e, "", ""), (m4, e, "Eve", 1)]  # (Four: no cast before)
    body = csv_text("movie_id,actor_id,character,billing",
                    *(f"{m['id']},{x['id']},{character},{billing}" for m, x, character, billing in rows))

    def imported(in_sql: bool) -> list[tuple]:
        for movie, cast in casts.items():  # the same casts before each import
            assert api("PUT", f"/movies/{movie}/cast", json={"cast": cast}).status_code == 200
        monkeypatch.setattr(imports, "IN_SQL", in_sql)
        report = outcome(upload("castings", body, match="id"))
        assert counts(report) == (9, 6, 2, 1)
        made = entries(api, request_id=report["request_id"])
        shown = [api("GET", f"/{kind}/{x['id']}").json[kind[:-1]] for kind, x in
                 (("movies", m1), ("movies", m2), ("movies", m3), ("movies", m4), ("actors", a), ("actors", b),
                  ("actors", c), ("actors", e))]
        return [(x["action"], x["record"], x["before"], x["after"], x.get("other")) for x in made], shown

    by_python, shown_by_python = imported(False)
    in_sql, shown_in_sql = imported(True)
    assert len(by_python) == 4 + 8 and in_sql == by_python
    assert shown_in_sql == shown_by_python
    # The chain: Ana's entries, oldest first, each starting where the one before ended.
    ana = [(before, after) for action, record, before, after, _ in reversed(in_sql) if record["id"] == a["id"]
           and record["type"] == "actor"]
    assert [after["movie_ids"] for _, after in ana] == [[m1["id"], m5["id"]], [m1["id"], m2["id"], m5["id"]],
                                                        [m1["id"], m2["id"], m3["id"], m5["id"]]]
    assert ana[0][0]["movies"] == [{"id": m1["id"], "title": "One", "character": "Old", "billing": 1},
                                   {"id": m5["id"], "title": "Five", "character": "Later", "billing": 1}]
    assert all(ana[n][1] == ana[n + 1][0] for n in range(len(ana) - 1))
