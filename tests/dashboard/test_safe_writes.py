"""Safe writes from the page, in Chromium: two editors (the page's changes carry the ETag it showed, and what someone
else changed meanwhile is never overwritten), and creates that happen once (a double click, a lost answer and a
create still in progress, all with one Idempotency-Key)."""

from __future__ import annotations

import re

import jwt
import pytest
from sqlalchemy import text as sql

from casting.web import idempotency
from models import db
from tests.dashboard.pages import (
    TOKEN_KEY,
    UUID,
    VIEWPORTS,
    axe_violations,
    expect,
    open_actor,
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


@pytest.mark.parametrize("width", list(VIEWPORTS))
def test_an_edit_made_meanwhile_by_someone_else_is_not_overwritten(strict, client, producer, api, someone_else, axe,
                                                                   width):
    """The page's PATCH carries the ETag it showed; when someone else changed the actor meanwhile, nothing of the
    page's is written, the form shows the current version with the person's own changes kept, and saving again
    applies them to it."""
    actor_id = new_actor(api, "Gal Gadot", 41, "female")["id"]
    page = strict.page(VIEWPORTS[width])
    writes = record_writes(page)
    sign_in(page, "casting-director")
    actor = open_actor(page, "Gal Gadot", width)
    shown = someone_else.etag(f"/actors/{actor_id}")
    actor.get_by_role("button", name="Edit actor").click()
    form = page.get_by_role("dialog", name="Edit Gal Gadot")
    form.get_by_role("textbox", name="Name", exact=True).fill("Gal Gadot Varsano")
    form.get_by_role("spinbutton", name="Age", exact=True).fill("42")

    someone_else.write("PATCH", f"/actors/{actor_id}", {"age": 43, "gender": "non-binary"})
    current = someone_else.etag(f"/actors/{actor_id}")
    form.get_by_role("button", name="Save changes").click()
    alert = form.get_by_role("alert")
    expect(alert).to_contain_text("Someone else changed this actor while you were editing it, so nothing was saved. "
                                  "They changed age to “43” (your “42” is kept); gender to “non-binary”.")
    expect(alert).to_contain_text("save again to apply them to it, or cancel to leave it as it is")
    expect(form.get_by_role("textbox", name="Name", exact=True)).to_have_value("Gal Gadot Varsano")
    expect(form.get_by_role("spinbutton", name="Age", exact=True)).to_have_value("42")
    expect(form.get_by_role("combobox", name="Gender", exact=True)).to_have_value("non-binary")
    expect(page.locator("#detail-dialog .facts")).to_contain_text(re.compile(r"43 years old\s*Gender\s*non-binary"))
    expect(form.locator("#form-submit")).to_be_enabled()
    assert stored(client, producer, f"/actors/{actor_id}") == {
        "id": actor_id, "name": "Gal Gadot", "age": 43, "gender": "non-binary", "movies": []}
    settle(page)
    shoot(page, f"director-{width}-edit-conflict")
    assert stray_text(page) == [] and overflow(page) == []
    if axe:
        assert axe_violations(page, axe) == []

    form.get_by_role("button", name="Save changes").click()
    expect(form).to_be_hidden()
    actor = page.get_by_role("dialog", name="Gal Gadot Varsano")
    expect(actor.locator(".facts")).to_contain_text(re.compile(r"42 years old\s*Gender\s*non-binary"))
    expect(actor.get_by_role("alert")).to_have_text("")
    assert stored(client, producer, f"/actors/{actor_id}") == {
        "id": actor_id, "name": "Gal Gadot Varsano", "age": 42, "gender": "non-binary", "movies": []}
    assert [(w["method"], w["if_match"]) for w in writes] == [("PATCH", shown), ("PATCH", current)]
    assert all(UUID.fullmatch(w["key"]) for w in writes)
    assert writes[0]["key"] != writes[1]["key"], "other values, another write: another key"


def test_a_delete_after_someone_else_changed_the_movie_is_refused(strict, client, producer, api, someone_else, axe):
    movie_id = new_movie(api, "Copper Sky", "2020-08-21")["id"]
    page = strict.page()
    writes = record_writes(page)
    sign_in(page, "executive-producer")
    movie = open_movie(page, "Copper Sky")
    shown = someone_else.etag(f"/movies/{movie_id}")
    someone_else.write("PATCH", f"/movies/{movie_id}", {"title": "Copper Skies"})
    current = someone_else.etag(f"/movies/{movie_id}")

    movie.get_by_role("button", name="Delete movie").click()
    page.get_by_role("alertdialog", name="Delete “Copper Sky”?").get_by_role("button", name="Delete movie").click()
    movie = page.get_by_role("dialog", name="Copper Skies")
    expect(movie.get_by_role("alert")).to_have_text(
        "Someone else changed this movie after this page showed it, so it was not deleted. It is shown here as it "
        "is now: delete it again if you still want to.×")
    expect(page.get_by_role("alertdialog")).to_have_count(0)
    expect(movie.get_by_role("heading", name="Copper Skies")).to_be_focused()
    expect(page.get_by_role("list", name="Movies")).to_contain_text("Copper Skies")
    assert stored(client, producer, f"/movies/{movie_id}")["title"] == "Copper Skies"
    settle(page)
    shoot(page, "producer-desktop-delete-conflict")
    if axe:
        assert axe_violations(page, axe) == []

    movie.get_by_role("button", name="Delete movie").click()
    page.get_by_role("alertdialog", name="Delete “Copper Skies”?").get_by_role("button", name="Delete movie").click()
    expect(movie).to_be_hidden()
    expect(page.get_by_role("status").filter(has_text="“Copper Skies” deleted")).to_be_visible()
    assert client.get(f"/movies/{movie_id}", headers=producer).status_code == 404
    assert [(w["method"], w["if_match"]) for w in writes] == [("DELETE", shown), ("DELETE", current)]
    assert writes[0]["key"] != writes[1]["key"] and all(UUID.fullmatch(w["key"]) for w in writes)


def test_casting_from_a_movie_after_someone_else_changed_it_is_refused(strict, client, producer, api, someone_else):
    """Cast and uncast on a movie's profile send the ETag of the movie shown; a cast changed meanwhile is a 412,
    the profile shows the current cast, and doing it again works."""
    davis = new_actor(api, "Viola Davis", 61, "female")["id"]
    isaac = new_actor(api, "Oscar Isaac", 47, "male")["id"]
    swinton = new_actor(api, "Tilda Swinton", 66, "female")["id"]
    movie_id = new_movie(api, "The Quiet Harbour", "2019-09-13", actor_ids=[davis])["id"]
    path = f"/movies/{movie_id}"
    page = strict.page()
    writes = record_writes(page)
    sign_in(page, "casting-director")
    movie = open_movie(page, "The Quiet Harbour")
    etags = [someone_else.etag(path)]  # as the page shows it
    someone_else.write("PUT", f"{path}/actors/{swinton}", etag_of=path)
    etags.append(someone_else.etag(path))

    movie.get_by_label("Actor", exact=True).select_option(label="Oscar Isaac (47, male)")
    movie.get_by_role("button", name="Add to cast").click()
    expect(movie.get_by_role("alert")).to_have_text(
        "Someone else changed this movie after this page showed it, so Oscar Isaac (47, male) was not added to the "
        "cast. It is shown here as it is now: add the actor again if you still want to.×")
    expect(movie.get_by_role("heading", name="Cast (2)")).to_be_visible()
    expect(movie.get_by_role("button", name="Tilda Swinton", exact=True)).to_be_visible()
    assert [a["id"] for a in stored(client, producer, path)["actors"]] == [davis, swinton]
    shoot(page, "director-desktop-cast-conflict")

    movie.get_by_label("Actor", exact=True).select_option(label="Oscar Isaac (47, male)")
    movie.get_by_role("button", name="Add to cast").click()
    expect(movie.get_by_role("heading", name="Cast (3)")).to_be_visible()
    expect(movie.get_by_role("alert")).to_have_text("")
    assert [a["id"] for a in stored(client, producer, path)["actors"]] == [davis, isaac, swinton]
    etags.append(someone_else.etag(path))  # from the cast's answer, which the page shows

    someone_else.write("DELETE", f"{path}/actors/{swinton}", etag_of=path)
    etags.append(someone_else.etag(path))
    movie.get_by_role("button", name="Remove Viola Davis from the cast").click()
    expect(movie.get_by_role("alert")).to_contain_text("so Viola Davis was not removed from the cast")
    expect(movie.get_by_role("heading", name="Cast (2)")).to_be_visible()
    expect(movie.get_by_role("button", name="Tilda Swinton", exact=True)).to_have_count(0)
    assert [a["id"] for a in stored(client, producer, path)["actors"]] == [davis, isaac]
    movie.get_by_role("button", name="Remove Viola Davis from the cast").click()
    expect(movie.get_by_role("heading", name="Cast (1)")).to_be_visible()
    assert [a["id"] for a in stored(client, producer, path)["actors"]] == [isaac]

    assert [(w["method"], w["if_match"]) for w in writes] == [
        ("PUT", etags[0]), ("PUT", etags[1]), ("DELETE", etags[2]), ("DELETE", etags[3])]
    assert len({w["key"] for w in writes}) == 4 and all(UUID.fullmatch(w["key"]) for w in writes)


def test_casting_from_an_actor_after_someone_else_changed_it_is_refused(strict, client, producer, api, someone_else):
    """On an actor's profile the page checks that the actor's movies shown are still current, then sends the
    movie's ETag as it reads it: a change to the actor's movies meanwhile sends nothing; a change to the movie's
    cast in between is a 412."""
    swinton = new_actor(api, "Tilda Swinton", 66, "female")["id"]
    pine = new_actor(api, "Chris Pine", 45, "male")["id"]
    orlando = new_movie(api, "Orlando", "1992-09-01", actor_ids=[swinton])["id"]
    souvenir = new_movie(api, "The Souvenir", "2019-05-17")["id"]
    suspiria = new_movie(api, "Suspiria", "2018-10-26")["id"]
    page = strict.page()
    writes = record_writes(page)
    sign_in(page, "casting-director")
    actor = open_actor(page, "Tilda Swinton")
    someone_else.write("PUT", f"/movies/{suspiria}/actors/{swinton}", etag_of=f"/movies/{suspiria}")

    actor.get_by_label("Movie", exact=True).select_option(label="The Souvenir (2019)")
    actor.get_by_role("button", name="Cast in movie").click()
    expect(actor.get_by_role("alert")).to_have_text(
        "Someone else changed this actor after this page showed it, so Tilda Swinton was not cast in The Souvenir "
        "(2019). It is shown here as it is now: choose the movie again if you still want to.×")
    expect(actor.get_by_role("heading", name="Movies (2)")).to_be_visible()
    assert writes == [], "nothing was sent"
    assert [m["id"] for m in stored(client, producer, f"/actors/{swinton}")["movies"]] == [orlando, suspiria]

    souvenir_etag = someone_else.etag(f"/movies/{souvenir}")
    actor.get_by_label("Movie", exact=True).select_option(label="The Souvenir (2019)")
    actor.get_by_role("button", name="Cast in movie").click()
    expect(actor.get_by_role("heading", name="Movies (3)")).to_be_visible()
    expect(actor.get_by_role("alert")).to_have_text("")
    assert [m["id"] for m in stored(client, producer, f"/actors/{swinton}")["movies"]] == [orlando, souvenir,
                                                                                            suspiria]

    # The movie's cast changes between the page's read of it and its DELETE: the API refuses it.
    orlando_etags = []

    def recast_first(route):
        if not orlando_etags:
            orlando_etags.append(someone_else.etag(f"/movies/{orlando}"))  # what the page read just now
            someone_else.write("PUT", f"/movies/{orlando}/actors/{pine}", etag_of=f"/movies/{orlando}")
            orlando_etags.append(someone_else.etag(f"/movies/{orlando}"))
        route.fallback()

    page.route(f"**/movies/{orlando}/actors/{swinton}", recast_first)
    actor.get_by_role("button", name="Remove from Orlando").click()
    expect(actor.get_by_role("alert")).to_have_text(
        "Someone else changed “Orlando” after this page showed it, so Tilda Swinton was not removed from "
        "“Orlando”. It is shown here as it is now: remove the movie again if you still want to.×")
    assert [m["id"] for m in stored(client, producer, f"/actors/{swinton}")["movies"]] == [orlando, souvenir,
                                                                                            suspiria]
    actor.get_by_role("button", name="Remove from Orlando").click()
    expect(actor.get_by_role("heading", name="Movies (2)")).to_be_visible()
    assert [m["id"] for m in stored(client, producer, f"/actors/{swinton}")["movies"]] == [souvenir, suspiria]

    assert [(w["method"], w["if_match"]) for w in writes] == [
        ("PUT", souvenir_etag), ("DELETE", orlando_etags[0]), ("DELETE", orlando_etags[1])]
    assert all(UUID.fullmatch(w["key"]) for w in writes)


def page_subject(page) -> str:
    """The subject of the token the page signed in with (a person of their own: issue 22)."""
    token = page.evaluate(f"sessionStorage.getItem('{TOKEN_KEY}')")
    return jwt.decode(token, options={"verify_signature": False})["sub"]


def new_actor_form(page, name: str, age: str = "36", gender: str = "male"):
    page.get_by_role("button", name="New actor").click()
    form = page.get_by_role("dialog", name="New actor")
    form.get_by_role("textbox", name="Name", exact=True).fill(name)
    form.get_by_role("spinbutton", name="Age", exact=True).fill(age)
    form.get_by_role("combobox", name="Gender", exact=True).fill(gender)
    return form


def actors_named(client, producer, name: str) -> int:
    return client.get("/actors", headers=producer, query_string={"q": name}).json["total"]


def test_a_double_click_on_create_sends_one_request(strict, client, producer):
    page = strict.page()
    writes = record_writes(page)
    sign_in(page, "casting-director")
    held = []  # the POST waits until the test lets it go
    page.route("**/actors", lambda route: held.append(route) if route.request.method == "POST" else route.fallback())
    form = new_actor_form(page, "Riz Ahmed", "44")
    form.get_by_role("button", name="Create actor").dblclick()
    submit = form.locator("#form-submit")
    expect(submit).to_be_disabled()
    expect(submit).to_have_text("Saving…")
    form.get_by_role("textbox", name="Name", exact=True).press("Enter")  # and a submission from the keyboard
    expect(form.locator("#form-fields")).to_have_attribute("aria-busy", "true")
    assert len(held) == 1
    held[0].continue_()

    actor = page.get_by_role("dialog", name="Riz Ahmed")
    expect(actor.get_by_role("status")).to_contain_text("“Riz Ahmed” created")
    page.keyboard.press("Escape")
    expect(page.get_by_role("list", name="Actors").get_by_role("listitem")).to_have_count(1)
    assert len(held) == 1 and [w["method"] for w in writes] == ["POST"]
    assert UUID.fullmatch(writes[0]["key"])
    assert actors_named(client, producer, "Riz Ahmed") == 1


def test_a_create_whose_answer_was_lost_is_sent_again_with_the_same_key(strict, client, producer):
    """The first POST reaches the server, which creates the actor, and its answer is lost on the way back: the
    page sends it again with the same Idempotency-Key, is answered from the first outcome, and shows one actor."""
    page = strict.page()
    writes = record_writes(page)
    answers = []
    page.on("response", lambda response: answers.append((response.status, response.headers.get(
        "idempotent-replayed"))) if response.request.method == "POST" and response.url.endswith("/actors") else None)
    sign_in(page, "casting-director")
    lost = []

    def lose_the_first_answer(route):
        if route.request.method != "POST" or lost:
            return route.fallback()
        lost.append(route.fetch().status)  # the server did it...
        return route.abort("connectionreset")  # ...and the page never hears

    page.route("**/actors", lose_the_first_answer)
    form = new_actor_form(page, "Dev Patel")
    form.get_by_role("button", name="Create actor").click()
    actor = page.get_by_role("dialog", name="Dev Patel")
    expect(actor.get_by_role("status")).to_contain_text("“Dev Patel” created")
    page.keyboard.press("Escape")
    expect(page.get_by_role("list", name="Actors").get_by_role("listitem")).to_have_count(1)
    assert lost == [201] and answers == [(201, "true")]
    assert [w["method"] for w in writes] == ["POST", "POST"]
    assert writes[0]["key"] == writes[1]["key"] and UUID.fullmatch(writes[0]["key"])
    assert actors_named(client, producer, "Dev Patel") == 1


def test_a_create_still_in_progress_is_retried_then_explained(strict, app, client, producer):
    """While another request holds the page's key (PostgreSQL's advisory lock, as the first of two requests with
    one key would), the API answers 409: the page retries a few times with the same key, then says so, and a
    press of the button once it is free creates the actor, once."""
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("PostgreSQL's advisory locks hold keys; SQLite serializes every write instead")
        holder = db.engine.connect()
    page = strict.page()
    writes = record_writes(page)
    statuses = []
    page.on("response", lambda response: statuses.append(response.status)
            if response.request.method == "POST" and response.url.endswith("/actors") else None)
    sign_in(page, "casting-director")

    def hold_the_key(route):
        if route.request.method == "POST" and not statuses:
            key = route.request.headers["idempotency-key"]
            holder.execute(sql("SELECT pg_advisory_lock(:id)"),
                           {"id": idempotency.Key(page_subject(page), key, "").lock_id})
        route.fallback()

    try:
        page.route("**/actors", hold_the_key)
        form = new_actor_form(page, "Florence Pugh", "30", "female")
        form.get_by_role("button", name="Create actor").click()
        expect(form.locator("#form-submit")).to_be_disabled()
        expect(form.get_by_role("alert")).to_have_text(
            "The server is still working on your earlier attempt. Wait a moment and try again: it will not be done "
            "twice. Press “Create actor” again without changing the form: it will not be created twice.×")
        assert statuses == [409] * 4, "the first request and three retries"
        assert actors_named(client, producer, "Florence Pugh") == 0
    finally:
        holder.execute(sql("SELECT pg_advisory_unlock_all()"))
        holder.close()
    form.get_by_role("button", name="Create actor").click()
    expect(page.get_by_role("dialog", name="Florence Pugh")).to_be_visible()
    assert statuses == [409] * 4 + [201]
    assert len(writes) == 5 and len({w["key"] for w in writes}) == 1
    assert actors_named(client, producer, "Florence Pugh") == 1
