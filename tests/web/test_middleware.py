"""Request plumbing in casting/web/middleware.py (and app.py's CORS): request ids and the JSON access log,
the security headers of every kind of answer, client addresses and schemes through trusted proxies only, CORS."""

from __future__ import annotations

import json
import logging
import re
import threading
import urllib.request

import pytest
from werkzeug.serving import make_server

from casting.web.middleware import PERMISSIONS_POLICY, JsonFormatter
from tests.utils.apps import production


@pytest.fixture
def access_lines(caplog):
    caplog.set_level(logging.INFO, logger="casting.access")

    def lines() -> list[dict]:
        return [record.fields for record in caplog.records if record.name == "casting.access"]

    return lines


def test_request_id_is_generated_echoed_and_logged_with_the_subject(client, producer, access_lines):
    response = client.get("/movies", headers=producer)
    generated = response.headers["X-Request-ID"]
    assert len(generated) == 32
    response = client.get("/movies", headers={**producer, "X-Request-ID": "abc-123"})
    assert response.headers["X-Request-ID"] == "abc-123"
    line = access_lines()[-1]
    assert line["request_id"] == "abc-123" and line["sub"] == "local|executive-producer"
    assert (line["method"], line["path"], line["status"]) == ("GET", "/movies", 200)
    assert isinstance(line["duration_ms"], float)
    assert generated in {entry["request_id"] for entry in access_lines()}


def test_the_token_itself_never_reaches_the_log(client, producer, caplog):
    caplog.set_level(logging.DEBUG)
    client.get("/movies", headers=producer)
    client.get("/movies", headers={"Authorization": producer["Authorization"] + "x"})
    token = producer["Authorization"].split()[1]
    assert token[:40] not in caplog.text


@pytest.mark.parametrize("sent", ["x" * 129, "has space", "<script>", "a\u00e9b", "id;drop", ""],
                         ids=["too-long", "space", "markup", "non-ascii", "semicolon", "empty"])
@pytest.mark.parametrize("path,status", [("/health", 200), ("/movies/999", 404)])
def test_unusable_request_ids_are_replaced_by_fresh_ones(client, producer, access_lines, sent, path, status):
    """An id that does not look like one is never echoed (header, error body or log): a fresh one stands in."""
    answers = [client.get(path, headers={**producer, "X-Request-ID": sent}) for _ in range(2)]
    replacements = [answer.headers["X-Request-ID"] for answer in answers]
    for answer, replacement in zip(answers, replacements, strict=True):
        assert answer.status_code == status
        assert re.fullmatch(r"[0-9a-f]{32}", replacement), replacement
    assert replacements[0] != replacements[1]  # fresh for each request
    logged = access_lines()[-2:]
    assert [line["request_id"] for line in logged] == replacements
    if sent:
        for answer in answers:
            assert sent not in answer.get_data(as_text=True)
            assert all(sent not in value for _, value in answer.headers.items())
        assert all(sent not in json.dumps(line) for line in logged)


def test_a_usable_request_id_is_kept_at_its_longest(client):
    sent = "a" * 128
    assert client.get("/health", headers={"X-Request-ID": sent}).headers["X-Request-ID"] == sent


def test_log_lines_are_json():
    record = logging.LogRecord("casting.access", logging.INFO, __file__, 1, "GET /x 200", None, None)
    record.fields = {"status": 200}
    assert json.loads(JsonFormatter().format(record))["status"] == 200
    styled = logging.LogRecord("werkzeug", logging.INFO, __file__, 1, "\x1b[33mPress CTRL+C to quit\x1b[0m", None, None)
    assert json.loads(JsonFormatter().format(styled))["message"] == "Press CTRL+C to quit"


def test_the_development_server_logs_each_request_once(app, caplog):
    """`make run` serves through werkzeug, which logs every request itself: only the JSON access line stays."""
    caplog.set_level(logging.INFO)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/health", timeout=10) as response:
            assert response.status == 200
    finally:
        server.shutdown()
        thread.join(timeout=10)
    assert [r.fields["path"] for r in caplog.records if r.name == "casting.access"] == ["/health"]
    assert not [r for r in caplog.records if r.name == "werkzeug" and "/health" in r.getMessage()]
    # werkzeug's errors still get through.
    logging.getLogger("werkzeug").error("a werkzeug error")
    assert "a werkzeug error" in caplog.text


# The security headers of each kind of answer, written out here in full (not read from middleware.py), so that
# a directive dropped there fails. A CSP is compared directive by directive, Cache-Control as a set of directives.
API_CSP = {"default-src": "'none'", "frame-ancestors": "'none'"}
PAGE_CSP = {"default-src": "'none'", "script-src": "'self'", "style-src": "'self'", "img-src": "'self' data:",
            "connect-src": "'self'", "manifest-src": "'self'", "object-src": "'none'", "base-uri": "'none'",
            "form-action": "'self'", "frame-ancestors": "'none'"}
DOCS_CSP = {"default-src": "'self'", "script-src": "'self'", "style-src": "'self' 'unsafe-inline'",
            "img-src": "'self' data:", "connect-src": "'self'", "object-src": "'none'", "base-uri": "'none'",
            "frame-ancestors": "'none'", "form-action": "'none'"}
EVERY_ANSWER = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"}
PAGES = {**EVERY_ANSWER, "Cross-Origin-Opener-Policy": "same-origin", "Permissions-Policy": PERMISSIONS_POLICY}
HSTS = "max-age=63072000; includeSubDomains"
BAD_TOKEN = {"Authorization": "Bearer not.a.token"}

# kind: (path, request headers, the answer's status, its security headers; None: the header is absent)
ANSWERS = {
    "json": ("/health", {}, 200, {**EVERY_ANSWER, "Content-Security-Policy": API_CSP}),
    "401 for a bad token": ("/movies", BAD_TOKEN, 401,
                            {**EVERY_ANSWER, "Content-Security-Policy": API_CSP, "Cache-Control": {"no-store"}}),
    "dashboard page": ("/", {}, 200, {**PAGES, "Content-Security-Policy": PAGE_CSP, "Cache-Control": {"no-cache"}}),
    # Revalidated every time (ETag): the modules import each other by plain URLs.
    "dashboard asset": ("/dashboard/assets/app.js", {}, 200,
                        {**EVERY_ANSWER, "Cache-Control": {"no-cache", "max-age=0"}}),
    "docs page": ("/docs", {}, 200, {**PAGES, "Content-Security-Policy": DOCS_CSP}),
    "docs asset": ("/docs/assets/swagger-ui.css", {}, 200,
                   {**EVERY_ANSWER, "Content-Security-Policy": DOCS_CSP, "Cache-Control": {"no-cache"}}),
}


def security_headers(response, names) -> dict:
    found = {}
    for name in names:
        value = response.headers.get(name)
        if value is not None and name == "Content-Security-Policy":
            value = dict(part.strip().split(" ", 1) for part in value.split(";"))
        elif value is not None and name == "Cache-Control":
            value = {part.strip() for part in value.split(",")}
        found[name] = value
    return found


@pytest.mark.parametrize("kind", list(ANSWERS))
def test_security_headers_of_each_kind_of_answer(client, kind):
    path, sent, status, expected = ANSWERS[kind]
    with client.get(path, headers=sent) as response:  # a file's answer holds the file open until closed
        assert response.status_code == status
        expected = {**expected, "Strict-Transport-Security": None}  # only in production
        assert security_headers(response, expected) == expected


def test_security_headers_of_an_authenticated_read(client, producer):
    response = client.get("/movies", headers=producer)
    assert response.status_code == 200
    expected = {**EVERY_ANSWER, "Content-Security-Policy": API_CSP, "Cache-Control": {"no-store"},
                "Strict-Transport-Security": None, "Permissions-Policy": None, "Cross-Origin-Opener-Policy": None}
    assert security_headers(response, expected) == expected


@pytest.mark.parametrize("kind", list(ANSWERS))
def test_production_sends_the_security_headers_and_hsts_with_every_answer(make_app, kind):
    path, sent, status, expected = ANSWERS[kind]
    if kind == "dashboard page":  # the page may reach the Auth0 tenant's token endpoint
        expected = {**expected, "Content-Security-Policy": {**PAGE_CSP, "connect-src": "'self' https://tenant.example"}}
    with production(make_app, CORS_ORIGINS="").test_client().get(path, headers=sent) as response:
        assert response.status_code == status
        expected = {**expected, "Strict-Transport-Security": HSTS}
        assert security_headers(response, expected) == expected


def test_dashboard_assets_are_revalidated_by_etag(client):
    with client.get("/dashboard/assets/app.js") as first:
        assert first.status_code == 200 and first.headers["ETag"]
    with client.get("/dashboard/assets/app.js", headers={"If-None-Match": first.headers["ETag"]}) as again:
        assert again.status_code == 304 and again.get_data() == b""


def test_production_sends_hsts_and_is_not_debug(make_app):
    app = production(make_app, CORS_ORIGINS="")
    assert app.debug is False
    assert app.test_client().get("/health").headers["Strict-Transport-Security"] == HSTS


FORWARDED = {"X-Forwarded-For": "6.6.6.6, 203.0.113.9", "X-Forwarded-Proto": "https", "X-Forwarded-Port": "443",
             "X-Forwarded-Host": "evil.example"}


@pytest.mark.parametrize("proxies,headers,expected", [
    # No proxy in front (the default off Heroku): every X-Forwarded-* header is the client's own claim.
    (0, FORWARDED, {"addr": "127.0.0.1", "scheme": "http", "host": "casting.herokuapp.com"}),
    # One (Heroku's router): its entry, the last, not what the client put before it; X-Forwarded-Host never.
    (1, FORWARDED, {"addr": "203.0.113.9", "scheme": "https", "host": "casting.herokuapp.com"}),
    (2, FORWARDED, {"addr": "6.6.6.6", "scheme": "http", "host": "casting.herokuapp.com"}),
    (1, {"X-Forwarded-For": "2001:DB8::0:1"},
     {"addr": "2001:db8::1", "scheme": "http", "host": "casting.herokuapp.com"}),
    # What no proxy writes was made up: the connection's own values stay.
    (1, {"X-Forwarded-For": "a/b:c*d{e}", "X-Forwarded-Proto": "javascript", "X-Forwarded-Port": "x"},
     {"addr": "127.0.0.1", "scheme": "http", "host": "casting.herokuapp.com"}),
    (1, {"X-Forwarded-For": "203.0.113.9:4711", "X-Forwarded-Port": "70000"},
     {"addr": "127.0.0.1", "scheme": "http", "host": "casting.herokuapp.com"}),
], ids=["no-proxy", "one-proxy", "two-proxies", "ipv6", "made-up", "port-in-address"])
def test_forwarded_headers_count_only_through_the_trusted_proxies(make_app, proxies, headers, expected):
    app = production(make_app, TRUSTED_PROXY_COUNT=proxies)

    @app.get("/whoami")
    def whoami():
        from flask import request

        return {"addr": request.remote_addr, "scheme": request.scheme, "host": request.host}

    response = app.test_client().get("/whoami", base_url="http://casting.herokuapp.com", headers=headers)
    assert response.json == expected


def test_cors_preflight_needs_no_token_and_allows_the_auth_headers(client):
    response = client.options("/movies", headers={
        "Origin": "https://casting.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "Authorization, Content-Type"})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] in ("*", "https://casting.example")
    allowed = response.headers["Access-Control-Allow-Headers"].lower()
    assert "authorization" in allowed and "content-type" in allowed


def test_cors_origins_from_the_environment(make_app, app):
    configured = make_app(CORS_ORIGINS="https://casting.example, https://admin.example").test_client()
    ok = configured.get("/health", headers={"Origin": "https://admin.example"})
    assert ok.headers["Access-Control-Allow-Origin"] == "https://admin.example"
    other = configured.get("/health", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_production_cors_is_closed_by_default(make_app):
    client = production(make_app, CORS_ORIGINS="").test_client()
    response = client.get("/health", headers={"Origin": "https://casting.example"})
    assert "Access-Control-Allow-Origin" not in response.headers


@pytest.mark.parametrize("sent", ["abc", "0", "-3", "1.5", "1e3", "12345678901234567890", "7, 8"])
def test_a_catalogue_version_that_is_no_version_is_a_400_naming_the_header(client, producer, sent):
    response = client.get("/movies", headers={**producer, "Catalogue-Version": sent})
    assert response.status_code == 400
    assert response.get_json()["message"].startswith("Catalogue-Version must be a catalogue version")


def test_a_catalogue_version_the_api_answered_is_taken_back(client, producer):
    first = client.get("/movies", headers=producer)
    version = first.headers["Catalogue-Version"]
    assert int(version) >= 1
    again = client.get("/actors", headers={**producer, "Catalogue-Version": f" {version} "})
    assert again.status_code == 200


# --- caches (issue 21): Vary: Origin where the answer depends on it, Cache-Control on public answers ----------------


@pytest.mark.parametrize("path", ["/health", "/movies", "/movies/{movie}", "/nowhere"])
def test_answers_that_depend_on_the_origin_say_vary_origin(make_app, built_apps, producer, path):
    """With named origins, Access-Control-Allow-Origin is the request's Origin or nothing: a shared cache must key
    the answer on Origin, or it hands one origin's answer (or a non-CORS one) to another."""
    named = make_app(CORS_ORIGINS="https://casting.example", PUBLIC_READS=True)
    built_apps.append(named)
    client = named.test_client()
    movie = client.post("/movies", headers=producer, json={"title": "Vary", "release_date": "2020-01-01"})
    url = path.format(movie=movie.json["movie"]["id"])
    allowed = client.get(url, headers={"Origin": "https://casting.example"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://casting.example"
    refused = client.get(url, headers={"Origin": "https://evil.example"})
    plain = client.get(url)
    for response in (allowed, refused, plain):
        assert "origin" in {v.strip().lower() for v in response.headers.get("Vary", "").split(",")}, response.headers
    assert "Access-Control-Allow-Origin" not in refused.headers
    assert plain.headers.get("Access-Control-Allow-Origin") in (None, "https://casting.example")
    assert allowed.status_code == refused.status_code == plain.status_code


def test_production_answers_to_an_allowed_origin_vary_on_it(make_app):
    client = production(make_app, CORS_ORIGINS="https://casting.example").test_client()
    for headers in ({"Origin": "https://casting.example"},
                    {"Origin": "https://casting.example", "Access-Control-Request-Method": "POST"}):
        method = "OPTIONS" if "Access-Control-Request-Method" in headers else "GET"
        response = client.open("/health", method=method, headers=headers)
        assert response.headers["Access-Control-Allow-Origin"] == "https://casting.example"
        assert "Origin" in response.headers["Vary"], response.headers


def test_tokenless_public_reads_may_be_cached_only_if_revalidated(make_app, built_apps, producer):
    """PUBLIC_READS answers without a token carried no Cache-Control, so a cache could serve them stale as long as
    it liked: `no-cache` (revalidate by ETag each time). With a token: `no-store`."""
    public = make_app(PUBLIC_READS=True)
    built_apps.append(public)
    client = public.test_client()
    movie = client.post("/movies", headers=producer, json={"title": "Cached", "release_date": "2020-01-01"})
    assert movie.headers["Cache-Control"] == "no-store"
    for path in ("/movies", f"/movies/{movie.json['movie']['id']}", "/actors", "/movies/4242"):
        response = client.get(path)
        assert response.status_code in (200, 404) and response.headers["Cache-Control"] == "no-cache", path
        assert client.get(path, headers=producer).headers["Cache-Control"] == "no-store", path
    tag = client.get("/movies").headers["ETag"]
    revalidated = client.get("/movies", headers={"If-None-Match": tag})
    assert revalidated.status_code == 304 and revalidated.headers["Cache-Control"] == "no-cache"
