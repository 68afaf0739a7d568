"""Running it for real: request ids and the access log, security headers, CORS, rate limits, outages."""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import threading
import time
import urllib.request

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from werkzeug.serving import make_server

import config
import ratelimit
from middleware import PERMISSIONS_POLICY, JsonFormatter
from models import db


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


def test_500_body_carries_the_request_id(make_app, app):
    failing = make_app()

    @failing.get("/explode")
    def explode():
        raise ValueError("boom")

    response = failing.test_client().get("/explode", headers={"X-Request-ID": "req-42"})
    assert response.status_code == 500 and response.json["request_id"] == "req-42"
    replaced = failing.test_client().get("/explode", headers={"X-Request-ID": "<req 42>"})
    assert replaced.status_code == 500
    assert re.fullmatch(r"[0-9a-f]{32}", replaced.json["request_id"])
    assert replaced.json["request_id"] == replaced.headers["X-Request-ID"]
    assert "<req 42>" not in replaced.get_data(as_text=True)


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


def production(make_app, **overrides):
    settings = {"PRODUCTION": True, "AUTH0_DOMAIN": "tenant.example", "API_AUDIENCE": "casting",
                "JWKS_URL": "http://127.0.0.1:9/jwks.json", "TOKEN_ISSUER": "https://tenant.example/",
                "ALLOW_TEST_ISSUER": True,  # the JWKS_URL above is a stand-in
                "SQLALCHEMY_DATABASE_URI": "postgresql://u@127.0.0.1:9/db"}
    settings.update(overrides)
    return make_app(**settings)


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


@pytest.mark.parametrize("proxies", [0, 1])
def test_rate_limit_keys_are_ip_addresses_whatever_x_forwarded_for_says(make_app, app, proxies):
    """Rotating X-Forwarded-For buys no fresh budget without a trusted proxy, and no header becomes a key."""
    from flask import g

    limited = make_app(TRUSTED_PROXY_COUNT=proxies, RATELIMIT_ENABLED=True, RATE_LIMIT_READS="2/hour",
                       PUBLIC_READS=True)
    keys = []

    @limited.after_request
    def key(response):
        keys.append(ratelimit.client_key())
        g.pop("claims", None)
        return response

    client = limited.test_client()
    spoofed = ["10.0.0.1", "10.0.0.2", "a/b:c*d{e}", "10.0.0.3"]
    statuses = [client.get("/movies", headers={"X-Forwarded-For": value}).status_code for value in spoofed]
    if proxies == 0:
        assert statuses == [200, 200, 429, 429]
        assert keys == ["ip:127.0.0.1"] * 4
    else:
        assert statuses == [200, 200, 200, 200]  # a proxy's entries are different clients; garbage is the peer's
        assert keys == ["ip:10.0.0.1", "ip:10.0.0.2", "ip:127.0.0.1", "ip:10.0.0.3"]


@pytest.mark.parametrize("peer,key", [("192.0.2.7", "ip:192.0.2.7"), ("", "ip:0.0.0.0"), ("unix:/x", "ip:0.0.0.0")])
def test_the_rate_limit_key_is_an_address_even_without_one(app, peer, key):
    with app.test_request_context("/movies", environ_base={"REMOTE_ADDR": peer}):
        assert ratelimit.client_key() == key


@pytest.mark.parametrize("overrides,missing", [
    ({"AUTH0_DOMAIN": None}, "AUTH0_DOMAIN"), ({"API_AUDIENCE": None}, "API_AUDIENCE"),
    ({"SQLALCHEMY_DATABASE_URI": "sqlite:///x.db"}, "SQLite"),
])
def test_production_refuses_unsafe_settings(make_app, overrides, missing):
    with pytest.raises(config.ConfigError, match=missing):
        production(make_app, **overrides)


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


def test_rate_limits_are_per_subject_with_separate_read_and_write_budgets(make_app, app, headers):
    # Budgets per hour: the windows are fixed, and a run that straddled a minute's end would see a reset.
    limited = make_app(RATELIMIT_ENABLED=True, RATE_LIMIT_READS="3/hour", RATE_LIMIT_WRITES="2/hour")
    client = limited.test_client()
    director, assistant = headers("casting-director"), headers("casting-assistant")
    assert [client.get("/movies", headers=director).status_code for _ in range(4)] == [200, 200, 200, 429]
    blocked = client.get("/actors", headers=director)  # reads share one budget across endpoints
    assert blocked.status_code == 429 and blocked.json["error"] == 429 and int(blocked.headers["Retry-After"]) > 0
    other = client.get("/movies", headers=assistant)
    assert other.status_code == 200  # another subject, another budget
    assert "Retry-After" not in other.headers and other.headers["X-RateLimit-Remaining"] == "2"
    body = {"name": "A", "age": 3, "gender": "x"}
    assert [client.post("/actors", headers=director, json=body).status_code for _ in range(3)] == [201, 201, 429]


def test_rate_limit_without_a_token_is_per_address(make_app, app):
    limited = make_app(RATELIMIT_ENABLED=True, RATE_LIMIT_READS="2/hour", PUBLIC_READS=True)
    client = limited.test_client()
    statuses = [client.get("/movies", environ_base={"REMOTE_ADDR": "10.0.0.1"}).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert client.get("/movies", environ_base={"REMOTE_ADDR": "10.0.0.2"}).status_code == 200


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_rate_limiter_fails_open_when_redis_is_down(make_app, app, producer, caplog):
    limited = make_app(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{_closed_port()}/0",
                       RATELIMIT_STORAGE_OPTIONS={"socket_connect_timeout": 0.5, "socket_timeout": 0.5})
    client = limited.test_client()
    assert [client.get("/movies", headers=producer).status_code for _ in range(3)] == [200] * 3
    assert "rate-limit storage unreachable, counting in memory" in caplog.text  # and the requests went through
    assert caplog.text.count("storage unreachable") == 1  # logged once per outage


def test_redis_budgets_cost_one_redis_command_per_request_and_headers_stay_exact(make_app, app, producer):
    """OneTripRedisStorage: the counter's increment brings its time to live back, and the X-RateLimit
    headers are answered from it (the stock storage sends three commands: the script, GET and TTL)."""
    import redis

    client = redis.Redis(host="127.0.0.1", port=6379, db=11, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI needs Redis on 127.0.0.1:6379: {exc}")
        pytest.skip(f"Redis is not reachable: {exc}")
    client.flushdb()
    limited = make_app(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="onetrip+redis://127.0.0.1:6379/11",
                       RATELIMIT_STORAGE_OPTIONS={}, RATE_LIMIT_READS="7/hour").test_client()
    token = {"Authorization": producer["Authorization"]}
    limited.get("/movies", headers=token)  # the script is loaded, the window started

    def calls() -> dict[str, int]:  # the commands clients sent (a script's own commands are counted apart)
        stats = client.info("commandstats")
        return {name: stats.get(f"cmdstat_{name}", {}).get("calls", 0) for name in ("evalsha", "eval", "get", "ttl")}

    before = calls()
    answers = [limited.get("/movies", headers=token) for _ in range(3)]
    after = calls()
    assert {name: after[name] - before[name] for name in after} == {"evalsha": 3, "eval": 0, "get": 0, "ttl": 0}
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["5", "4", "3"]
    assert all(a.headers["X-RateLimit-Limit"] == "7" for a in answers)
    reset = int(answers[-1].headers["X-RateLimit-Reset"])
    assert time.time() < reset <= time.time() + 3602
    assert client.ttl(next(iter(client.scan_iter("*")))) > 3500
    client.flushdb()
    client.close()


def test_database_down_is_503_with_retry_after_and_health_stays_up(make_app, producer):
    down = make_app(SQLALCHEMY_DATABASE_URI=f"postgresql://nobody@127.0.0.1:{_closed_port()}/nothing",
                    SQLALCHEMY_ENGINE_OPTIONS=config.engine_options("postgresql://", 1, 1000)).test_client()
    for response in (down.get("/movies", headers=producer), down.get("/ready"),
                     down.post("/actors", headers=producer, json={"name": "A", "age": 1, "gender": "x"})):
        assert response.status_code == 503 and response.is_json, response.get_data(as_text=True)
        assert response.headers["Retry-After"].isdigit()
    assert down.get("/health").status_code == 200


def test_engine_options_are_short_timeouts_without_a_ping_per_checkout():
    options = config.engine_options("postgresql+psycopg2://x", 2, 5000)
    assert "pool_pre_ping" not in options  # transactions.py pings idle connections only
    assert options["connect_args"]["connect_timeout"] == 2
    assert "statement_timeout=5000" in options["connect_args"]["options"]


def test_postgresql_connections_really_carry_the_timeouts(make_app, database_url):
    """On a real connection: the statement timeout cancels a long statement, and libpq took the TCP settings."""
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's settings (the suite runs on PostgreSQL in CI)")
    app = make_app(SQLALCHEMY_ENGINE_OPTIONS=config.engine_options(database_url, 2, 300))
    with app.app_context():
        assert db.session.scalar(text("SHOW statement_timeout")) == "300ms"
        with pytest.raises(OperationalError, match="statement timeout"):
            db.session.execute(text("SELECT pg_sleep(2)"))
        db.session.rollback()
        connection = db.engine.raw_connection()
        try:
            dsn = connection.driver_connection.get_dsn_parameters()
        finally:
            connection.close()
        db.engine.dispose()
    assert {key: dsn.get(key) for key in ("tcp_user_timeout", "keepalives", "keepalives_idle")} == {
        "tcp_user_timeout": "2000", "keepalives": "1", "keepalives_idle": "10"}
