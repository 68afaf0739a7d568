"""Remembered totals and anchors (casting/catalogue/memo.py): cheaper, never different. A change made outside the
API still changes list ETags, a remembered total is never stale, apps on two databases never share what they
remember, and deep pages started from anchors are the pages counted the long way."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from models import db
from tests.utils.postgres import migrate
from tests.utils.records import new_movie


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
