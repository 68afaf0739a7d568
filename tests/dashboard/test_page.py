"""The page itself and what serves it: a strict CSP and no inline script or style (through the test client, and as
Chromium reads the Permissions-Policy), scripts that write no HTML, /dashboard/config.json in local and Auth0 mode,
and /dev/token, the local role picker's token, handed out only on this machine."""

from __future__ import annotations

import re

import jwt
import pytest

from casting.config import ConfigError
from casting.dashboard import views as dashboard
from casting.tokens.roles import ROLE_PERMISSIONS
from casting.web.middleware import PERMISSIONS_POLICY
from tests.dashboard.pages import (
    ROLE_LABELS,
)
from tests.utils.environment import ROOT

STATIC = ROOT / "casting" / "dashboard" / "static"


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
        assert "document.cookie" not in source, script.name
        # The one thing the page keeps across visits: the name last typed at sign-in (development's issuer).
        assert "localStorage" not in source or script.name == "session.js", script.name


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
