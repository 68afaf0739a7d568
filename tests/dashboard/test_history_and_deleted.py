"""History and undo in the page, in Chromium: a profile's history in words (with the changer and local time), a long
history twenty changes at a time, and restoring what was deleted (and being told when someone was first); an
assistant sees neither."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest

from casting.catalogue import history
from tests.dashboard.pages import (
    SHORT_ROLE,
    SOMEONE,
    UUID,
    VIEWPORTS,
    axe_violations,
    call,
    deleted_names,
    expect,
    open_deleted,
    open_movie,
    overflow,
    record_writes,
    settle,
    shoot,
    sign_in,
    stored,
    stray_text,
)
from tests.utils.records import new_actor, new_movie

TIME_ZONE = "Europe/Paris"


def shown_at(at: str) -> str:
    """An entry's `at` as the page shows it in TIME_ZONE: "28 November 2026, 16:05"."""
    moment = dt.datetime.fromisoformat(at.replace("Z", "+00:00")).astimezone(ZoneInfo(TIME_ZONE))
    return f"{moment.day} {moment:%B} {moment.year}, {moment:%H:%M}"


def times(client, producer, path: str) -> list[str]:
    """The times of a record's history, newest first, as the page shows them."""
    entries = call(client, producer, "GET", f"{path}/history?per_page=100")["history"]
    return [shown_at(entry["at"]) for entry in entries]


def history_of(dialog):
    return dialog.get_by_role("list", name="History").get_by_role("listitem")


def record_requests(page) -> list[str]:
    """Every API request the page sends (not its own files), as "METHOD /path?query"."""
    sent = []

    def seen(request):
        url = urlsplit(request.url)
        if not url.path.startswith("/dashboard/") and url.path != "/":
            sent.append(f"{request.method} {url.path}?{url.query}")

    page.on("request", seen)
    return sent


def check_view(page, axe, shot: str) -> None:
    settle(page)
    shoot(page, shot)
    assert stray_text(page) == [] and overflow(page) == [], shot
    if axe:
        assert axe_violations(page, axe) == [], shot


@pytest.mark.parametrize("width", list(VIEWPORTS))
@pytest.mark.parametrize("role", ["casting-director", "executive-producer"])
def test_a_profile_tells_its_history_in_words(browsing, client, producer, someone, someone_api, axe, role, width):
    """Changes made through the API by someone else read as sentences with their subject and local time, newest
    first; the other side is named as it is now (an actor who is gone by number); the person's own change comes
    on top, by "you"."""
    patel = new_actor(someone_api, "Dev Patel", 36, "male")["id"]
    ahmed = new_actor(someone_api, "Riz Ahmed", 44, "male")["id"]
    gadot = new_actor(someone_api, "Gal Gadot", 41, "female")["id"]
    movie_id = new_movie(someone_api, "Raids of the Ice", "2017-04-29")["id"]
    call(client, someone, "PATCH", f"/movies/{movie_id}",
         {"title": "Raids of the Ice II", "release_date": "2017-04-30"})
    for actor in (patel, ahmed, gadot):
        call(client, someone, "PUT", f"/movies/{movie_id}/actors/{actor}")
    call(client, someone, "DELETE", f"/movies/{movie_id}/actors/{gadot}")
    call(client, someone, "DELETE", f"/actors/{ahmed}")
    at = times(client, producer, f"/movies/{movie_id}")
    by = f"by {SOMEONE} on"

    page = browsing.page(VIEWPORTS[width], timezone_id=TIME_ZONE)
    sign_in(page, role)
    movie = open_movie(page, "Raids of the Ice II")
    expect(movie.get_by_role("region", name="History")).to_contain_text(
        "Newest first. Times are in your time zone (Europe/Paris).")
    expect(history_of(movie)).to_have_text([
        f"Riz Ahmed was deleted {by} {at[0]}",
        f"Gal Gadot was removed from the cast {by} {at[1]}",
        f"Gal Gadot was cast {by} {at[2]}",
        f"Riz Ahmed was cast {by} {at[3]}",
        f"Dev Patel was cast {by} {at[4]}",
        f"Title changed from “Raids of the Ice” to “Raids of the Ice II” and release date changed from "
        f"29 April 2017 to 30 April 2017 {by} {at[5]}",
        f"Created {by} {at[6]}",
    ])
    movie.get_by_role("region", name="History").scroll_into_view_if_needed()
    check_view(page, axe, f"{SHORT_ROLE[role]}-{width}-movie-history")

    movie.get_by_role("button", name="Dev Patel", exact=True).click()
    actor = page.get_by_role("dialog", name="Dev Patel")
    actor_at = times(client, producer, f"/actors/{patel}")
    expect(history_of(actor)).to_have_text([
        f"Cast in “Raids of the Ice II” {by} {actor_at[0]}",
        f"Created {by} {actor_at[1]}",
    ])
    actor.get_by_role("button", name="Back to Raids of the Ice II").click()

    movie.get_by_role("button", name="Remove Dev Patel from the cast").click()
    expect(movie.get_by_role("heading", name="Cast (0)")).to_be_visible()
    at = times(client, producer, f"/movies/{movie_id}")
    expect(history_of(movie)).to_have_count(8)
    expect(history_of(movie).first).to_have_text(f"Dev Patel was removed from the cast by you on {at[0]}")


def test_a_long_history_shows_twenty_changes_then_more(browsing, client, producer, someone, someone_api):
    movie_id = new_movie(someone_api, "Copper Sky", "2020-08-21")["id"]
    for number in range(1, 25):
        call(client, someone, "PATCH", f"/movies/{movie_id}", {"title": f"Copper Sky {number}"})
    page = browsing.page(timezone_id=TIME_ZONE)
    sent = record_requests(page)
    sign_in(page, "executive-producer")
    movie = open_movie(page, "Copper Sky 24")
    expect(history_of(movie)).to_have_count(20)
    expect(history_of(movie).first).to_contain_text("Title changed from “Copper Sky 23” to “Copper Sky 24”")
    # Meanwhile a 26th change: the older ones move down a page, and none is shown twice.
    call(client, someone, "PATCH", f"/movies/{movie_id}", {"title": "Copper Sky 25"})
    movie.get_by_role("button", name="Show more").click()
    expect(history_of(movie)).to_have_count(25)
    expect(history_of(movie).last).to_contain_text("Created by")
    expect(movie.get_by_role("button", name="Show more")).to_have_count(0)
    expect(history_of(movie).nth(20)).to_be_focused()
    texts = history_of(movie).all_inner_texts()
    assert len(set(texts)) == 25 and "Copper Sky 25" not in " ".join(texts)
    assert [request for request in sent if "/history" in request] == [
        f"GET /movies/{movie_id}/history?page=1&per_page=20", f"GET /movies/{movie_id}/history?page=2&per_page=20"]


@pytest.mark.parametrize("width", list(VIEWPORTS))
def test_a_director_restores_a_deleted_actor(browsing, client, producer, someone, someone_api, axe, width):
    """The actor comes back cast in the movie that still exists; the one deleted meanwhile is named. Deletes undone
    since are not listed, and a record deleted again is listed once."""
    swinton = new_actor(someone_api, "Tilda Swinton", 66, "female")["id"]
    orlando = new_movie(someone_api, "Orlando", "1992-09-01", actor_ids=[swinton])["id"]
    souvenir = new_movie(someone_api, "The Souvenir", "2019-05-17", actor_ids=[swinton])["id"]
    ronan = new_actor(someone_api, "Saoirse Ronan", 32, "female")["id"]
    pugh = new_actor(someone_api, "Florence Pugh", 30, "female")["id"]
    call(client, someone, "DELETE", f"/actors/{ronan}")
    call(client, someone, "POST", f"/actors/{ronan}/restore", status=201)
    for number in range(2):
        call(client, someone, "DELETE", f"/actors/{pugh}")
        if not number:
            call(client, someone, "POST", f"/actors/{pugh}/restore", status=201)
    call(client, someone, "DELETE", f"/actors/{swinton}")
    call(client, someone, "DELETE", f"/movies/{souvenir}")
    deleted_at = times(client, producer, f"/actors/{swinton}")[0]

    page = browsing.page(VIEWPORTS[width], timezone_id=TIME_ZONE)
    writes = record_writes(page)
    sign_in(page, "casting-director")
    expect(page.get_by_role("button", name="Recently deleted movies")).to_have_count(0)
    dialog = open_deleted(page, "actors", width)
    expect(deleted_names(dialog)).to_have_text(["Tilda Swinton", "Florence Pugh"])
    entry = dialog.get_by_role("listitem").filter(has_text="Tilda Swinton")
    expect(entry).to_contain_text("66 years old · female · in 2 movies")
    expect(entry).to_contain_text(f"Deleted by {SOMEONE} on {deleted_at}")
    check_view(page, axe, f"director-{width}-recently-deleted")

    dialog.get_by_role("button", name="Restore Tilda Swinton").click()
    expect(dialog).to_be_hidden()
    actor = page.get_by_role("dialog", name="Tilda Swinton")
    expect(actor.get_by_role("heading", name="Movies (1)")).to_be_visible()
    expect(actor.get_by_role("button", name="Orlando", exact=True)).to_be_visible()
    expect(actor.get_by_role("alert")).to_have_text(
        "Tilda Swinton is back, but not in “The Souvenir”: that movie was deleted meanwhile.×")
    expect(actor.get_by_role("status")).to_have_text("Actor Tilda Swinton restored.")
    at = times(client, producer, f"/actors/{swinton}")
    expect(history_of(actor).first).to_have_text(f"Restored by you on {at[0]}, cast again in “Orlando”")
    expect(history_of(actor).nth(1)).to_have_text(f"Deleted by {SOMEONE} on {at[1]}")
    check_view(page, axe, f"director-{width}-restored")
    assert stored(client, producer, f"/actors/{swinton}")["movies"] == [{"id": orlando, "title": "Orlando"}]
    assert [(w["method"], w["path"]) for w in writes] == [("POST", f"/actors/{swinton}/restore")]
    assert UUID.fullmatch(writes[0]["key"])

    page.keyboard.press("Escape")
    expect(actor).to_be_hidden()
    if width == "phone":
        expect(page.get_by_role("list", name="Actors")).to_contain_text("Tilda Swinton")
        page.get_by_role("tab", name="Movies").click()
    else:
        expect(page.get_by_role("list", name="Actors")).to_contain_text("Tilda Swinton")
    card = page.get_by_role("list", name="Movies").get_by_role("listitem").filter(has_text="Orlando")
    expect(card).to_contain_text("Cast: Tilda Swinton")
    dialog = open_deleted(page, "actors", width)
    expect(deleted_names(dialog)).to_have_text(["Florence Pugh"])

    # The history purged meanwhile (flask purge-history): nothing left to restore from, and said so.
    with client.application.app_context():
        assert history.purge(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)) > 0
    dialog.get_by_role("button", name="Restore Florence Pugh").click()
    expect(dialog.get_by_role("alert")).to_have_text(
        "Florence Pugh can no longer be restored: its deletion is no longer in the history.×")
    expect(dialog).to_contain_text("No deleted actors.")
    assert client.get(f"/actors/{pugh}", headers=producer).status_code == 404


@pytest.mark.parametrize("width", list(VIEWPORTS))
def test_a_producer_restores_a_movie_and_is_told_when_someone_was_first(
        browsing, client, producer, someone, someone_api, axe, width):
    pine = new_actor(someone_api, "Chris Pine", 45, "male")["id"]
    gadot = new_actor(someone_api, "Gal Gadot", 41, "female")["id"]
    raids = new_movie(someone_api, "Raids of the Ice", "2017-04-29", actor_ids=[pine, gadot])["id"]
    copper = new_movie(someone_api, "Copper Sky", "2020-08-21")["id"]
    call(client, someone, "DELETE", f"/movies/{raids}")
    call(client, someone, "DELETE", f"/actors/{gadot}")
    call(client, someone, "DELETE", f"/movies/{copper}")

    page = browsing.page(VIEWPORTS[width], timezone_id=TIME_ZONE)
    writes = record_writes(page)
    sign_in(page, "executive-producer")
    dialog = open_deleted(page, "movies", width)
    expect(deleted_names(dialog)).to_have_text(["Copper Sky", "Raids of the Ice"])
    expect(dialog.get_by_role("listitem").filter(has_text="Raids of the Ice")).to_contain_text(
        "Released 29 April 2017 · 2 actors in its cast")
    check_view(page, axe, f"producer-{width}-recently-deleted")

    # Someone else restores Copper Sky first: the page's restore is a 409, said as such, not retried.
    call(client, someone, "POST", f"/movies/{copper}/restore", status=201)
    restored_at = times(client, producer, f"/movies/{copper}")[0]
    dialog.get_by_role("button", name="Restore Copper Sky").click()
    expect(dialog.get_by_role("alert")).to_have_text(
        f"“Copper Sky” was restored already by {SOMEONE} on {restored_at}, so there is nothing to restore: it is "
        "back in the list of movies.×")
    expect(deleted_names(dialog)).to_have_text(["Raids of the Ice"])
    expect(dialog.get_by_role("heading", name="Recently deleted movies")).to_be_focused()
    assert [(w["method"], w["path"]) for w in writes] == [("POST", f"/movies/{copper}/restore")]
    check_view(page, axe, f"producer-{width}-restored-already")
    if width == "desktop":
        expect(page.get_by_role("list", name="Movies", exact=True)).to_contain_text("Copper Sky")

    dialog.get_by_role("button", name="Restore Raids of the Ice").click()
    movie = page.get_by_role("dialog", name="Raids of the Ice")
    expect(movie.get_by_role("heading", name="Cast (1)")).to_be_visible()
    expect(movie.get_by_role("button", name="Chris Pine", exact=True)).to_be_visible()
    expect(movie.get_by_role("alert")).to_have_text(
        "“Raids of the Ice” is back without Gal Gadot in its cast: that actor was deleted meanwhile.×")
    expect(movie.get_by_role("status")).to_have_text("Movie “Raids of the Ice” restored.")
    expect(history_of(movie).first).to_contain_text("Restored by you on")
    expect(history_of(movie).first).to_contain_text("with Chris Pine in the cast again")
    assert [actor["id"] for actor in stored(client, producer, f"/movies/{raids}")["actors"]] == [pine]
    assert [(w["method"], w["path"]) for w in writes][1:] == [("POST", f"/movies/{raids}/restore")]
    assert writes[0]["key"] != writes[1]["key"] and all(UUID.fullmatch(w["key"]) for w in writes)
    page.keyboard.press("Escape")
    expect(page.get_by_role("list", name="Movies")).to_contain_text("Raids of the Ice")


def test_an_assistant_sees_no_history_and_nothing_to_restore(browsing, client, someone, someone_api):
    pine = new_actor(someone_api, "Chris Pine", 45, "male")["id"]
    new_movie(someone_api, "Raids of the Ice", "2017-04-29", actor_ids=[pine])
    gone = new_actor(someone_api, "Gal Gadot", 41, "female")["id"]
    call(client, someone, "DELETE", f"/actors/{gone}")
    for width, viewport in VIEWPORTS.items():
        page = browsing.page(viewport)
        sent = record_requests(page)
        sign_in(page, "casting-assistant")
        expect(page.locator("#movies-status")).to_have_text("1 movie")
        expect(page.get_by_role("button", name=re.compile("Recently deleted"))).to_have_count(0)
        movie = open_movie(page, "Raids of the Ice")
        movie.get_by_role("button", name="Chris Pine", exact=True).click()
        actor = page.get_by_role("dialog", name="Chris Pine")
        expect(actor.get_by_role("heading", name="Movies (1)")).to_be_visible()
        settle(page)
        expect(actor.get_by_role("heading", name="History")).to_have_count(0)
        expect(page.locator("#history-heading")).to_have_count(0)
        assert [request for request in sent if "/history" in request or "/restore" in request] == [], width
        assert f"GET /actors/{pine}?" in sent, "the requests were recorded"
