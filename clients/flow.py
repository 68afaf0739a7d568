"""A create-cast-patch-delete flow through the Python client that openapi-python-client generates from /openapi.json:
a cast with characters and billing read back in billing order, an import dry run, an export, and every request
sending back the highest Catalogue-Version answered (read-your-writes on a deployment with read followers).

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
from casting_agency_client.api.castings import export_castings
from casting_agency_client.api.movies import (
    cast_actor,
    create_movie,
    delete_movie,
    get_movie,
    list_movies,
    replace_cast,
    update_movie,
)
from casting_agency_client.models import (
    ActorCreate,
    ActorEnvelope,
    ActorUpdate,
    CastMember,
    CastReplace,
    Deleted,
    ErrorBody,
    ExportCastingsFormat,
    FieldErrors,
    ImportDone,
    ImportRecordsDryRun,
    ImportRecordsType,
    MovieCreate,
    MovieEnvelope,
    MovieList,
    MovieSort,
    MovieUpdate,
    Role,
)
from casting_agency_client.types import Unset

CATALOGUE_VERSION = "Catalogue-Version"


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


class CatalogueVersion:
    """Read-your-writes for the flow's three clients, through httpx's event hooks: each answer's Catalogue-Version is
    kept (the highest), every request sends it back, and no answer may be older than one already seen."""

    def __init__(self) -> None:
        self.highest = 0
        self.sent: str | None = None

    def request(self, request: httpx.Request) -> None:
        if self.highest:
            request.headers[CATALOGUE_VERSION] = str(self.highest)
        self.sent = request.headers.get(CATALOGUE_VERSION)

    def response(self, response: httpx.Response) -> None:
        answered = response.headers.get(CATALOGUE_VERSION)
        if answered is not None:
            check(answered.isdigit() and int(answered) >= self.highest,
                  f"{response.request.url.path} answered Catalogue-Version {answered}, older than {self.highest}")
            self.highest = int(answered)

    def hooks(self) -> dict:
        return {"event_hooks": {"request": [self.request], "response": [self.response]}}


def run(base_url: str, tokens: dict[str, str]) -> int:
    versions = CatalogueVersion()

    def client(role: str) -> AuthenticatedClient:
        return AuthenticatedClient(base_url=base_url, token=tokens[role], timeout=httpx.Timeout(10.0),
                                   httpx_args=versions.hooks())

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
    other = answer(create_actor.sync_detailed(client=director, body=ActorCreate(name=f"{marker} other", age=35,
                                                                                gender="male")),
                   HTTPStatus.CREATED, ActorEnvelope).actor
    step(f"director creates a second actor: 201, /actors/{other.id}")
    try:
        cast = answer(cast_actor.sync_detailed(movie.id, actor.id, client=director), HTTPStatus.OK, MovieEnvelope)
        check([a.id for a in cast.movie.actors] == [actor.id], f"cast {cast.movie.actors}")
        step("director casts the actor in the movie")

        role = answer(cast_actor.sync_detailed(movie.id, actor.id, client=director,
                                               body=Role(character="Arjun", billing=1)),
                      HTTPStatus.OK, MovieEnvelope).movie
        check([(a.id, a.character, a.billing) for a in role.actors] == [(actor.id, "Arjun", 1)], f"role {role}")
        step("director gives the casting a role: Arjun, top-billed")

        response = replace_cast.sync_detailed(movie.id, client=director, body=CastReplace(cast=[
            CastMember(actor_id=actor.id, character="Arjun", billing=2),
            CastMember(actor_id=other.id, character="Meera", billing=1)]))
        answer(response, HTTPStatus.OK, MovieEnvelope)
        written = int(response.headers[CATALOGUE_VERSION])
        step(f"director replaces the cast, billings traded: Catalogue-Version {written}")

        response = get_movie.sync_detailed(movie.id, client=assistant)
        read = answer(response, HTTPStatus.OK, MovieEnvelope).movie
        who_plays_whom = [(a.name, a.character, a.billing) for a in read.actors]
        check(who_plays_whom == [(f"{marker} other", "Meera", 1), (f"{marker} actor", "Arjun", 2)],
              f"cast read back {who_plays_whom}")
        check(versions.sent == str(written) and int(response.headers[CATALOGUE_VERSION]) >= written,
              f"sent Catalogue-Version {versions.sent}, answered {response.headers.get(CATALOGUE_VERSION)}")
        step(f"assistant reads who plays whom in billing order, sending Catalogue-Version {written} back")

        patched = answer(update_actor.sync_detailed(actor.id, client=director, body=ActorUpdate(age=41)),
                         HTTPStatus.OK, ActorEnvelope).actor
        check(patched.age == 41 and [(m.id, m.character) for m in patched.movies] == [(movie.id, "Arjun")],
              f"patched actor {patched}")
        step("director patches the actor's age; the actor keeps the movie and the role")

        renamed = answer(update_movie.sync_detailed(movie.id, client=director,
                                                    body=MovieUpdate(title=f"{marker} movie (cut)")),
                         HTTPStatus.OK, MovieEnvelope).movie
        check(renamed.title == f"{marker} movie (cut)", f"renamed movie {renamed.title}")
        step("director renames the movie")

        listed = answer(list_movies.sync_detailed(client=assistant, q=marker, sort=MovieSort.RELEASE_DATE_DESC),
                        HTTPStatus.OK, MovieList)
        check(listed.total == 1 and listed.movies[0].release_date == dt.date(2021, 3, 4)
              and [a.name for a in listed.movies[0].actors] == [f"{marker} other", f"{marker} actor"],
              f"listed {listed}")
        step("assistant finds the movie with its cast (q, sort=MovieSort.RELEASE_DATE_DESC)")

        response = export_castings.sync_detailed(client=assistant, movie_id=movie.id, format_=ExportCastingsFormat.CSV)
        lines = response.content.decode().split("\r\n")
        check(response.status_code == HTTPStatus.OK
              and response.headers["Content-Type"] == "text/csv; charset=utf-8"
              and lines[0] == "movie_id,movie_title,movie_release_date,actor_id,actor_name,character,billing"
              and [line.split(",")[4:] for line in lines[1:3]] == [[f"{marker} other", "Meera", "1"],
                                                                   [f"{marker} actor", "Arjun", "2"]]
              and lines[3:] == ["#end,2,,,,,", ""], f"castings export {response.status_code}: {response.content!r}")
        step("assistant exports the castings as CSV: billing order, ending with #end,2")

        # openapi-python-client 0.29 cannot send a text body: for POST /imports it generates `body.payload` on a
        # str (tests/test_clients.py pins it), so the file goes through the generated client's own connection
        # (its base URL, token and hooks), and the answer is read by the generated model.
        csv = f"title,release_date\n{marker} imported,2022-02-02\n{marker} misdated,2022-02-30\n"
        response = producer.get_httpx_client().post(
            "/imports", content=csv.encode(), headers={"Content-Type": "text/csv"},
            params={"type": ImportRecordsType.MOVIES.value, "dry_run": ImportRecordsDryRun.TRUE.value})
        check(response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY, f"import {response.status_code}")
        problems = [(p["line"], p["column"], p["message"]) for p in response.json()["import"]["problems"]]
        check(problems == [(3, "release_date", "must be a real calendar date")], f"import problems {problems}")
        response = producer.get_httpx_client().post(
            "/imports", content=csv.encode()[:csv.index(f"{marker} misdated")], headers={"Content-Type": "text/csv"},
            params={"type": ImportRecordsType.MOVIES.value, "dry_run": ImportRecordsDryRun.TRUE.value})
        check(response.status_code == HTTPStatus.OK, f"import {response.status_code}: {response.content[:300]!r}")
        report = ImportDone.from_dict(response.json()).import_
        check(report.dry_run and (report.rows, report.created, report.problem_count) == (1, 1, 0), f"{report}")
        check(answer(list_movies.sync_detailed(client=assistant, q=f"{marker} imported"), HTTPStatus.OK,
                     MovieList).total == 0, "the dry run wrote a movie")
        step("producer's import dry run: a bad date reported at line 3, then 1 movie to create, nothing written")

        invalid = answer(update_movie.sync_detailed(movie.id, client=director, body=MovieUpdate(title="  ")),
                         HTTPStatus.UNPROCESSABLE_ENTITY, ErrorBody)
        check(isinstance(invalid.details, FieldErrors) and invalid.details["title"] == ["must not be empty"]
              and isinstance(invalid.request_id, Unset), f"422 body {invalid}")
        step("a blank title is a 422 whose details name the field")

        refused = answer(delete_actor.sync_detailed(actor.id, client=assistant), HTTPStatus.FORBIDDEN, ErrorBody)
        check(no_details(refused) and refused.message == "token lacks the delete:actors permission", f"{refused}")
        step("assistant may not delete the actor: 403, no details")
    finally:
        deleted_actors = [delete_actor.sync_detailed(someone.id, client=director) for someone in (actor, other)]
        deleted_movie = delete_movie.sync_detailed(movie.id, client=producer)
    check([answer(deleted, HTTPStatus.OK, Deleted).deleted for deleted in deleted_actors] == [actor.id, other.id],
          "deleted actor ids")
    step("director deletes the actors")
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
