"""What people see, in Chromium: the main views at desktop and phone widths (with their screenshots in artifacts/, and
docs/dashboard.png when it is missing or UPDATE_DOCS_SCREENSHOT=1), every role's views clean and accessible (no
stray text, nothing sticking out, nothing for axe-core to report), and the longest names wrapping inside their
column."""

from __future__ import annotations

import os
import re
from urllib.parse import urlencode

import pytest

from casting.cli import seed_demo
from casting.tokens.roles import ROLE_PERMISSIONS
from tests.dashboard.pages import (
    DESKTOP,
    PHONE,
    ROLE_LABELS,
    SHORT_ROLE,
    VIEWPORTS,
    axe_violations,
    call,
    deleted_names,
    expect,
    open_deleted,
    overflow,
    settle,
    shoot,
    sign_in,
    stray_text,
)
from tests.utils.environment import ROOT
from tests.utils.records import new_actor, new_movie

DOCS_SCREENSHOT = ROOT / "docs" / "dashboard.png"


def test_main_views_at_desktop_and_phone_widths(browsing, app):
    with app.app_context():
        seed_demo()
    for viewport, width in ((DESKTOP, "desktop"), (PHONE, "phone")):
        page = browsing.page(viewport)
        page.goto("/")
        expect(page.get_by_role("button", name="Executive Producer")).to_be_visible()
        settle(page)
        shoot(page, f"{width}-sign-in")
        page.get_by_role("button", name="Executive Producer").click()
        movies = page.get_by_role("list", name="Movies")
        expect(movies.get_by_role("listitem")).to_have_count(8)
        expect(page.locator("#movies-panel")).to_contain_text("Page 1 of 2")
        if width == "desktop":
            expect(page.get_by_role("list", name="Actors").get_by_role("listitem")).to_have_count(8)
            expect(page.get_by_role("tablist")).to_be_hidden()
            settle(page)
            shoot(page, "desktop-catalogue")
            if os.environ.get("UPDATE_DOCS_SCREENSHOT") == "1" or not DOCS_SCREENSHOT.exists():
                DOCS_SCREENSHOT.parent.mkdir(exist_ok=True)
                page.screenshot(path=str(DOCS_SCREENSHOT), animations="disabled")
            check_filters(page)
        else:
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], "no sideways scrolling"
            expect(page.get_by_role("list", name="Actors")).to_be_hidden()
            settle(page)
            shoot(page, "phone-movies")
            page.get_by_role("tab", name="Actors").click()
            expect(page.get_by_role("tab", name="Actors")).to_have_attribute("aria-selected", "true")
            expect(page.get_by_role("list", name="Actors").get_by_role("listitem")).to_have_count(8)
            expect(movies).to_be_hidden()
            settle(page)
            shoot(page, "phone-actors")
            page.keyboard.press("ArrowLeft")
            expect(page.get_by_role("tab", name="Movies")).to_be_focused()
            expect(movies).to_be_visible()

        page.get_by_label("Search titles").fill("the")
        expect(page.locator("#movies-status")).to_have_text("4 movies match")
        page.get_by_label("Search titles").fill("")
        expect(page.locator("#movies-status")).to_have_text("12 movies")
        page.get_by_role("button", name="Next").first.click()
        expect(page.locator("#movies-panel")).to_contain_text("Page 2 of 2")
        expect(movies.get_by_role("listitem")).to_have_count(4)
        page.get_by_role("button", name="Raids of the Ice", exact=True).click()
        movie = page.get_by_role("dialog", name="Raids of the Ice")
        expect(movie.get_by_role("heading", name="Cast (2)")).to_be_visible()
        expect(movie.get_by_label("Actor", exact=True)).to_contain_text("Dev Patel (36, male)")
        settle(page)
        shoot(page, f"{width}-movie")
        movie.get_by_role("button", name="Gal Gadot", exact=True).click()
        actor = page.get_by_role("dialog", name="Gal Gadot")
        expect(actor.get_by_role("heading", name="Movies (2)")).to_be_visible()
        expect(actor.get_by_label("Movie", exact=True)).to_contain_text("A Map of Small Rooms (2025)")
        settle(page)
        shoot(page, f"{width}-actor")
        actor.get_by_role("button", name="Edit actor").click()
        form = page.get_by_role("dialog", name="Edit Gal Gadot")
        form.get_by_role("spinbutton", name="Age", exact=True).fill("200")
        form.get_by_role("button", name="Save changes").click()
        expect(form.locator("#field-age-error")).to_be_visible()
        settle(page)
        shoot(page, f"{width}-form-error")


def check_filters(page) -> None:
    """The filters and sort orders of both columns, and a bad filter value explained beside its field."""
    movies = page.locator("#movies-panel")
    movies.get_by_text("More filters").click()
    movies.get_by_label("Released on or after").fill("2020-01-01")
    expect(page.locator("#movies-status")).to_have_text("7 movies match")
    movies.get_by_label("Released on or before").fill("2022-12-31")
    expect(page.locator("#movies-status")).to_have_text("3 movies match")
    movies.get_by_label("Sort by").select_option(label="Title, A to Z")
    expect(movies.get_by_role("listitem").first).to_contain_text("Copper Sky")
    movies.get_by_role("button", name="Clear filters").click()
    expect(page.locator("#movies-status")).to_have_text("12 movies")
    movies.get_by_label("Sort by").select_option(label="Newest first")
    expect(movies.get_by_role("listitem").first).to_contain_text("Echoes of June")

    actors = page.locator("#actors-panel")
    actors.get_by_text("More filters").click()
    actors.get_by_label("Gender").fill("Female")
    actors.get_by_label("Minimum age").fill("40")
    actors.get_by_label("Minimum age").press("Enter")
    expect(page.locator("#actors-status")).to_have_text("4 actors match")
    actors.get_by_label("Sort by").select_option(label="Oldest first")
    expect(actors.get_by_role("listitem").first).to_contain_text("Tilda Swinton")
    actors.get_by_label("Maximum age").fill("200")
    actors.get_by_label("Maximum age").press("Enter")
    expect(actors.get_by_label("Maximum age")).to_have_attribute("aria-invalid", "true")
    expect(actors.locator("#actors-filter-max_age-error")).to_have_text(
        "Maximum age must be less than or equal to 150.")
    expect(page.get_by_role("alert")).to_contain_text("Some actor filters are not valid")
    shoot(page, "desktop-filters")
    actors.get_by_role("button", name="Clear filters").click()
    expect(page.locator("#actors-status")).to_have_text("12 actors")
    expect(actors.get_by_label("Maximum age")).not_to_have_attribute("aria-invalid", "true")
    expect(page.get_by_role("alert").filter(has_text="filters are not valid")).to_have_count(0)
    actors.get_by_label("Sort by").select_option(label="Name, A to Z")
    expect(actors.get_by_role("listitem").first).to_contain_text("Chris Pine")
LONG_TITLE = "Supercalifragilistic" * 10  # 200 characters and no space: the longest title the API takes
LONG_NAME = ("Wolfeschlegelsteinhausen" * 5)[:100]  # the longest name


def main_views(page, role: str, width: str):
    """Sign in as `role` and go through the main views the role has, yielding each one's name once it is
    settled on screen: sign-in, the lists (side by side, or one tab at a time on a phone), a movie, its
    edit form, an actor, theirs and the delete confirmation."""
    page.goto("/")
    expect(page.get_by_role("button", name=ROLE_LABELS[role])).to_be_visible()
    settle(page)
    yield "sign-in"
    page.get_by_role("button", name=ROLE_LABELS[role]).click()
    expect(page.locator("#role-badge")).to_have_text(ROLE_LABELS[role])
    movies = page.get_by_role("list", name="Movies")
    actors = page.get_by_role("list", name="Actors")
    expect(movies.get_by_role("listitem")).to_have_count(8)
    if width == "desktop":
        expect(actors.get_by_role("listitem")).to_have_count(8)
        settle(page)
        yield "catalogue"
    else:
        settle(page)
        yield "movies"
        page.get_by_role("tab", name="Actors").click()
        expect(actors.get_by_role("listitem")).to_have_count(8)
        settle(page)
        yield "actors"
        page.get_by_role("tab", name="Movies").click()

    page.get_by_role("button", name="A Map of Small Rooms", exact=True).click()
    movie = page.get_by_role("dialog", name="A Map of Small Rooms")
    expect(movie.get_by_role("heading", name="Cast (2)")).to_be_visible()
    settle(page)
    yield "movie"
    if "patch:movies" in ROLE_PERMISSIONS[role]:
        movie.get_by_role("button", name="Edit movie").click()
        form = page.get_by_role("dialog", name="Edit A Map of Small Rooms")
        expect(form.get_by_label("Release date")).to_have_value("2025-04-04")
        settle(page)
        yield "edit-movie"
        form.get_by_role("button", name="Cancel").click()

    movie.get_by_role("button", name="Saoirse Ronan", exact=True).click()
    actor = page.get_by_role("dialog", name="Saoirse Ronan")
    expect(actor.get_by_role("heading", name="Movies (3)")).to_be_visible()
    settle(page)
    yield "actor"
    if "patch:actors" in ROLE_PERMISSIONS[role]:
        actor.get_by_role("button", name="Edit actor").click()
        form = page.get_by_role("dialog", name="Edit Saoirse Ronan")
        expect(form.get_by_role("spinbutton", name="Age", exact=True)).to_have_value("32")
        settle(page)
        yield "edit-actor"
        form.get_by_role("button", name="Cancel").click()
        actor.get_by_role("button", name="Delete actor").click()
        confirm = page.get_by_role("alertdialog", name="Delete “Saoirse Ronan”?")
        settle(page)
        yield "confirm-delete"
        confirm.get_by_role("button", name="Cancel").click()
        expect(confirm).to_be_hidden()

    page.keyboard.press("Escape")
    expect(actor).to_be_hidden()
    for kind, deleted in (("actors", "Mahershala Ali"), ("movies", "Echoes of June")):
        if f"delete:{kind}" in ROLE_PERMISSIONS[role]:
            dialog = open_deleted(page, kind, width)
            expect(deleted_names(dialog)).to_have_text([deleted])
            settle(page)
            yield f"deleted-{kind}"
            page.keyboard.press("Escape")
            expect(dialog).to_be_hidden()


def change_the_demo(client, producer, who) -> None:
    """Changes through the API that the main views show in the profiles' histories and the recently deleted
    lists, without changing what main_views checks: a casting undone, an age changed and changed back, a movie
    and an actor whom the views do not open deleted."""
    def id_of(kind, label):
        return call(client, producer, "GET", f"/{kind}?{urlencode({'q': label})}")[kind][0]["id"]

    rooms, ronan = id_of("movies", "A Map of Small Rooms"), id_of("actors", "Saoirse Ronan")
    patel = id_of("actors", "Dev Patel")
    call(client, who, "PUT", f"/movies/{rooms}/actors/{patel}")
    call(client, who, "DELETE", f"/movies/{rooms}/actors/{patel}")
    call(client, who, "PATCH", f"/actors/{ronan}", {"age": 33})
    call(client, who, "PATCH", f"/actors/{ronan}", {"age": 32})
    call(client, who, "DELETE", f"/movies/{id_of('movies', 'Echoes of June')}")
    call(client, who, "DELETE", f"/actors/{id_of('actors', 'Mahershala Ali')}")


@pytest.mark.parametrize("width", list(VIEWPORTS))
@pytest.mark.parametrize("role", list(ROLE_PERMISSIONS))
def test_each_role_sees_clean_and_accessible_pages(browsing, app, client, producer, someone, axe, role, width):
    """In every main view of every role at both widths (the profiles with their history, the recently deleted
    lists): no stray text, nothing sticking out sideways, one <h1>, level columns, an actor's facts in words, and
    nothing for axe-core to report. Each view's screenshot goes to artifacts/ for people to look at."""
    with app.app_context():
        seed_demo()
    change_the_demo(client, producer, someone)
    page = browsing.page(VIEWPORTS[width])
    audits, seen = {}, []
    for view in main_views(page, role, width):
        seen.append(view)
        shot = f"{SHORT_ROLE[role]}-{width}-{view}"
        shoot(page, shot)
        assert stray_text(page) == [], shot
        assert overflow(page) == [], shot
        if view in ("catalogue", "actors"):
            # Chris Pine comes first by name; the card says his age and gender.
            expect(page.get_by_role("list", name="Actors").get_by_role("listitem").first).to_contain_text(
                "Chris Pine45 years old · male")
        if view in ("catalogue", "movies"):
            expect(page.get_by_role("heading", level=1)).to_have_count(1)
            expect(page.get_by_role("navigation", name="Movie pages")).to_contain_text("Page 1 of 2")
        if view == "catalogue":
            # Both columns start level, whether or not the role has a "+ New" button in one of them.
            tops = [page.locator(f"#{kind}-{part}").bounding_box()["y"]
                    for part in ("heading", "filter-q") for kind in ("movies", "actors")]
            assert abs(tops[0] - tops[1]) < 1 and abs(tops[2] - tops[3]) < 1, tops
        if view == "actor":
            facts = page.get_by_role("dialog", name="Saoirse Ronan").locator(".facts")
            expect(facts).to_contain_text(re.compile(r"Age\s*32 years old\s*Gender\s*female\s*Record\s*Actor #\d+"))
        if axe:
            audits[view] = axe_violations(page, axe)

    lists = ["catalogue"] if width == "desktop" else ["movies", "actors"]
    movie, actor = ["movie"], ["actor"]
    deleted = {"casting-assistant": [], "casting-director": ["deleted-actors"],
               "executive-producer": ["deleted-actors", "deleted-movies"]}[role]
    if role != "casting-assistant":
        movie, actor = ["movie", "edit-movie"], ["actor", "edit-actor", "confirm-delete"]
    assert seen == ["sign-in", *lists, *movie, *actor, *deleted]
    assert {view: found for view, found in audits.items() if found} == {}
    if not axe:
        pytest.skip("axe-core is not installed (`npm ci` installs it): all but the accessibility audit ran")


@pytest.mark.parametrize("width", list(VIEWPORTS))
def test_long_names_wrap_inside_their_column(browsing, client, producer, api, width):
    """A 200-character title and a 100-character name without a space break inside their cards, profiles,
    forms and messages: the page never becomes wider than the window, nor spills into the other column."""
    star = new_actor(api, LONG_NAME, 40, "female")["id"]
    new_movie(api, LONG_TITLE, "2024-05-01", actor_ids=[star])
    page = browsing.page(VIEWPORTS[width])
    sign_in(page, "executive-producer")
    movies = page.get_by_role("list", name="Movies")
    expect(movies).to_contain_text(LONG_TITLE)

    def check(view):
        settle(page)
        shoot(page, f"long-names-{width}-{view}")
        assert overflow(page) == [], view

    if width == "desktop":
        expect(page.get_by_role("list", name="Actors")).to_contain_text(LONG_NAME)
        check("catalogue")
        title = page.get_by_role("button", name=LONG_TITLE, exact=True).bounding_box()
        actors = page.locator("#actors-panel").bounding_box()
        assert title["x"] + title["width"] < actors["x"], "the title runs into the Actors column"
    else:
        check("movies")
        page.get_by_role("tab", name="Actors").click()
        expect(page.get_by_role("list", name="Actors")).to_contain_text(LONG_NAME)
        check("actors")
        page.get_by_role("tab", name="Movies").click()

    page.get_by_role("button", name=LONG_TITLE, exact=True).click()
    movie = page.get_by_role("dialog", name=LONG_TITLE)
    expect(movie.get_by_role("heading", name="Cast (1)")).to_be_visible()
    check("movie")
    movie.get_by_role("button", name="Edit movie").click()
    form = page.get_by_role("dialog", name=f"Edit {LONG_TITLE}")
    check("edit-movie")
    form.get_by_role("button", name="Save changes").click()
    expect(movie.get_by_role("status")).to_contain_text(f"“{LONG_TITLE}” saved")
    check("movie-saved")
    movie.get_by_role("button", name=LONG_NAME, exact=True).click()
    actor = page.get_by_role("dialog", name=LONG_NAME)
    expect(actor.get_by_role("button", name=f"Back to {LONG_TITLE}")).to_be_visible()
    check("actor")
    actor.get_by_role("button", name="Delete actor").click()
    expect(page.get_by_role("alertdialog", name=f"Delete “{LONG_NAME}”?")).to_be_visible()
    check("confirm-delete")
