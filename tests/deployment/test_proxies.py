"""Client addresses behind proxies, under gunicorn: X-Forwarded-For counts only through the trusted proxies
(TRUSTED_PROXY_COUNT), in the rate limiter's Redis keys and in the access log. (That gunicorn believes no forwarded
scheme header by itself is in test_gunicorn.py; the app's own handling of X-Forwarded-*, in process, is in
tests/web/test_middleware.py.)"""

from __future__ import annotations

import re

from tests.utils.asserters import assert_error
from tests.utils.gunicorn import production
from tests.utils.processes import json_lines

# --- client addresses --------------------------------------------------------------------------------------


def limiter_addresses(client) -> list[str]:
    """The client addresses in the rate limiter's Redis keys (`LIMITER/ip:<address>/...`)."""
    keys = [key.decode() for key in client.scan_iter(count=1000)]
    return sorted({match for key in keys for match in re.findall(r"ip:([^/]*)", key)})


def test_x_forwarded_for_counts_only_through_trusted_proxies(fleet, database, issuer, redis_url):  # noqa: F811
    url, client = redis_url
    # No proxy (the default off Heroku): rotating X-Forwarded-For buys no fresh budget, and no value of it
    # reaches Redis. Without a valid token, reads are counted per address before the token is looked at.
    direct = fleet.gunicorn("no-proxy", **production(database, issuer, REDIS_URL=url, RATE_LIMIT_READS="3/hour"))
    statuses = [direct.request("GET", "/movies", headers={"X-Forwarded-For": f"10.0.0.{n}"}).status_code
                for n in range(1, 6)]
    assert statuses == [401, 401, 401, 429, 429], statuses
    made_up = direct.request("GET", "/movies", headers={"X-Forwarded-For": "a/b:c*d{e}"})
    assert_error(made_up, 429)
    assert limiter_addresses(client) == ["127.0.0.1"]

    # One proxy (as on Heroku): its entry is the client; each gets its own budget, and what a client made
    # up instead of an address counts as the proxy's own (here 127.0.0.1).
    proxied = fleet.gunicorn("one-proxy", **production(database, issuer, REDIS_URL=url, RATE_LIMIT_READS="4/hour",
                                                         TRUSTED_PROXY_COUNT="1"))
    statuses = [proxied.request("GET", "/movies", headers={"X-Forwarded-For": f"6.6.6.6, 203.0.113.{n}"}).status_code
                for n in range(1, 6)]
    assert statuses == [401] * 5, statuses
    made_up = [proxied.request("GET", "/movies", headers={"X-Forwarded-For": "a/b:c*d{e}"}).status_code
               for _ in range(5)]
    assert made_up == [401, 401, 401, 401, 429], made_up
    addresses = limiter_addresses(client)
    assert addresses == sorted(["127.0.0.1", *(f"203.0.113.{n}" for n in range(1, 6))]), addresses
    logged = {line.get("remote_addr") for line in json_lines(proxied.process.output()) if line.get("path")}
    assert logged == {"127.0.0.1", *(f"203.0.113.{n}" for n in range(1, 6))}, logged
