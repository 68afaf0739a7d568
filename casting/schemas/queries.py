"""Query parameters: the lists' pages, cursors, search, filters and sort keys, and the history's filters."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, WithJsonSchema, create_model
from typing_extensions import TypeAliasType

from casting.schemas.text import REFUSED, Gender, class_body, refused_characters, storable
from casting.schemas.values import REQUEST_ID_PATTERN, Instant, IsoDate, query_int
from models import AGE_MAX, AGE_MIN, ID_MAX

Page = query_int(1, 1_000_000)
PerPage = query_int(1, 100)
Search = Annotated[
    str,
    BeforeValidator(storable),
    BeforeValidator(refused_characters),
    StringConstraints(max_length=200),
    WithJsonSchema({"type": "string", "maxLength": 200, "pattern": rf"^[^{class_body(REFUSED)}]*$",
                    "description": "Case-insensitive substring of the title or name; no control characters, "
                                   "line or paragraph separators or bidirectional overrides and isolates"}),
]
QueryId = query_int(1, ID_MAX)
QueryAge = query_int(AGE_MIN, AGE_MAX)


class _SortKeys:
    """Documents a set of sort keys: what they mean, and each value's name and meaning for client generators
    (`x-enum-varnames`, read by openapi-python-client and openapi-typescript, which would otherwise make up
    names like `VALUE_5` for `-release_date`)."""

    def __init__(self, noun: str, fields: tuple[str, ...]):
        self.description = (f"How to order {noun}: a field, ascending, or `-` and the field, descending; "
                            "ties are broken by id")
        self.names = [name for field in fields for name in (field.upper(), f"{field.upper()}_DESC")]
        self.meanings = [text for field in fields for text in (f"{field}, ascending", f"{field}, descending")]

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: Any) -> dict:
        return {**handler(core_schema), "description": self.description, "x-enum-varnames": self.names,
                "x-enum-descriptions": self.meanings}


def _sort_keys(name: str, noun: str, *fields: str) -> Any:
    """The `sort` values of a list: each field ascending, and descending with a leading `-`.

    A named type alias, so the document has one component per set of values (`MovieSort`) that every list
    of that kind refers to, rather than an inline enum per operation.
    """
    values = tuple(value for field in fields for value in (field, f"-{field}"))
    return TypeAliasType(name, Annotated[Literal[values], _SortKeys(noun, fields)])


MovieSort = _sort_keys("MovieSort", "movies", "id", "title", "release_date")
ActorSort = _sort_keys("ActorSort", "actors", "id", "name", "age")


# Room for the longest cursor the API makes: a 200-character title of 4-byte characters as its sort key.
CURSOR_MAX = 2048
Cursor = Annotated[
    str,
    StringConstraints(pattern=rf"^[A-Za-z0-9_-]{{1,{CURSOR_MAX}}}$"),
    WithJsonSchema({"type": "string", "pattern": rf"^[A-Za-z0-9_-]{{1,{CURSOR_MAX}}}$"}),
]
_CURSOR_HELP = ("`next_cursor` or `prev_cursor` of an answer for the same list (same filters, sort and per_page): "
                "the adjacent page, at the cost of the first one; not with `page`")


_SORT_HELP = "Sort field; a leading `-` sorts descending (ties are broken by id)"


class _ListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    page: Page = Field(default=1, description="Page number, from 1")
    per_page: PerPage = Field(default=20, description="Records per page")
    cursor: Cursor | None = Field(default=None, description=_CURSOR_HELP)
    q: Search | None = Field(default=None, description="Case-insensitive substring of the title or name")
    character: Search | None = Field(
        default=None, description="Only those cast as a character whose name holds this (case-insensitive)")


class ActorFilmographyQuery(_ListQuery):
    """The movie list's parameters; GET /actors/{id}/movies takes these."""

    sort: MovieSort = Field(default="id", description=_SORT_HELP)
    released_after: IsoDate | None = Field(default=None, description="Released on or after this date")
    released_before: IsoDate | None = Field(
        default=None, description="Released on or before this date (not earlier than released_after)")


class MovieListQuery(ActorFilmographyQuery):
    actor_id: QueryId | None = Field(default=None, description="Only movies this actor is cast in")


class MovieCastQuery(_ListQuery):
    """The actor list's parameters; GET /movies/{id}/actors takes these."""

    sort: ActorSort = Field(default="id", description=_SORT_HELP)
    gender: Gender | None = Field(default=None, description="Case-insensitive exact match")
    min_age: QueryAge | None = Field(default=None, description="Age at least")
    max_age: QueryAge | None = Field(default=None, description="Age at most (not less than min_age)")


HistoryAction = Literal["created", "updated", "deleted", "cast", "uncast", "restored"]
Subject = Annotated[
    str,
    BeforeValidator(storable),
    StringConstraints(min_length=1, max_length=255),
    WithJsonSchema({"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^[^\x00]*$"}),
]


RequestId = Annotated[str, StringConstraints(pattern=f"^{REQUEST_ID_PATTERN}$")]


class RecordHistoryQuery(BaseModel):
    """The parameters of one record's history (GET /movies/{id}/history, GET /actors/{id}/history)."""

    model_config = ConfigDict(extra="forbid")

    page: Page = Field(default=1, description="Page number, from 1")
    per_page: PerPage = Field(default=20, description="Entries per page")
    cursor: Cursor | None = Field(default=None, description=_CURSOR_HELP)
    action: HistoryAction | None = Field(default=None, description="Only entries of this action")
    subject: Subject | None = Field(default=None, description="Only changes made by this token subject")
    since: Instant | None = Field(default=None, description="Only entries at or after this instant")
    until: Instant | None = Field(default=None, description="Only entries at or before this instant")
    request_id: RequestId | None = Field(
        default=None, description="Only the entries of one request: its `X-Request-ID` (an import's, say)")


class HistoryQuery(RecordHistoryQuery):
    """The parameters of GET /history."""

    type: Literal["movie", "actor"] | None = Field(default=None, description="Only entries about movies, or actors")


class ActorListQuery(MovieCastQuery):
    movie_id: QueryId | None = Field(default=None, description="Only actors cast in this movie")



# --- files: exports and imports (docs/import-export.md) --------------------------------------------------------

ExportFormat = Literal["csv", "ndjson"]
_FORMAT_HELP = ("The file's format, which wins over `Accept`: `csv` (RFC 4180, `text/csv`) or `ndjson` "
                "(`application/x-ndjson`); without it `Accept` chooses, CSV by default")
_PAGING = ("page", "per_page", "cursor")


def _export_query(name: str, listing: type[BaseModel], doc: str) -> type[BaseModel]:
    """A list's filters and sort, without its paging (an export is the whole list), and the file's format."""
    fields: dict[str, Any] = {field: (info.annotation, info) for field, info in listing.model_fields.items()
                              if field not in _PAGING}
    fields["format"] = (ExportFormat | None, Field(default=None, description=_FORMAT_HELP))
    return create_model(name, __config__=ConfigDict(extra="forbid"), __doc__=doc, **fields)


MovieExportQuery = _export_query("MovieExportQuery", MovieListQuery, "GET /movies/export: the list's filters and sort.")
ActorExportQuery = _export_query("ActorExportQuery", ActorListQuery, "GET /actors/export: the list's filters and sort.")


class CastingExportQuery(BaseModel):
    """GET /castings/export: which castings (by movie, then billing, unbilled last, then actor)."""

    model_config = ConfigDict(extra="forbid")

    movie_id: QueryId | None = Field(default=None, description="Only this movie's cast")
    actor_id: QueryId | None = Field(default=None, description="Only this actor's castings")
    character: Search | None = Field(
        default=None, description="Only castings whose character's name holds this (case-insensitive)")
    format: ExportFormat | None = Field(default=None, description=_FORMAT_HELP)


class ImportQuery(BaseModel):
    """POST /imports: what the file holds, how its rows find the records they are, and whether to write."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["movies", "actors", "castings"] = Field(description="What the file holds")
    match: Literal["natural", "id"] = Field(
        default="natural", description="How a row finds the record it is: `natural` by its natural key (a movie's "
        "title and release date, an actor's name; a casting's movie and actor by those), `id` by its id (an empty "
        "id makes a new movie or actor)")
    dry_run: Literal["true", "false"] = Field(
        default="false", description="`true`: check everything and report what would change, writing nothing")
