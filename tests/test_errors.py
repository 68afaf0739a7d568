"""The JSON error shape of the answers no route gives (casting/errors.py): a 500 names its request, and a database
that cannot be reached is a 503 with Retry-After while /health stays up. Every error of the API is checked against the
same shape by tests.utils.asserters.assert_error."""

from __future__ import annotations

import re

from casting import config
from tests.utils.processes import free_port


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


def test_database_down_is_503_with_retry_after_and_health_stays_up(make_app, producer):
    down = make_app(SQLALCHEMY_DATABASE_URI=f"postgresql://nobody@127.0.0.1:{free_port()}/nothing",
                    SQLALCHEMY_ENGINE_OPTIONS=config.engine_options("postgresql://", 1, 1000)).test_client()
    for response in (down.get("/movies", headers=producer), down.get("/ready"),
                     down.post("/actors", headers=producer, json={"name": "A", "age": 1, "gender": "x"})):
        assert response.status_code == 503 and response.is_json, response.get_data(as_text=True)
        assert response.headers["Retry-After"].isdigit()
    assert down.get("/health").status_code == 200
