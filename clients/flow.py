"""A create-cast-patch-delete flow through the Python client that openapi-python-client generates from /openapi.json.

The client (package `casting_agency_client`) is generated, not committed: .ci/client-flows.sh generates it from
the live server's document into a temporary folder on PYTHONPATH, then runs this with the server's base URL and
a token per role (PRODUCER_TOKEN, DIRECTOR_TOKEN, ASSISTANT_TOKEN). Records are named after this run and deleted
at the end. Exits 1 at the first step whose answer is not what the document promises.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import uuid
from http import HTTPStatus

import httpx
from casting_agency_client import AuthenticatedClient
from casting_agency_client.api.actors import create_actor, delete_actor, update_actor
from casting_agency_client.api.movies import (
    cast_actor,
    create_movie,
    delete_movie,
    get_movie,
    list_movies,
    update_movie,
)
from casting_agency_client.models import (
    ActorCreate,
    ActorEnvelope,
    ActorUpdate,
    Deleted,
    ErrorBody,
    FieldErrors,
    MovieCreate,
    MovieEnvelope,
    MovieList,
    MovieSort,
    MovieUpdate,
)
from casting_agency_client.types import Unset


class FlowError(Exception):
    pass


def check(condition: bool, what: str) -> None:
    if not condition:
        raise FlowError(what)


def answer(response, status: HTTPStatus, kind: type):
    """The parsed body of a response that must have this status and shape."""
    check(response.status_code == status and isinstance(response.parsed, kind),
          f"expected {status.value} {kind.__name__}, got {response.status_code.value}: {response.content[:300]!r}")
    return response.parsed


def no_details(error: ErrorBody) -> bool:
    """An error without field errors or a request id: both fields are absent, not null."""
    return isinstance(error.details, Unset) and isinstance(error.request_id, Unset)


def run(base_url: str, tokens: dict[str, str]) -> int:
    def client(role: str) -> AuthenticatedClient:
        return AuthenticatedClient(base_url=base_url, token=tokens[role], timeout=httpx.Timeout(10.0))

    producer, director, assistant = client("producer"), client("director"), client("assistant")
    marker = f"client-flow-py-{uuid.uuid4().hex[:8]}"
    steps = 0

    def step(text: str) -> None:
        nonlocal steps
        steps += 1
        print(f"ok  {text}")

    response = create_movie.sync_detailed(client=producer, body=MovieCreate(title=f"{marker} movie",
                                                                            release_date=dt.date(2021, 3, 4)))
    movie = answer(response, HTTPStatus.CREATED, MovieEnvelope).movie
    check(response.headers.get("Location") == f"/movies/{movie.id}", f"Location {response.headers.get('Location')}")
    step(f"producer creates a movie: 201, Location /movies/{movie.id}")

    response = create_actor.sync_detailed(client=director, body=ActorCreate(name=f"{marker} actor", age=40,
                                                                            gender="female"))
    actor = answer(response, HTTPStatus.CREATED, ActorEnvelope).actor
    check(response.headers.get("Location") == f"/actors/{actor.id}", f"Location {response.headers.get('Location')}")
    step(f"director creates an actor: 201, Location /actors/{actor.id}")
    try:
        cast = answer(cast_actor.sync_detailed(movie.id, actor.id, client=director), HTTPStatus.OK, MovieEnvelope)
        check([a.id for a in cast.movie.actors] == [actor.id], f"cast {cast.movie.actors}")
        step("director casts the actor in the movie")

        patched = answer(update_actor.sync_detailed(actor.id, client=director, body=ActorUpdate(age=41)),
                         HTTPStatus.OK, ActorEnvelope).actor
        check(patched.age == 41 and [m.id for m in patched.movies] == [movie.id], f"patched actor {patched}")
        step("director patches the actor's age; the actor keeps the movie")

        renamed = answer(update_movie.sync_detailed(movie.id, client=director,
                                                    body=MovieUpdate(title=f"{marker} movie (cut)")),
                         HTTPStatus.OK, MovieEnvelope).movie
        check(renamed.title == f"{marker} movie (cut)", f"renamed movie {renamed.title}")
        step("director renames the movie")

        listed = answer(list_movies.sync_detailed(client=assistant, q=marker, sort=MovieSort.RELEASE_DATE_DESC),
                        HTTPStatus.OK, MovieList)
        check(listed.total == 1 and listed.movies[0].release_date == dt.date(2021, 3, 4)
              and [a.name for a in listed.movies[0].actors] == [f"{marker} actor"], f"listed {listed}")
        step("assistant finds the movie with its cast (q, sort=MovieSort.RELEASE_DATE_DESC)")

        invalid = answer(update_movie.sync_detailed(movie.id, client=director, body=MovieUpdate(title="  ")),
                         HTTPStatus.UNPROCESSABLE_ENTITY, ErrorBody)
        check(isinstance(invalid.details, FieldErrors) and invalid.details["title"] == ["must not be empty"]
              and isinstance(invalid.request_id, Unset), f"422 body {invalid}")
        step("a blank title is a 422 whose details name the field")

        refused = answer(delete_actor.sync_detailed(actor.id, client=assistant), HTTPStatus.FORBIDDEN, ErrorBody)
        check(no_details(refused) and refused.message == "token lacks the delete:actors permission", f"{refused}")
        step("assistant may not delete the actor: 403, no details")
    finally:
        deleted_actor = delete_actor.sync_detailed(actor.id, client=director)
        deleted_movie = delete_movie.sync_detailed(movie.id, client=producer)
    check(answer(deleted_actor, HTTPStatus.OK, Deleted).deleted == actor.id, "deleted actor id")
    step("director deletes the actor")
    check(answer(deleted_movie, HTTPStatus.OK, Deleted).deleted == movie.id, "deleted movie id")
    step("producer deletes the movie")

    gone = answer(get_movie.sync_detailed(movie.id, client=assistant), HTTPStatus.NOT_FOUND, ErrorBody)
    check(no_details(gone) and gone.message == "movie not found", f"404 body {gone}")
    step("the movie is gone: 404, no details")
    print(f"python client (openapi-python-client): flow complete, {steps} steps")
    return 0


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: flow.py BASE_URL (with PRODUCER_TOKEN, DIRECTOR_TOKEN, ASSISTANT_TOKEN set)", file=sys.stderr)
        return 2
    roles = {"producer": "PRODUCER_TOKEN", "director": "DIRECTOR_TOKEN", "assistant": "ASSISTANT_TOKEN"}
    missing = [name for name in roles.values() if not os.environ.get(name)]
    if missing:
        print(f"flow.py: {', '.join(missing)} not set", file=sys.stderr)
        return 2
    try:
        return run(sys.argv[1].rstrip("/"), {role: os.environ[name] for role, name in roles.items()})
    except (FlowError, httpx.HTTPError) as exc:
        print(f"FAIL python client flow: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
