"""What every answer of a kind must look like: the one error shape, an ETag, a Retry-After."""

from __future__ import annotations

import json


def assert_error(response, status: int, field: str | None = None) -> dict:
    """The one error shape, from Flask's test client or from requests: the status, JSON, `success` false,
    `error` the status, a message, and `field` in `details` when given. Returns the body."""
    body_text = response.get_data(as_text=True) if hasattr(response, "get_data") else response.text
    assert response.status_code == status, (response.status_code, body_text[:500])
    assert response.headers.get("Content-Type", "").startswith("application/json"), (response.headers, body_text[:300])
    body = json.loads(body_text)
    assert body["success"] is False and body["error"] == status, body
    assert isinstance(body["message"], str) and body["message"], body
    if field is not None:
        assert field in body["details"], body
    return body


def assert_invalid_token(response) -> None:
    assert_error(response, 401)
    assert response.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"'), response.headers


def etag_of(response) -> str:
    etag = response.headers.get("ETag")
    assert etag and etag.startswith('"') and etag.endswith('"') and len(etag) > 10, etag
    return etag


def retry_after(response) -> int:
    value = response.headers.get("Retry-After")
    assert value is not None, f"no Retry-After on {response.status_code}: {dict(response.headers)}"
    assert value.isdigit() and int(value) >= 1, value
    return int(value)
