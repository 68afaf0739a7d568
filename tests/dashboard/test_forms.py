"""Creating, editing, casting and deleting through the page's forms, in Chromium: a producer's movie from creation
to deletion, a director casting from the actor's side, validation errors beside their fields, dates and empty fields
asked for in one wording, and conflicts and vanished records explained."""

from __future__ import annotations

import datetime as dt
import json

from models import Actor, Movie, db
from tests.dashboard.pages import (
    PHONE,
    expect,
    page_alerts,
    shoot,
    sign_in,
    type_date,
)
from tests.utils.records import new_actor, new_movie


def test_a_producer_runs_a_movie_from_creation_to_deletion(browsing, client, producer, api):
    davis = new_actor(api, "Viola Davis", 61, "female")["id"]
    isaac = new_actor(api, "Oscar Isaac", 47, "male")["id"]
    new_actor(api, "Tilda Swinton", 66, "female")
    page = browsing.page()
    sign_in(page, "executive-producer")

    page.get_by_role("button", name="New movie").click()
    form = page.get_by_role("dialog", name="New movie")
    form.get_by_role("textbox", name="Title", exact=True).fill("The Quiet Harbour")
    form.get_by_label("Release date").fill("2019-09-13")
    form.get_by_role("button", name="Create movie").click()
    movie = page.get_by_role("dialog", name="The Quiet Harbour")
    expect(movie.get_by_role("status")).to_contain_text("“The Quiet Harbour” created")
    expect(movie).to_contain_text("13 September 2019")
    listed = client.get("/movies", headers=producer, query_string={"q": "Quiet Harbour"}).json
    assert listed["total"] == 1
    movie_id = listed["movies"][0]["id"]

    for name, option, count in (("Viola Davis", "Viola Davis (61, female)", 1),
                                ("Oscar Isaac", "Oscar Isaac (47, male)", 2)):
        movie.get_by_label("Actor", exact=True).select_option(label=option)
        movie.get_by_role("button", name="Add to cast").click()
        expect(movie.get_by_role("heading", name=f"Cast ({count})")).to_be_visible()
        expect(movie.get_by_role("button", name=name, exact=True)).to_be_visible()
    cast = client.get(f"/movies/{movie_id}", headers=producer).json["movie"]["actors"]
    assert [actor["id"] for actor in cast] == [davis, isaac]
    shoot(page, "desktop-producer-cast")

    movie.get_by_role("button", name="Edit movie").click()
    form = page.get_by_role("dialog", name="Edit The Quiet Harbour")
    date = form.get_by_label("Release date")
    expect(date).to_have_value("2019-09-13")
    type_date(page, date, dt.date(2020, 2, 14))
    form.get_by_role("button", name="Save changes").click()
    expect(form).to_be_hidden()
    expect(movie).to_contain_text("14 February 2020")
    assert client.get(f"/movies/{movie_id}", headers=producer).json["movie"]["release_date"] == "2020-02-14"

    movie.get_by_role("button", name="Remove Oscar Isaac from the cast").click()
    expect(movie.get_by_role("heading", name="Cast (1)")).to_be_visible()
    expect(movie.get_by_role("button", name="Oscar Isaac", exact=True)).to_have_count(0)
    cast = client.get(f"/movies/{movie_id}", headers=producer).json["movie"]["actors"]
    assert [actor["name"] for actor in cast] == ["Viola Davis"]
    card = page.get_by_role("list", name="Movies").get_by_role("listitem").filter(has_text="The Quiet Harbour")
    expect(card).to_contain_text("Cast: Viola Davis")
    expect(card).to_contain_text("14 February 2020")

    movie.get_by_role("button", name="Delete movie").click()
    confirm = page.get_by_role("alertdialog", name="Delete “The Quiet Harbour”?")
    expect(confirm).to_contain_text("its actors stay in the catalogue. It can be restored from “Recently deleted”.")
    expect(confirm.get_by_role("button", name="Cancel")).to_be_focused()
    shoot(page, "desktop-producer-confirm-delete")
    confirm.get_by_role("button", name="Delete movie").click()
    expect(confirm).to_be_hidden()
    expect(movie).to_be_hidden()
    expect(page.get_by_role("status").filter(has_text="“The Quiet Harbour” deleted")).to_be_visible()
    expect(page.locator("#movies-status")).to_have_text("No movies yet.")
    expect(page.get_by_role("list", name="Movies")).to_have_text("Use “New movie” to add the first one.")
    assert client.get(f"/movies/{movie_id}", headers=producer).status_code == 404
    with client.application.app_context():
        assert db.session.get(Movie, movie_id) is None
        assert db.session.scalar(db.select(db.func.count()).select_from(Actor)) == 3


def test_a_director_casts_and_uncasts_from_the_actor_side_and_deletes_the_actor(browsing, client, producer, api):
    swinton = new_actor(api, "Tilda Swinton", 66, "female")["id"]
    orlando = new_movie(api, "Orlando", "1992-09-01", actor_ids=[swinton])["id"]
    souvenir = new_movie(api, "The Souvenir", "2019-05-17")["id"]
    new_movie(api, "Suspiria", "2018-10-26")
    page = browsing.page()
    sign_in(page, "casting-director")

    page.get_by_role("list", name="Actors").get_by_role("button", name="Tilda Swinton", exact=True).click()
    actor = page.get_by_role("dialog", name="Tilda Swinton")
    expect(actor.get_by_role("heading", name="Movies (1)")).to_be_visible()
    actor.get_by_label("Find a movie").fill("souv")
    actor.get_by_label("Movie", exact=True).select_option(label="The Souvenir (2019)")
    refused = []  # the first casting is refused (rate limit): its alert goes once a casting goes through
    page.route(f"**/movies/{souvenir}/actors/{swinton}", lambda route: route.fallback() if refused else (
        refused.append(route.request.method), route.fulfill(status=429, headers={"Retry-After": "3"},
                                                          json={"success": False, "error": 429, "message": "slow"})))
    actor.get_by_role("button", name="Cast in movie").click()
    expect(actor.get_by_role("alert")).to_contain_text("Please wait 3 seconds")
    actor.get_by_role("button", name="Cast in movie").click()
    expect(actor.get_by_role("heading", name="Movies (2)")).to_be_visible()
    expect(actor.get_by_role("alert")).to_have_text("")
    assert refused == ["PUT"]
    expect(actor.get_by_role("button", name="The Souvenir", exact=True)).to_be_visible()
    movies = client.get(f"/actors/{swinton}", headers=producer).json["actor"]["movies"]
    assert [movie["id"] for movie in movies] == [orlando, souvenir]

    actor.get_by_role("button", name="Remove from Orlando").click()
    expect(actor.get_by_role("heading", name="Movies (1)")).to_be_visible()
    expect(actor.get_by_role("button", name="Orlando", exact=True)).to_have_count(0)
    movies = client.get(f"/actors/{swinton}", headers=producer).json["actor"]["movies"]
    assert [movie["id"] for movie in movies] == [souvenir]

    actor.get_by_role("button", name="Delete actor").click()
    confirm = page.get_by_role("alertdialog", name="Delete “Tilda Swinton”?")
    expect(confirm).to_contain_text("their movies stay in the catalogue. They can be restored from “Recently deleted”.")
    confirm.get_by_role("button", name="Delete actor").click()
    expect(confirm).to_be_hidden()
    expect(actor).to_be_hidden()
    expect(page.get_by_role("status").filter(has_text="“Tilda Swinton” deleted")).to_be_visible()
    assert client.get(f"/actors/{swinton}", headers=producer).status_code == 404
    assert client.get("/movies", headers=producer).json["total"] == 3  # the movies stay


def test_validation_errors_are_shown_beside_their_fields(browsing, client, producer):
    page = browsing.page()
    sign_in(page, "executive-producer")

    page.get_by_role("button", name="New movie").click()
    form = page.get_by_role("dialog", name="New movie")
    form.get_by_label("Release date").fill("2021-03-05")
    form.get_by_role("button", name="Create movie").click()
    title = form.get_by_role("textbox", name="Title", exact=True)
    expect(title).to_have_attribute("aria-invalid", "true")
    error = form.locator("#field-title-error")
    expect(error).to_have_text("Title is required.")
    assert "field-title-error" in title.get_attribute("aria-describedby").split()
    expect(title).to_be_focused()
    expect(form.get_by_role("alert")).to_contain_text("Please correct the highlighted fields")
    title.fill("Glass Orchard")
    form.get_by_role("button", name="Create movie").click()
    expect(page.get_by_role("dialog", name="Glass Orchard")).to_be_visible()
    page.keyboard.press("Escape")

    page.get_by_role("button", name="New actor").click()
    form = page.get_by_role("dialog", name="New actor")
    form.get_by_role("textbox", name="Name", exact=True).fill("Saoirse Ronan")
    form.get_by_role("spinbutton", name="Age", exact=True).fill("200")
    form.get_by_role("combobox", name="Gender", exact=True).fill("female")
    form.get_by_role("button", name="Create actor").click()
    age = form.get_by_role("spinbutton", name="Age", exact=True)
    expect(age).to_have_attribute("aria-invalid", "true")
    expect(form.locator("#field-age-error")).to_have_text("Age must be less than or equal to 150.")
    expect(form.get_by_role("textbox", name="Name", exact=True)).not_to_have_attribute("aria-invalid", "true")
    shoot(page, "desktop-validation-error")
    assert client.get("/actors", headers=producer).json["total"] == 0

    age.fill("32")
    form.get_by_role("button", name="Create actor").click()
    expect(page.get_by_role("dialog", name="Saoirse Ronan")).to_contain_text("32 years old")
    assert [a["name"] for a in client.get("/actors", headers=producer).json["actors"]] == ["Saoirse Ronan"]


def test_conflicts_and_vanished_records_are_explained(browsing, client, producer, api):
    movie_id = new_movie(api, "Copper Sky", "2020-08-21")["id"]
    new_movie(api, "Under the Linden", "2015-05-01")
    page = browsing.page()
    sign_in(page, "executive-producer")

    page.get_by_role("button", name="Copper Sky", exact=True).click()
    movie = page.get_by_role("dialog", name="Copper Sky")
    movie.get_by_role("button", name="Edit movie").click()
    form = page.get_by_role("dialog", name="Edit Copper Sky")
    page.route(f"**/movies/{movie_id}", lambda route: route.fulfill(
        status=409, content_type="application/json", body=json.dumps({
            "success": False, "error": 409,
            "message": "the request conflicts with a concurrent change; nothing was written"}))
        if route.request.method == "PATCH" else route.fallback())
    form.get_by_role("textbox", name="Title", exact=True).fill("Copper Skies")
    form.get_by_role("button", name="Save changes").click()
    expect(form.get_by_role("alert")).to_contain_text("Someone else changed this record at the same moment")
    expect(form).to_be_visible()
    page.unroute(f"**/movies/{movie_id}")
    form.get_by_role("button", name="Cancel").click()
    page.keyboard.press("Escape")

    assert client.delete(f"/movies/{movie_id}", headers=producer).status_code == 200  # behind the page's back
    page.get_by_role("button", name="Copper Sky", exact=True).click()
    alert = page.get_by_role("alert").filter(has_text="Movie not found")
    expect(alert).to_contain_text("It may have just been deleted by someone else")
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.get_by_role("list", name="Movies").get_by_role("listitem")).to_have_count(1)
    expect(page.get_by_role("button", name="Copper Sky", exact=True)).to_have_count(0)
WHOLE_DATE = "is not a whole date: fill in the day, the month and the year (four digits)."


def test_dates_and_empty_fields_are_asked_for_in_one_wording(browsing, client, producer, api):
    """An empty required field says "is required" in the new and the edit form alike, a date typed in part
    says what is missing in words that fit the browser's date control, and neither is sent to the API."""
    new_movie(api, "Copper Sky", "2020-08-21")
    new_actor(api, "Gal Gadot", 41, "female")
    page = browsing.page(PHONE)
    writes = []
    page.on("request", lambda request: writes.append(request.method) if request.method != "GET" else None)
    sign_in(page, "executive-producer")
    writes.clear()  # the sign-in's POST /dev/token

    def submit(form, button, errors):
        form.get_by_role("button", name=button).click()
        for field, text in errors.items():
            expect(form.locator(f"#field-{field}-error")).to_have_text(text)
        expect(form.get_by_role("alert")).to_have_text("Please correct the highlighted fields.×")
        assert "YYYY" not in form.inner_text()

    page.get_by_role("button", name="New movie").click()
    form = page.get_by_role("dialog", name="New movie")
    submit(form, "Create movie", {"title": "Title is required.", "release_date": "Release date is required."})
    form.get_by_role("textbox", name="Title", exact=True).fill("Glass Orchard")
    date = form.get_by_label("Release date")
    date.focus()
    page.keyboard.type("0101" "12345")  # a fifth digit of the year does not go in: the API takes four
    expect(date).to_have_value("2345-01-01")
    date.fill("")
    date.focus()
    page.keyboard.type("05")  # the day or month alone
    submit(form, "Create movie", {"release_date": f"Release date {WHOLE_DATE}"})
    expect(form.locator("#field-title-error")).to_be_hidden()
    shoot(page, "phone-date-in-part")
    form.get_by_role("button", name="Cancel").click()

    page.get_by_role("button", name="Copper Sky", exact=True).click()
    movie = page.get_by_role("dialog", name="Copper Sky")
    movie.get_by_role("button", name="Edit movie").click()
    form = page.get_by_role("dialog", name="Edit Copper Sky")
    form.get_by_role("textbox", name="Title", exact=True).fill(" ")
    form.get_by_label("Release date").fill("")
    submit(form, "Save changes", {"title": "Title is required.", "release_date": "Release date is required."})
    form.get_by_role("button", name="Cancel").click()
    page.keyboard.press("Escape")

    page.get_by_role("tab", name="Actors").click()
    page.get_by_role("button", name="New actor").click()
    form = page.get_by_role("dialog", name="New actor")
    submit(form, "Create actor", {"name": "Name is required.", "age": "Age is required.",
                                  "gender": "Gender is required."})
    form.get_by_role("spinbutton", name="Age", exact=True).focus()
    page.keyboard.type("4e")  # a number input takes the "e" of 4e1, and its value stays empty
    submit(form, "Create actor", {"age": "Age must be a number."})
    form.get_by_role("button", name="Cancel").click()
    page.get_by_role("button", name="Gal Gadot", exact=True).click()
    page.get_by_role("dialog", name="Gal Gadot").get_by_role("button", name="Edit actor").click()
    form = page.get_by_role("dialog", name="Edit Gal Gadot")
    form.get_by_role("spinbutton", name="Age", exact=True).fill("")
    submit(form, "Save changes", {"age": "Age is required."})
    form.get_by_role("button", name="Cancel").click()
    page.keyboard.press("Escape")
    assert writes == [], "nothing was sent"

    # A date filter typed in part is explained beside it when the field is left, and goes with "Clear filters".
    page.get_by_role("tab", name="Movies").click()
    panel = page.locator("#movies-panel")
    panel.get_by_text("More filters").click()
    after = panel.get_by_label("Released on or after")
    after.focus()
    page.keyboard.type("0103")  # no year
    panel.get_by_label("Released on or before").focus()
    expect(panel.locator("#movies-filter-released_after-error")).to_have_text(f"Released on or after {WHOLE_DATE}")
    expect(page_alerts(page)).to_have_text(["Some movie filters are not valid: see the highlighted fields.×"])
    panel.get_by_role("button", name="Clear filters").click()
    expect(after).not_to_have_attribute("aria-invalid", "true")
    expect(page_alerts(page)).to_have_count(0)
    expect(page.locator("#movies-status")).to_have_text("1 movie")
