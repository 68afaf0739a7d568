"""Examples for the OpenAPI document (Swagger UI shows them; schemathesis sends the request ones), and the
helpers that attach them and describe optional response fields."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field


def absent_unless_sent(description: str) -> Any:
    """A response field the API leaves out when it has nothing to say: optional, never null, no default."""
    return Field(default=None, description=description, json_schema_extra=lambda s: s.pop("default"))


# Examples for the OpenAPI document (Swagger UI shows them; schemathesis sends the request ones).
# Request bodies lead with an example that names no ids, so it is accepted on any deployment; the ids
# in the others are those `flask seed` gives a fresh database (elsewhere they may be a documented 422).
MOVIE_EXAMPLE = {"id": 7, "title": "Raids of the Ice", "release_date": "2017-04-29",
                 "actors": [{"id": 2, "name": "Chris Pine", "character": "Kirk", "billing": 1},
                            {"id": 5, "name": "Gal Gadot"}]}
ACTOR_EXAMPLE = {"id": 2, "name": "Chris Pine", "age": 45, "gender": "male",
                 "movies": [{"id": 7, "title": "Raids of the Ice", "character": "Kirk", "billing": 1}]}


EXAMPLE_REQUEST_ID = "3f0c9a4e5b7d4c21a8e6f1d2c3b4a596"


def examples(*examples: dict, **schema) -> ConfigDict:
    """A model's examples (and any other JSON Schema keywords of its own, as `schema`)."""
    return ConfigDict(json_schema_extra={"examples": list(examples), **schema})


_CAST_THEN = [{"id": 2, "name": "Chris Pine", "character": "Kirk", "billing": 1}]
HISTORY_EXAMPLE = {
    "id": 41, "at": "2026-11-28T13:05:09.123Z", "subject": "auth0|64f1c2a9e3b0c12d4e5f6a7b",
    "by": {"name": "Dana Whitfield", "email": "dana@agency.example"}, "action": "updated",
    "record": {"type": "movie", "id": 7},
    "before": {"title": "Raids of the Ice", "release_date": "2017-04-29", "actor_ids": [2], "actors": _CAST_THEN},
    "after": {"title": "Raids of the Ice II", "release_date": "2017-04-29", "actor_ids": [2], "actors": _CAST_THEN},
    "request_id": EXAMPLE_REQUEST_ID,
}

