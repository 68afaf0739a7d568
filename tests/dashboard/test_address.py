"""Issue 21, item 8: each list's search, filters, sort and page are in the page's address.

`?movies.q=the&movies.sort=title&actors.gender=female&actors.page=2`: restored when the page loads (a bookmark, a
shared link, a reload), one history entry per change the person makes (a search once it settles, not per key), and
Back and Forward step through them. A value the page cannot show is corrected in place, without a history entry.
"""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from casting.cli import seed_demo
from casting.tokens.local_issuer import LocalIssuer
from tests.dashboard.pages import (
    AUTH0_AUDIENCE,
    AUTH0_CLIENT_ID,
    AUTH0_DOMAIN,
    PHONE,
    ROLE_LABELS,
    Browsing,
    expect,
    settle,
    shoot,
    sign_in,
)
from tests.utils.gunicorn import LIVE_SETTINGS, start_gunicorn
from tests.utils.jwks_server import JwksServer


@pytest.fixture
def demo(app):
    with app.app_context():
        seed_demo()


def query(page) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(page.url).query))


def entries(page) -> int:
    return page.evaluate("history.length")


def total(client, producer, path: str, **params) -> int:
    return client.get(path, headers=producer, query_string=params).json["total"]


def titles(page) -> list[str]:
    return page.get_by_role("list", name="Movies").locator(".card-title").all_inner_texts()


def test_each_change_is_a_history_entry_and_back_and_forward_step_through_them(browsing, client, producer, demo):
    page = browsing.page()
    sign_in(page, "casting-assistant")
    movies, actors = page.locator("#movies-panel"), page.locator("#actors-panel")
    pager = page.get_by_role("navigation", name="Movie pages")
    expect(pager).to_contain_text("Page 1 of 2")
    assert query(page) == {}
    start = entries(page)
    female = total(client, producer, "/actors", gender="female")

    pager.get_by_role("button", name="Next").click()
    expect(pager).to_contain_text("Page 2 of 2")
    assert query(page) == {"movies.page": "2"}
    # Three keys, one search: each key is an input event (sent here in one go, so that no pause of a busy machine
    # between two keys can settle the search in between), and the list is searched once they settle.
    movies.get_by_label("Search titles").evaluate("""(field) => {
        for (const text of ["t", "th", "the"]) {
            field.value = text;
            field.dispatchEvent(new InputEvent("input", { bubbles: true, data: text.at(-1), inputType: "insertText" }));
        }
    }""")
    expect(page.locator("#movies-status")).to_have_text("4 movies match")
    assert query(page) == {"movies.q": "the"}
    movies.get_by_label("Sort by").select_option(label="Title, A to Z")
    expect(movies.get_by_role("listitem").first).to_contain_text("Raids of the Ice")
    assert query(page) == {"movies.q": "the", "movies.sort": "title"}
    actors.get_by_text("More filters").click()
    actors.get_by_label("Gender").fill("female")
    actors.get_by_label("Gender").press("Enter")
    expect(page.locator("#actors-status")).to_have_text(f"{female} actors match")
    assert query(page) == {"movies.q": "the", "movies.sort": "title", "actors.gender": "female"}
    assert entries(page) == start + 4, "one entry per change"
    settle(page)
    shoot(page, "i21-assistant-desktop-address")

    page.go_back()
    expect(page.locator("#actors-status")).to_have_text("12 actors")
    expect(actors.get_by_label("Gender")).to_have_value("")
    assert query(page) == {"movies.q": "the", "movies.sort": "title"}
    page.go_back()
    expect(movies.get_by_label("Sort by")).to_have_value("-release_date")
    expect(movies.get_by_role("listitem").first).to_contain_text("The Last Lighthouse")
    page.go_back()
    expect(movies.get_by_label("Search titles")).to_have_value("")
    expect(pager).to_contain_text("Page 2 of 2")
    expect(page.locator("#movies-status")).to_have_text("12 movies")
    page.go_back()
    expect(pager).to_contain_text("Page 1 of 2")
    assert query(page) == {}

    for _ in range(4):
        page.go_forward()
    expect(page.locator("#actors-status")).to_have_text(f"{female} actors match")
    expect(movies.get_by_label("Search titles")).to_have_value("the")
    expect(movies.get_by_label("Sort by")).to_have_value("title")
    expect(actors.get_by_label("Gender")).to_have_value("female")
    expect(movies.get_by_role("listitem").first).to_contain_text("Raids of the Ice")
    assert entries(page) == start + 4, "stepping through adds none"

    # A reload shows the same lists, the filters they use in view.
    page.reload()
    expect(page.locator("#actors-status")).to_have_text(f"{female} actors match")
    expect(page.locator("#movies-status")).to_have_text("4 movies match")
    expect(movies.get_by_label("Search titles")).to_have_value("the")
    expect(actors.get_by_label("Gender")).to_be_visible()
    expect(actors.get_by_label("Gender")).to_have_value("female")
    assert query(page) == {"movies.q": "the", "movies.sort": "title", "actors.gender": "female"}
    page.go_back()  # the entries from before the reload are still there
    expect(page.locator("#actors-status")).to_have_text("12 actors")
    assert titles(page)[0] == "Raids of the Ice"


def test_a_shared_address_opens_the_same_lists_after_signing_in(browsing, client, producer, demo):
    """Someone else opens the address in a browser that is not signed in: after signing in, the lists are the ones
    it names (a phone: one column at a time)."""
    page = browsing.page(PHONE)
    page.goto("/?movies.q=the&movies.sort=-title&actors.page=2&actors.sort=age")
    page.get_by_role("button", name=ROLE_LABELS["casting-director"]).click()
    expect(page.locator("#movies-status")).to_have_text("4 movies match")
    expect(page.locator("#movies-panel").get_by_label("Search titles")).to_have_value("the")
    expect(page.locator("#movies-panel").get_by_role("listitem").first).to_contain_text("Under the Linden")
    page.get_by_role("tab", name="Actors").click()
    expect(page.get_by_role("navigation", name="Actor pages")).to_contain_text("Page 2 of 2")
    oldest = client.get("/actors", headers=producer, query_string={"sort": "age", "page": 2, "per_page": 8}).json
    expect(page.locator("#actors-panel").get_by_role("listitem").first).to_contain_text(oldest["actors"][0]["name"])
    assert query(page) == {"movies.q": "the", "movies.sort": "-title", "actors.page": "2", "actors.sort": "age"}
    settle(page)
    shoot(page, "i21-director-phone-shared-address")


def test_what_the_page_cannot_show_is_corrected_in_place(browsing, client, producer, demo):
    """An unknown sort order and a page number that is none fall back to the defaults; a page past the last shows the
    last; a filter value the API refuses is marked beside its field, as when typed. The address is corrected without
    a history entry."""
    page = browsing.page()
    sign_in(page, "casting-assistant")
    start = entries(page)
    page.goto("/?movies.sort=popularity&movies.page=0&actors.page=9&actors.max_age=200&elsewhere=kept")
    actors = page.locator("#actors-panel")
    expect(page.get_by_role("navigation", name="Movie pages")).to_contain_text("Page 1 of 2")
    expect(page.locator("#movies-panel").get_by_label("Sort by")).to_have_value("-release_date")
    expect(actors.get_by_label("Maximum age")).to_have_attribute("aria-invalid", "true")
    expect(actors.locator("#actors-filter-max_age-error")).to_have_text(
        "Maximum age must be less than or equal to 150.")
    assert query(page) == {"actors.page": "9", "actors.max_age": "200", "elsewhere": "kept"}

    actors.get_by_label("Maximum age").fill("40")
    actors.get_by_label("Maximum age").press("Enter")
    expect(page.locator("#actors-status")).to_have_text(re.compile(r"^\d+ actors match$"))
    assert query(page) == {"actors.max_age": "40", "elsewhere": "kept"}

    page.goto("/?actors.page=9")
    expect(page.get_by_role("navigation", name="Actor pages")).to_contain_text("Page 2 of 2")
    assert query(page) == {"actors.page": "2"}
    assert entries(page) == start + 3, "two loads and a change"


def test_an_auth0_sign_in_brings_the_lists_address_back(chromium, app, client, producer, database_url, tmp_path):
    """Signing in through Auth0 leaves the page and comes back to `/`: the lists' part of the address the person
    opened (and nothing else of it) is kept for the way back."""
    for title, released in (("Night Train to Varna", "2018-11-23"), ("Copper Sky", "2020-08-21")):
        assert client.post("/movies", headers=producer, json={"title": title, "release_date": released}).status_code \
            == 201
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    auth0 = LocalIssuer(key, AUTH0_AUDIENCE, issuer=f"https://{AUTH0_DOMAIN}/")
    jwks = JwksServer(document=auth0.jwks())
    server = start_gunicorn(tmp_path, "gunicorn-auth0", DATABASE_URL=database_url, AUTH0_DOMAIN=AUTH0_DOMAIN,
                            API_AUDIENCE=AUTH0_AUDIENCE, AUTH0_CLIENT_ID=AUTH0_CLIENT_ID, JWKS_URL=jwks.url,
                            **LIVE_SETTINGS)
    browsing = Browsing(chromium, server.url)

    def play_auth0(route):
        url = urlsplit(route.request.url)
        params = dict(parse_qsl(url.query))
        if url.path == "/authorize":
            back = f"{params['redirect_uri']}?{urlencode({'code': 'the-code', 'state': params['state']})}"
            return route.fulfill(status=302, headers={"Location": back})
        if url.path == "/oauth/token":
            body = {"access_token": auth0.mint("casting-assistant", sub="auth0|staff-2"), "token_type": "Bearer",
                    "expires_in": 3600}
            return route.fulfill(status=200, content_type="application/json", body=json.dumps(body),
                                 headers={"Access-Control-Allow-Origin": server.url})
        return route.fulfill(status=404, body="not played")

    try:
        page = browsing.page()
        page.context.route(f"https://{AUTH0_DOMAIN}/**", play_auth0)
        page.goto("/?movies.q=copper&elsewhere=dropped")
        page.get_by_role("button", name="Log in").click()
        expect(page.locator("#role-badge")).to_have_text("Casting Assistant")
        expect(page.locator("#movies-status")).to_have_text("1 movie matches")
        expect(page.get_by_label("Search titles")).to_have_value("copper")
        assert page.url == server.url + "/?movies.q=copper", "the code and state are gone, the lists' address back"
        assert browsing.outside == [] and browsing.page_errors == []
    finally:
        browsing.close()
        server.process.stop()
        jwks.stop()
