#!/usr/bin/env python3
"""Live smoke test of a Casting Agency API deployment.

Runs one full cycle against BASE_URL: create an actor and a movie, cast the
actor, change both, find the movie by search (q=) and by cast (actor_id=),
uncast, delete both. Prints one PASS/FAIL line per step (SKIP when an earlier
failure left it nothing to work on) and cleans up what it created even when a
step fails. Exit status 0 only when every step passed, 1 otherwise, 2 on a
usage error.

Tokens come from the environment, never from the command line:
  PRODUCER_TOKEN   required: an Executive Producer token
  ASSISTANT_TOKEN  optional: adds Casting Assistant permission checks
  DIRECTOR_TOKEN   optional: adds Casting Director permission checks

Example:
  PRODUCER_TOKEN=$(APP_ENV=development .venv/bin/flask --app app token executive-producer) \\
      python scripts/smoke.py http://127.0.0.1:5000
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests

EXIT_USAGE = 2
STRAY_PATH = re.compile(r"/(movies|actors)/[0-9]+$")
ERRNO_TEXT = re.compile(r"\[Errno -?[0-9]+\] ([^'\")]+)")


class StepFailed(Exception):
    """A step's expectation did not hold; the message is the short reason printed after FAIL."""


def expect(condition: bool, reason: str) -> None:
    if not condition:
        raise StepFailed(reason)


def describe(response: requests.Response) -> str:
    """`HTTP 403: token lacks ...`: the status and the API's error message, when there is one."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code} (not JSON)"
    message = body.get("message") if isinstance(body, dict) else None
    return f"HTTP {response.status_code}" + (f": {message}" if message else "")


class Client:
    """requests with the deployment's base URL, a timeout on every call, and a token per role."""

    def __init__(self, base_url: str, timeout: float):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()

    def call(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> requests.Response:
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            return self.session.request(method, self.base_url + path, headers=headers, timeout=self.timeout,
                                        allow_redirects=False, **kwargs)
        except requests.Timeout:
            raise StepFailed(f"{method} {path}: no answer within {self.timeout:g} s") from None
        except requests.ConnectionError as exc:
            cause = ERRNO_TEXT.search(str(exc))
            raise StepFailed(f"{method} {path}: cannot connect" + (f" ({cause.group(1)})" if cause else "")) from None
        except requests.RequestException as exc:
            raise StepFailed(f"{method} {path}: {type(exc).__name__}: {exc}") from None

    def expect_json(self, method: str, path: str, status: int, token: str | None = None,
                    **kwargs: Any) -> tuple[requests.Response, dict]:
        """Send a request; fail unless it answers `status` with the contract's envelope."""
        response = self.call(method, path, token, **kwargs)
        expect(response.status_code == status, f"{method} {path}: expected {status}, got {describe(response)}")
        try:
            body = response.json()
        except ValueError:
            raise StepFailed(f"{method} {path}: the body is not JSON") from None
        expect(isinstance(body, dict), f"{method} {path}: the body is not a JSON object")
        if status >= 400:
            expect(body.get("success") is False and body.get("error") == status
                   and isinstance(body.get("message"), str) and body["message"] != "",
                   f"{method} {path}: not the error envelope: {body}")
        elif not path.startswith(("/health", "/ready")):
            expect(body.get("success") is True, f"{method} {path}: success is not true: {body}")
        return response, body


class Smoke:
    def __init__(self, client: Client, producer: str, assistant: str | None, director: str | None):
        self.client = client
        self.producer = producer
        self.assistant = assistant
        self.director = director
        self.marker = f"smoke-{uuid.uuid4().hex[:12]}"
        self.movie_id: int | None = None
        self.actor_id: int | None = None
        self.strays: list[str] = []  # paths of records that a refused request wrongly created
        self.counts = {"PASS": 0, "FAIL": 0, "SKIP": 0}

    # --- running steps -----------------------------------------------------------------

    def step(self, name: str, check: Callable[[], str], needs: tuple[str, ...] = ()) -> bool:
        """Run one check and print its line; a step whose records were never created is a SKIP (and the run fails)."""
        missing = [what for what in needs if getattr(self, f"{what}_id") is None]
        if missing:
            self._report("SKIP", name, f"no {' and no '.join(missing)} to work on (an earlier step failed)")
            return False
        try:
            detail = check()
        except StepFailed as exc:
            self._report("FAIL", name, str(exc))
            return False
        except Exception as exc:  # a surprise in the check itself is still one failed step, not a crash
            self._report("FAIL", name, f"{type(exc).__name__}: {exc}")
            return False
        self._report("PASS", name, detail)
        return True

    def _report(self, verdict: str, name: str, detail: str) -> None:
        self.counts[verdict] += 1
        print(f"{verdict}  {name}" + (f" — {detail}" if detail else ""), flush=True)

    def run(self) -> bool:
        print(f"smoke test of {self.client.base_url} (marker {self.marker})", flush=True)
        try:
            self.step("health", self.health)
            self.step("ready", self.ready)
            self.step("no token is a 401", self.no_token)
            self.step("create actor", self.create_actor)
            self.step("create movie", self.create_movie)
            self.step("cast actor in movie", self.cast, needs=("movie", "actor"))
            self.step("read movie and actor", self.read_both, needs=("movie", "actor"))
            if self.assistant:
                self.step("casting assistant: reads, cannot write", self.assistant_checks, needs=("movie",))
            if self.director:
                self.step("casting director: cannot create or delete movies", self.director_checks,
                          needs=("movie",))
            self.step("update movie (PATCH)", self.update_movie, needs=("movie", "actor"))
            self.step("update actor (PATCH)", self.update_actor, needs=("actor",))
            self.step("list movies: search q=", self.search_movies, needs=("movie",))
            self.step("list movies: filter actor_id=", self.filter_movies, needs=("movie", "actor"))
            self.step("uncast actor", self.uncast, needs=("movie", "actor"))
            self.step("delete movie", self.delete_movie, needs=("movie",))
            self.step("delete actor", self.delete_actor, needs=("actor",))
        finally:
            self.cleanup()
        counts = self.counts
        print(f"smoke: {counts['PASS']} passed, {counts['FAIL']} failed, {counts['SKIP']} skipped", flush=True)
        return counts["FAIL"] == 0 and counts["SKIP"] == 0

    # --- the steps ---------------------------------------------------------------------

    def health(self) -> str:
        _, body = self.client.expect_json("GET", "/health", 200)
        expect(body == {"status": "ok"}, f"expected {{'status': 'ok'}}, got {body}")
        return "200 {status: ok}"

    def ready(self) -> str:
        self.client.expect_json("GET", "/ready", 200)
        return "200, the database answers"

    def refused(self, status: int, method: str, path: str, token: str | None, json: dict | None = None) -> None:
        """A request the token may not make: `status` (401/403), and any record it wrongly created is deleted."""
        response = self.client.call(method, path, token, json=json)
        if response.status_code == 201:
            stray = STRAY_PATH.search(urlsplit(response.headers.get("Location", "")).path)
            if stray:
                self.strays.append(stray.group(0))
        expect(response.status_code == status, f"{method} {path}: expected {status}, got {describe(response)}")
        try:
            body = response.json()
        except ValueError:
            raise StepFailed(f"{method} {path}: the body is not JSON") from None
        expect(isinstance(body, dict) and body.get("success") is False and body.get("error") == status
               and isinstance(body.get("message"), str) and body["message"] != "",
               f"{method} {path}: not the error envelope: {body}")
        if status == 401:
            challenge = response.headers.get("WWW-Authenticate", "")
            expect(challenge.startswith("Bearer"), f"WWW-Authenticate is {challenge!r}, not a Bearer challenge")

    def no_token(self) -> str:
        # A write: a 401 even where PUBLIC_READS opens the GET endpoints.
        self.refused(401, "POST", "/actors", None,
                     json={"name": f"Smoke Forbidden {self.marker}", "age": 30, "gender": "male"})
        return "POST /actors 401 with WWW-Authenticate: Bearer"

    def create_actor(self) -> str:
        sent = {"name": f"Smoke Actor {self.marker}", "age": 42, "gender": "female"}
        response, body = self.client.expect_json("POST", "/actors", 201, self.producer, json=sent)
        actor = body.get("actor") or {}
        if isinstance(actor.get("id"), int):
            self.actor_id = actor["id"]  # kept before any other check, so cleanup can find it
        expect(self.actor_id is not None, f"no actor id in {body}")
        expect({k: actor.get(k) for k in sent} == sent, f"expected {sent}, got {actor}")
        location = response.headers.get("Location", "")
        expect(location.endswith(f"/actors/{self.actor_id}"), f"Location is {location!r}")
        return f"201, actor {self.actor_id}, Location {location}"

    def create_movie(self) -> str:
        sent = {"title": f"Smoke Movie {self.marker}", "release_date": "2020-02-29"}
        response, body = self.client.expect_json("POST", "/movies", 201, self.producer, json=sent)
        movie = body.get("movie") or {}
        if isinstance(movie.get("id"), int):
            self.movie_id = movie["id"]
        expect(self.movie_id is not None, f"no movie id in {body}")
        expect({k: movie.get(k) for k in sent} == sent, f"expected {sent}, got {movie}")
        location = response.headers.get("Location", "")
        expect(location.endswith(f"/movies/{self.movie_id}"), f"Location is {location!r}")
        return f"201, movie {self.movie_id}, Location {location}"

    def cast(self) -> str:
        path = f"/movies/{self.movie_id}/actors/{self.actor_id}"
        for attempt in ("first", "second (idempotent)"):
            _, body = self.client.expect_json("PUT", path, 200, self.producer)
            cast = (body.get("movie") or {}).get("actors")
            expected = [{"id": self.actor_id, "name": f"Smoke Actor {self.marker}"}]
            expect(cast == expected, f"{attempt} PUT: cast is {cast}, expected {expected}")
        return "200 twice, cast summary is the actor"

    def read_both(self) -> str:
        _, body = self.client.expect_json("GET", f"/movies/{self.movie_id}", 200, self.producer)
        cast = [a.get("id") for a in (body.get("movie") or {}).get("actors", [])]
        expect(cast == [self.actor_id], f"movie's actors are {cast}")
        _, body = self.client.expect_json("GET", f"/actors/{self.actor_id}", 200, self.producer)
        movies = [m.get("id") for m in (body.get("actor") or {}).get("movies", [])]
        expect(movies == [self.movie_id], f"actor's movies are {movies}")
        _, body = self.client.expect_json("GET", f"/movies/{self.movie_id}/actors", 200, self.producer)
        expect(body.get("total") == 1, f"GET /movies/{self.movie_id}/actors: total is {body.get('total')}")
        _, body = self.client.expect_json("GET", f"/actors/{self.actor_id}/movies", 200, self.producer)
        expect(body.get("total") == 1, f"GET /actors/{self.actor_id}/movies: total is {body.get('total')}")
        return "each side lists the other"

    # Forbidden requests carry valid bodies, so that only the missing permission can refuse them.

    def assistant_checks(self) -> str:
        self.client.expect_json("GET", f"/movies/{self.movie_id}", 200, self.assistant)
        self.client.expect_json("GET", "/actors", 200, self.assistant)
        self.refused(403, "POST", "/actors", self.assistant,
                     json={"name": f"Smoke Forbidden {self.marker}", "age": 30, "gender": "male"})
        self.refused(403, "PATCH", f"/movies/{self.movie_id}", self.assistant, json={"release_date": "1999-01-01"})
        return "GET 200; POST /actors and PATCH /movies/{id} 403"

    def director_checks(self) -> str:
        self.client.expect_json("GET", f"/movies/{self.movie_id}", 200, self.director)
        self.refused(403, "POST", "/movies", self.director,
                     json={"title": f"Smoke Forbidden {self.marker}", "release_date": "2020-01-01"})
        self.refused(403, "DELETE", f"/movies/{self.movie_id}", self.director)
        return "GET 200; POST /movies and DELETE /movies/{id} 403"

    def update_movie(self) -> str:
        sent = {"title": f"Smoke Movie {self.marker} (recut)", "release_date": "2021-03-01"}
        _, body = self.client.expect_json("PATCH", f"/movies/{self.movie_id}", 200, self.producer, json=sent)
        movie = body.get("movie") or {}
        expect({k: movie.get(k) for k in sent} == sent, f"expected {sent}, got {movie}")
        cast = [a.get("id") for a in movie.get("actors", [])]
        expect(cast == [self.actor_id], f"the cast changed: {cast}")
        return "200, title and release date changed, cast kept"

    def update_actor(self) -> str:
        sent = {"age": 43}
        _, body = self.client.expect_json("PATCH", f"/actors/{self.actor_id}", 200, self.producer, json=sent)
        actor = body.get("actor") or {}
        expect(actor.get("age") == 43, f"age is {actor.get('age')}")
        expect(actor.get("name") == f"Smoke Actor {self.marker}", f"name changed: {actor.get('name')}")
        return "200, age changed, name kept"

    def search_movies(self) -> str:
        _, body = self.client.expect_json("GET", "/movies", 200, self.producer,
                                          params={"q": self.marker.upper(), "per_page": 5})
        ids = [m.get("id") for m in body.get("movies", [])]
        expect(ids == [self.movie_id], f"q={self.marker.upper()}: found {ids}, expected [{self.movie_id}]")
        expect(body.get("total") == 1 and body.get("page") == 1 and body.get("per_page") == 5,
               f"total/page/per_page are {body.get('total')}/{body.get('page')}/{body.get('per_page')}")
        return "found by a case-insensitive search, total 1, page 1, per_page 5"

    def filter_movies(self) -> str:
        _, body = self.client.expect_json("GET", "/movies", 200, self.producer, params={"actor_id": self.actor_id})
        ids = [m.get("id") for m in body.get("movies", [])]
        expect(ids == [self.movie_id], f"actor_id={self.actor_id}: found {ids}, expected [{self.movie_id}]")
        expect(body.get("total") == 1, f"total is {body.get('total')}")
        return "exactly the movie, total 1"

    def uncast(self) -> str:
        path = f"/movies/{self.movie_id}/actors/{self.actor_id}"
        _, body = self.client.expect_json("DELETE", path, 200, self.producer)
        cast = (body.get("movie") or {}).get("actors")
        expect(cast == [], f"the cast is still {cast}")
        self.client.expect_json("DELETE", path, 404, self.producer)
        return "200, empty cast; again: 404"

    def delete_movie(self) -> str:
        _, body = self.client.expect_json("DELETE", f"/movies/{self.movie_id}", 200, self.producer)
        expect(body.get("deleted") == self.movie_id, f"deleted is {body.get('deleted')}")
        deleted, self.movie_id = self.movie_id, None
        self.client.expect_json("GET", f"/movies/{deleted}", 404, self.producer)
        return f"200, movie {deleted} gone (404)"

    def delete_actor(self) -> str:
        _, body = self.client.expect_json("DELETE", f"/actors/{self.actor_id}", 200, self.producer)
        expect(body.get("deleted") == self.actor_id, f"deleted is {body.get('deleted')}")
        deleted, self.actor_id = self.actor_id, None
        self.client.expect_json("GET", f"/actors/{deleted}", 404, self.producer)
        return f"200, actor {deleted} gone (404)"

    # --- cleanup -----------------------------------------------------------------------

    def cleanup(self) -> None:
        """Delete whatever this run created and did not delete (after a failed step); report it as a step."""
        leftovers = [f"/movies/{self.movie_id}"] if self.movie_id is not None else []
        if self.actor_id is not None:
            leftovers.append(f"/actors/{self.actor_id}")
        leftovers += self.strays
        if not leftovers:
            return
        problems = []
        for path in leftovers:
            try:
                response = self.client.call("DELETE", path, self.producer)
            except StepFailed as exc:
                problems.append(str(exc))
                continue
            if response.status_code not in (200, 404):
                problems.append(f"DELETE {path}: {describe(response)}")
        paths = ", ".join(leftovers)
        if problems:
            self._report("FAIL", "cleanup", "; ".join(problems) + " — delete by hand: " + paths)
        else:
            self._report("PASS", "cleanup", f"deleted {paths}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="smoke.py",
        description=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("base_url", metavar="BASE_URL", help="the deployment, e.g. https://casting.example.com")
    parser.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS",
                        help="timeout of each request (default: %(default)s)")
    args = parser.parse_args(argv)
    if not args.base_url.startswith(("http://", "https://")):
        parser.error("BASE_URL must start with http:// or https://")
    if args.timeout <= 0:
        parser.error("--timeout must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    producer = os.environ.get("PRODUCER_TOKEN", "").strip()
    if not producer:
        print("smoke.py: PRODUCER_TOKEN is not set (an Executive Producer token)", file=sys.stderr)
        return EXIT_USAGE
    smoke = Smoke(
        Client(args.base_url, args.timeout),
        producer,
        os.environ.get("ASSISTANT_TOKEN", "").strip() or None,
        os.environ.get("DIRECTOR_TOKEN", "").strip() or None,
    )
    return 0 if smoke.run() else 1


if __name__ == "__main__":
    sys.exit(main())
