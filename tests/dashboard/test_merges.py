"""Issue 21, item 7: a change that does not collide is not refused (the dashboard, in Chromium).

Two people edit the same records on a REQUIRE_IF_MATCH=true server: "someone else" writes through the API (reading
the ETag first), the page writes as the person clicks. A cast or an uncast goes through after a change to the
record's own fields (the API compares its If-Match with the movie's cast only) and says what changed meanwhile; a
change to the cast itself is still refused and explained. The edit form merges a change to other fields (or to the
cast) by itself and says what it merged; a field both changed, to different values, stops it and asks.
"""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlsplit

from tests.dashboard.pages import (
    PHONE,
    UUID,
    axe_violations,
    expect,
    open_actor,
    open_movie,
    overflow,
    settle,
    shoot,
    sign_in,
    stored,
    stray_text,
    type_date,
)
from tests.utils.records import new_actor, new_movie

# --- the fixtures of tests/test_dashboard.py's safe-writes section, declared again for this module ------------












def record_writes(page) -> list[dict]:
    """The API writes the page sends, with their If-Match, Idempotency-Key and JSON body."""
    writes = []

    def seen(request):
        path = urlsplit(request.url).path
        if request.method != "GET" and path != "/dev/token":
            writes.append({"method": request.method, "path": path, "if_match": request.headers.get("if-match"),
                           "key": request.headers.get("idempotency-key"),
                           "body": request.post_data_json if request.post_data else None})

    page.on("request", seen)
    return writes


def cast_of(client, producer, path: str) -> list[int]:
    return [actor["id"] for actor in stored(client, producer, path)["actors"]]


def check(page, axe, shot: str) -> None:
    settle(page)
    shoot(page, shot)
    assert stray_text(page) == [] and overflow(page) == [], shot
    if axe:
        assert axe_violations(page, axe) == [], shot


# --- casting after a change to the record's own fields -------------------------------------------------------


def test_on_a_movie_a_cast_goes_through_after_a_change_to_its_fields_not_after_one_to_its_cast(
        strict, client, producer, api, someone_else, axe):
    """The page sends the ETag of the movie it shows: after someone else changed the release date, then the title,
    the uncast and the cast go through (the profile says so and shows the movie as it is now); after someone else
    changed the cast, the uncast is refused as before, the current cast is shown, and doing it again works."""
    davis = new_actor(api, "Viola Davis", 61, "female")["id"]
    isaac = new_actor(api, "Oscar Isaac", 47, "male")["id"]
    swinton = new_actor(api, "Tilda Swinton", 66, "female")["id"]
    movie_id = new_movie(api, "The Quiet Harbour", "2019-09-13", actor_ids=list([davis, isaac]))["id"]
    path = f"/movies/{movie_id}"
    page = strict.page()
    writes = record_writes(page)
    sign_in(page, "casting-director")
    movie = open_movie(page, "The Quiet Harbour")
    etags = [someone_else.etag(path)]  # as the page shows it

    someone_else.write("PATCH", path, {"release_date": "2027-05-14"})
    movie.get_by_role("button", name="Remove Oscar Isaac from the cast").click()
    expect(movie.get_by_role("heading", name="Cast (1)")).to_be_visible()
    expect(movie.get_by_role("status")).to_have_text(
        "Oscar Isaac removed from the cast of “The Quiet Harbour”. Meanwhile someone else changed its release date to "
        "14 May 2027.×")
    expect(movie.locator(".facts")).to_contain_text("14 May 2027")
    expect(movie.get_by_role("alert")).to_have_text("")
    assert cast_of(client, producer, path) == [davis]
    assert stored(client, producer, path)["release_date"] == "2027-05-14"
    etags.append(someone_else.etag(path))  # the uncast's answer, which the page now shows

    someone_else.write("PATCH", path, {"title": "The Quiet Harbour Redux"})
    movie.get_by_label("Actor", exact=True).select_option(label="Tilda Swinton (66, female)")
    movie.get_by_role("button", name="Add to cast").click()
    movie = page.get_by_role("dialog", name="The Quiet Harbour Redux")
    expect(movie.get_by_role("heading", name="Cast (2)")).to_be_visible()
    expect(movie.get_by_role("status")).to_have_text(
        "Tilda Swinton cast in “The Quiet Harbour Redux”. Meanwhile someone else changed its title to "
        "“The Quiet Harbour Redux”.×")
    assert cast_of(client, producer, path) == [davis, swinton]
    check(page, axe, "i21-writes-director-desktop-cast-after-field-change")
    etags.append(someone_else.etag(path))

    # A change to the cast itself: refused, as before.
    someone_else.write("PUT", f"{path}/actors/{isaac}", etag_of=path)
    etags.append(someone_else.etag(path))
    movie.get_by_role("button", name="Remove Viola Davis from the cast").click()
    expect(movie.get_by_role("alert")).to_have_text(
        "Someone else changed this movie after this page showed it, so Viola Davis was not removed from the cast. It "
        "is shown here as it is now: remove the actor again if you still want to.×")
    expect(movie.get_by_role("heading", name="Cast (3)")).to_be_visible()
    expect(movie.get_by_role("button", name="Oscar Isaac", exact=True)).to_be_visible()
    assert cast_of(client, producer, path) == [davis, isaac, swinton]
    movie.get_by_role("button", name="Remove Viola Davis from the cast").click()
    expect(movie.get_by_role("heading", name="Cast (2)")).to_be_visible()
    expect(movie.get_by_role("status")).to_have_text(
        "Viola Davis removed from the cast of “The Quiet Harbour Redux”.")
    assert cast_of(client, producer, path) == [isaac, swinton]

    assert [(w["method"], w["path"], w["if_match"]) for w in writes] == [
        ("DELETE", f"{path}/actors/{isaac}", etags[0]),
        ("PUT", f"{path}/actors/{swinton}", etags[1]),
        ("DELETE", f"{path}/actors/{davis}", etags[2]),
        ("DELETE", f"{path}/actors/{davis}", etags[3]),
    ]
    assert len({w["key"] for w in writes}) == 4 and all(UUID.fullmatch(w["key"]) for w in writes)


def test_on_an_actor_a_cast_goes_through_unless_their_movies_changed(strict, client, producer, api, someone_else):
    """On an actor's profile the person sees the actor's movies: a change to the actor's age, or to a movie's title,
    does not refuse a cast or an uncast made there (each says what changed meanwhile); a change to the actor's movies
    does, with nothing sent, and the profile shows them as they are now."""
    swinton = new_actor(api, "Tilda Swinton", 66, "female")["id"]
    orlando = new_movie(api, "Orlando", "1992-09-01", actor_ids=list([swinton]))["id"]
    souvenir = new_movie(api, "The Souvenir", "2019-05-17")["id"]
    suspiria = new_movie(api, "Suspiria", "2018-10-26")["id"]
    page = strict.page()
    writes = record_writes(page)
    sign_in(page, "casting-director")
    actor = open_actor(page, "Tilda Swinton")

    someone_else.write("PATCH", f"/actors/{swinton}", {"age": 67})
    souvenir_etag = someone_else.etag(f"/movies/{souvenir}")
    actor.get_by_label("Movie", exact=True).select_option(label="The Souvenir (2019)")
    actor.get_by_role("button", name="Cast in movie").click()
    expect(actor.get_by_role("heading", name="Movies (2)")).to_be_visible()
    expect(actor.get_by_role("status")).to_have_text(
        "Tilda Swinton cast in “The Souvenir”. Meanwhile someone else changed their age to 67.×")
    expect(actor.locator(".facts")).to_contain_text("67 years old")
    expect(actor.get_by_role("alert")).to_have_text("")
    assert [m["id"] for m in stored(client, producer, f"/actors/{swinton}")["movies"]] == [orlando, souvenir]

    someone_else.write("PATCH", f"/movies/{orlando}", {"title": "Orlando: A Biography"})
    orlando_etag = someone_else.etag(f"/movies/{orlando}")
    actor.get_by_role("button", name="Remove from Orlando", exact=True).click()
    expect(actor.get_by_role("heading", name="Movies (1)")).to_be_visible()
    expect(actor.get_by_role("status")).to_have_text("Tilda Swinton removed from “Orlando: A Biography”.")
    assert [m["id"] for m in stored(client, producer, f"/actors/{swinton}")["movies"]] == [souvenir]

    # A change to the actor's movies: nothing is sent, the profile shows them as they are now.
    someone_else.write("PUT", f"/movies/{suspiria}/actors/{swinton}", etag_of=f"/movies/{suspiria}")
    sent = len(writes)
    actor.get_by_role("button", name="Remove from The Souvenir").click()
    expect(actor.get_by_role("alert")).to_have_text(
        "Someone else changed this actor after this page showed it, so Tilda Swinton was not removed from "
        "“The Souvenir”. It is shown here as it is now: remove the movie again if you still want to.×")
    expect(actor.get_by_role("heading", name="Movies (2)")).to_be_visible()
    expect(actor.get_by_role("button", name="Suspiria", exact=True)).to_be_visible()
    assert len(writes) == sent, "nothing was sent"
    souvenir_etag_now = someone_else.etag(f"/movies/{souvenir}")
    actor.get_by_role("button", name="Remove from The Souvenir").click()
    expect(actor.get_by_role("heading", name="Movies (1)")).to_be_visible()
    assert [m["id"] for m in stored(client, producer, f"/actors/{swinton}")["movies"]] == [suspiria]

    assert [(w["method"], w["path"], w["if_match"]) for w in writes] == [
        ("PUT", f"/movies/{souvenir}/actors/{swinton}", souvenir_etag),
        ("DELETE", f"/movies/{orlando}/actors/{swinton}", orlando_etag),
        ("DELETE", f"/movies/{souvenir}/actors/{swinton}", souvenir_etag_now),
    ]


# --- the edit form's three-way merge ---------------------------------------------------------------------------


def test_an_edit_merges_a_change_to_another_field_or_to_the_cast_by_itself(strict, client, producer, api, someone_else,
                                                                          axe):
    """The person changes the title while someone else changes the release date: the page's PATCH is a 412, it reads
    the movie, keeps the person's title, takes the new date, sends it again with the new ETag and says what it merged.
    Then the person changes the date while someone else casts an actor: the PATCH (which sends no cast) is merged
    and sent again the same way."""
    pine = new_actor(api, "Chris Pine", 45, "male")["id"]
    gadot = new_actor(api, "Gal Gadot", 41, "female")["id"]
    movie_id = new_movie(api, "Copper Sky", "2020-08-21", actor_ids=list([pine]))["id"]
    path = f"/movies/{movie_id}"
    page = strict.page()
    writes = record_writes(page)
    sign_in(page, "casting-director")
    movie = open_movie(page, "Copper Sky")
    etags = [someone_else.etag(path)]

    movie.get_by_role("button", name="Edit movie").click()
    form = page.get_by_role("dialog", name="Edit Copper Sky")
    form.get_by_role("textbox", name="Title", exact=True).fill("Copper Skies")
    someone_else.write("PATCH", path, {"release_date": "2027-05-14"})
    etags.append(someone_else.etag(path))
    form.get_by_role("button", name="Save changes").click()
    expect(form).to_be_hidden()
    movie = page.get_by_role("dialog", name="Copper Skies")
    status = movie.get_by_role("status")
    expect(status).to_have_text("Saved. Meanwhile someone else changed the release date to 14 May 2027; your new "
                                "title was applied on top.×")
    expect(movie.locator(".facts")).to_contain_text("14 May 2027")
    expect(movie.get_by_role("alert")).to_have_text("")
    assert stored(client, producer, path) == {"id": movie_id, "title": "Copper Skies", "release_date": "2027-05-14",
                                              "actors": [{"id": pine, "name": "Chris Pine"}]}
    check(page, axe, "i21-writes-director-desktop-merged")
    status.get_by_role("button", name="Dismiss this message").click()
    expect(status).to_have_text("")
    etags.append(someone_else.etag(path))

    movie.get_by_role("button", name="Edit movie").click()
    form = page.get_by_role("dialog", name="Edit Copper Skies")
    type_date(page, form.get_by_label("Release date"), dt.date(2028, 1, 7))
    someone_else.write("PUT", f"{path}/actors/{gadot}", etag_of=path)
    etags.append(someone_else.etag(path))
    form.get_by_role("button", name="Save changes").click()
    expect(form).to_be_hidden()
    expect(movie.get_by_role("status")).to_have_text(
        "Saved. Meanwhile someone else changed its cast (Gal Gadot added); your new release date was applied on top.×")
    expect(movie.get_by_role("heading", name="Cast (2)")).to_be_visible()
    assert stored(client, producer, path) == {
        "id": movie_id, "title": "Copper Skies", "release_date": "2028-01-07",
        "actors": [{"id": pine, "name": "Chris Pine"}, {"id": gadot, "name": "Gal Gadot"}]}

    assert [(w["method"], w["if_match"], w["body"]) for w in writes] == [
        ("PATCH", etags[0], {"title": "Copper Skies", "release_date": "2020-08-21"}),
        ("PATCH", etags[1], {"title": "Copper Skies", "release_date": "2027-05-14"}),
        ("PATCH", etags[2], {"title": "Copper Skies", "release_date": "2028-01-07"}),
        ("PATCH", etags[3], {"title": "Copper Skies", "release_date": "2028-01-07"}),
    ]
    assert writes[0]["key"] != writes[1]["key"], "other values, another write: another key"


def test_an_edit_stops_and_asks_only_when_both_changed_one_field(strict, client, producer, api, someone_else, axe):
    """Both change the title, to different values: nothing is saved, the form keeps the person's title beside the
    other one (with a button to take it), takes the other person's new date, and its heading names the movie as it
    is now. Saving again applies the person's title; taking theirs next time saves theirs."""
    movie_id = new_movie(api, "Copper Sky", "2020-08-21")["id"]
    path = f"/movies/{movie_id}"
    page = strict.page()
    writes = record_writes(page)
    sign_in(page, "executive-producer")
    movie = open_movie(page, "Copper Sky")
    movie.get_by_role("button", name="Edit movie").click()
    form = page.get_by_role("dialog", name="Edit Copper Sky")
    title = form.get_by_role("textbox", name="Title", exact=True)
    title.fill("Copper Skies")
    someone_else.write("PATCH", path, {"title": "Copper Sky (Director's Cut)", "release_date": "2027-05-14"})
    current = someone_else.etag(path)
    form.get_by_role("button", name="Save changes").click()

    form = page.get_by_role("dialog", name="Edit Copper Sky (Director's Cut)")
    expect(form.get_by_role("heading", level=2)).to_have_text("Edit Copper Sky (Director's Cut)")
    expect(form.get_by_role("alert")).to_have_text(
        "Someone else changed this movie while you were editing it, so nothing was saved. They changed title to "
        "“Copper Sky (Director's Cut)” (your “Copper Skies” is kept); release date to 14 May 2027. The form now "
        "shows the current version with your own changes on top: save again to apply them to it, or cancel to leave "
        "it as it is.×")
    expect(title).to_have_value("Copper Skies")
    expect(form.get_by_label("Release date")).to_have_value("2027-05-14")
    collision = form.locator("#field-title-collision")
    expect(collision).to_have_text("Someone else changed it to “Copper Sky (Director's Cut)”. Use theirs for the title")
    assert "field-title-collision" in title.get_attribute("aria-describedby").split()
    expect(page.get_by_role("dialog", name="Copper Sky (Director's Cut)").locator(".facts")).to_contain_text(
        "14 May 2027")
    assert stored(client, producer, path)["title"] == "Copper Sky (Director's Cut)"
    check(page, axe, "i21-writes-producer-desktop-edit-collision")

    form.get_by_role("button", name="Save changes").click()
    expect(form).to_be_hidden()
    movie = page.get_by_role("dialog", name="Copper Skies")
    expect(movie.get_by_role("status")).to_have_text("Movie “Copper Skies” saved.")
    assert stored(client, producer, path)["title"] == "Copper Skies"
    assert stored(client, producer, path)["release_date"] == "2027-05-14"

    # Again, and this time the person takes the other title.
    movie.get_by_role("button", name="Edit movie").click()
    form = page.get_by_role("dialog", name="Edit Copper Skies")
    form.get_by_role("textbox", name="Title", exact=True).fill("Copper Skies II")
    someone_else.write("PATCH", path, {"title": "Copper Sky III"})
    form.get_by_role("button", name="Save changes").click()
    form = page.get_by_role("dialog", name="Edit Copper Sky III")
    form.get_by_role("button", name="Use theirs for the title").click()
    title = form.get_by_role("textbox", name="Title", exact=True)
    expect(title).to_have_value("Copper Sky III")
    expect(title).to_be_focused()
    expect(form.locator(".field-collision")).to_have_count(0)
    assert "field-title-collision" not in (title.get_attribute("aria-describedby") or "")
    form.get_by_role("button", name="Save changes").click()
    expect(form).to_be_hidden()
    expect(page.get_by_role("dialog", name="Copper Sky III").get_by_role("status")).to_have_text(
        "Movie “Copper Sky III” saved.")
    assert stored(client, producer, path)["title"] == "Copper Sky III"
    assert [w["if_match"] for w in writes][:2] == [writes[0]["if_match"], current]
    assert len(writes) == 4


def test_an_actor_edited_alike_by_both_is_merged_without_asking(strict, client, producer, api, someone_else):
    """The same new value from both people is no collision. A form whose changes someone else made already sends
    nothing and says so."""
    actor_id = new_actor(api, "Gal Gadot", 41, "female")["id"]
    path = f"/actors/{actor_id}"
    page = strict.page(PHONE)
    writes = record_writes(page)
    sign_in(page, "casting-director")
    actor = open_actor(page, "Gal Gadot", "phone")
    actor.get_by_role("button", name="Edit actor").click()
    form = page.get_by_role("dialog", name="Edit Gal Gadot")
    form.get_by_role("textbox", name="Name", exact=True).fill("Gal Gadot Varsano")
    form.get_by_role("spinbutton", name="Age", exact=True).fill("42")
    someone_else.write("PATCH", path, {"age": 42, "gender": "non-binary"})
    form.get_by_role("button", name="Save changes").click()
    expect(form).to_be_hidden()
    actor = page.get_by_role("dialog", name="Gal Gadot Varsano")
    expect(actor.get_by_role("status")).to_have_text(
        "Saved. Meanwhile someone else changed the age to 42 (as you did) and the gender to “non-binary”; your new "
        "name was applied on top.×")
    expect(actor.locator(".facts")).to_contain_text(re.compile(r"42 years old\s*Gender\s*non-binary"))
    assert stored(client, producer, path) == {"id": actor_id, "name": "Gal Gadot Varsano", "age": 42,
                                              "gender": "non-binary", "movies": []}
    settle(page)
    shoot(page, "i21-writes-director-phone-merged")
    assert overflow(page) == []

    actor.get_by_role("button", name="Edit actor").click()
    form = page.get_by_role("dialog", name="Edit Gal Gadot Varsano")
    form.get_by_role("spinbutton", name="Age", exact=True).fill("43")
    someone_else.write("PATCH", path, {"age": 43})
    sent = len(writes)
    form.get_by_role("button", name="Save changes").click()
    expect(form).to_be_hidden()
    expect(actor.get_by_role("status")).to_have_text(
        "Nothing left to save: meanwhile someone else changed the age to 43 (as you did).×")
    expect(actor.locator(".facts")).to_contain_text("43 years old")
    assert [w["method"] for w in writes[sent:]] == ["PATCH"], "the 412 only: the merge had nothing to send"
    assert stored(client, producer, path)["age"] == 43
