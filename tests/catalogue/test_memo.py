"""Remembered totals and anchors (casting/catalogue/memo.py): cheaper, never different. A change made outside the
API still changes list ETags, a remembered total is never stale, apps on two databases never share what they
remember, and deep pages started from anchors are the pages counted the long way."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from models import db
from tests.utils.postgres import migrate
from tests.utils.records import new_actor, new_movie


def test_a_change_made_outside_the_api_changes_list_etags_too(api, app):
    new_movie(api, "Seen")
    tag = api("GET", "/movies").headers["ETag"]
    with app.app_context():
        db.session.execute(text("INSERT INTO movies (title, release_date) VALUES ('Sneaked in', '2020-01-01')"))
        db.session.commit()
    fresh = api("GET", "/movies", headers={"If-None-Match": tag})
    assert fresh.status_code == 200 and fresh.json["total"] == 2


def test_a_remembered_total_is_never_stale(api, app):
    for i in range(6):
        new_movie(api, f"Night {i}")
    assert api("GET", "/movies?q=night").json["total"] == 6
    assert api("GET", "/movies?q=night").json["total"] == 6  # remembered
    with app.app_context():  # a change the API did not make
        db.session.execute(text("DELETE FROM movies WHERE title = 'Night 0'"))
        db.session.commit()
    assert api("GET", "/movies?q=night").json["total"] == 5
    new_movie(api, "Night 7")
    assert api("GET", "/movies?q=night&sort=-title").json["total"] == 6


def test_apps_on_two_databases_never_share_what_they_remember(app, make_app, pg, local_pem, producer, monkeypatch):
    """Catalogue versions of two databases are not comparable: anchors remembered for one database, at the
    version the other happens to be at too, must not place the other's deep pages (one memo per app)."""
    from casting.catalogue import postgres_page

    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("anchors serve the single-statement list of PostgreSQL")
    monkeypatch.setattr(postgres_page, "ANCHOR_EVERY", 4)
    other_url = pg.create_database()
    migrate(other_url, local_pem)
    other = make_app(SQLALCHEMY_DATABASE_URI=other_url)
    for built, prefix in ((app, "A"), (other, "B")):
        with built.app_context():
            db.session.execute(text("INSERT INTO movies (title, release_date) "
                                    "SELECT :prefix || ' ' || lpad(i::text, 2, '0'), DATE '2020-01-01' "
                                    "FROM generate_series(1, 40) AS i"), {"prefix": prefix})
            db.session.execute(text("UPDATE catalogue_version SET version = 424242 WHERE id = 1"))
            db.session.commit()
    deep = "/movies?sort=title&per_page=3&page=12"
    assert [m["title"] for m in app.test_client().get(deep, headers=producer).json["movies"]] == \
        ["A 34", "A 35", "A 36"]
    try:
        titles = [m["title"] for m in other.test_client().get(deep, headers=producer).json["movies"]]
        assert titles == ["B 34", "B 35", "B 36"]
    finally:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.mark.parametrize("sort", ["id", "-id", "title", "-release_date"])
def test_deep_pages_from_anchors_are_the_pages_counted_the_long_way(api, app, monkeypatch, sort):
    from casting.catalogue import memo, postgres_page

    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("anchors serve the single-statement list of PostgreSQL")
    monkeypatch.setattr(postgres_page, "ANCHOR_EVERY", 4)
    remembered = app.extensions["list_memo"] = memo.VersionMemo()
    for i in range(40):
        new_movie(api, f"Anchored {i % 7}", f"2020-01-{1 + i % 9:02d}")

    def pages():
        return [api("GET", f"/movies?sort={sort}&per_page=3&page={n}").json for n in range(1, 15)]

    anchored = pages()
    monkeypatch.setattr(postgres_page, "ANCHOR_EVERY", 10_000)  # never deep enough: the plain OFFSET
    plain = pages()
    assert anchored == plain
    assert remembered.get(("anchors", "movies", sort)) is not None
    monkeypatch.setattr(postgres_page, "ANCHOR_EVERY", 4)
    api("DELETE", f"/movies/{plain[0]['movies'][0]['id']}")  # every page shifts by one row
    remembered.anchor_builds.clear()
    shifted = pages()
    monkeypatch.setattr(postgres_page, "ANCHOR_EVERY", 10_000)
    assert shifted == pages()


def _postgres_only(app):
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("match sets serve the single-statement list of PostgreSQL")


def _searchable_catalogue(api):
    """Movies titled Night or Day, with castings named Quinn or not, on dates that tie; the actors' ids."""
    actors = [new_actor(api, f"Actor {i}", 30 + i)["id"] for i in range(6)]
    for i in range(17):
        title = f"{'Night' if i % 4 else 'Day'} {i % 5}"
        cast = [{"actor_id": actors[i % 6], "character": "Detective Quinn" if i % 3 else "The Stranger"},
                {"actor_id": actors[(i + 1) % 6], "character": "Man in Bar"}]
        new_movie(api, title, f"2020-01-{1 + i % 6:02d}", cast=cast)
    return actors


def _read(api, path: str) -> list:
    """Pages 1..8 of `path` by number (three a page), then its walk by cursor to the end and back."""
    pages = [api("GET", f"{path}&per_page=3&page={n}").json for n in range(1, 9)]
    walk, cursor = [], pages[0]["next_cursor"]
    for _ in range(10):
        if cursor is None:
            break
        walk.append(api("GET", f"{path}&per_page=3&cursor={cursor}").json)
        cursor = walk[-1]["next_cursor"]
    cursor = walk[-1]["prev_cursor"] if walk else None
    for _ in range(10):
        if cursor is None:
            break
        walk.append(api("GET", f"{path}&per_page=3&cursor={cursor}").json)
        cursor = walk[-1]["prev_cursor"]
    assert all(page.get("success") for page in pages + walk)
    return pages + walk


SEARCHES = ["/movies?q=night", "/movies?character=quinn", "/actors?character=quinn", "/movies?q=ight&character=quinn",
            "/actors/{actor}/movies?q=ight"]


@pytest.mark.parametrize("sort", ["id", "-id", "title", "-release_date"])
@pytest.mark.parametrize("search", SEARCHES)
def test_a_search_read_by_id_from_its_match_set_is_the_search_read_the_long_way(api, app, monkeypatch, sort,
                                                                                   search):
    from casting.catalogue import memo, postgres_page

    _postgres_only(app)
    remembered = memo.VersionMemo()
    monkeypatch.setitem(app.extensions, "list_memo", remembered)
    actors = _searchable_catalogue(api)
    search = search.format(actor=actors[1])
    served = []
    page_of = postgres_page._page_of
    monkeypatch.setattr(postgres_page, "_page_of", lambda *a: served.append(page_of(*a)) or served[-1])
    if search.startswith("/actors?") and sort in ("title", "-release_date"):
        sort = {"title": "name", "-release_date": "-age"}[sort]
    path = f"{search}&sort={sort}"
    from_matches = _read(api, path)
    assert any(isinstance(s, tuple) for s in served)  # pages were read by id
    assert len(remembered.matches) == 1
    monkeypatch.setattr(postgres_page, "SEARCH_FILTERS", frozenset())  # the long way, for every page
    assert from_matches == _read(api, path)
    assert from_matches[0]["total"] > 3


@pytest.mark.parametrize("rebuild_seconds", [0.0, 3600.0])  # read again at once, or the long way meanwhile
def test_a_remembered_match_set_never_serves_a_stale_page(api, app, make_app, producer, monkeypatch,
                                                          rebuild_seconds):
    """A write through another instance (its own memo), or made in SQL, is seen by the next page at once."""
    from casting.catalogue import postgres_page

    _postgres_only(app)
    monkeypatch.setattr(postgres_page, "MATCHES_REBUILD_SECONDS", rebuild_seconds)
    for i in range(6):
        new_movie(api, f"Night {i}")
    other = make_app()

    def titles(page=1):
        answer = api("GET", f"/movies?q=night&per_page=2&page={page}").json
        return answer["total"], [m["title"] for m in answer["movies"]]

    assert titles(2) == (6, ["Night 2", "Night 3"])
    assert titles(2) == (6, ["Night 2", "Night 3"])  # read by id
    try:
        created = other.test_client().post("/movies", headers=producer,
                                           json={"title": "Night 9", "release_date": "2020-01-01"})
        assert created.status_code == 201
        assert titles(4) == (7, ["Night 9"])
        with app.app_context():  # changes the API did not make
            db.session.execute(text("UPDATE movies SET title = 'Day' WHERE title = 'Night 2'"))
            db.session.commit()
        assert titles(2) == (6, ["Night 3", "Night 4"])
        with app.app_context():
            db.session.execute(text("DELETE FROM movies WHERE title = 'Night 0'"))
            db.session.commit()
        assert titles(1) == (5, ["Night 1", "Night 3"])
        assert titles(3) == (5, ["Night 9"])
    finally:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()


def test_match_sets_stay_within_their_bound_and_pages_past_a_kept_prefix_are_read_the_long_way(api, app,
                                                                                                 monkeypatch):
    from casting.catalogue import memo, postgres_page

    _postgres_only(app)
    remembered = memo.VersionMemo()
    remembered.matches = memo.MatchSets(per_entry=4, in_all=10, entries=3)
    monkeypatch.setitem(app.extensions, "list_memo", remembered)
    for i in range(9):
        new_movie(api, f"Night {i}")
    searches = ["/movies?q=night", "/movies?q=nig", "/movies?q=ght", "/movies?q=n", "/movies?q=ni"]
    kept = {}
    for search in searches:
        kept[search] = [api("GET", f"{search}&per_page=2&page={n}").json for n in range(1, 6)]
        assert remembered.matches.ids_kept <= 10 and len(remembered.matches) <= 3
    for found in remembered.matches._sets.values():
        assert len(found.ids) == 4 and found.total == 9 and not found.complete
    monkeypatch.setattr(postgres_page, "SEARCH_FILTERS", frozenset())
    for search in searches:
        assert kept[search] == [api("GET", f"{search}&per_page=2&page={n}").json for n in range(1, 6)]
    assert [m["title"] for m in kept["/movies?q=night"][4]["movies"]] == ["Night 8"]


def test_match_sets_forget_the_least_recently_used_first():
    from array import array

    from casting.catalogue.memo import Matches, MatchSets

    sets = MatchSets(per_entry=5, in_all=8, entries=10)
    sets.put(("a",), Matches(1, 5, array("i", range(5))))
    sets.put(("b",), Matches(1, 3, array("i", range(3))))
    assert sets.get(("a",)) is not None  # a is now the most recently used
    sets.put(("c",), Matches(1, 2, array("i", range(2))))
    assert sets.get(("b",)) is None and sets.ids_kept == 7 and len(sets) == 2
    with pytest.raises(ValueError):
        sets.put(("d",), Matches(1, 6, array("i", range(6))))
