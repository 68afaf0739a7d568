"""Issue 21, item 8: the green confirmation ("Movie saved.") covers nothing, in a profile or on the page.

A profile scrolls its body alone and its confirmation has a line of its own below it; the page's confirmation sits
in the flow under the header, with the page's alerts, and pushes the lists down. Checked in Chromium by what is
under the confirmation's box: nothing of a profile's body, nothing of the lists.
"""

from __future__ import annotations

import pytest

from tests.dashboard.pages import (
    VIEWPORTS,
    expect,
    open_movie,
    settle,
    shoot,
    sign_in,
)
from tests.utils.records import api_as, new_actor, new_movie

# Each confirmation as it appears, measured once it is laid out (two frames later, whatever the test does meanwhile,
# and however soon it goes): its text, what of the content beside it (the profile's body in a dialog, else the page's
# lists) shows under its box (elements with text of their own, a control, an image: hit-tested on a grid of points,
# which honours scrolling and clipping), and where that content's box ends.
WATCH_JS = """() => {
    window.toastsSeen = [];
    const shows = (element) => ["INPUT", "SELECT", "BUTTON", "IMG", "TEXTAREA"].includes(element.tagName)
        || [...element.childNodes].some((node) => node.nodeType === Node.TEXT_NODE && node.textContent.trim());
    const measure = (toast) => {
        const dialog = toast.closest("dialog");
        const content = dialog ? dialog.querySelector(".dialog-body") : document.querySelector("#workspace");
        const box = toast.getBoundingClientRect();
        const under = new Set();
        for (let x = box.left + 2; x < box.right - 1; x += 12) {
            for (let y = box.top + 2; y < box.bottom - 1; y += 6) {
                for (const element of document.elementsFromPoint(x, y)) {
                    if (content.contains(element) && shows(element)) {
                        under.add(`${element.tagName.toLowerCase()}: ${element.textContent.trim().slice(0, 60)}`);
                    }
                }
            }
        }
        const area = content.getBoundingClientRect();
        window.toastsSeen.push({ text: toast.textContent, in: dialog ? dialog.id : "page", under: [...under],
                                 toast: [box.top, box.bottom], content: [area.top, area.bottom],
                                 scrolls: content.scrollHeight > content.clientHeight });
    };
    new MutationObserver((records) => {
        for (const record of records) {
            for (const node of record.addedNodes) {
                if (node instanceof Element && node.classList.contains("toast")) {
                    requestAnimationFrame(() => requestAnimationFrame(() => measure(node)));
                }
            }
        }
    }).observe(document.body, { childList: true, subtree: true });
}"""


def seen_toast(page, text: str) -> dict:
    """The measure of the confirmation that said `text`, once taken."""
    page.wait_for_function("(text) => (window.toastsSeen || []).some((seen) => seen.text === text)", arg=text)
    return next(seen for seen in page.evaluate("window.toastsSeen") if seen["text"] == text)


def many_changes(client, producer, actors: int = 4, changes: int = 6) -> int:
    """A movie with a cast and a history long enough to fill a profile past the bottom of the window."""
    cast = [new_actor(api_as(client, producer), name, 40 + n, "female")["id"] for n, name in enumerate(
        ["Viola Davis", "Tilda Swinton", "Saoirse Ronan", "Florence Pugh"][:actors])]
    movie_id = new_movie(api_as(client, producer), "Copper Sky", "2020-08-21", actor_ids=list(cast))["id"]
    for number in range(changes):
        response = client.patch(f"/movies/{movie_id}", headers=producer, json={"release_date": f"202{number}-01-01"})
        assert response.status_code == 200, response.json
    return movie_id


@pytest.mark.parametrize("width", list(VIEWPORTS))
def test_a_confirmation_in_a_profile_covers_none_of_it(browsing, client, producer, width):
    """After a save, the confirmation has a line of its own below the profile's body, which scrolls alone: none of
    the profile (its History lines included) is under it, and the body ends where it begins."""
    many_changes(client, producer)
    page = browsing.page(VIEWPORTS[width])
    sign_in(page, "casting-director")
    movie = open_movie(page, "Copper Sky")
    expect(movie.get_by_role("list", name="History").get_by_role("listitem")).to_have_count(7)
    page.evaluate(WATCH_JS)
    movie.get_by_role("button", name="Edit movie").click()
    form = page.get_by_role("dialog", name="Edit Copper Sky")
    form.get_by_role("textbox", name="Title", exact=True).fill("Copper Skies")
    form.get_by_role("button", name="Save changes").click()
    seen = seen_toast(page, "Movie “Copper Skies” saved.")
    assert seen["in"] == "detail-dialog" and seen["under"] == [], seen
    assert seen["content"][1] <= seen["toast"][0], ("the body ends above the confirmation", seen)
    assert seen["scrolls"], ("the profile is longer than its window: the test covers the case", seen)
    movie = page.get_by_role("dialog", name="Copper Skies")
    expect(movie.get_by_role("list", name="History").get_by_role("listitem")).to_have_count(8)
    if movie.locator(".toast").count():  # still there: the picture shows it
        settle(page)
    shoot(page, f"i21-director-{width}-saved-toast")


@pytest.mark.parametrize("width", list(VIEWPORTS))
def test_a_confirmation_on_the_page_covers_none_of_the_lists(browsing, client, producer, api, width):
    """The page's own confirmation (a movie deleted, its window closed) is in the flow under the header: the lists
    move down to make room for it, and none of them is under it."""
    for number in range(1, 10):
        new_movie(api, f"Reel {number}", f"20{10 + number}-01-01")["id"]
    new_actor(api, "Viola Davis", 61, "female")["id"]
    page = browsing.page(VIEWPORTS[width])
    sign_in(page, "executive-producer")
    expect(page.locator("#movies-status")).to_have_text("9 movies")
    top = page.locator("#workspace").bounding_box()["y"]
    page.evaluate(WATCH_JS)
    movie = open_movie(page, "Reel 9")
    movie.get_by_role("button", name="Delete movie").click()
    page.get_by_role("alertdialog", name="Delete “Reel 9”?").get_by_role("button", name="Delete movie").click()
    seen = seen_toast(page, "Movie “Reel 9” deleted.")
    assert seen["in"] == "page" and seen["under"] == [], seen
    assert seen["content"][0] >= seen["toast"][1], ("the lists start below it", seen)
    assert seen["content"][0] > top, ("the lists moved down to make room", seen, top)
    expect(page.locator("#movies-status")).to_have_text("8 movies")
    if page.locator("#toast .toast").count():
        settle(page)
    shoot(page, f"i21-producer-{width}-deleted-toast")
