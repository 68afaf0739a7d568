"""The lists of movies and actors, in Chromium: trouble loading them explained (429, 503, 500), a loading state, an
alert that goes with the bad filter or once the lists load again, and pages counted right."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from models import Movie, db
from tests.dashboard.pages import (
    PHONE,
    axe_violations,
    expect,
    overflow,
    page_alerts,
    shoot,
    sign_in,
    stray_text,
)
from tests.utils.records import new_actor, new_movie


@pytest.mark.parametrize("status,response_headers,expected", [
    (429, {"Retry-After": "7"}, "Too many requests in a short time. Please wait 7 seconds"),
    (503, {"Retry-After": "5"}, "temporarily unavailable (the database is unavailable). Please try again in 5 seconds"),
    (500, {}, "Something went wrong on the server. If it keeps happening, quote this reference: req-42"),
])
def test_server_trouble_is_explained(browsing, client, producer, api, status, response_headers, expected):
    new_actor(api, "Riz Ahmed", 44, "male")
    page = browsing.page()
    sign_in(page, "casting-director")
    expect(page.get_by_role("list", name="Actors")).to_contain_text("Riz Ahmed")
    messages = {429: "rate limit exceeded; slow down", 503: "the database is unavailable", 500: "internal server error"}
    body = {"success": False, "error": status, "message": messages[status]}
    if status == 500:
        body["request_id"] = "req-42"
    page.route(re.compile(r".*/actors\?.*"), lambda route: route.fulfill(
        status=status, headers=response_headers, content_type="application/json", body=json.dumps(body)))
    page.get_by_label("Search names").fill("Riz")
    alert = page.get_by_role("alert").filter(has_text=expected)
    expect(alert).to_be_visible()
    expect(page.locator("#actors-status")).to_have_text("The actors could not be loaded. Try again")
    alert.get_by_role("button", name="Dismiss this message").click()
    expect(alert).to_have_count(0)


def test_a_slow_answer_shows_a_loading_state(browsing, client, producer, api):
    new_actor(api, "Steven Yeun", 43, "male")
    page = browsing.page()
    sign_in(page, "casting-assistant")
    actors = page.get_by_role("list", name="Actors")
    expect(actors).to_contain_text("Steven Yeun")
    held = []
    # The answer waits until the test releases it.
    page.route(re.compile(r".*/actors\?.*q=Steven.*"), lambda route: held.append(route))
    page.get_by_label("Search names").fill("Steven")
    expect(actors).to_have_attribute("aria-busy", "true")
    expect(page.locator("#actors-status")).to_have_text("Loading actors…")
    held[0].continue_()
    expect(actors).to_have_attribute("aria-busy", "false")
    expect(page.locator("#actors-status")).to_have_text("1 actor matches")



def test_a_filter_alert_goes_with_the_bad_filter(browsing, client, producer, api):
    for name, age in (("Riz Ahmed", 44), ("Dev Patel", 36), ("Florence Pugh", 30)):
        new_actor(api, name, age, "male" if name != "Florence Pugh" else "female")
    page = browsing.page(PHONE)
    sign_in(page, "casting-assistant")
    page.get_by_role("tab", name="Actors").click()
    actors = page.locator("#actors-panel")
    expect(page.locator("#actors-status")).to_have_text("3 actors")
    actors.get_by_text("More filters").click()
    maximum = actors.get_by_label("Maximum age")

    maximum.fill("200")
    maximum.press("Enter")
    expect(page_alerts(page)).to_have_text(["Some actor filters are not valid: see the highlighted fields.×"])
    expect(maximum).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#actors-status")).to_have_text("The actors could not be loaded.")  # no "Try again"
    actors.get_by_role("button", name="Clear filters").click()
    expect(page.locator("#actors-status")).to_have_text("3 actors")
    expect(page_alerts(page)).to_have_count(0)
    expect(maximum).not_to_have_attribute("aria-invalid", "true")

    maximum.fill("200")
    maximum.press("Enter")
    expect(page_alerts(page)).to_have_count(1)
    maximum.fill("40")
    maximum.press("Enter")
    expect(page.locator("#actors-status")).to_have_text("2 actors match")
    expect(page_alerts(page)).to_have_count(0)
    assert stray_text(page) == [] and overflow(page) == []


def test_a_rate_limit_alert_goes_once_the_lists_load_again(browsing, client, producer, api, axe):
    new_actor(api, "Riz Ahmed", 44, "male")
    new_movie(api, "The Last Lighthouse", "2023-10-06")
    page = browsing.page()
    sign_in(page, "casting-director")
    expect(page.locator("#actors-status")).to_have_text("1 actor")
    too_many = {"status": 429, "headers": {"Retry-After": "17"}, "content_type": "application/json",
                "body": json.dumps({"success": False, "error": 429, "message": "rate limit exceeded"})}
    lists = {kind: re.compile(rf".*/{kind}\?.*") for kind in ("movies", "actors")}
    for pattern in lists.values():
        page.route(pattern, lambda route: route.fulfill(**too_many))
    page.get_by_label("Search names").fill("Riz")
    page.get_by_label("Search titles").fill("Light")
    for kind in lists:
        expect(page.locator(f"#{kind}-status")).to_have_text(f"The {kind} could not be loaded. Try again")
    # Both lists had the same trouble: said once.
    expect(page_alerts(page)).to_have_text(
        ["Too many requests in a short time. Please wait 17 seconds and try again.×"])
    shoot(page, "desktop-lists-rate-limited")
    if axe:  # (without it, test_each_role_sees_clean_and_accessible_pages says it was skipped)
        assert axe_violations(page, axe) == []

    page.unroute(lists["actors"])
    page.locator("#actors-status").get_by_role("button", name="Try again").click()
    expect(page.locator("#actors-status")).to_have_text("1 actor matches")
    expect(page_alerts(page)).to_have_count(1)  # the movies are still refused
    page.unroute(lists["movies"])
    page.locator("#movies-status").get_by_role("button", name="Try again").click()
    expect(page.locator("#movies-status")).to_have_text("1 movie matches")
    expect(page_alerts(page)).to_have_count(0)


def test_pages_are_counted_right_and_the_last_one_has_no_next(browsing, app):
    """16 movies at 8 a page are 2 pages (a multiple of the page size); 8 are one, with no pager; the first
    load shows no pager until it knows the pages."""
    with app.app_context():
        db.session.add_all(Movie(title=f"{'Even' if n % 2 == 0 else 'Odd'} reel {n}",
                                 release_date=dt.date(2000 + n, 1, 1)) for n in range(1, 17))
        db.session.commit()
    page = browsing.page(PHONE)
    held = []  # the first answer, until the test lets it go
    page.route(re.compile(r".*/movies\?.*"), lambda route: route.continue_() if held else held.append(route))
    sign_in(page, "casting-assistant")
    pager = page.get_by_role("navigation", name="Movie pages")
    expect(page.locator("#movies-status")).to_have_text("Loading movies…")
    expect(pager).to_be_hidden()
    held[0].continue_()

    previous, next_ = pager.get_by_role("button", name="Previous"), pager.get_by_role("button", name="Next")
    expect(pager).to_contain_text("Page 1 of 2")
    expect(previous).to_be_disabled()
    expect(next_).to_be_enabled()
    next_.click()
    expect(pager).to_contain_text("Page 2 of 2")
    expect(page.get_by_role("list", name="Movies").get_by_role("listitem")).to_have_count(8)
    expect(next_).to_be_disabled()
    expect(previous).to_be_enabled()
    expect(previous).to_be_focused()

    page.get_by_label("Search titles").fill("Even")
    expect(page.locator("#movies-status")).to_have_text("8 movies match")
    expect(pager).to_be_hidden()
    page.get_by_label("Search titles").fill("reel")
    expect(page.locator("#movies-status")).to_have_text("16 movies match")
    expect(pager).to_contain_text("Page 1 of 2")
