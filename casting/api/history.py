"""The history routes: every change made through the API, and one record's changes (also once it is
deleted), newest first."""

from __future__ import annotations

from flask import Blueprint

from auth import requires_auth
from casting.api import answers
from casting.catalogue import history, records
from casting.catalogue.records import ACTOR, MOVIE, Side
from casting.errors import not_found
from casting.openapi.document import operation
from casting.schemas.queries import HistoryQuery, RecordHistoryQuery
from casting.schemas.responses import HistoryList
from casting.web import ratelimit
from casting.web.parsing import query_args
from casting.web.transactions import safe_read

bp = Blueprint("history", __name__)


@bp.get("/history")
@ratelimit.reads
@requires_auth("get:history")
@operation(HistoryList, query=HistoryQuery)
@safe_read
def list_history():
    """The history of every change made through the API, newest first."""
    params = query_args(HistoryQuery)
    return answers.page(lambda: history.page(params, {}))


@bp.get("/movies/<id:movie_id>/history")
@ratelimit.reads
@requires_auth("get:history")
@operation(HistoryList, query=RecordHistoryQuery)
@safe_read
def movie_history(movie_id: int):
    """A movie's history, newest first (also once the movie is deleted)."""
    return _record_history(MOVIE, movie_id)


@bp.get("/actors/<id:actor_id>/history")
@ratelimit.reads
@requires_auth("get:history")
@operation(HistoryList, query=RecordHistoryQuery)
@safe_read
def actor_history(actor_id: int):
    """An actor's history, newest first (also once the actor is deleted)."""
    return _record_history(ACTOR, actor_id)


def _record_history(side: Side, record_id: int):
    """One record's history; 404 only for an id that no record has, or ever had, in the history."""
    params = query_args(RecordHistoryQuery)
    if records.read(side, record_id) is None and history.last_entry(side, record_id) is None:
        raise not_found(side.noun)
    return answers.page(lambda: history.page(params, {"type": side.noun, "record_id": record_id}, record_id))
