"""The actor routes: the list, one actor, their changes, their movies as a list, and undoing their delete.
docs/api.md describes them."""

from __future__ import annotations

from flask import Blueprint

from auth import requires_auth
from casting.api import answers
from casting.api.writes import safe_write
from casting.catalogue import changes, listing, records
from casting.catalogue.filters import ACTORS, MOVIES
from casting.catalogue.records import ACTOR
from casting.errors import not_found
from casting.openapi.document import operation
from casting.openapi.tables import BODY_ERRORS
from casting.schemas.bodies import ActorCreate, ActorUpdate
from casting.schemas.queries import ActorFilmographyQuery, ActorListQuery
from casting.schemas.responses import ActorEnvelope, ActorList, ActorRestored, Deleted, MovieList
from casting.web import ratelimit
from casting.web.parsing import json_body, no_body, query_args
from casting.web.transactions import safe_read

bp = Blueprint("actors", __name__)


@bp.get("/actors")
@ratelimit.reads
@requires_auth("get:actors")
@operation(ActorList, query=ActorListQuery)
@safe_read
def list_actors():
    """List actors, with search, filters, sort and pagination."""
    params = query_args(ActorListQuery)
    return answers.page(lambda: listing.page(ACTORS, params, params.movie_id))


@bp.get("/actors/<id:actor_id>")
@ratelimit.reads
@requires_auth("get:actors")
@operation(ActorEnvelope)
@safe_read
def get_actor(actor_id: int):
    """Get one actor with their movies."""
    return answers.stored_record(ACTOR, actor_id)


@bp.post("/actors")
@ratelimit.writes
@requires_auth("post:actors")
@operation(ActorEnvelope, status=201, body=ActorCreate, errors=BODY_ERRORS,
           links={"actor_id": "$response.body#/actor/id"})
@safe_write
def create_actor():
    """Create an actor, optionally cast in movies."""
    return answers.created(ACTOR, changes.create(ACTOR, json_body(ActorCreate)))


@bp.patch("/actors/<id:actor_id>")
@ratelimit.writes
@requires_auth("patch:actors")
@operation(ActorEnvelope, body=ActorUpdate, errors=BODY_ERRORS)
@safe_write
def update_actor(actor_id: int):
    """Change some fields of an actor; `movie_ids` replaces their movies."""
    return answers.record(ACTOR, changes.update(ACTOR, actor_id, json_body(ActorUpdate)))


@bp.delete("/actors/<id:actor_id>")
@ratelimit.writes
@requires_auth("delete:actors")
@operation(Deleted, errors=(409,))
@safe_write
def delete_actor(actor_id: int):
    """Delete an actor and their castings (the movies stay)."""
    changes.delete(ACTOR, actor_id)
    return {"success": True, "deleted": actor_id}


@bp.post("/actors/<id:actor_id>/restore")
@ratelimit.writes
@requires_auth("delete:actors")
@operation(ActorRestored, status=201, errors=(400, 409))
@safe_write
def restore_actor(actor_id: int):
    """Restore a deleted actor, with their id, their fields and their castings in movies that still exist."""
    no_body()
    actor, missing, unbilled = changes.restore(ACTOR, actor_id)
    return answers.created(ACTOR, actor, movies_not_restored=missing, billing_not_restored=unbilled)


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
    return answers.page(lambda: listing.page(MOVIES, params, actor_id))
