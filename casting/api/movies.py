"""The movie routes: the list, one movie, its changes, its cast (casting an actor, removing one, the cast as a
list), and undoing its delete. docs/api.md describes them."""

from __future__ import annotations

from flask import Blueprint

from auth import requires_auth
from casting.api import answers
from casting.api.writes import safe_write
from casting.catalogue import changes, listing, records
from casting.catalogue.filters import ACTORS, MOVIES
from casting.catalogue.records import MOVIE, role_of
from casting.errors import not_found
from casting.openapi.document import operation
from casting.openapi.tables import BODY_ERRORS
from casting.schemas.bodies import CastReplace, MovieCreate, MovieUpdate, Role
from casting.schemas.queries import MovieCastQuery, MovieListQuery
from casting.schemas.responses import ActorList, Deleted, MovieEnvelope, MovieList, MovieRestored
from casting.web import ratelimit
from casting.web.parsing import json_body, no_body, optional_json_body, query_args
from casting.web.transactions import safe_read

bp = Blueprint("movies", __name__)


@bp.get("/movies")
@ratelimit.reads
@requires_auth("get:movies")
@operation(MovieList, query=MovieListQuery)
@safe_read
def list_movies():
    """List movies, with search, filters, sort and pagination."""
    params = query_args(MovieListQuery)
    return answers.page(lambda: listing.page(MOVIES, params, params.actor_id))


@bp.get("/movies/<id:movie_id>")
@ratelimit.reads
@requires_auth("get:movies")
@operation(MovieEnvelope)
@safe_read
def get_movie(movie_id: int):
    """Get one movie with its cast."""
    return answers.stored_record(MOVIE, movie_id)


@bp.post("/movies")
@ratelimit.writes
@requires_auth("post:movies")
@operation(MovieEnvelope, status=201, body=MovieCreate, errors=BODY_ERRORS,
           links={"movie_id": "$response.body#/movie/id"})
@safe_write
def create_movie():
    """Create a movie, optionally with its cast."""
    return answers.created(MOVIE, changes.create(MOVIE, json_body(MovieCreate)))


@bp.patch("/movies/<id:movie_id>")
@ratelimit.writes
@requires_auth("patch:movies")
@operation(MovieEnvelope, body=MovieUpdate, errors=BODY_ERRORS)
@safe_write
def update_movie(movie_id: int):
    """Change some fields of a movie; `actor_ids` replaces the cast."""
    return answers.record(MOVIE, changes.update(MOVIE, movie_id, json_body(MovieUpdate)))


@bp.delete("/movies/<id:movie_id>")
@ratelimit.writes
@requires_auth("delete:movies")
@operation(Deleted, errors=(409,))
@safe_write
def delete_movie(movie_id: int):
    """Delete a movie and its castings (its actors stay)."""
    changes.delete(MOVIE, movie_id)
    return {"success": True, "deleted": movie_id}


@bp.post("/movies/<id:movie_id>/restore")
@ratelimit.writes
@requires_auth("delete:movies")
@operation(MovieRestored, status=201, errors=(400, 409))
@safe_write
def restore_movie(movie_id: int):
    """Restore a deleted movie, with its id, its fields and its castings to actors who still exist."""
    no_body()
    movie, missing, _ = changes.restore(MOVIE, movie_id)
    return answers.created(MOVIE, movie, actors_not_restored=missing)


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
    return answers.page(lambda: listing.page(ACTORS, params, movie_id))


@bp.put("/movies/<id:movie_id>/actors/<id:actor_id>")
@ratelimit.writes
@requires_auth("patch:movies")
@operation(MovieEnvelope, body=Role, body_required=False, errors=BODY_ERRORS,
           links={"movie_id": "$request.path.movie_id", "actor_id": "$request.path.actor_id"})
@safe_write
def cast_actor(movie_id: int, actor_id: int):
    """Cast an actor in a movie, optionally as a character and at a billing (idempotent).

    Without a body, an actor who is cast already stays as they are. With one, the casting's role becomes
    exactly what it says (a key left out is cleared); a billing another actor holds is a 422: reorder the
    cast with `PUT /movies/{movie_id}/cast`."""
    role = optional_json_body(Role)
    return answers.record(MOVIE, changes.cast(movie_id, actor_id, None if role is None else role_of(role)))


@bp.put("/movies/<id:movie_id>/cast")
@ratelimit.writes
@requires_auth("patch:movies")
@operation(MovieEnvelope, body=CastReplace, errors=BODY_ERRORS)
@safe_write
def replace_cast(movie_id: int):
    """Replace a movie's whole cast, characters and billing included, in one request.

    Actors left out are uncast; billings may trade places. `If-Match` covers the movie's cast, as for a
    single casting."""
    return answers.record(MOVIE, changes.update(MOVIE, movie_id, json_body(CastReplace), cast_only=True))


@bp.delete("/movies/<id:movie_id>/actors/<id:actor_id>")
@ratelimit.writes
@requires_auth("patch:movies")
@operation(MovieEnvelope, errors=(400, 409))
@safe_write
def uncast_actor(movie_id: int, actor_id: int):
    """Remove an actor from a movie's cast (404 when not cast)."""
    no_body()
    return answers.record(MOVIE, changes.uncast(movie_id, actor_id))
