"""What answers carry: records and their summaries, envelopes, pages, history entries, errors."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field, RootModel

from casting.errors import STATUS_MESSAGES
from casting.schemas.examples import (
    ACTOR_EXAMPLE,
    EXAMPLE_REQUEST_ID,
    HISTORY_EXAMPLE,
    MOVIE_EXAMPLE,
    absent_unless_sent,
    examples,
)
from casting.schemas.queries import HistoryAction
from casting.schemas.rows import PROBLEMS_LISTED

_CHARACTER = "the character played, when the casting names one"
_BILLING = "the place in the movie's credits (1 is top-billed), when the casting has one"
_CAST_CHARACTER = ("in a movie's cast or an actor's movies as a list (GET /movies/{id}/actors, "
                   "GET /actors/{id}/movies): the character played in that movie, when the casting names one")
_CAST_BILLING = "in a movie's cast or an actor's movies as a list: the place in that movie's credits, when set"


class ActorSummary(BaseModel):
    model_config = examples(MOVIE_EXAMPLE["actors"][0])

    id: int
    name: str
    character: str = absent_unless_sent(_CHARACTER)
    billing: int = absent_unless_sent(_BILLING)


class MovieSummary(BaseModel):
    model_config = examples(ACTOR_EXAMPLE["movies"][0])

    id: int
    title: str
    character: str = absent_unless_sent(_CHARACTER)
    billing: int = absent_unless_sent(_BILLING)


class MoviePublic(BaseModel):
    model_config = examples(MOVIE_EXAMPLE)

    id: int
    title: str
    release_date: dt.date
    actors: list[ActorSummary] = Field(description="the cast, by billing (unbilled last), then by id")
    character: str = absent_unless_sent(_CAST_CHARACTER)
    billing: int = absent_unless_sent(_CAST_BILLING)


class ActorPublic(BaseModel):
    model_config = examples(ACTOR_EXAMPLE)

    id: int
    name: str
    age: int
    gender: str
    movies: list[MovieSummary] = Field(description="the movies they are cast in, by id")
    character: str = absent_unless_sent(_CAST_CHARACTER)
    billing: int = absent_unless_sent(_CAST_BILLING)


class FieldErrors(RootModel[dict[str, list[str]]]):
    """Each field that failed validation (a body field, a query parameter, or `body` for the body as a whole),
    with its messages."""

    model_config = examples({"title": ["must not be empty"], "actor_ids": ["must not contain duplicate ids"]})


class ErrorBody(BaseModel):
    model_config = examples(
        {"success": False, "error": 422, "message": "title must not be empty",
         "details": {"title": ["must not be empty"]}},
        {"success": False, "error": 404, "message": "movie not found"},
        {"success": False, "error": 503, "message": STATUS_MESSAGES[503], "request_id": EXAMPLE_REQUEST_ID},
    )

    success: Literal[False]
    error: int = Field(description="the HTTP status code, repeated")
    message: str = Field(description="what went wrong, for people")
    details: FieldErrors = absent_unless_sent(
        "the fields at fault: sent with every 422 and with a 400 about query parameters, absent otherwise")
    request_id: str = absent_unless_sent(
        "sent with every 5xx, absent otherwise: the `X-Request-ID` of the request; quote it when reporting the "
        "problem")


class _Envelope(BaseModel):
    success: Literal[True]


class MovieEnvelope(_Envelope):
    model_config = examples({"success": True, "movie": MOVIE_EXAMPLE})

    movie: MoviePublic


class ActorEnvelope(_Envelope):
    model_config = examples({"success": True, "actor": ACTOR_EXAMPLE})

    actor: ActorPublic


class _Pagination(_Envelope):
    total: int = Field(ge=0, description="matching records in all pages")
    page: int = Field(ge=1)
    per_page: int = Field(ge=1, le=100)
    next_cursor: str | None = Field(description="the next page's `cursor` (the `Link` header's rel=next); null on "
                                                "the last page")
    prev_cursor: str | None = Field(description="the previous page's `cursor` (rel=prev); null on the first page")


class MovieList(_Pagination):
    model_config = examples({"success": True, "movies": [MOVIE_EXAMPLE], "total": 1, "page": 1, "per_page": 20,
                                "next_cursor": None, "prev_cursor": None})

    movies: list[MoviePublic]


class ActorList(_Pagination):
    model_config = examples({"success": True, "actors": [ACTOR_EXAMPLE], "total": 1, "page": 1, "per_page": 20,
                                "next_cursor": None, "prev_cursor": None})

    actors: list[ActorPublic]


class Deleted(_Envelope):
    model_config = examples({"success": True, "deleted": 7})

    deleted: int = Field(description="the id of the deleted record")


class MovieSnapshot(BaseModel):
    """A movie as its history keeps it: its fields, its cast as ids, and its cast as it was shown then."""

    title: str
    release_date: dt.date
    actor_ids: list[int]
    actors: list[ActorSummary] = absent_unless_sent(
        "the cast as shown then (names, characters, billing); absent from entries made before it was kept")


class ActorSnapshot(BaseModel):
    """An actor as their history keeps them: their fields, their movies as ids, and as they were shown then."""

    name: str
    age: int
    gender: str
    movie_ids: list[int]
    movies: list[MovieSummary] = absent_unless_sent(
        "their movies as shown then (titles, characters, billing); absent from entries made before it was kept")


class RecordRef(BaseModel):
    type: Literal["movie", "actor"]
    id: int


class Editor(BaseModel):
    """Who made a change, as their token said when they made it."""

    name: str = Field(description="the token's name claim; its subject when it had none")
    email: str = absent_unless_sent("the token's email claim, when it had one")


class OtherRecord(RecordRef):
    """The record on the other side of a casting an entry is about, as it was then."""

    title: str = absent_unless_sent("a movie's title then")
    name: str = absent_unless_sent("an actor's name then")
    action: Literal["created", "deleted", "restored"] = absent_unless_sent(
        "what happened to that record itself in the same change, when it was created, deleted or restored")



class HistoryEntry(BaseModel):
    model_config = examples(HISTORY_EXAMPLE)

    id: int
    at: dt.datetime = Field(description="when the change was made, in UTC to the millisecond")
    subject: str = Field(description="the `sub` of the token that made the change")
    by: Editor
    action: HistoryAction
    record: RecordRef
    other: OtherRecord = absent_unless_sent(
        "on a cast, an uncast or a change to a casting written because of a record on the other side: that record")
    before: MovieSnapshot | ActorSnapshot | None = Field(description="null for `created` and `restored`")
    after: MovieSnapshot | ActorSnapshot | None = Field(description="null for `deleted`")
    request_id: str = Field(description="the `X-Request-ID` of the request that made the change")


class HistoryList(_Pagination):
    model_config = examples({"success": True, "history": [HISTORY_EXAMPLE], "total": 1, "page": 1, "per_page": 20,
                                "next_cursor": None, "prev_cursor": None})

    history: list[HistoryEntry] = Field(description="newest first")


class MovieRestored(MovieEnvelope):
    model_config = examples({"success": True, "movie": MOVIE_EXAMPLE, "actors_not_restored": [5]})

    actors_not_restored: list[int] = Field(
        description="the actors the movie was cast with who have been deleted since: their castings stay gone")


class ActorRestored(ActorEnvelope):
    model_config = examples({"success": True, "actor": ACTOR_EXAMPLE, "movies_not_restored": [],
                             "billing_not_restored": []})

    movies_not_restored: list[int] = Field(
        description="the movies the actor was cast in that have been deleted since: their castings stay gone")
    billing_not_restored: list[int] = Field(
        description="the movies where another actor holds the actor's billing now: cast again without one")


_IMPORT_EXAMPLE = {"type": "actors", "match": "natural", "dry_run": False, "request_id": EXAMPLE_REQUEST_ID,
                   "rows": 3, "created": 1, "updated": 1, "unchanged": 1, "problem_count": 0, "problems": []}
_PROBLEM_EXAMPLE = {"line": 3, "column": "age", "message": "must be less than or equal to 150"}


class ImportProblem(BaseModel):
    """One thing wrong in an imported file, where it is."""

    model_config = examples(_PROBLEM_EXAMPLE)

    line: int = Field(ge=1, description="the file's line (the header is line 1; a quoted cell may span lines: "
                                        "the line its row starts on)")
    column: str | None = Field(description="the column (an NDJSON line's key), or null for the line or file as "
                                           "a whole")
    message: str = Field(description="what is wrong, worded as the JSON writes word the same rule")


class ImportOutcome(BaseModel):
    """What an import did, or, in a dry run or a refused import, would have done: counts of valid rows."""

    model_config = examples(_IMPORT_EXAMPLE)

    type: Literal["movies", "actors", "castings"]
    match: Literal["natural", "id"]
    dry_run: bool
    request_id: str = Field(description="this request's `X-Request-ID`: `GET /history?request_id=` lists the "
                                        "entries of the records it created or changed")
    rows: int = Field(ge=0, description="the records in the file")
    created: int = Field(ge=0)
    updated: int = Field(ge=0)
    unchanged: int = Field(ge=0, description="rows that say what the record already is")
    problem_count: int = Field(ge=0, description="every problem found")
    problems: list[ImportProblem] = Field(description=f"the first {PROBLEMS_LISTED:,} problems, in the file's order")


class ImportDone(_Envelope):
    model_config = examples({"success": True, "import": _IMPORT_EXAMPLE})

    import_: ImportOutcome = Field(alias="import")


class ImportRefused(ErrorBody):
    """A file with problems: nothing was written, and `import` lists them (any other 422, such as an
    Idempotency-Key used for another request, is an ErrorBody without it)."""

    model_config = examples({
        "success": False, "error": 422, "message": "1 problem in the file, nothing was written: line 3, age: "
        "must be less than or equal to 150", "details": {"age": ["line 3: must be less than or equal to 150"]},
        "import": {**_IMPORT_EXAMPLE, "created": 0, "updated": 0, "unchanged": 2, "problem_count": 1,
                   "problems": [_PROBLEM_EXAMPLE]}})

    import_: ImportOutcome = Field(default=None, alias="import", json_schema_extra=lambda s: s.pop("default"),
                                   description="the report of the file's problems, when they are the reason")


class Health(BaseModel):
    model_config = examples({"status": "ok"})

    status: Literal["ok"]


class FollowerStatus(BaseModel):
    """A read follower as this process last checked it."""

    name: str = Field(description="follower-1, follower-2... in the order DATABASE_FOLLOWER_URLS names them")
    in_rotation: bool
    version: int = Field(description="the catalogue version it had replayed when last checked")
    lag_seconds: float | None = Field(description="how far behind the primary it was (null: unreachable)")
    problem: str = absent_unless_sent("why it is out of rotation")


class Ready(BaseModel):
    model_config = examples({"status": "ready"}, {"status": "ready", "followers": [
        {"name": "follower-1", "in_rotation": True, "version": 1042, "lag_seconds": 0.0}]})

    status: Literal["ready"]
    followers: list[FollowerStatus] = absent_unless_sent("with read followers: each, as this process last checked it")

