"""The endpoints: movies, actors, castings, health. docs/api.md describes them; /openapi.json is generated
from the declarations here."""

from __future__ import annotations

import json

from flask import Blueprint, Response, jsonify, request, url_for
from sqlalchemy import (
    text,
)

import changes
import conditional
import history
import listing
import ratelimit
import records
import transactions
from auth import requires_auth
from errors import not_found
from openapi import BODY_ERRORS, operation
from parsing import json_body, no_body, query_args
from records import ACTOR, MOVIE, Side
from schemas import (
    ActorCreate,
    ActorEnvelope,
    ActorFilmographyQuery,
    ActorList,
    ActorListQuery,
    ActorRestored,
    ActorUpdate,
    Deleted,
    Health,
    HistoryList,
    HistoryQuery,
    MovieCastQuery,
    MovieCreate,
    MovieEnvelope,
    MovieList,
    MovieListQuery,
    MovieRestored,
    MovieUpdate,
    Ready,
    RecordHistoryQuery,
)
from transactions import safe_read, safe_write

bp = Blueprint("api", __name__)


def record_response(side: Side, record: dict, status: int = 200, headers: dict | None = None) -> Response:
    """One record in its envelope, with its ETag; to a GET whose If-None-Match names it, a 304."""
    etag = conditional.record_etag(record)
    if request.method == "GET" and conditional.none_match(etag):
        return conditional.not_modified(etag)
    response = jsonify({"success": True, side.noun: record})
    response.status_code = status
    response.headers.update(headers or {})
    response.headers["ETag"] = etag
    return response


def get_record(side: Side, record_id: int) -> Response:
    record = records.read(side, record_id)
    if record is None:
        raise not_found(side.noun)
    return record_response(side, record)


def created_response(side: Side, record: dict, **extra) -> Response:
    location = url_for(f"api.get_{side.noun}", **{f"{side.noun}_id": record["id"]})
    response = record_response(side, record, 201, {"Location": location})
    if extra:
        response.set_data(json.dumps({**response.get_json(), **extra}, separators=(",", ":")))
    return response


# --- movies -----------------------------------------------------------------------------


@bp.get("/movies")
@ratelimit.reads
@requires_auth("get:movies")
@operation(MovieList, query=MovieListQuery)
@safe_read
def list_movies():
    """List movies, with search, filters, sort and pagination."""
    params = query_args(MovieListQuery)
    return listing.respond(listing.MOVIES, params, params.actor_id)


@bp.get("/movies/<id:movie_id>")
@ratelimit.reads
@requires_auth("get:movies")
@operation(MovieEnvelope)
@safe_read
def get_movie(movie_id: int):
    """Get one movie with its cast."""
    return get_record(MOVIE, movie_id)


@bp.post("/movies")
@ratelimit.writes
@requires_auth("post:movies")
@operation(MovieEnvelope, status=201, body=MovieCreate, errors=BODY_ERRORS,
           links={"movie_id": "$response.body#/movie/id"})
@safe_write
def create_movie():
    """Create a movie, optionally with its cast."""
    return created_response(MOVIE, changes.create(MOVIE, json_body(MovieCreate)))


@bp.patch("/movies/<id:movie_id>")
@ratelimit.writes
@requires_auth("patch:movies")
@operation(MovieEnvelope, body=MovieUpdate, errors=BODY_ERRORS)
@safe_write
def update_movie(movie_id: int):
    """Change some fields of a movie; `actor_ids` replaces the cast."""
    return record_response(MOVIE, changes.update(MOVIE, movie_id, json_body(MovieUpdate)))


@bp.delete("/movies/<id:movie_id>")
@ratelimit.writes
@requires_auth("delete:movies")
@operation(Deleted, errors=(409,))
@safe_write
def delete_movie(movie_id: int):
    """Delete a movie and its castings (its actors stay)."""
    changes.delete(MOVIE, movie_id)
    return {"success": True, "deleted": movie_id}


@bp.get("/movies/<id:movie_id>/actors")
@ratelimit.reads
@requires_auth("get:actors")
@operation(ActorList, query=MovieCastQuery)
@safe_read
def list_movie_actors(movie_id: int):
    """List the actors cast in a movie, with the actor list's filters."""
    params = query_args(MovieCastQuery)
    if not records.exists(MOVIE, movie_id):
        raise not_found("movie")
    return listing.respond(listing.ACTORS, params, movie_id)


@bp.put("/movies/<id:movie_id>/actors/<id:actor_id>")
@ratelimit.writes
@requires_auth("patch:movies")
@operation(MovieEnvelope, errors=(400, 409, 415),
           links={"movie_id": "$request.path.movie_id", "actor_id": "$request.path.actor_id"})
@safe_write
def cast_actor(movie_id: int, actor_id: int):
    """Cast an actor in a movie (idempotent)."""
    no_body()
    return record_response(MOVIE, changes.cast(movie_id, actor_id))


@bp.delete("/movies/<id:movie_id>/actors/<id:actor_id>")
@ratelimit.writes
@requires_auth("patch:movies")
@operation(MovieEnvelope, errors=(400, 409))
@safe_write
def uncast_actor(movie_id: int, actor_id: int):
    """Remove an actor from a movie's cast (404 when not cast)."""
    no_body()
    return record_response(MOVIE, changes.uncast(movie_id, actor_id))


# --- actors -----------------------------------------------------------------------------


@bp.get("/actors")
@ratelimit.reads
@requires_auth("get:actors")
@operation(ActorList, query=ActorListQuery)
@safe_read
def list_actors():
    """List actors, with search, filters, sort and pagination."""
    params = query_args(ActorListQuery)
    return listing.respond(listing.ACTORS, params, params.movie_id)


@bp.get("/actors/<id:actor_id>")
@ratelimit.reads
@requires_auth("get:actors")
@operation(ActorEnvelope)
@safe_read
def get_actor(actor_id: int):
    """Get one actor with their movies."""
    return get_record(ACTOR, actor_id)


@bp.post("/actors")
@ratelimit.writes
@requires_auth("post:actors")
@operation(ActorEnvelope, status=201, body=ActorCreate, errors=BODY_ERRORS,
           links={"actor_id": "$response.body#/actor/id"})
@safe_write
def create_actor():
    """Create an actor, optionally cast in movies."""
    return created_response(ACTOR, changes.create(ACTOR, json_body(ActorCreate)))


@bp.patch("/actors/<id:actor_id>")
@ratelimit.writes
@requires_auth("patch:actors")
@operation(ActorEnvelope, body=ActorUpdate, errors=BODY_ERRORS)
@safe_write
def update_actor(actor_id: int):
    """Change some fields of an actor; `movie_ids` replaces their movies."""
    return record_response(ACTOR, changes.update(ACTOR, actor_id, json_body(ActorUpdate)))


@bp.delete("/actors/<id:actor_id>")
@ratelimit.writes
@requires_auth("delete:actors")
@operation(Deleted, errors=(409,))
@safe_write
def delete_actor(actor_id: int):
    """Delete an actor and their castings (the movies stay)."""
    changes.delete(ACTOR, actor_id)
    return {"success": True, "deleted": actor_id}


@bp.get("/actors/<id:actor_id>/movies")
@ratelimit.reads
@requires_auth("get:movies")
@operation(MovieList, query=ActorFilmographyQuery)
@safe_read
def list_actor_movies(actor_id: int):
    """List the movies an actor is cast in, with the movie list's filters."""
    params = query_args(ActorFilmographyQuery)
    if not records.exists(ACTOR, actor_id):
        raise not_found("actor")
    return listing.respond(listing.MOVIES, params, actor_id)


@bp.post("/movies/<id:movie_id>/restore")
@ratelimit.writes
@requires_auth("delete:movies")
@operation(MovieRestored, status=201, errors=(400, 409))
@safe_write
def restore_movie(movie_id: int):
    """Restore a deleted movie, with its id, its fields and its castings to actors who still exist."""
    no_body()
    movie, missing = changes.restore(MOVIE, movie_id)
    return created_response(MOVIE, movie, actors_not_restored=missing)


@bp.post("/actors/<id:actor_id>/restore")
@ratelimit.writes
@requires_auth("delete:actors")
@operation(ActorRestored, status=201, errors=(400, 409))
@safe_write
def restore_actor(actor_id: int):
    """Restore a deleted actor, with their id, their fields and their castings in movies that still exist."""
    no_body()
    actor, missing = changes.restore(ACTOR, actor_id)
    return created_response(ACTOR, actor, movies_not_restored=missing)


# --- history ----------------------------------------------------------------------------


@bp.get("/history")
@ratelimit.reads
@requires_auth("get:history")
@operation(HistoryList, query=HistoryQuery)
@safe_read
def list_history():
    """The history of every change made through the API, newest first."""
    return history.respond(query_args(HistoryQuery), {})


@bp.get("/movies/<id:movie_id>/history")
@ratelimit.reads
@requires_auth("get:history")
@operation(HistoryList, query=RecordHistoryQuery)
@safe_read
def movie_history(movie_id: int):
    """A movie's history, newest first (also once the movie is deleted)."""
    return history.respond_for_record(MOVIE, movie_id, query_args(RecordHistoryQuery))


@bp.get("/actors/<id:actor_id>/history")
@ratelimit.reads
@requires_auth("get:history")
@operation(HistoryList, query=RecordHistoryQuery)
@safe_read
def actor_history(actor_id: int):
    """An actor's history, newest first (also once the actor is deleted)."""
    return history.respond_for_record(ACTOR, actor_id, query_args(RecordHistoryQuery))


# --- operations ------------------------------------------------------------------------


@bp.get("/health")
@operation(Health)
def health():
    """The process is up (no database involved)."""
    return {"status": "ok"}


@bp.get("/ready")
@operation(Ready, errors=(500, 503))
@safe_read
def ready():
    """The database answers: 200, or a 503 error (errors.py says which database errors are an outage)."""
    transactions.reader().execute(text("SELECT 1"))
    return {"status": "ready"}
