"""Issue 22: the views it changed, as each role sees them at 1280 and 375 px.

Screenshots go to artifacts/ (git-ignored) for people to look at; each view is checked for stray text, for nothing
sticking out sideways, and by axe-core (zero violations). The views: the sign-in with its name field, the lists under
a header that names the person, a movie's cast with its roles (and, for those who may change it, the character's
field open), an actor's movies with their characters, and both profiles' history (for those who may read it).
"""

from __future__ import annotations

import re

import pytest

from casting.cli import seed_demo
from casting.tokens.roles import ROLE_PERMISSIONS as PERMISSIONS
from tests.dashboard.pages import (
    ROLE_LABELS,
    SHORT_ROLE,
    VIEWPORTS,
    axe_violations,
    expect,
    overflow,
    settle,
    shoot,
    stray_text,
)


def id_of(client, who, kind: str, label: str) -> int:
    return client.get(f"/{kind}", headers=who, query_string={"q": label}).json[kind][0]["id"]


def roles_in_the_demo(client, dana) -> None:
    """The demo's "Echoes of June" with a cast of roles and a history of them: characters, billing, a reorder, a
    rename, a delete and a restore, all by Dana Whitfield."""
    movie = id_of(client, dana, "movies", "Echoes of June")
    path = f"/movies/{movie}"
    if client.get(path, headers=dana).status_code == 404:  # the demo deletes nothing, but be sure
        pytest.fail("Echoes of June is missing from the demo")
    cast = [id_of(client, dana, "actors", name) for name in ("Dev Patel", "Saoirse Ronan", "Mahershala Ali")]
    ok = [
        client.put(f"{path}/cast", headers=dana, json={"cast": [
            {"actor_id": cast[0], "character": "Young Arjun", "billing": 1},
            {"actor_id": cast[1], "character": "June Calloway", "billing": 2}, {"actor_id": cast[2]}]}),
        client.put(f"{path}/actors/{cast[0]}", headers=dana, json={"character": "Arjun", "billing": 1}),
        client.put(f"{path}/cast", headers=dana, json={"cast": [
            {"actor_id": cast[1], "character": "June Calloway", "billing": 1},
            {"actor_id": cast[0], "character": "Arjun", "billing": 2}, {"actor_id": cast[2]}]}),
        client.patch(path, headers=dana, json={"title": "Echoes of July"}),
        client.delete(path, headers=dana),
        client.post(f"{path}/restore", headers=dana),
        client.patch(path, headers=dana, json={"title": "Echoes of June"}),
    ]
    assert [r.status_code for r in ok] == [200, 200, 200, 200, 200, 201, 200], [r.json for r in ok]


@pytest.mark.parametrize("width", list(VIEWPORTS))
@pytest.mark.parametrize("role", list(PERMISSIONS))
def test_the_views_issue_22_changed(browsing, app, client, producer, headers, axe, role, width):
    with app.app_context():
        seed_demo()
    roles_in_the_demo(client, headers("executive-producer", name="Dana Whitfield", email="dana@agency.example"))
    page = browsing.page(VIEWPORTS[width])
    audits: dict[str, list[str]] = {}
    edits = "patch:movies" in PERMISSIONS[role]
    reads_history = "get:history" in PERMISSIONS[role]

    def look(view: str) -> None:
        settle(page)
        name = f"i22-{SHORT_ROLE[role]}-{width}-{view}"
        shoot(page, name)
        assert stray_text(page) == [], name
        assert overflow(page) == [], name
        if axe:
            audits[view] = axe_violations(page, axe)

    page.goto("/")
    expect(page.get_by_role("textbox", name="Your name")).to_be_visible()
    look("sign-in")
    page.get_by_role("textbox", name="Your name").fill("Avery Quinn-Okonkwo")
    page.get_by_role("button", name=ROLE_LABELS[role]).click()
    expect(page.locator("#session-name")).to_have_text("Avery Quinn-Okonkwo")
    expect(page.get_by_role("list", name="Movies").get_by_role("listitem")).to_have_count(8)
    look("lists")

    page.get_by_role("list", name="Movies").get_by_role("button", name="Echoes of June", exact=True).click()
    movie = page.get_by_role("dialog", name="Echoes of June")
    cast = movie.get_by_role("list", name="Cast (3)")
    expect(cast.locator(".cast-main")).to_have_text(
        ["Saoirse Ronan as June Calloway", "Dev Patel as Arjun", "Mahershala Ali"])
    expect(movie.locator(".cast-controls")).to_have_count(3 if edits else 0)
    cast.scroll_into_view_if_needed()
    look("movie-cast")
    if edits:
        movie.get_by_role("button", name="Edit Dev Patel's character").click()
        expect(movie.get_by_role("textbox", name="Character played by Dev Patel")).to_be_focused()
        look("character-editor")
        page.keyboard.press("Escape")
        expect(movie.locator(".character-editor")).to_have_count(0)
    if reads_history:
        history = movie.get_by_role("list", name="History").get_by_role("listitem")
        expect(history.nth(4)).to_contain_text(
            "Saoirse Ronan moved to billing 1; Dev Patel moved to billing 2 by Dana Whitfield on ")
        movie.get_by_role("region", name="History").scroll_into_view_if_needed()
        look("movie-history")

    cast.get_by_role("button", name="Dev Patel", exact=True).click()
    actor = page.get_by_role("dialog", name="Dev Patel")
    expect(actor.get_by_role("list", name=re.compile(r"^Movies \(")).locator(".cast-main")
           .filter(has_text="Echoes of June")).to_have_text("Echoes of June as ArjunBilling 2")
    look("actor")
    if reads_history:
        history = actor.get_by_role("list", name="History").get_by_role("listitem")
        expect(history.nth(0)).to_contain_text(
            "“Echoes of July” (now “Echoes of June”) was restored, with them cast again as Arjun at billing 2")
        expect(history.nth(1)).to_contain_text("“Echoes of July” (now “Echoes of June”) was deleted")
        actor.get_by_role("region", name="History").scroll_into_view_if_needed()
        look("actor-history")

    assert {view: found for view, found in audits.items() if found} == {}
    if not axe:
        pytest.skip("axe-core is not installed (`npm ci` installs it): all but the accessibility audit ran")
