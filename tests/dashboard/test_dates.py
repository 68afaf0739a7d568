"""Issue 21, item 8: dates are written in the viewer's locale, in the order the browser's date control asks for them.

The page formats dates and times with the browser's own locale (Intl.DateTimeFormat with no locale), so an en-US
browser, whose date control reads mm/dd/yyyy, is shown "March 12, 2027", and an en-GB one, dd/mm/yyyy, "12 March
2027": in the lists, the profiles, the history, the recently deleted, and the words that ask for a date.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest

from tests.dashboard.pages import (
    WAIT_MS,
    Browsing,
    expect,
    open_movie,
    settle,
    shoot,
    sign_in,
    type_date,
)
from tests.utils.records import api_as, new_movie

TIME_ZONE = "America/New_York"
SOMEONE = "auth0|64f1c2a9e3b0c12d4e5f6a7b"




class LocaleBrowsing(Browsing):
    """tests/dashboard/pages.py's Browsing (only the server's origin), in a locale of the test's choosing."""

    def in_locale(self, locale: str, viewport=None):
        context = self.browser.new_context(viewport=viewport or {"width": 1280, "height": 800}, base_url=self.origin,
                                           locale=locale, timezone_id=TIME_ZONE)
        context.set_default_timeout(WAIT_MS)
        context.route("**/*", self._only_origin)
        self.contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        return page


@pytest.fixture
def browsing(chromium, server):
    """The folder's `browsing`, as a LocaleBrowsing."""
    session = LocaleBrowsing(chromium, server)
    yield session
    session.close()
    assert session.outside == [], "the page tried to reach another origin"
    assert session.page_errors == [], "uncaught errors in the page"






# How each locale writes 12 March 2027, the order its date control takes the parts in, and its clock.
LOCALES = {
    "en-US": {"date": "{month} {day}, {year}", "order": "the month, the day and the year", "keys": "%m%d%Y",
              "clock": r"{hour12}:{minute}\s?{ampm}"},
    "en-GB": {"date": "{day} {month} {year}", "order": "the day, the month and the year", "keys": "%d%m%Y",
              "clock": "{hour:02d}:{minute}"},
}


def written(locale: str, iso: str) -> str:
    day = dt.date.fromisoformat(iso)
    return LOCALES[locale]["date"].format(month=f"{day:%B}", day=day.day, year=day.year)


def instant(locale: str, at: str) -> str:
    """A pattern of the history's `at` as the page writes it in TIME_ZONE: "March 12, 2027, 9:05 AM"."""
    moment = dt.datetime.fromisoformat(at.replace("Z", "+00:00")).astimezone(ZoneInfo(TIME_ZONE))
    clock = LOCALES[locale]["clock"].format(hour=moment.hour, hour12=(moment.hour + 11) % 12 + 1,
                                            minute=f"{moment:%M}", ampm="AM" if moment.hour < 12 else "PM")
    return re.escape(written(locale, moment.date().isoformat()) + ", ") + clock


@pytest.mark.parametrize("locale", list(LOCALES))
def test_dates_are_written_as_the_viewer_s_locale_writes_them(browsing, client, producer, someone, locale):
    movie_id = new_movie(api_as(client, someone), "Copper Sky", "2027-03-12")["id"]
    gone = new_movie(api_as(client, someone), "Under the Linden", "2015-05-01")["id"]
    response = client.delete(f"/movies/{gone}", headers=someone)
    assert response.status_code == 200, response.json
    response = client.patch(f"/movies/{movie_id}", headers=someone, json={"title": "Copper Skies"})
    assert response.status_code == 200, response.json
    at = client.get(f"/movies/{movie_id}/history", headers=producer).json["history"][0]["at"]
    page = browsing.in_locale(locale)
    sign_in(page, "executive-producer")

    card = page.get_by_role("list", name="Movies").get_by_role("listitem").filter(has_text="Copper Skies")
    expect(card).to_contain_text(f"Released {written(locale, '2027-03-12')}")
    movie = open_movie(page, "Copper Skies")
    expect(movie.locator(".facts")).to_contain_text(re.compile(rf"Release date\s*{written(locale, '2027-03-12')}"))
    expect(movie.get_by_role("list", name="History").get_by_role("listitem").first).to_have_text(re.compile(
        rf"Title changed from “Copper Sky” to “Copper Skies” by {re.escape(SOMEONE)} on {instant(locale, at)}$"))
    settle(page)
    shoot(page, f"i21-producer-desktop-movie-{locale}")

    # The form asks for the parts in the order the viewer's locale writes them. In an en-US browser that is the
    # date control's order (mm/dd/yyyy), which the page's own dates now follow. (This Chromium has only its en-US
    # resources: its date control reads mm/dd/yyyy in any locale, so an en-GB page is typed into the same way.)
    movie.get_by_role("button", name="Edit movie").click()
    form = page.get_by_role("dialog", name="Edit Copper Skies")
    date = form.get_by_label("Release date")
    expect(form.locator("#field-release_date-hint")).to_have_text(
        f"Pick it from the calendar, or type {LOCALES[locale]['order']}.")
    date.fill("")
    date.focus()
    page.keyboard.type("05")  # the first part alone
    form.get_by_role("button", name="Save changes").click()
    expect(form.locator("#field-release_date-error")).to_have_text(
        f"Release date is not a whole date: fill in {LOCALES[locale]['order']} (four digits).")
    settle(page)
    shoot(page, f"i21-producer-desktop-edit-movie-{locale}")
    date.fill("")
    if locale == "en-US":
        date.focus()
        page.keyboard.type(dt.date(2027, 5, 14).strftime(LOCALES[locale]["keys"]))  # in the order the page says
        expect(date).to_have_value("2027-05-14")
    else:
        type_date(page, date, dt.date(2027, 5, 14))
    form.get_by_role("button", name="Save changes").click()
    expect(form).to_be_hidden()
    expect(movie.locator(".facts")).to_contain_text(written(locale, "2027-05-14"))
    expect(movie.get_by_role("list", name="History").get_by_role("listitem").first).to_contain_text(
        f"Release date changed from {written(locale, '2027-03-12')} to {written(locale, '2027-05-14')} by you on")
    page.keyboard.press("Escape")

    page.get_by_role("button", name="Recently deleted movies", exact=True).click()
    deleted = page.get_by_role("dialog", name="Recently deleted movies")
    expect(deleted.get_by_role("listitem")).to_contain_text(f"Released {written(locale, '2015-05-01')} · no cast")
