"""Cursors (casting/catalogue/cursors.py): walking every list forwards and backwards, for every sort (with ties),
with filters; what a cursor refuses; and a deep cursor costing what the first page costs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re

import pytest
from sqlalchemy import event, text

from models import db
from tests.utils.asserters import assert_error
from tests.utils.records import new_actor, new_movie

MOVIE_SORTS = ["id", "-id", "title", "-title", "release_date", "-release_date"]
ACTOR_SORTS = ["id", "-id", "name", "-name", "age", "-age"]


@pytest.fixture
def crowd(api):
    """23 movies and 17 actors with many ties in every sort field."""
    actors = [new_actor(api, f"Actor {i % 4}", 30 + i % 3, "f" if i % 2 else "m")["id"] for i in range(17)]
    movies = [new_movie(api, f"Title {i % 5}", f"2020-0{1 + i % 3}-01", actor_ids=actors[i % 4: i % 4 + 2])["id"]
              for i in range(23)]
    return movies, actors


def walk(api, path: str, per_page: int, start: str = "next"):
    """Every page of a list, following next_cursor from the first page (or prev_cursor from the last)."""
    separator = "&" if "?" in path else "?"
    first = api("GET", f"{path}{separator}per_page={per_page}")
    assert first.status_code == 200, first.json
    total = first.json["total"]
    pages = [first.json]
    if start == "prev":
        last_page = max(1, -(-total // per_page))
        pages = [api("GET", f"{path}{separator}per_page={per_page}&page={last_page}").json]
    for _ in range(100):
        cursor = pages[-1][f"{start}_cursor"]
        if cursor is None:
            break
        response = api("GET", f"{path}{separator}per_page={per_page}&cursor={cursor}")
        assert response.status_code == 200, response.json
        pages.append(response.json)
    return pages if start == "next" else list(reversed(pages))


@pytest.mark.parametrize("kind,sorts", [("movies", MOVIE_SORTS), ("actors", ACTOR_SORTS)])
def test_walking_by_cursor_either_way_gives_exactly_the_pages_by_number(api, crowd, kind, sorts):
    for sort in sorts:
        path = f"/{kind}?sort={sort}"
        by_number = [api("GET", f"{path}&per_page=4&page={n}").json[kind] for n in range(1, 8)]
        for start in ("next", "prev"):
            pages = walk(api, path, 4, start)
            assert [page[kind] for page in pages] == [p for p in by_number if p], (sort, start)
            assert [page["page"] for page in pages] == list(range(1, len(pages) + 1)), (sort, start)
            assert pages[0]["prev_cursor"] is None and pages[-1]["next_cursor"] is None
            assert all(page["total"] == pages[0]["total"] for page in pages)


def test_cursors_keep_the_filters_and_the_link_header_carries_them(api, crowd):
    movies, actors = crowd
    path = f"/movies?q=title 1&released_after=2020-01-15&actor_id={actors[1]}"
    pages = walk(api, path, 1)
    expected = [m for page in (api("GET", f"{path}&per_page=100").json,) for m in page["movies"]]
    assert [m for page in pages for m in page["movies"]] == expected and len(expected) >= 2
    response = api("GET", f"{path}&per_page=1")
    link = response.headers["Link"]
    assert re.fullmatch(r'</movies\?[^>]*cursor=[A-Za-z0-9_-]+>; rel="next"', link), link
    assert "q=title+1" in link and "released_after=2020-01-15" in link and "page=" not in link.replace("per_page", "")
    second = api("GET", link[1:link.index(">")])
    assert second.status_code == 200 and second.json["movies"] == expected[1:2]
    assert 'rel="prev"' in second.headers["Link"]
    assert ('rel="next"' in second.headers["Link"]) == (len(expected) > 2)
    last = api("GET", f"{path}&per_page=1&page={len(expected)}")
    assert last.headers["Link"].endswith('rel="prev"') and 'rel="next"' not in last.headers["Link"]


def test_a_page_past_the_end_and_an_empty_list_have_no_cursors(api, crowd):
    past = api("GET", "/movies?page=99").json
    assert past["movies"] == [] and past["total"] == 23 and past["next_cursor"] is None
    assert past["prev_cursor"] is None
    empty = api("GET", "/actors?q=nobody-at-all").json
    assert empty["actors"] == [] and empty["next_cursor"] is None and empty["prev_cursor"] is None
    assert "Link" not in api("GET", "/actors?q=nobody-at-all").headers


def test_the_history_walks_by_cursor_too(api, crowd):
    pages = walk(api, "/history", 7)
    by_page = api("GET", "/history?per_page=100").json["history"]
    assert [e for page in pages for e in page["history"]] == by_page
    back = walk(api, "/history", 7, "prev")
    assert [e for page in back for e in page["history"]] == by_page


def tampered(cursor: str, **changes) -> str:
    """The cursor with `changes` made to its JSON, behind the tag the server made for the original."""
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    tag, data = raw[:16], json.loads(raw[16:])
    data.update(changes)
    return base64.urlsafe_b64encode(tag + json.dumps(data).encode()).decode().rstrip("=")


def test_what_a_cursor_refuses(api, crowd):
    cursor = api("GET", "/movies?per_page=5&sort=title").json["next_cursor"]
    assert_error(api("GET", f"/movies?per_page=5&sort=title&cursor={cursor}&page=2"), 400, "cursor")
    for other in ("/movies?per_page=5&sort=-title", "/movies?per_page=6&sort=title",
                  "/movies?per_page=5&sort=title&q=x", "/actors?per_page=5&sort=name"):
        body = assert_error(api("GET", f"{other}&cursor={cursor}"), 400, "cursor")
        assert "another list" in body["message"] or "not a cursor" in body["message"], (other, body)
    for bad in ("not-base64!", "e30", "x" * 2049, tampered(cursor), tampered(cursor, k=["Title 1"]),
                tampered(cursor, k=[1, 2]),
                tampered(cursor, d="sideways"), tampered(cursor, p=0), tampered(cursor, v=2)):
        assert_error(api("GET", f"/movies?per_page=5&sort=title&cursor={bad}"), 400, "cursor")
    assert api("GET", f"/movies?per_page=5&sort=title&cursor={cursor}").status_code == 200


def test_a_deep_cursor_page_costs_what_the_first_one_costs(api, app, count_statements):
    """Keyset pagination: the page after a cursor is found by the sort keys, not by counting the rows
    before it (on PostgreSQL the plan has no OFFSET past zero rows)."""
    for i in range(30):
        new_movie(api, f"Deep {i:02d}")
    first = api("GET", "/movies?per_page=2&sort=title")
    cursor = first.json["next_cursor"]
    for _ in range(12):
        cursor = api("GET", f"/movies?per_page=2&sort=title&cursor={cursor}").json["next_cursor"]
    with count_statements() as shallow:
        api("GET", "/movies?per_page=2&sort=title")
    offsets = []

    def offset_of(conn, cursor, statement, parameters, *args):
        if "LIMIT" in statement.upper() and isinstance(parameters, dict) and "offset" in parameters:
            offsets.append(parameters["offset"])
        elif "LIMIT" in statement.upper() and isinstance(parameters, tuple):
            offsets.append(parameters[-1])  # SQLite: LIMIT ? OFFSET ?

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", offset_of)
    try:
        with count_statements() as deep:
            deep_page = api("GET", f"/movies?per_page=2&sort=title&cursor={cursor}")
    finally:
        event.remove(engine, "before_cursor_execute", offset_of)
    assert shallow() == deep()
    assert offsets == [0], offsets  # found by its keys: no row before it is read
    assert [m["title"] for m in deep_page.json["movies"]] == ["Deep 26", "Deep 27"]
    assert deep_page.json["page"] == 14


# --- forged cursors (issue 21): whatever a cursor holds, a 400 naming `cursor`, never a 500 -----------------------


def signed(app, cursor: str, **changes) -> str:
    """The cursor with `changes` made to its JSON and signed again with the database's own cursor key (table
    server_keys), as only someone holding that key could: what its keys say is still checked."""
    with app.app_context():
        secret = bytes(db.session.execute(text("SELECT secret FROM server_keys WHERE name = 'cursors'")).scalar_one())
        db.session.remove()
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    data = json.loads(raw[16:])
    data.update(changes)
    payload = json.dumps(data).encode()  # ensure_ascii: a lone surrogate travels as its \ud800 escape
    tag = hmac.new(secret, payload, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(tag + payload).decode().rstrip("=")


def untagged(cursor: str) -> str:
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    return base64.urlsafe_b64encode(raw[16:]).decode().rstrip("=")


def flipped(cursor: str, position: int) -> str:
    """The cursor with one bit of its raw bytes flipped at `position` (negative: from the end)."""
    raw = bytearray(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    raw[position] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")


# What the text rules refuse in a title or a name, and what no database column of a key can hold.
FORGED_KEYS = {"NUL": "Title\x001", "lone surrogate": "Title \ud800", "overlong": "T" * 201,
               "bidi override": "\u202eTitle", "tag character": "Title \U000e0041", "U+FFF9": "Title \ufff9",
               "a number for a text key": 7, "a list": ["Title 1"]}


@pytest.fixture
def public_app(make_app, built_apps):
    built = make_app(PUBLIC_READS=True)
    built_apps.append(built)
    return built


@pytest.mark.parametrize("path,key", [("/movies?per_page=2&sort=title", "movies"),
                                      ("/actors?per_page=2&sort=name", "actors")])
@pytest.mark.parametrize("token", [True, False], ids=["token", "no-token"])
def test_forged_cursors_are_a_400_naming_cursor_never_a_500(app, public_app, crowd, producer, path, key, token):
    """On PostgreSQL a NUL in a key failed in the driver (a 500 with a traceback, without a token under
    PUBLIC_READS); on SQLite a lone surrogate did. Tampered cursors fail their tag; cursors signed with the
    server's own key but holding what no title may hold fail the key check."""
    client = public_app.test_client()
    sent = producer if token else {}
    first = client.get(path, headers=sent)
    assert first.status_code == 200, first.json
    cursor = first.json["next_cursor"]
    assert cursor and client.get(f"{path}&cursor={cursor}", headers=sent).status_code == 200
    forged = {**{f"signed, {name}": signed(app, cursor, k=[value, 1]) for name, value in FORGED_KEYS.items()},
              **{f"tampered, {name}": tampered(cursor, k=[value, 1]) for name, value in FORGED_KEYS.items()},
              "tag flipped": flipped(cursor, 0), "payload flipped": flipped(cursor, -3),
              "tag cut": cursor[:20], "no tag": untagged(cursor),
              "signed, page 10**30": signed(app, cursor, p=10**30), "signed, page 0": signed(app, cursor, p=0),
              "signed, a key too many": signed(app, cursor, k=["Title 1", 1, 2])}
    for name, bad in forged.items():
        response = client.get(f"{path}&cursor={bad}", headers=sent)
        body = assert_error(response, 400, "cursor")
        assert "cursor" in body["message"], (name, body)
        assert "1000000000000000000000000000000" not in response.get_data(as_text=True), name
    assert client.get(f"{path}&cursor={cursor}", headers=sent).status_code == 200  # the server's own still reads


def test_a_signed_cursor_with_a_key_of_the_right_kind_still_reads(app, api, crowd):
    """The forgeries above are refused for what they hold, not for being re-signed: the same key, storable, reads."""
    cursor = api("GET", "/movies?per_page=2&sort=title").json["next_cursor"]
    again = api("GET", f"/movies?per_page=2&sort=title&cursor={signed(app, cursor, k=['Title 1', 10**6])}")
    assert again.status_code == 200, again.json
    assert [m["title"] for m in again.json["movies"]] == ["Title 2", "Title 2"]


def test_a_huge_page_number_is_not_echoed(api, crowd):
    response = api("GET", f"/movies?page={10**30}")
    body = assert_error(response, 400, "page")
    assert "1000000000000000000000000000000" not in response.get_data(as_text=True), body


def test_walking_back_to_the_start_after_a_delete_labels_the_first_page_1(api, crowd):
    """Page 3's prev_cursor leads to page 2; once six rows before it are deleted, the walk back reaches the start
    of the list there: that page is page 1 (with no prev_cursor), not page 2."""
    movies, _actors = crowd
    third = api("GET", "/movies?per_page=5&page=3").json
    assert third["page"] == 3 and [m["id"] for m in third["movies"]] == movies[10:15]
    for movie_id in movies[:6]:
        assert api("DELETE", f"/movies/{movie_id}").status_code == 200
    back = api("GET", f"/movies?per_page=5&cursor={third['prev_cursor']}").json
    assert [m["id"] for m in back["movies"]] == movies[6:10]
    assert back["page"] == 1 and back["prev_cursor"] is None
    onward = api("GET", f"/movies?per_page=5&cursor={back['next_cursor']}").json
    assert onward["page"] == 2 and [m["id"] for m in onward["movies"]] == movies[10:15]
