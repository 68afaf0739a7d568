"""The endpoints of the contract (shared/API.md): movies, actors, castings, health."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from flask import Blueprint, Response, current_app, request, url_for
from pydantic import BaseModel, ValidationError
from sqlalchemy import (
    Column,
    ColumnElement,
    Integer,
    Select,
    Text,
    bindparam,
    delete,
    func,
    literal_column,
    select,
    text,
    true,
)
from sqlalchemy import cast as cast_to
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import selectinload
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.routing import BaseConverter

from auth import requires_auth
from errors import STATUS_MESSAGES, ApiError, ServiceUnavailable, not_found, validation_error
from models import Actor, Movie, db, movie_actors, table_counts
from openapi import BODY_ERRORS, operation
from schemas import (
    ActorCreate,
    ActorEnvelope,
    ActorFilmographyQuery,
    ActorList,
    ActorListQuery,
    ActorUpdate,
    Deleted,
    Health,
    MovieCastQuery,
    MovieCreate,
    MovieEnvelope,
    MovieList,
    MovieListQuery,
    MovieUpdate,
    Ready,
)

bp = Blueprint("api", __name__)
Schema = TypeVar("Schema", bound=BaseModel)


class IdConverter(BaseConverter):
    """A record id in a path: up to ten digits; ids no record can have (0, > 2**31-1) simply find nothing (404)."""

    regex = r"[0-9]{1,10}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


# --- reading requests -------------------------------------------------------------------


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _parse_int(digits: str) -> int:
    """JSON integers of any length: Python refuses to convert more than 4300 digits, and no field takes
    more than ten, so a longer one stands in as 10**21 (sign kept) and fails its range check as a 422."""
    if len(digits) <= 22:
        return int(digits)
    return -(10**21) if digits.startswith("-") else 10**21


def json_body(schema: type[Schema]) -> Schema:
    """The request body validated by `schema`: 415 not JSON, 400 unparsable or not an object, 422 invalid."""
    if not request.is_json:
        raise ApiError(415, STATUS_MESSAGES[415])
    raw = _body_bytes()
    try:
        data = json.loads(raw, parse_constant=_reject_constant, parse_int=_parse_int)
    except (ValueError, RecursionError):
        raise ApiError(400, "request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "request body must be a JSON object")
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, 422) from None


def _body_bytes() -> bytes:
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if request.content_length is None and request.environ.get("wsgi.input_terminated"):
        # A chunked body (no Content-Length): werkzeug would stop reading quietly at the limit and
        # hand over a truncated body, so read one byte past it to tell an oversized body apart.
        raw = request.environ["wsgi.input"].read(limit + 1)
        if len(raw) > limit:
            raise RequestEntityTooLarge()
        return raw
    return request.get_data(cache=False)


def no_body() -> None:
    """For endpoints that take no body: 415 for a PUT with a body that is not JSON, 400 for any other."""
    if request.content_length or request.headers.get("Transfer-Encoding"):
        if request.method == "PUT" and not request.is_json:
            raise ApiError(415, "this endpoint takes no request body, and a body must be JSON")
        raise ApiError(400, "this endpoint takes no request body")


def query_args(schema: type[Schema]) -> Schema:
    """Query parameters validated by `schema`; anything wrong is a 400 naming the parameter."""
    repeated = {name: ["must be given once"] for name in request.args if len(request.args.getlist(name)) > 1}
    if repeated:
        raise ApiError(400, "; ".join(f"{name} must be given once" for name in repeated), repeated)
    try:
        return schema.model_validate(request.args.to_dict())
    except ValidationError as exc:
        raise validation_error(exc, 400) from None


# --- shaping responses ------------------------------------------------------------------


def movie_json(movie: Movie) -> dict:
    return {
        "id": movie.id,
        "title": movie.title,
        "release_date": movie.release_date.isoformat(),
        "actors": [{"id": actor.id, "name": actor.name} for actor in movie.actors],
    }


def actor_json(actor: Actor) -> dict:
    return {
        "id": actor.id,
        "name": actor.name,
        "age": actor.age,
        "gender": actor.gender,
        "movies": [{"id": movie.id, "title": movie.title} for movie in actor.movies],
    }


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _order(columns, sort: str):
    """ORDER BY for `sort` over a model or a subquery's columns; ties broken by id, same direction."""
    name = sort.lstrip("-")
    keys = [getattr(columns, name)] if name == "id" else [getattr(columns, name), columns.id]
    return [key.desc() if sort.startswith("-") else key.asc() for key in keys]


@dataclass(frozen=True)
class Listing:
    """How to list one side of the casting: its columns, its filters, and the summary of the other side it embeds."""

    model: type
    key: str  # "movies" / "actors"
    columns: tuple[str, ...]
    own_fk: Column  # movie_actors column pointing at this side
    other: type
    other_fk: Column
    other_label: str  # "name" / "title"
    embedded: str  # "actors" / "movies"
    # Each filter by name: its clause, with the value as a bound parameter of the same name, so that a
    # statement is built once per shape of request and reused with new values.
    filters: dict[str, Callable[[], ColumnElement[bool]]]

    def where(self, names: Iterable[str]) -> list[ColumnElement[bool]]:
        return [self.filters[name]() for name in sorted(names)]

    def count(self, clauses: list[ColumnElement[bool]]) -> Select:
        """The exact total: the rows matching `clauses`, or with none the count kept by triggers
        (migration 0002), so an unfiltered list never runs a COUNT(*) over the whole table."""
        if clauses:
            return select(func.count()).select_from(self.model).where(*clauses)
        return select(table_counts.c.row_count).where(table_counts.c.table_name == self.model.__tablename__)


MOVIES = Listing(
    Movie, "movies", ("id", "title", "release_date"), movie_actors.c.movie_id, Actor, movie_actors.c.actor_id,
    "name", "actors", {
        "q": lambda: Movie.title.ilike(bindparam("q"), escape="\\"),
        "released_after": lambda: Movie.release_date >= bindparam("released_after"),
        "released_before": lambda: Movie.release_date <= bindparam("released_before"),
        "actor_id": lambda: Movie.id.in_(
            select(movie_actors.c.movie_id).where(movie_actors.c.actor_id == bindparam("actor_id"))),
    })
ACTORS = Listing(
    Actor, "actors", ("id", "name", "age", "gender"), movie_actors.c.actor_id, Movie, movie_actors.c.movie_id,
    "title", "movies", {
        "q": lambda: Actor.name.ilike(bindparam("q"), escape="\\"),
        "gender": lambda: func.lower(Actor.gender) == bindparam("gender"),
        "min_age": lambda: Actor.age >= bindparam("min_age"),
        "max_age": lambda: Actor.age <= bindparam("max_age"),
        "movie_id": lambda: Actor.id.in_(
            select(movie_actors.c.actor_id).where(movie_actors.c.movie_id == bindparam("movie_id"))),
    })
LISTINGS = {listing.key: listing for listing in (MOVIES, ACTORS)}


def _page(listing: Listing, values: dict, params):
    if db.engine.dialect.name == "postgresql":
        return _page_postgresql(listing, values, params)
    return _page_rows(listing, values, params)


@functools.lru_cache(maxsize=256)
def _page_statement(key: str, sort: str, filters: tuple[str, ...]) -> Select:
    """The single statement of a PostgreSQL list page: the page, each row's cast and the total, as the
    response body. Built once per listing, sort and set of filters (about 0.4 ms saved per request);
    the page, the size and the filter values are bound parameters."""
    listing = LISTINGS[key]
    model, other, label = listing.model, listing.other, listing.other_label
    clauses = listing.where(filters)
    rows = select(*(getattr(model, c) for c in listing.columns))
    if "q" in filters:
        # ILIKE '%term%' is costly on every row it reads: the matches are found once, for both the page
        # and the exact total (measured: a narrow search 1.6x faster at 10k and 100k movies). Cheap
        # filters keep two reads: an early-stopping walk for the page and an index-only count.
        matches = rows.where(*clauses).cte("matches").prefix_with("MATERIALIZED")
        rows, columns = select(*matches.c), matches.c
        total = select(func.count()).select_from(matches).scalar_subquery()
    else:
        rows, columns = rows.where(*clauses), model
        total = listing.count(clauses).scalar_subquery()
    page = (
        rows.order_by(*_order(columns, sort))
        .limit(bindparam("limit", type_=Integer))
        .offset(bindparam("offset", type_=Integer))
        .subquery("page")
    )
    empty = literal_column("'[]'::json")
    # Each cast member's label by primary key: the planner otherwise hash-joins a whole scan of the
    # other table for every row of the page (measured: 2.7x slower at 1k movies).
    other_label = select(getattr(other, label)).where(other.id == listing.other_fk).scalar_subquery()
    cast = (
        select(func.coalesce(func.json_agg(aggregate_order_by(
            func.json_build_object("id", listing.other_fk, label, other_label), listing.other_fk)), empty))
        .where(listing.own_fk == page.c.id)
        .scalar_subquery()
    )
    fields = []
    for name in listing.columns:
        column = page.c[name]
        fields += [name, func.to_char(column, "YYYY-MM-DD") if name == "release_date" else column]
    items = (
        select(func.coalesce(func.json_agg(aggregate_order_by(
            func.json_build_object(*fields, listing.embedded, cast), *_order(page.c, sort))), empty))
        .select_from(page)
        .scalar_subquery()
    )
    body = func.json_build_object(
        "success", true(), listing.key, items, "total", total,
        "page", bindparam("page", type_=Integer), "per_page", bindparam("per_page", type_=Integer))
    return select(cast_to(body, Text))


def _page_postgresql(listing: Listing, values: dict, params) -> Response:
    """The whole response body built by PostgreSQL in one statement, outside any explicit transaction:
    one round trip, and no decoding or re-encoding here."""
    statement = _page_statement(listing.key, params.sort, tuple(sorted(values)))
    if not db.session().in_transaction():  # a single statement needs no BEGIN/ROLLBACK round trips
        db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    body = db.session.scalar(statement, {
        **values, "limit": params.per_page, "offset": (params.page - 1) * params.per_page,
        "page": params.page, "per_page": params.per_page})
    return Response(body, mimetype="application/json")


def _page_rows(listing: Listing, values: dict, params) -> dict:
    """One page of rows with their embedded casts (other databases): three statements whatever the page
    size, as plain rows (no ORM objects): the total, the page, and the casts of every row on the page."""
    model = listing.model
    clauses = listing.where(values)
    total = db.session.scalar(listing.count(clauses), values)
    offset = (params.page - 1) * params.per_page
    records: list[dict] = []
    if offset < total:
        rows = db.session.execute(
            select(*(getattr(model, c) for c in listing.columns))
            .where(*clauses)
            .order_by(*_order(model, params.sort))
            .limit(params.per_page)
            .offset(offset),
            values,
        ).all()
        records = [dict(zip(listing.columns, row, strict=True)) for row in rows]
        by_id = {}
        for record in records:
            record[listing.embedded] = by_id[record["id"]] = []
            if "release_date" in record:
                record["release_date"] = record["release_date"].isoformat()
        if records:
            other = listing.other
            label = listing.other_label
            cast = db.session.execute(
                select(listing.own_fk, other.id, getattr(other, label))
                .join(other, other.id == listing.other_fk)
                .where(listing.own_fk.in_(list(by_id)))
                .order_by(listing.own_fk, other.id)
            )
            for owner, other_id, other_label in cast:
                by_id[owner].append({"id": other_id, label: other_label})
    return {"success": True, listing.key: records, "total": total, "page": params.page,
            "per_page": params.per_page}


def movie_page(params: ActorFilmographyQuery, actor_id: int | None):
    return _page(MOVIES, movie_filters(params, actor_id), params)


def movie_filters(params: ActorFilmographyQuery, actor_id: int | None) -> dict:
    """The movie filters a request asks for: their bound values, by name (MOVIES.filters)."""
    values: dict = {}
    if params.q:
        values["q"] = _like(params.q)
    if params.released_after:
        values["released_after"] = params.released_after
    if params.released_before:
        values["released_before"] = params.released_before
    if actor_id is not None:
        values["actor_id"] = actor_id
    return values


def actor_page(params: MovieCastQuery, movie_id: int | None):
    return _page(ACTORS, actor_filters(params, movie_id), params)


def actor_filters(params: MovieCastQuery, movie_id: int | None) -> dict:
    """The actor filters a request asks for: their bound values, by name (ACTORS.filters)."""
    values: dict = {}
    if params.q:
        values["q"] = _like(params.q)
    if params.gender:
        values["gender"] = params.gender.lower()
    if params.min_age is not None:
        values["min_age"] = params.min_age
    if params.max_age is not None:
        values["max_age"] = params.max_age
    if movie_id is not None:
        values["movie_id"] = movie_id
    return values


def load_movie(movie_id: int, *, for_update: bool = False) -> Movie:
    movie = db.session.get(Movie, movie_id, options=[selectinload(Movie.actors)], with_for_update=for_update)
    if movie is None:
        raise not_found("movie")
    return movie


def load_actor(actor_id: int, *, for_update: bool = False) -> Actor:
    actor = db.session.get(Actor, actor_id, options=[selectinload(Actor.movies)], with_for_update=for_update)
    if actor is None:
        raise not_found("actor")
    return actor


def existing(model, ids: list[int], field: str) -> list:
    """The rows named by `ids`, in that order; a 422 naming `field` when any is missing."""
    if not ids:
        return []
    rows = {row.id: row for row in db.session.scalars(select(model).where(model.id.in_(ids)))}
    missing = [i for i in ids if i not in rows]
    if missing:
        noun = model.__tablename__[:-1]
        message = f"no {noun} with id " + ", ".join(map(str, missing))
        raise ApiError(422, f"{field} {message}", {field: [message]})
    return [rows[i] for i in ids]


def _delete(model, record_id: int, noun: str) -> dict:
    # One statement: a concurrent delete makes this one a clean 404, and the
    # database's ON DELETE CASCADE removes the castings, never the other side.
    if db.session.execute(delete(model).where(model.id == record_id)).rowcount == 0:
        raise not_found(noun)
    db.session.commit()
    return {"success": True, "deleted": record_id}


def _created(key: str, record, shape, endpoint: str, **ids):
    return {"success": True, key: shape(record)}, 201, {"Location": url_for(endpoint, **ids)}


# --- movies -----------------------------------------------------------------------------


@bp.get("/movies")
@requires_auth("get:movies")
@operation(MovieList, query=MovieListQuery)
def list_movies():
    """List movies, with search, filters, sort and pagination."""
    params = query_args(MovieListQuery)
    return movie_page(params, params.actor_id)


@bp.get("/movies/<id:movie_id>")
@requires_auth("get:movies")
@operation(MovieEnvelope)
def get_movie(movie_id: int):
    """Get one movie with its cast."""
    return {"success": True, "movie": movie_json(load_movie(movie_id))}


@bp.post("/movies")
@requires_auth("post:movies")
@operation(MovieEnvelope, status=201, body=MovieCreate, errors=BODY_ERRORS,
           links={"movie_id": "$response.body#/movie/id"})
def create_movie():
    """Create a movie, optionally with its cast."""
    body = json_body(MovieCreate)
    movie = Movie(title=body.title, release_date=body.release_date)
    movie.actors = existing(Actor, body.actor_ids, "actor_ids")
    db.session.add(movie)
    db.session.commit()
    return _created("movie", load_movie(movie.id), movie_json, "api.get_movie", movie_id=movie.id)


@bp.patch("/movies/<id:movie_id>")
@requires_auth("patch:movies")
@operation(MovieEnvelope, body=MovieUpdate, errors=BODY_ERRORS)
def update_movie(movie_id: int):
    """Change some fields of a movie; `actor_ids` replaces the cast."""
    body = json_body(MovieUpdate)
    movie = load_movie(movie_id, for_update=True)
    changes = body.model_dump(exclude_unset=True)
    if "actor_ids" in changes:
        movie.actors = existing(Actor, changes.pop("actor_ids"), "actor_ids")
    for field, value in changes.items():
        setattr(movie, field, value)
    db.session.commit()
    return {"success": True, "movie": movie_json(load_movie(movie_id))}


@bp.delete("/movies/<id:movie_id>")
@requires_auth("delete:movies")
@operation(Deleted, errors=(409,))
def delete_movie(movie_id: int):
    """Delete a movie and its castings (its actors stay)."""
    return _delete(Movie, movie_id, "movie")


@bp.get("/movies/<id:movie_id>/actors")
@requires_auth("get:actors")
@operation(ActorList, query=MovieCastQuery)
def list_movie_actors(movie_id: int):
    """List the actors cast in a movie, with the actor list's filters."""
    params = query_args(MovieCastQuery)
    if db.session.get(Movie, movie_id) is None:
        raise not_found("movie")
    return actor_page(params, movie_id)


@bp.put("/movies/<id:movie_id>/actors/<id:actor_id>")
@requires_auth("patch:movies")
@operation(MovieEnvelope, errors=(400, 409, 415),
           links={"movie_id": "$request.path.movie_id", "actor_id": "$request.path.actor_id"})
def cast_actor(movie_id: int, actor_id: int):
    """Cast an actor in a movie (idempotent)."""
    no_body()
    load_movie(movie_id)
    load_actor(actor_id)
    insert = postgresql_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
    db.session.execute(insert(movie_actors).values(movie_id=movie_id, actor_id=actor_id).on_conflict_do_nothing())
    db.session.commit()
    return {"success": True, "movie": movie_json(load_movie(movie_id))}


@bp.delete("/movies/<id:movie_id>/actors/<id:actor_id>")
@requires_auth("patch:movies")
@operation(MovieEnvelope, errors=(400, 409))
def uncast_actor(movie_id: int, actor_id: int):
    """Remove an actor from a movie's cast (404 when not cast)."""
    no_body()
    removed = db.session.execute(
        delete(movie_actors).where(movie_actors.c.movie_id == movie_id, movie_actors.c.actor_id == actor_id)
    ).rowcount
    if not removed:
        load_movie(movie_id)
        load_actor(actor_id)
        raise not_found("casting")
    db.session.commit()
    return {"success": True, "movie": movie_json(load_movie(movie_id))}


# --- actors -----------------------------------------------------------------------------


@bp.get("/actors")
@requires_auth("get:actors")
@operation(ActorList, query=ActorListQuery)
def list_actors():
    """List actors, with search, filters, sort and pagination."""
    params = query_args(ActorListQuery)
    return actor_page(params, params.movie_id)


@bp.get("/actors/<id:actor_id>")
@requires_auth("get:actors")
@operation(ActorEnvelope)
def get_actor(actor_id: int):
    """Get one actor with their movies."""
    return {"success": True, "actor": actor_json(load_actor(actor_id))}


@bp.post("/actors")
@requires_auth("post:actors")
@operation(ActorEnvelope, status=201, body=ActorCreate, errors=BODY_ERRORS,
           links={"actor_id": "$response.body#/actor/id"})
def create_actor():
    """Create an actor, optionally cast in movies."""
    body = json_body(ActorCreate)
    actor = Actor(name=body.name, age=body.age, gender=body.gender)
    actor.movies = existing(Movie, body.movie_ids, "movie_ids")
    db.session.add(actor)
    db.session.commit()
    return _created("actor", load_actor(actor.id), actor_json, "api.get_actor", actor_id=actor.id)


@bp.patch("/actors/<id:actor_id>")
@requires_auth("patch:actors")
@operation(ActorEnvelope, body=ActorUpdate, errors=BODY_ERRORS)
def update_actor(actor_id: int):
    """Change some fields of an actor; `movie_ids` replaces their movies."""
    body = json_body(ActorUpdate)
    actor = load_actor(actor_id, for_update=True)
    changes = body.model_dump(exclude_unset=True)
    if "movie_ids" in changes:
        actor.movies = existing(Movie, changes.pop("movie_ids"), "movie_ids")
    for field, value in changes.items():
        setattr(actor, field, value)
    db.session.commit()
    return {"success": True, "actor": actor_json(load_actor(actor_id))}


@bp.delete("/actors/<id:actor_id>")
@requires_auth("delete:actors")
@operation(Deleted, errors=(409,))
def delete_actor(actor_id: int):
    """Delete an actor and their castings (the movies stay)."""
    return _delete(Actor, actor_id, "actor")


@bp.get("/actors/<id:actor_id>/movies")
@requires_auth("get:movies")
@operation(MovieList, query=ActorFilmographyQuery)
def list_actor_movies(actor_id: int):
    """List the movies an actor is cast in, with the movie list's filters."""
    params = query_args(ActorFilmographyQuery)
    if db.session.get(Actor, actor_id) is None:
        raise not_found("actor")
    return movie_page(params, actor_id)


# --- operations ------------------------------------------------------------------------


@bp.get("/health")
@operation(Health)
def health():
    """The process is up (no database involved)."""
    return {"status": "ok"}


@bp.get("/ready")
@operation(Ready, errors=(500, 503))
def ready():
    """The database answers: 200, or a 503 error."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:  # the database's trouble; anything else is a bug, and a 500
        db.session.rollback()
        raise ServiceUnavailable("the database is unavailable") from None
    return {"status": "ready"}
