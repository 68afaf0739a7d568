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
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

import dashboard
from auth import ROLE_PERMISSIONS, LocalIssuer
from cli import seed_demo
from config import ConfigError
from conftest import LIVE_SETTINGS, JwksEndpoint, start_gunicorn
from middleware import PERMISSIONS_POLICY
from models import Actor, Movie, db

ROOT = Path(__file__).resolve().parent
STATIC = ROOT / "static" / "dashboard"
ARTIFACTS = ROOT / "artifacts"
DOCS_SCREENSHOT = ROOT / "docs" / "dashboard.png"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 812}
WAIT_MS = 10_000
TOKEN_KEY = "casting-agency.token"
ROLE_LABELS = dashboard.ROLE_LABELS
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

    def page(self, viewport=DESKTOP):
        context = self.browser.new_context(viewport=viewport, base_url=self.origin, locale="en-GB")
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
    """Lists loaded and the pointer parked, so a screenshot shows no spinner and no hover."""
    for busy in page.locator("[aria-busy='true']").all():
        expect(busy).not_to_have_attribute("aria-busy", "true")
    page.mouse.move(0, 0)


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
    "casting-director": ({"New actor"}, {"Edit movie", "Add to cast", "Remove Chris Pine from the cast"},
                         {"Edit actor", "Delete actor", "Cast in movie", "Remove from Raids of the Ice"}),
    "executive-producer": ({"New movie", "New actor"},
                           {"Edit movie", "Delete movie", "Add to cast", "Remove Chris Pine from the cast"},
                           {"Edit actor", "Delete actor", "Cast in movie", "Remove from Raids of the Ice"}),
}
LIST_BUTTONS = {"New movie", "New actor"}
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

    movie.get_by_role("button", name="Chris Pine", exact=True).click()
    actor = page.get_by_role("dialog", name="Chris Pine")
    expect(actor.get_by_role("heading", name="Movies (1)")).to_be_visible()
    assert_buttons(actor, ACTOR_BUTTONS, actor_buttons)
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
    expect(confirm).to_contain_text("its actors stay")
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
    actor.get_by_role("button", name="Cast in movie").click()
    expect(actor.get_by_role("heading", name="Movies (2)")).to_be_visible()
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
    expect(confirm).to_contain_text("their movies stay")
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
    expect(error).to_have_text("Title must not be empty.")
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
    expect(page.locator("#actors-status")).to_have_text("The actors could not be loaded.")
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
    page.get_by_role("button", name="Dismiss this message").click()
    actors.get_by_label("Sort by").select_option(label="Name, A to Z")
    expect(actors.get_by_role("listitem").first).to_contain_text("Chris Pine")


# --- Auth0: Authorization Code with PKCE, the two Auth0 endpoints played by the test --------------------------


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def test_auth0_login_with_pkce_and_logout(chromium, app, client, producer, database_url, tmp_path):
    add_movie(client, producer, "Night Train to Varna", "2018-11-23")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    auth0 = LocalIssuer(key, AUTH0_AUDIENCE, issuer=f"https://{AUTH0_DOMAIN}/")
    jwks = JwksEndpoint(auth0.jwks())
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
        jwks.close()
