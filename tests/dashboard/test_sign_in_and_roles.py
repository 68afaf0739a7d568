"""Signing in and what each role may do, in Chromium: each role sees only its actions, an assistant cannot write
(even from the page's own code), a rejected token goes back to sign-in, and Auth0's Authorization Code flow with
PKCE and logout, whose two Auth0 endpoints the test plays itself."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from casting.tokens.local_issuer import LocalIssuer
from casting.tokens.roles import ROLE_PERMISSIONS
from tests.dashboard.pages import (
    AUTH0_AUDIENCE,
    AUTH0_CLIENT_ID,
    AUTH0_DOMAIN,
    TOKEN_KEY,
    Browsing,
    expect,
    settle,
    shoot,
    sign_in,
)
from tests.utils.gunicorn import LIVE_SETTINGS, start_gunicorn
from tests.utils.jwks_server import JwksServer
from tests.utils.records import new_actor, new_movie

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
def test_each_role_sees_only_its_actions(browsing, client, producer, api, role):
    pine = new_actor(api, "Chris Pine", 45, "male")["id"]
    new_movie(api, "Raids of the Ice", "2017-04-29", actor_ids=[pine])
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

    # The history comes in after the rest and makes the dialog taller, which moves its top (it is centred): a
    # click sent as it arrives lands where the button was. Clicks wait for the profile to be whole.
    settle(page)
    movie.get_by_role("button", name="Chris Pine", exact=True).click()
    actor = page.get_by_role("dialog", name="Chris Pine")
    expect(actor.get_by_role("heading", name="Movies (1)")).to_be_visible()
    assert_buttons(actor, ACTOR_BUTTONS, actor_buttons)
    expect(actor.get_by_role("heading", name="History", exact=True)).to_have_count(has_history)
    settle(page)
    actor.get_by_role("button", name="Back to Raids of the Ice").click()
    expect(page.get_by_role("dialog", name="Raids of the Ice")).to_be_visible()


def test_an_assistant_cannot_write(browsing, client, producer, api):
    movie_id = new_movie(api, "Salt and Signal", "2016-02-12")["id"]
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


# --- Auth0: Authorization Code with PKCE, the two Auth0 endpoints played by the test --------------------------


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def test_auth0_login_with_pkce_and_logout(chromium, app, client, producer, api, database_url, tmp_path):
    new_movie(api, "Night Train to Varna", "2018-11-23")
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
