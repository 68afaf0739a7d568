"""Request and response schemas: the contract's validation table, in one place.

Each resource has a Create schema (POST), an Update schema (PATCH, every field
optional but never null) and a Public schema (what responses carry). List
queries have their own schemas. The OpenAPI document is generated from these.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)
from pydantic_core import PydanticCustomError

from models import AGE_MAX, AGE_MIN, GENDER_MAX, ID_MAX, NAME_MAX, TITLE_MAX

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _json_integer(value: Any) -> Any:
    """An integer as JSON Schema sees one: 30 and 30.0 count; 30.5, true and "30" do not."""
    if isinstance(value, bool):
        raise PydanticCustomError("integer", "must be an integer")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if not isinstance(value, int):
        raise PydanticCustomError("integer", "must be an integer")
    return value


def _iso_date(value: Any) -> dt.date:
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise PydanticCustomError("date", "must be a date written YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise PydanticCustomError("date", "must be a real calendar date") from None


def _query_integer(value: Any) -> Any:
    """Query strings carry text: accept plain decimal digits only."""
    if isinstance(value, str):
        if not re.fullmatch(r"[+-]?\d{1,10}", value):
            raise PydanticCustomError("integer", "must be an integer")
        return int(value)
    return _json_integer(value)


JsonInt = Annotated[int, BeforeValidator(_json_integer), WithJsonSchema({"type": "integer"})]
QueryInt = Annotated[int, BeforeValidator(_query_integer), WithJsonSchema({"type": "integer"})]
IsoDate = Annotated[
    dt.date,
    BeforeValidator(_iso_date),
    WithJsonSchema({"type": "string", "format": "date", "example": "2017-04-29"}),
]


def _text(max_length: int) -> Any:
    return Annotated[
        str,
        Field(strict=True),
        StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length),
    ]


Title = _text(TITLE_MAX)
Name = _text(NAME_MAX)
Gender = _text(GENDER_MAX)
Age = Annotated[JsonInt, Field(ge=AGE_MIN, le=AGE_MAX)]
RecordId = Annotated[JsonInt, Field(ge=1, le=ID_MAX)]
IdList = Annotated[list[RecordId], Field(max_length=1000)]


class _Body(BaseModel):
    # validate_default=False keeps omitted PATCH fields out of validation,
    # while an explicit null still fails (no field's type admits None).
    model_config = ConfigDict(extra="forbid", validate_default=False)

    @field_validator("actor_ids", "movie_ids", check_fields=False)
    @classmethod
    def _no_duplicates(cls, ids: list[int]) -> list[int]:
        if len(set(ids)) != len(ids):
            raise PydanticCustomError("duplicates", "must not contain duplicate ids")
        return ids


class MovieCreate(_Body):
    title: Title
    release_date: IsoDate
    actor_ids: IdList = Field(default_factory=list)


class MovieUpdate(_Body):
    title: Title = Field(default=None, json_schema_extra=lambda s: s.pop("default"))
    release_date: IsoDate = Field(default=None, json_schema_extra=lambda s: s.pop("default"))
    actor_ids: IdList = Field(default=None, json_schema_extra=lambda s: s.pop("default"))


class ActorCreate(_Body):
    name: Name
    age: Age
    gender: Gender
    movie_ids: IdList = Field(default_factory=list)


class ActorUpdate(_Body):
    name: Name = Field(default=None, json_schema_extra=lambda s: s.pop("default"))
    age: Age = Field(default=None, json_schema_extra=lambda s: s.pop("default"))
    gender: Gender = Field(default=None, json_schema_extra=lambda s: s.pop("default"))
    movie_ids: IdList = Field(default=None, json_schema_extra=lambda s: s.pop("default"))


# --- list queries -----------------------------------------------------------

Page = Annotated[QueryInt, Field(ge=1, le=1_000_000)]
PerPage = Annotated[QueryInt, Field(ge=1, le=100)]
Search = Annotated[str, StringConstraints(max_length=200)]
QueryId = Annotated[QueryInt, Field(ge=1, le=ID_MAX)]
QueryAge = Annotated[QueryInt, Field(ge=AGE_MIN, le=AGE_MAX)]


class _ListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    page: Page = 1
    per_page: PerPage = 20
    q: Search | None = None


class ActorFilmographyQuery(_ListQuery):
    """The movie list's parameters; GET /actors/{id}/movies takes these."""

    sort: Literal["id", "-id", "title", "-title", "release_date", "-release_date"] = "id"
    released_after: IsoDate | None = None
    released_before: IsoDate | None = None

    @field_validator("released_before")
    @classmethod
    def _ordered_dates(cls, before: dt.date | None, info: ValidationInfo) -> dt.date | None:
        after = info.data.get("released_after")
        if before is not None and after is not None and after > before:
            raise PydanticCustomError("range", "must not be earlier than released_after")
        return before


class MovieListQuery(ActorFilmographyQuery):
    actor_id: QueryId | None = None


class MovieCastQuery(_ListQuery):
    """The actor list's parameters; GET /movies/{id}/actors takes these."""

    sort: Literal["id", "-id", "name", "-name", "age", "-age"] = "id"
    gender: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=GENDER_MAX)] | None = None
    min_age: QueryAge | None = None
    max_age: QueryAge | None = None

    @field_validator("max_age")
    @classmethod
    def _ordered_ages(cls, max_age: int | None, info: ValidationInfo) -> int | None:
        min_age = info.data.get("min_age")
        if max_age is not None and min_age is not None and min_age > max_age:
            raise PydanticCustomError("range", "must not be less than min_age")
        return max_age


class ActorListQuery(MovieCastQuery):
    movie_id: QueryId | None = None


# --- responses ----------------------------------------------------------------


class ActorSummary(BaseModel):
    id: int
    name: str


class MovieSummary(BaseModel):
    id: int
    title: str


class MoviePublic(BaseModel):
    id: int
    title: str
    release_date: dt.date
    actors: list[ActorSummary]


class ActorPublic(BaseModel):
    id: int
    name: str
    age: int
    gender: str
    movies: list[MovieSummary]


class ErrorBody(BaseModel):
    success: Literal[False]
    error: int
    message: str
    details: dict[str, list[str]] | None = None
