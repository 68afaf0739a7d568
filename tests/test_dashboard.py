"""The staff dashboard at `/`: its server side, and what people do with it in a real Chromium.

The browser tests drive Debian's Chromium (Playwright for Python) against the app under gunicorn on
127.0.0.1, on the suite's database (PostgreSQL in CI), signing in the way staff do: the local role picker,
or Auth0's Authorization Code flow with PKCE, whose Auth0 endpoints the test plays itself. Every
request that would leave the server's origin is aborted and recorded, and each test asserts there was none.
Screenshots of the main views at desktop and phone widths go to artifacts/ (git-ignored); the README's
docs/dashboard.png is written when it is missing or when UPDATE_DOCS_SCREENSHOT=1.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import re
from urllib.parse import parse_qs, urlencode, urlsplit
from zoneinfo import ZoneInfo

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import text as sql

import dashboard
import history
import idempotency
import roles
from cli import seed_demo
from config import ConfigError
from local_issuer import LocalIssuer
from middleware import PERMISSIONS_POLICY
from models import Actor, Movie, db
from roles import ROLE_PERMISSIONS
from tests.helpers import LIVE_SETTINGS, ROOT, JwksServer, pem, start_gunicorn

STATIC = ROOT / "static" / "dashboard"
ARTIFACTS = ROOT / "artifacts"
DOCS_SCREENSHOT = ROOT / "docs" / "dashboard.png"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 812}
WAIT_MS = 10_000
TOKEN_KEY = "casting-agency.token"
ROLE_LABELS = roles.ROLE_LABELS
AUTH0_DOMAIN = "tenant.auth0.test"
AUTH0_AUDIENCE = "https://casting-agency.test/api"
AUTH0_CLIENT_ID = "dashboard-spa"


# --- the server side, through the test client --------------------------------------------------------------


def test_page_is_served_under_a_strict_csp(client):
    response = client.get("/")
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response.headers["Permissions-Policy"] == PERMISSIONS_POLICY
    assert {"camera=()", "microphone=()", "geolocation=()", "payment=()"} <= set(PERMISSIONS_POLICY.split(", "))
    assert client.get("/docs").headers["Permissions-Policy"] == PERMISSIONS_POLICY
    assert "Permissions-Policy" not in client.get("/health").headers  # JSON is no page
    csp = dict(part.strip().split(" ", 1) for part in response.headers["Content-Security-Policy"].split(";"))
    assert csp["script-src"] == "'self'" and csp["style-src"] == "'self'"
    assert csp["connect-src"] == "'self'" and csp["img-src"] == "'self' data:"
    assert csp["frame-ancestors"] == "'none'" and csp["base-uri"] == "'none'" and csp["form-action"] == "'self'"
    assert csp["default-src"] == "'none'"
    html = response.get_data(as_text=True)
    assert "http://" not in html and "https://" not in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "no inline script"
    assert not re.search(r"\sstyle=|<style", html), "no inline style"
    for asset in re.findall(r'(?:src|href)="(/dashboard/assets/[^"]+)"', html):
        asset_response = client.get(asset)
        assert asset_response.status_code == 200, asset
        asset_response.close()


def test_scripts_set_no_inline_styles_and_write_no_html():
    for script in STATIC.glob("*.js"):
        source = script.read_text()
        for forbidden in (".style.", ".style =", "setAttribute(\"style\"", "innerHTML", "outerHTML",
                          "insertAdjacentHTML", "document.write", "eval(", "new Function"):
            assert forbidden not in source, f"{script.name} uses {forbidden}"
        assert "document.cookie" not in source and "localStorage" not in source, script.name


def test_scripts_fill_elements_through_set_children():
    """replaceChildren(a, null) shows the text "null": elements are filled through ui.setChildren, which
    leaves out what is not there (emptying one with replaceChildren() is fine)."""
    for script in STATIC.glob("*.js"):
        calls = re.findall(r"\.replaceChildren\((?!\))", script.read_text())
        assert calls == [], f"{script.name}: use setChildren(element, ...children)"


def test_config_in_local_mode_lists_the_three_roles(client):
    response = client.get("/dashboard/config.json")
    assert response.status_code == 200
    assert response.json == {"mode": "local", "roles": [
        {"id": role, "label": ROLE_LABELS[role], "permissions": permissions}
        for role, permissions in ROLE_PERMISSIONS.items()
    ]}


@pytest.mark.parametrize("role", list(ROLE_PERMISSIONS))
def test_dev_token_is_a_short_lived_token_for_the_role(client, role):
    response = client.post("/dev/token", json={"role": role})
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    body = response.json
    assert body["token_type"] == "Bearer" and body["expires_in"] == dashboard.DEV_TOKEN_SECONDS
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["permissions"] == ROLE_PERMISSIONS[role]
    assert claims["exp"] - claims["iat"] == dashboard.DEV_TOKEN_SECONDS <= 3600
    bearer = {"Authorization": f"Bearer {body['access_token']}"}
    assert client.get("/movies", headers=bearer).status_code == 200
    expected = 201 if "post:movies" in ROLE_PERMISSIONS[role] else 403
    assert client.post("/movies", headers=bearer, json={"title": "T", "release_date": "2020-01-01"}).status_code \
        == expected


@pytest.mark.parametrize("kwargs,status,field", [
    ({"json": {"role": "casting-intern"}}, 422, "role"),
    ({"json": {"role": None}}, 422, "role"),
    ({"json": {}}, 422, "role"),
    ({"json": {"role": "casting-director", "permissions": ["delete:movies"]}}, 422, "permissions"),
    ({"data": "role=casting-director", "content_type": "application/x-www-form-urlencoded"}, 415, None),
    ({"data": "{not json", "content_type": "application/json"}, 400, None),
    ({"json": ["casting-director"]}, 400, None),
])
def test_dev_token_validates_its_input(client, kwargs, status, field):
    response = client.post("/dev/token", **kwargs)
    assert response.status_code == status
    body = response.json
    assert body["success"] is False and body["error"] == status and body["message"]
    if field:
        assert list(body["details"]) == [field]


def test_dev_token_refuses_other_origins(client):
    response = client.post("/dev/token", json={"role": "executive-producer"},
                           headers={"Origin": "https://elsewhere.example"})
    assert response.status_code == 403 and "access_token" not in response.json
    same_origin = client.post("/dev/token", json={"role": "executive-producer"},
                              headers={"Origin": "http://localhost"})
    assert same_origin.status_code == 200


@pytest.mark.parametrize("address,base_url", [
    ("10.1.2.3", "http://127.0.0.1:5000"),  # a server bound to 0.0.0.0 without APP_ENV: another machine asks
    ("127.0.0.1", "http://casting.example:5000"),  # DNS rebinding: a site's name that resolves to 127.0.0.1
    ("10.1.2.3", "http://casting.example"),
])
def test_dev_token_is_handed_out_only_on_this_machine(client, address, base_url):
    response = client.post("/dev/token", json={"role": "executive-producer"}, base_url=base_url,
                           environ_base={"REMOTE_ADDR": address})
    assert response.status_code == 403 and "access_token" not in response.json
    assert "only on this machine" in response.json["message"]
    for local_url in ("http://127.0.0.1:5000", "http://localhost", "http://[::1]:8000"):
        local = client.post("/dev/token", json={"role": "executive-producer"}, base_url=local_url,
                            environ_base={"REMOTE_ADDR": "::1"})
        assert local.status_code == 200, (local_url, local.json)


def test_with_auth0_the_page_logs_in_there_and_dev_token_does_not_exist(make_app):
    app = make_app(AUTH0_DOMAIN="casting.eu.auth0.com", API_AUDIENCE="casting-api", AUTH0_CLIENT_ID="spa-client",
                   JWKS_URL="http://127.0.0.1:9/jwks.json", TOKEN_ISSUER="https://casting.eu.auth0.com/")
    client = app.test_client()
    assert client.get("/dashboard/config.json").json == {
        "mode": "auth0", "domain": "casting.eu.auth0.com", "client_id": "spa-client", "audience": "casting-api"}
    csp = client.get("/").headers["Content-Security-Policy"]
    assert "connect-src 'self' https://casting.eu.auth0.com;" in csp
    response = client.post("/dev/token", json={"role": "executive-producer"})
    assert response.status_code == 404 and response.json["error"] == 404
    assert "dev.dev_token" not in app.view_functions


def test_a_malformed_auth0_domain_is_refused(make_app):
    with pytest.raises(ConfigError, match="host name"):
        make_app(AUTH0_DOMAIN="https://evil.example/'; script-src *", API_AUDIENCE="a")


# --- a real server, a real browser --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium(chromium):
    """conftest's browser, with this module's patience for `expect`."""
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)
    return chromium


@pytest.fixture
def server(app, gunicorn) -> str:
    """The live server's URL; the `app` fixture empties the tables after each test."""
    return gunicorn.url


class Browsing:
    """New pages in fresh contexts that may talk only to `origin`; anything else is aborted and recorded."""

    def __init__(self, browser, origin: str):
        self.browser = browser
        self.origin = origin
        self.contexts = []
        self.outside: list[str] = []
        self.page_errors: list[str] = []

    def page(self, viewport=DESKTOP, timezone_id: str | None = None):
        context = self.browser.new_context(viewport=viewport, base_url=self.origin, locale="en-GB",
                                           timezone_id=timezone_id)
        context.set_default_timeout(WAIT_MS)
        context.route("**/*", self._only_origin)
        self.contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        return page

    def _only_origin(self, route):
        url = route.request.url
        if url == self.origin or url.startswith(self.origin + "/"):
            return route.continue_()
        self.outside.append(url)
        return route.abort()

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def browsing(chromium, server):
    session = Browsing(chromium, server)
    yield session
    session.close()
    assert session.outside == [], "the page tried to reach another origin"
    assert session.page_errors == [], "uncaught errors in the page"


def expect(locator):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def sign_in(page, role: str) -> None:
    page.goto("/")
    page.get_by_role("button", name=ROLE_LABELS[role]).click()
    expect(page.locator("#role-badge")).to_have_text(ROLE_LABELS[role])
    expect(page.get_by_role("heading", name="Movies", exact=True)).to_be_visible()


def test_the_page_may_use_no_powerful_feature_and_keeps_its_window_to_itself(browsing, server):
    """Permissions-Policy and Cross-Origin-Opener-Policy, as gunicorn serves them and as Chromium reads them."""
    page = browsing.page()
    console = []
    page.on("console", lambda message: console.append(message.text))
    response = page.goto("/")
    assert response.headers["cross-origin-opener-policy"] == "same-origin"
    assert "camera=()" in response.headers["permissions-policy"]
    for feature in ("camera", "microphone", "geolocation", "payment", "usb", "clipboard-read"):
        assert page.evaluate(f"document.featurePolicy.allowsFeature('{feature}')") is False, feature
    assert page.evaluate("document.featurePolicy.allowsFeature('sync-xhr')") is True  # not in the list: default
    assert not [text for text in console if "Permissions-Policy" in text or "Feature Policy" in text], console


def type_date(page, field, date: dt.date) -> None:
    """Set a date through the browser's own date control, from the keyboard as a person would (its pop-up
    calendar draws outside the page, where no test reaches). The control orders its day and month by the
    browser's language, not the page's: a first entry tells which order this Chromium uses."""
    field.focus()
    page.keyboard.type("01022003")
    day_first = field.input_value() == "2003-02-01"
    field.blur()
    field.focus()  # back at its first part
    page.keyboard.type(date.strftime("%d%m%Y" if day_first else "%m%d%Y"))
    expect(field).to_have_value(date.isoformat())


def settle(page) -> None:
    """Lists loaded, fades over and the pointer parked: a screenshot shows no spinner and no hover, and the
    colours axe-core measures are the final ones."""
    expect(page.locator("[aria-busy='true']")).to_have_count(0)
    page.mouse.move(0, 0)
    page.evaluate("""() => Promise.all(document.getAnimations()
        .filter((animation) => animation.effect?.getComputedTiming().endTime !== Infinity)
        .map((animation) => animation.finished.catch(() => null)))""")


def shoot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), animations="disabled")


def add_actor(client, producer, name: str, age: int, gender: str) -> int:
    response = client.post("/actors", headers=producer, json={"name": name, "age": age, "gender": gender})
    assert response.status_code == 201, response.json
    return response.json["actor"]["id"]


def add_movie(client, producer, title: str, release_date: str, actor_ids=()) -> int:
    response = client.post("/movies", headers=producer,
                           json={"title": title, "release_date": release_date, "actor_ids": list(actor_ids)})
    assert response.status_code == 201, response.json
    return response.json["movie"]["id"]


# What each role is shown: (list buttons, movie profile buttons, actor profile buttons).
VISIBLE = {
    "casting-assistant": (set(), set(), set()),
    "casting-director": ({"New actor", "Recently deleted actors"},
                         {"Edit movie", "Add to cast", "Remove Chris Pine from the cast"},
                         {"Edit actor", "Delete actor", "Cast in movie", "Remove from Raids of the Ice"}),
    "executive-producer": ({"New movie", "New actor", "Recently deleted movies", "Recently deleted actors"},
                           {"Edit movie", "Delete movie", "Add to cast", "Remove Chris Pine from the cast"},
                           {"Edit actor", "Delete actor", "Cast in movie", "Remove from Raids of the Ice"}),
}
LIST_BUTTONS = {"New movie", "New actor", "Recently deleted movies", "Recently deleted actors"}
MOVIE_BUTTONS = {"Edit movie", "Delete movie", "Add to cast", "Remove Chris Pine from the cast"}
ACTOR_BUTTONS = {"Edit actor", "Delete actor", "Cast in movie", "Remove from Raids of the Ice"}


def assert_buttons(scope, everything: set[str], visible: set[str]) -> None:
    for name in sorted(everything):
        button = scope.get_by_role("button", name=name, exact=True)
        if name in visible:
            expect(button).to_be_visible()
        else:
            expect(button).to_have_count(0)


@pytest.mark.parametrize("role", list(ROLE_PERMISSIONS))
def test_each_role_sees_only_its_actions(browsing, client, producer, role):
    pine = add_actor(client, producer, "Chris Pine", 45, "male")
    add_movie(client, producer, "Raids of the Ice", "2017-04-29", [pine])
    page = browsing.page()
    sign_in(page, role)
    list_buttons, movie_buttons, actor_buttons = VISIBLE[role]
    expect(page.get_by_role("list", name="Movies").get_by_role("listitem")).to_have_count(1)
    assert_buttons(page.locator("main"), LIST_BUTTONS, list_buttons)

    page.get_by_role("button", name="Raids of the Ice", exact=True).click()
    movie = page.get_by_role("dialog", name="Raids of the Ice")
    expect(movie.get_by_role("heading", name="Cast (1)")).to_be_visible()
    assert_buttons(movie, MOVIE_BUTTONS, movie_buttons)

    has_history = 1 if "get:history" in ROLE_PERMISSIONS[role] else 0
    expect(movie.get_by_role("heading", name="History", exact=True)).to_have_count(has_history)

    movie.get_by_role("button", name="Chris Pine", exact=True).click()
    actor = page.get_by_role("dialog", name="Chris Pine")
    expect(actor.get_by_role("heading", name="Movies (1)")).to_be_visible()
    assert_buttons(actor, ACTOR_BUTTONS, actor_buttons)
    expect(actor.get_by_role("heading", name="History", exact=True)).to_have_count(has_history)
    actor.get_by_role("button", name="Back to Raids of the Ice").click()
    expect(page.get_by_role("dialog", name="Raids of the Ice")).to_be_visible()


def test_a_producer_runs_a_movie_from_creation_to_deletion(browsing, client, producer):
    davis = add_actor(client, producer, "Viola Davis", 61, "female")
    isaac = add_actor(client, producer, "Oscar Isaac", 47, "male")
    add_actor(client, producer, "Tilda Swinton", 66, "female")
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


def test_a_director_casts_and_uncasts_from_the_actor_side_and_deletes_the_actor(browsing, client, producer):
    swinton = add_actor(client, producer, "Tilda Swinton", 66, "female")
    orlando = add_movie(client, producer, "Orlando", "1992-09-01", [swinton])
    souvenir = add_movie(client, producer, "The Souvenir", "2019-05-17")
    add_movie(client, producer, "Suspiria", "2018-10-26")
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


def test_an_assistant_cannot_write(browsing, client, producer):
    movie_id = add_movie(client, producer, "Salt and Signal", "2016-02-12")
    page = browsing.page()
    sign_in(page, "casting-assistant")
    assert_buttons(page.locator("main"), LIST_BUTTONS, set())

    opener = page.get_by_role("button", name="Salt and Signal", exact=True)
    opener.focus()
    page.keyboard.press("Enter")
    movie = page.get_by_role("dialog", name="Salt and Signal")
    expect(movie.get_by_role("heading", name="Cast (0)")).to_be_visible()
    assert_buttons(movie, {"Edit movie", "Delete movie", "Add to cast"}, set())
    expect(movie.get_by_label("Actor", exact=True)).to_have_count(0)
    page.keyboard.press("Escape")
    expect(movie).to_be_hidden()
    expect(opener).to_be_focused()

    # A write crafted from the page's own code (as from the devtools console) is refused, and said so.
    page.evaluate("""async (movieId) => {
        const { api } = await import("/dashboard/assets/api.js");
        api.post("/movies", { title: "Sneaked in", release_date: "2020-01-01" });
        api.delete(`/movies/${movieId}`);
    }""", movie_id)
    alert = page.get_by_role("alert").filter(has_text="Not allowed")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("signed in as Casting Assistant")
    expect(alert).to_contain_text(re.compile(r"token lacks the (post|delete):movies permission"))
    shoot(page, "desktop-assistant-forbidden")
    titles = [m["title"] for m in client.get("/movies", headers=producer).json["movies"]]
    assert titles == ["Salt and Signal"]
    assert page.context.cookies() == [], "the token never goes into a cookie"


def test_a_rejected_token_goes_back_to_sign_in_with_a_message(browsing, issuer):
    page = browsing.page()
    sign_in(page, "casting-director")
    assert page.evaluate(f"sessionStorage.getItem('{TOKEN_KEY}')").count(".") == 2
    wrong_audience = issuer.mint("casting-director", aud="another-api")
    page.evaluate(f"sessionStorage.setItem('{TOKEN_KEY}', '{wrong_audience}')")
    page.reload()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.locator("#signin-message")).to_contain_text("signed out (token is for another audience)")
    assert page.evaluate(f"sessionStorage.getItem('{TOKEN_KEY}')") is None

    page.get_by_role("button", name="Casting Director").click()
    expect(page.locator("#role-badge")).to_have_text("Casting Director")
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert page.evaluate(f"sessionStorage.getItem('{TOKEN_KEY}')") is None


@pytest.mark.parametrize("status,response_headers,expected", [
    (429, {"Retry-After": "7"}, "Too many requests in a short time. Please wait 7 seconds"),
    (503, {"Retry-After": "5"}, "temporarily unavailable (the database is unavailable). Please try again in 5 seconds"),
    (500, {}, "Something went wrong on the server. If it keeps happening, quote this reference: req-42"),
])
def test_server_trouble_is_explained(browsing, client, producer, status, response_headers, expected):
    add_actor(client, producer, "Riz Ahmed", 44, "male")
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


def test_a_slow_answer_shows_a_loading_state(browsing, client, producer):
    add_actor(client, producer, "Steven Yeun", 43, "male")
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


def test_conflicts_and_vanished_records_are_explained(browsing, client, producer):
    movie_id = add_movie(client, producer, "Copper Sky", "2020-08-21")
    add_movie(client, producer, "Under the Linden", "2015-05-01")
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


# --- what people see: every role, desktop and phone --------------------------------------------------------

SHORT_ROLE = {"casting-assistant": "assistant", "casting-director": "director", "executive-producer": "producer"}
VIEWPORTS = {"desktop": DESKTOP, "phone": PHONE}
STRAY_TEXT = re.compile(r"\b(null|undefined|NaN)\b|\[object ")
LONG_TITLE = "Supercalifragilistic" * 10  # 200 characters and no space: the longest title the API takes
LONG_NAME = ("Wolfeschlegelsteinhausen" * 5)[:100]  # the longest name
WHOLE_DATE = "is not a whole date: fill in the day, the month and the year (four digits)."

# Whatever sticks out sideways: past the window, out of a list's column, or out of an open dialog.
OVERFLOW_JS = """() => {
    const problems = [];
    const page = document.documentElement;
    if (page.scrollWidth > window.innerWidth) problems.push(`the page is ${page.scrollWidth}px wide`);
    for (const box of document.querySelectorAll(".panel, dialog[open]")) {
        const outer = box.getBoundingClientRect();
        if (!outer.width) continue;
        if (box.scrollWidth > box.clientWidth) problems.push(`#${box.id} is ${box.scrollWidth}px wide inside`);
        for (const inner of box.querySelectorAll("*")) {
            const rect = inner.getBoundingClientRect();
            if (rect.width && (rect.right > outer.right + 1 || rect.left < outer.left - 1)) {
                problems.push(`${inner.tagName.toLowerCase()}.${inner.className} sticks out of #${box.id}`);
            }
        }
    }
    return problems;
}"""


def stray_text(page) -> list[str]:
    """Words a script wrote by mistake (`null`, `undefined`...) anywhere on screen, open dialogs included."""
    return [match.group(0) for match in STRAY_TEXT.finditer(page.locator("body").inner_text())]


def overflow(page) -> list[str]:
    return page.evaluate(OVERFLOW_JS)


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


AXE_CORE = ROOT / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture(scope="module")
def axe() -> str | None:
    """axe-core's script (npm, pinned in package-lock.json) to run inside the page; None outside CI when
    `npm ci` has not run. CI must have it: .ci/run runs `npm ci` before the suite."""
    if AXE_CORE.exists():
        return AXE_CORE.read_text()
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI needs {AXE_CORE.relative_to(ROOT)}: .ci/run installs it with `npm ci`")
    return None


def axe_violations(page, axe: str) -> list[str]:
    """axe-core's findings on the whole page as it is now (all its rules), one line per element."""
    if not page.evaluate("typeof window.axe === 'object'"):
        # Evaluated through the browser's debugging protocol, which the page's CSP does not govern.
        page.evaluate(axe + "\n;0")
    return page.evaluate("""async () => (await axe.run(document)).violations.flatMap((violation) =>
        violation.nodes.map((node) => `${violation.id} (${violation.impact}) at ${node.target.join(" ")}: ${
            violation.help}`))""")


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
def test_long_names_wrap_inside_their_column(browsing, client, producer, width):
    """A 200-character title and a 100-character name without a space break inside their cards, profiles,
    forms and messages: the page never becomes wider than the window, nor spills into the other column."""
    star = add_actor(client, producer, LONG_NAME, 40, "female")
    add_movie(client, producer, LONG_TITLE, "2024-05-01", [star])
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


def page_alerts(page):
    return page.locator("#page-alert .alert")


def test_a_filter_alert_goes_with_the_bad_filter(browsing, client, producer):
    for name, age in (("Riz Ahmed", 44), ("Dev Patel", 36), ("Florence Pugh", 30)):
        add_actor(client, producer, name, age, "male" if name != "Florence Pugh" else "female")
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


def test_a_rate_limit_alert_goes_once_the_lists_load_again(browsing, client, producer, axe):
    add_actor(client, producer, "Riz Ahmed", 44, "male")
    add_movie(client, producer, "The Last Lighthouse", "2023-10-06")
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


def test_dates_and_empty_fields_are_asked_for_in_one_wording(browsing, client, producer):
    """An empty required field says "is required" in the new and the edit form alike, a date typed in part
    says what is missing in words that fit the browser's date control, and neither is sent to the API."""
    add_movie(client, producer, "Copper Sky", "2020-08-21")
    add_actor(client, producer, "Gal Gadot", 41, "female")
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


# --- safe writes: two editors, and creates that happen once -------------------------------------------------
#
# These run against a server started with REQUIRE_IF_MATCH=true: a change the page sends without If-Match
# would be a 428 there. "Someone else" is another person changing records through the same server, with a
# token of their own from the suite's issuer, reading the ETag first as a careful client does.

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


@pytest.fixture(scope="module")
def strict_gunicorn(_schema, database_url, signing_key, tmp_path_factory):
    server = start_gunicorn(tmp_path_factory.mktemp("gunicorn-strict"), "gunicorn-strict", DATABASE_URL=database_url,
                            LOCAL_ISSUER_PRIVATE_KEY=pem(signing_key), REQUIRE_IF_MATCH="true", **LIVE_SETTINGS)
    yield server
    server.process.stop()


@pytest.fixture
def strict(chromium, app, strict_gunicorn):
    """Pages on the REQUIRE_IF_MATCH server; the `app` fixture empties the tables after each test."""
    session = Browsing(chromium, strict_gunicorn.url)
    yield session
    session.close()
    assert session.outside == [], "the page tried to reach another origin"
    assert session.page_errors == [], "uncaught errors in the page"


class SomeoneElse:
    """Another casting director or producer, writing through the API of the page's server."""

    def __init__(self, server, issuer, role="executive-producer"):
        self.server = server
        self.token = issuer.mint(role)

    def etag(self, path: str) -> str:
        response = self.server.request("GET", path, self.token)
        assert response.status_code == 200, response.text
        return response.headers["ETag"]

    def write(self, method: str, path: str, json=None, etag_of: str | None = None) -> None:
        """`method` `path` with If-Match: the ETag of `etag_of` (a casting's movie), else of `path`, as read now."""
        headers = {"If-Match": self.etag(etag_of or path)}
        response = self.server.request(method, path, self.token, json=json, headers=headers)
        assert response.status_code == 200, response.text


@pytest.fixture
def someone_else(strict_gunicorn, issuer):
    return SomeoneElse(strict_gunicorn, issuer)


def record_writes(page) -> list[dict]:
    """The API writes the page sends (not signing in), with their If-Match and Idempotency-Key, as sent."""
    writes = []

    def seen(request):
        path = urlsplit(request.url).path
        if request.method != "GET" and path != "/dev/token":
            writes.append({"method": request.method, "path": path, "if_match": request.headers.get("if-match"),
                           "key": request.headers.get("idempotency-key")})

    page.on("request", seen)
    return writes


def stored(client, producer, path: str) -> dict:
    response = client.get(path, headers=producer)
    assert response.status_code == 200, response.json
    return next(value for name, value in response.json.items() if name != "success")


def open_actor(page, name: str, width: str = "desktop"):
    if width == "phone":
        page.get_by_role("tab", name="Actors").click()
    page.get_by_role("list", name="Actors").get_by_role("button", name=name, exact=True).click()
    actor = page.get_by_role("dialog", name=name)
    expect(actor.get_by_role("heading", name=re.compile(r"^Movies \("))).to_be_visible()
    return actor


def open_movie(page, title: str):
    page.get_by_role("list", name="Movies").get_by_role("button", name=title, exact=True).click()
    movie = page.get_by_role("dialog", name=title)
    expect(movie.get_by_role("heading", name=re.compile(r"^Cast \("))).to_be_visible()
    return movie


@pytest.mark.parametrize("width", list(VIEWPORTS))
def test_an_edit_made_meanwhile_by_someone_else_is_not_overwritten(strict, client, producer, someone_else, axe, width):
    """The page's PATCH carries the ETag it showed; when someone else changed the actor meanwhile, nothing of the
    page's is written, the form shows the current version with the person's own changes kept, and saving again
    applies them to it."""
    actor_id = add_actor(client, producer, "Gal Gadot", 41, "female")
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


def test_a_delete_after_someone_else_changed_the_movie_is_refused(strict, client, producer, someone_else, axe):
    movie_id = add_movie(client, producer, "Copper Sky", "2020-08-21")
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


def test_casting_from_a_movie_after_someone_else_changed_it_is_refused(strict, client, producer, someone_else):
    """Cast and uncast on a movie's profile send the ETag of the movie shown; a cast changed meanwhile is a 412,
    the profile shows the current cast, and doing it again works."""
    davis = add_actor(client, producer, "Viola Davis", 61, "female")
    isaac = add_actor(client, producer, "Oscar Isaac", 47, "male")
    swinton = add_actor(client, producer, "Tilda Swinton", 66, "female")
    movie_id = add_movie(client, producer, "The Quiet Harbour", "2019-09-13", [davis])
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


def test_casting_from_an_actor_after_someone_else_changed_it_is_refused(strict, client, producer, someone_else):
    """On an actor's profile the page checks that the actor shown is still current, then sends the movie's ETag
    as it reads it: a change to the actor meanwhile sends nothing; a change to the movie in between is a 412."""
    swinton = add_actor(client, producer, "Tilda Swinton", 66, "female")
    orlando = add_movie(client, producer, "Orlando", "1992-09-01", [swinton])
    souvenir = add_movie(client, producer, "The Souvenir", "2019-05-17")
    page = strict.page()
    writes = record_writes(page)
    sign_in(page, "casting-director")
    actor = open_actor(page, "Tilda Swinton")
    someone_else.write("PATCH", f"/actors/{swinton}", {"age": 67})

    actor.get_by_label("Movie", exact=True).select_option(label="The Souvenir (2019)")
    actor.get_by_role("button", name="Cast in movie").click()
    expect(actor.get_by_role("alert")).to_have_text(
        "Someone else changed this actor after this page showed it, so Tilda Swinton was not cast in The Souvenir "
        "(2019). It is shown here as it is now: choose the movie again if you still want to.×")
    expect(actor.locator(".facts")).to_contain_text("67 years old")
    assert writes == [], "nothing was sent"
    assert [m["id"] for m in stored(client, producer, f"/actors/{swinton}")["movies"]] == [orlando]

    souvenir_etag = someone_else.etag(f"/movies/{souvenir}")
    actor.get_by_label("Movie", exact=True).select_option(label="The Souvenir (2019)")
    actor.get_by_role("button", name="Cast in movie").click()
    expect(actor.get_by_role("heading", name="Movies (2)")).to_be_visible()
    expect(actor.get_by_role("alert")).to_have_text("")
    assert [m["id"] for m in stored(client, producer, f"/actors/{swinton}")["movies"]] == [orlando, souvenir]

    # The movie changes between the page's read of it and its DELETE: the API refuses it.
    orlando_etags = []

    def rename_first(route):
        if not orlando_etags:
            orlando_etags.append(someone_else.etag(f"/movies/{orlando}"))  # what the page read just now
            someone_else.write("PATCH", f"/movies/{orlando}", {"title": "Orlando: A Biography"})
            orlando_etags.append(someone_else.etag(f"/movies/{orlando}"))
        route.fallback()

    page.route(f"**/movies/{orlando}/actors/{swinton}", rename_first)
    actor.get_by_role("button", name="Remove from Orlando").click()
    expect(actor.get_by_role("alert")).to_have_text(
        "Someone else changed “Orlando” after this page showed it, so Tilda Swinton was not removed from "
        "“Orlando”. It is shown here as it is now: remove the movie again if you still want to.×")
    expect(actor.get_by_role("button", name="Orlando: A Biography", exact=True)).to_be_visible()
    assert [m["id"] for m in stored(client, producer, f"/actors/{swinton}")["movies"]] == [orlando, souvenir]
    actor.get_by_role("button", name="Remove from Orlando: A Biography").click()
    expect(actor.get_by_role("heading", name="Movies (1)")).to_be_visible()
    assert [m["id"] for m in stored(client, producer, f"/actors/{swinton}")["movies"]] == [souvenir]

    assert [(w["method"], w["if_match"]) for w in writes] == [
        ("PUT", souvenir_etag), ("DELETE", orlando_etags[0]), ("DELETE", orlando_etags[1])]
    assert all(UUID.fullmatch(w["key"]) for w in writes)


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
                           {"id": idempotency.Key("local|casting-director", key, "").lock_id})
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


# --- history and undo: a profile's history in words, and restoring what was deleted ---------------------------
#
# "Someone" changes records through the API with a token of their own (an Auth0-like subject), before the page
# loads them; the page names them by that subject, and the person signed in as "you". The pages run in Paris
# time, so that a time shown in UTC would fail.

SOMEONE = "auth0|64f1c2a9e3b0c12d4e5f6a7b"
TIME_ZONE = "Europe/Paris"


@pytest.fixture
def someone(headers) -> dict:
    return headers("executive-producer", sub=SOMEONE)


def call(client, who: dict, method: str, path: str, json=None, status: int = 200) -> dict:
    response = client.open(path, method=method, headers=who, json=json)
    assert response.status_code == status, response.json
    return response.json


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


def open_deleted(page, kind: str, width: str):
    """The "Recently deleted" window of the `kind` column, its list loaded."""
    if width == "phone":
        page.get_by_role("tab", name=kind.capitalize()).click()
    page.get_by_role("button", name=f"Recently deleted {kind}", exact=True).click()
    dialog = page.get_by_role("dialog", name=f"Recently deleted {kind}")
    expect(dialog.get_by_role("list", name=f"Recently deleted {kind}")).to_have_attribute("aria-busy", "false")
    return dialog


def deleted_names(dialog):
    return dialog.get_by_role("list").get_by_role("heading")


def check_view(page, axe, shot: str) -> None:
    settle(page)
    shoot(page, shot)
    assert stray_text(page) == [] and overflow(page) == [], shot
    if axe:
        assert axe_violations(page, axe) == [], shot


@pytest.mark.parametrize("width", list(VIEWPORTS))
@pytest.mark.parametrize("role", ["casting-director", "executive-producer"])
def test_a_profile_tells_its_history_in_words(browsing, client, producer, someone, axe, role, width):
    """Changes made through the API by someone else read as sentences with their subject and local time, newest
    first; the other side is named as it is now (an actor who is gone by number); the person's own change comes
    on top, by "you"."""
    patel = add_actor(client, someone, "Dev Patel", 36, "male")
    ahmed = add_actor(client, someone, "Riz Ahmed", 44, "male")
    gadot = add_actor(client, someone, "Gal Gadot", 41, "female")
    movie_id = add_movie(client, someone, "Raids of the Ice", "2017-04-29")
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
        f"Actor #{ahmed} was removed from the cast {by} {at[0]}",
        f"Gal Gadot was removed from the cast {by} {at[1]}",
        f"Gal Gadot was cast {by} {at[2]}",
        f"Actor #{ahmed} was cast {by} {at[3]}",
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


def test_a_long_history_shows_twenty_changes_then_more(browsing, client, producer, someone):
    movie_id = add_movie(client, someone, "Copper Sky", "2020-08-21")
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
def test_a_director_restores_a_deleted_actor(browsing, client, producer, someone, axe, width):
    """The actor comes back cast in the movie that still exists; the one deleted meanwhile is named. Deletes undone
    since are not listed, and a record deleted again is listed once."""
    swinton = add_actor(client, someone, "Tilda Swinton", 66, "female")
    orlando = add_movie(client, someone, "Orlando", "1992-09-01", [swinton])
    souvenir = add_movie(client, someone, "The Souvenir", "2019-05-17", [swinton])
    ronan = add_actor(client, someone, "Saoirse Ronan", 32, "female")
    pugh = add_actor(client, someone, "Florence Pugh", 30, "female")
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
        browsing, client, producer, someone, axe, width):
    pine = add_actor(client, someone, "Chris Pine", 45, "male")
    gadot = add_actor(client, someone, "Gal Gadot", 41, "female")
    raids = add_movie(client, someone, "Raids of the Ice", "2017-04-29", [pine, gadot])
    copper = add_movie(client, someone, "Copper Sky", "2020-08-21")
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


def test_an_assistant_sees_no_history_and_nothing_to_restore(browsing, client, someone):
    pine = add_actor(client, someone, "Chris Pine", 45, "male")
    add_movie(client, someone, "Raids of the Ice", "2017-04-29", [pine])
    gone = add_actor(client, someone, "Gal Gadot", 41, "female")
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


# --- Auth0: Authorization Code with PKCE, the two Auth0 endpoints played by the test --------------------------


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def test_auth0_login_with_pkce_and_logout(chromium, app, client, producer, database_url, tmp_path):
    add_movie(client, producer, "Night Train to Varna", "2018-11-23")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    auth0 = LocalIssuer(key, AUTH0_AUDIENCE, issuer=f"https://{AUTH0_DOMAIN}/")
    jwks = JwksServer(document=auth0.jwks())
    server = start_gunicorn(tmp_path, "gunicorn-auth0", DATABASE_URL=database_url, AUTH0_DOMAIN=AUTH0_DOMAIN,
                            API_AUDIENCE=AUTH0_AUDIENCE, AUTH0_CLIENT_ID=AUTH0_CLIENT_ID, JWKS_URL=jwks.url,
                            **LIVE_SETTINGS)
    browsing = Browsing(chromium, server.url)
    seen: dict[str, dict] = {}

    def play_auth0(route):
        request = route.request
        url = urlsplit(request.url)
        if url.path == "/authorize":
            params = {k: v[0] for k, v in parse_qs(url.query).items()}
            seen["authorize"] = params
            back = f"{params['redirect_uri']}?{urlencode({'code': 'the-code', 'state': params['state']})}"
            return route.fulfill(status=302, headers={"Location": back})
        if url.path == "/oauth/token" and request.method == "POST":
            form = {k: v[0] for k, v in parse_qs(request.post_data).items()}
            seen["token"] = form
            ok = (form.get("grant_type") == "authorization_code" and form.get("code") == "the-code"
                  and s256(form.get("code_verifier", "")) == seen["authorize"]["code_challenge"])
            body = {"access_token": auth0.mint("executive-producer", sub="auth0|staff-1"), "token_type": "Bearer",
                    "expires_in": 3600} if ok else {"error": "invalid_grant", "error_description": "PKCE check failed"}
            return route.fulfill(status=200 if ok else 403, content_type="application/json", body=json.dumps(body),
                                 headers={"Access-Control-Allow-Origin": server.url})
        if url.path == "/v2/logout":
            seen["logout"] = {k: v[0] for k, v in parse_qs(url.query).items()}
            return route.fulfill(status=302, headers={"Location": seen["logout"]["returnTo"]})
        return route.fulfill(status=404, body="not played")

    try:
        assert requests.post(server.url + "/dev/token", json={"role": "executive-producer"}, timeout=5).status_code \
            == 404
        page = browsing.page()
        page.context.route(f"https://{AUTH0_DOMAIN}/**", play_auth0)
        page.goto("/")
        expect(page.get_by_role("button", name="Casting Assistant")).to_have_count(0)
        page.get_by_role("button", name="Log in").click()
        expect(page.locator("#role-badge")).to_have_text("Executive Producer")
        expect(page.get_by_role("button", name="Night Train to Varna", exact=True)).to_be_visible()
        expect(page.get_by_role("button", name="New movie")).to_be_visible()
        assert page.url == server.url + "/", "the code and state are gone from the address bar"

        authorize = seen["authorize"]
        assert authorize["response_type"] == "code" and authorize["code_challenge_method"] == "S256"
        assert authorize["client_id"] == AUTH0_CLIENT_ID and authorize["audience"] == AUTH0_AUDIENCE
        assert authorize["redirect_uri"] == server.url + "/"
        assert len(authorize["state"]) >= 16 and len(seen["token"]["code_verifier"]) >= 43
        assert seen["token"]["client_id"] == AUTH0_CLIENT_ID
        assert seen["token"]["redirect_uri"] == server.url + "/"

        page.get_by_role("button", name="Log out").click()
        expect(page.get_by_role("button", name="Log in")).to_be_visible()
        assert seen["logout"] == {"client_id": AUTH0_CLIENT_ID, "returnTo": server.url + "/"}
        assert page.evaluate(f"sessionStorage.getItem('{TOKEN_KEY}')") is None

        # An answer that does not match this tab's request (a forged state) is refused.
        page.goto("/?code=stolen&state=forged")
        expect(page.locator("#signin-message")).to_contain_text("does not match a request from this tab")
        expect(page.get_by_role("button", name="Log in")).to_be_visible()
        assert browsing.outside == [] and browsing.page_errors == []
    finally:
        browsing.close()
        server.process.stop()
        jwks.stop()
