"""Request and response schemas: the contract's validation table, in one place.

Each resource has a Create schema (POST), an Update schema (PATCH, every field
optional but never null) and a Public schema (what responses carry). List
queries have their own schemas. The OpenAPI document is generated from these.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    RootModel,
    StringConstraints,
    WithJsonSchema,
    field_validator,
)
from pydantic_core import PydanticCustomError
from typing_extensions import TypeAliasType

from errors import STATUS_MESSAGES
from models import AGE_MAX, AGE_MIN, GENDER_MAX, ID_MAX, NAME_MAX, TITLE_MAX

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# parsing.py reads JSON numbers with a fraction or an exponent as exact decimals; past this magnitude
# one stands in as 10**21 (sign kept), out of every field's range, like parsing._parse_int's long integers.
_HUGE = 10**21
EXACT_INTEGER = ("An integer; a number written with a fraction or an exponent counts when its exact decimal value "
                 "is one (30.0 and 3e1 do, 30.5 and 1e-400 do not)")


def _json_integer(value: Any) -> Any:
    """An integer as JSON Schema sees one: 30 and 30.0 count; 30.5, true and "30" do not.

    Decided on the exact decimal the JSON text wrote (parsing.py), never on a float: 1e-400 is not 0, and
    30.000000000000001 is not 30.
    """
    if isinstance(value, bool):
        raise PydanticCustomError("integer", "must be an integer")
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise PydanticCustomError("integer", "must be an integer")
        _, digits, exponent = value.as_tuple()
        if exponent < 0 and any(digits[exponent:]):  # a nonzero digit after the point
            raise PydanticCustomError("integer", "must be an integer")
        if value.adjusted() >= 21:
            return -_HUGE if value < 0 else _HUGE
        return int(value)
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
        if not re.fullmatch(r"[+-]?[0-9]{1,10}", value):  # ASCII digits: \d would take ٣ or ３ too
            raise PydanticCustomError("integer", "must be an integer")
        return int(value)
    return _json_integer(value)


def _json_int(minimum: int, maximum: int, description: str | None = None) -> Any:
    return Annotated[int, Field(ge=minimum, le=maximum, description=description), BeforeValidator(_json_integer)]


def _query_int(minimum: int, maximum: int) -> Any:
    return Annotated[int, Field(ge=minimum, le=maximum), BeforeValidator(_query_integer)]


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]


def _storable(value: Any) -> Any:
    """Text a database can hold: PostgreSQL cannot store or compare NUL, and a lone surrogate (JSON's
    "\\ud800", which Python decodes) is not Unicode text that any driver can encode."""
    if isinstance(value, str):
        if "\x00" in value:
            raise PydanticCustomError("nul", "must not contain NUL characters")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise PydanticCustomError("surrogate", "must not contain unpaired surrogates (\\ud800-\\udfff)") from None
    return value


def _trimmed(value: Any) -> str:
    if not isinstance(value, str):
        raise PydanticCustomError("string_type", "must be a string")
    return _storable(value).strip()


def _space_class() -> str:
    """The characters str.strip() removes, as a regex class body that ECMA-262 and Python read alike.

    JSON Schema patterns follow ECMA-262, whose \\s leaves out \\x1c-\\x1f and \\x85 (which Python
    trims) and adds \\ufeff (which Python keeps), so the pattern cannot say \\s.
    """
    return _class_body(code for code in range(0x3001) if chr(code).isspace())  # U+3000 is the last one


def _class_body(codes) -> str:
    """Code points as the body of a regex class, readable alike by ECMA-262 and Python: escapes for the
    Basic Multilingual Plane, ranges where they help; code points beyond it one by one and literally (a
    range of them would be out of order to an ECMA-262 regex without the u flag, which sees surrogates)."""
    codes = sorted(set(codes))
    runs: list[list[int]] = []
    for code in codes:
        if runs and runs[-1][1] == code - 1 and code <= 0xFFFF:
            runs[-1][1] = code
        else:
            runs.append([code, code])

    def one(code: int) -> str:
        if code > 0xFFFF:
            return chr(code)
        return rf"\x{code:02x}" if code < 0x100 else rf"\u{code:04x}"

    return "".join(one(first) if first == last else f"{one(first)}-{one(last)}" for first, last in runs)


def _codes(*spans: tuple[int, int]) -> frozenset[int]:
    return frozenset(code for first, last in spans for code in range(first, last + 1))


_SPACES = frozenset(code for code in range(0x3001) if chr(code).isspace())
_SPACE = _class_body(_SPACES)
# Refused in any text once trimmed: C0 and C1 controls (tab, CR, LF, ESC and its terminal sequences, NUL...),
# line and paragraph separators, and the bidirectional overrides and isolates that make text display in
# another order than it reads ("\u202egnp.exe" shows as "exe.png").
CONTROLS = _codes((0x00, 0x1F), (0x7F, 0x9F))
SEPARATORS = _codes((0x2028, 0x2029))
BIDI_CONTROLS = _codes((0x202A, 0x202E), (0x2066, 0x2069))
_REFUSED = CONTROLS | SEPARATORS | BIDI_CONTROLS
# Characters that show nothing: format characters (Unicode category Cf as of Unicode 14, such as U+200B
# zero-width space, U+2060 word joiner, U+FEFF, the tag characters) and the blank fillers of Hangul and
# braille. A text needs at least one character that is neither one of these nor whitespace.
INVISIBLE = _codes(
    (0x00AD, 0x00AD), (0x0600, 0x0605), (0x061C, 0x061C), (0x06DD, 0x06DD), (0x070F, 0x070F), (0x0890, 0x0891),
    (0x08E2, 0x08E2), (0x180E, 0x180E), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x2064), (0x2066, 0x206F),
    (0xFEFF, 0xFEFF), (0xFFF9, 0xFFFB), (0x110BD, 0x110BD), (0x110CD, 0x110CD), (0x13430, 0x13438),
    (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0001, 0xE0001), (0xE0020, 0xE007F),
) | _codes((0x115F, 0x1160), (0x2800, 0x2800), (0x3164, 0x3164), (0xFFA0, 0xFFA0))


def _refused_characters(value: str) -> str:
    """`value` unchanged, or a validation error naming the kind of character it must not hold."""
    codes = {ord(char) for char in value}
    if codes & CONTROLS:
        raise PydanticCustomError("control", "must not contain control characters (U+0000-U+001F, "
                                  "U+007F-U+009F: line breaks, tabs, escape sequences)")
    if codes & SEPARATORS:
        raise PydanticCustomError("separator", "must not contain line or paragraph separators (U+2028, U+2029)")
    if codes & BIDI_CONTROLS:
        raise PydanticCustomError("bidi", "must not contain bidirectional overrides or isolates "
                                  "(U+202A-U+202E, U+2066-U+2069)")
    return value


def _visible(value: str) -> str:
    """Trimmed text a person can see: no refused character, and something besides invisible ones."""
    _refused_characters(value)
    if all(ord(char) in INVISIBLE or ord(char) in _SPACES for char in value):
        raise PydanticCustomError("invisible", "must contain a visible character, not only invisible ones "
                                  "such as U+200B")
    return value


def _text(max_length: int) -> Any:
    """A string of 1..max_length characters once surrounding whitespace is trimmed (and stored trimmed),
    with no control character, line separator or bidirectional override, and something visible.

    The JSON schema says the same with a pattern, since maxLength would count the whitespace too.
    """
    refused = _class_body(_REFUSED)
    edge = _class_body(_REFUSED | _SPACES)
    invisible = _class_body(_REFUSED | _SPACES | INVISIBLE)
    return Annotated[
        str,
        BeforeValidator(_trimmed),
        StringConstraints(min_length=1, max_length=max_length),
        AfterValidator(_visible),
        WithJsonSchema({
            "type": "string",
            # Leading whitespace, then a visible character somewhere ahead, then the trimmed text: it starts
            # and ends with a non-space and holds no refused character; trailing whitespace.
            "pattern": rf"^[{_SPACE}]*(?=[^{refused}]*[^{invisible}])[^{edge}]"
                       rf"(?:[^{refused}]{{0,{max_length - 2}}}[^{edge}])?[{_SPACE}]*$",
            "description": f"1 to {max_length} characters after trimming surrounding whitespace, with at least one "
                           "visible character; no control characters (U+0000-U+001F, U+007F-U+009F), line or "
                           "paragraph separators (U+2028, U+2029) or bidirectional overrides and isolates "
                           "(U+202A-U+202E, U+2066-U+2069)",
        }),
    ]


Title = _text(TITLE_MAX)
Name = _text(NAME_MAX)
Gender = _text(GENDER_MAX)
Age = _json_int(AGE_MIN, AGE_MAX, EXACT_INTEGER)
RecordId = _json_int(1, ID_MAX)


class _UniqueItems:
    """Documents `uniqueItems` (the `_Body._no_duplicates` validator enforces it) without a Field
    json_schema_extra, which would displace the PATCH fields' own."""

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: Any) -> dict:
        return {**handler(core_schema), "uniqueItems": True}


IdList = Annotated[list[RecordId], Field(max_length=1000), _UniqueItems()]


def _absent_unless_sent(description: str) -> Any:
    """A response field the API leaves out when it has nothing to say: optional, never null, no default."""
    return Field(default=None, description=description, json_schema_extra=lambda s: s.pop("default"))


# Examples for the OpenAPI document (Swagger UI shows them; schemathesis sends the request ones).
# Request bodies lead with an example that names no ids, so it is accepted on any deployment; the ids
# in the others are those `flask seed` gives a fresh database (elsewhere they may be a documented 422).
MOVIE_EXAMPLE = {"id": 7, "title": "Raids of the Ice", "release_date": "2017-04-29",
                 "actors": [{"id": 2, "name": "Chris Pine"}]}
ACTOR_EXAMPLE = {"id": 2, "name": "Chris Pine", "age": 45, "gender": "male",
                 "movies": [{"id": 7, "title": "Raids of the Ice"}]}


EXAMPLE_REQUEST_ID = "3f0c9a4e5b7d4c21a8e6f1d2c3b4a596"


def _examples(*examples: dict) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": list(examples)})


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
    model_config = _examples(
        {"title": "Raids of the Ice", "release_date": "2017-04-29"},
        {"title": "Salt and Signal", "release_date": "2016-02-12", "actor_ids": [1, 3]},
    )

    title: Title
    release_date: IsoDate
    actor_ids: IdList = Field(default_factory=list)


class MovieUpdate(_Body):
    model_config = _examples(
        {"title": "Raids of the Ice (Director's Cut)"},
        {"release_date": "2017-05-12", "actor_ids": [1, 2]},
    )

    title: Title = Field(default=None, json_schema_extra=lambda s: s.pop("default"))
    release_date: IsoDate = Field(default=None, json_schema_extra=lambda s: s.pop("default"))
    actor_ids: IdList = Field(default=None, json_schema_extra=lambda s: s.pop("default"))


class ActorCreate(_Body):
    model_config = _examples(
        {"name": "Chris Pine", "age": 45, "gender": "male"},
        {"name": "Gal Gadot", "age": 41, "gender": "female", "movie_ids": [1, 8]},
    )

    name: Name
    age: Age
    gender: Gender
    movie_ids: IdList = Field(default_factory=list)


class ActorUpdate(_Body):
    model_config = _examples(
        {"age": 46},
        {"name": "Christopher Pine", "movie_ids": [1]},
    )

    name: Name = Field(default=None, json_schema_extra=lambda s: s.pop("default"))
    age: Age = Field(default=None, json_schema_extra=lambda s: s.pop("default"))
    gender: Gender = Field(default=None, json_schema_extra=lambda s: s.pop("default"))
    movie_ids: IdList = Field(default=None, json_schema_extra=lambda s: s.pop("default"))


# --- list queries -----------------------------------------------------------

Page = _query_int(1, 1_000_000)
PerPage = _query_int(1, 100)
Search = Annotated[
    str,
    BeforeValidator(_storable),
    BeforeValidator(_refused_characters),
    StringConstraints(max_length=200),
    WithJsonSchema({"type": "string", "maxLength": 200, "pattern": rf"^[^{_class_body(_REFUSED)}]*$",
                    "description": "Case-insensitive substring of the title or name; no control characters, "
                                   "line or paragraph separators or bidirectional overrides and isolates"}),
]
QueryId = _query_int(1, ID_MAX)
QueryAge = _query_int(AGE_MIN, AGE_MAX)


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


Cursor = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,1024}$"),
    WithJsonSchema({"type": "string", "pattern": r"^[A-Za-z0-9_-]{1,1024}$"}),
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


_INSTANT = re.compile(r"(?!0000)\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})")


def _instant(value: Any) -> dt.datetime:
    """An ISO 8601 / RFC 3339 instant: a date, a time and its offset from UTC (`Z` or `+hh:mm`)."""
    if not isinstance(value, str) or not _INSTANT.fullmatch(value):
        raise PydanticCustomError("instant", "must be an instant such as 2026-11-28T13:05:09Z (with its time zone)")
    text = value.upper().replace(" ", "T")
    if text[17:19] == "60":  # a leap second (RFC 3339 allows it; Python does not)
        text = text[:17] + "59" + text[19:]
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise PydanticCustomError("instant", "must be a real date and time") from None
    # In UTC (PostgreSQL takes offsets up to 15:59 only; RFC 3339 allows 23:59), kept within Python's years.
    try:
        return moment.astimezone(dt.UTC)
    except OverflowError:
        return (dt.datetime.min if moment.year == dt.MINYEAR else dt.datetime.max).replace(tzinfo=dt.UTC)


Instant = Annotated[
    dt.datetime,
    BeforeValidator(_instant),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": f"^{_INSTANT.pattern}$"}),
]
HistoryAction = Literal["created", "updated", "deleted", "cast", "uncast", "restored"]
Subject = Annotated[
    str,
    BeforeValidator(_storable),
    StringConstraints(min_length=1, max_length=255),
    WithJsonSchema({"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^[^\x00]*$"}),
]


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


class HistoryQuery(RecordHistoryQuery):
    """The parameters of GET /history."""

    type: Literal["movie", "actor"] | None = Field(default=None, description="Only entries about movies, or actors")


class ActorListQuery(MovieCastQuery):
    movie_id: QueryId | None = Field(default=None, description="Only actors cast in this movie")


# --- responses ----------------------------------------------------------------


class ActorSummary(BaseModel):
    model_config = _examples(MOVIE_EXAMPLE["actors"][0])

    id: int
    name: str


class MovieSummary(BaseModel):
    model_config = _examples(ACTOR_EXAMPLE["movies"][0])

    id: int
    title: str


class MoviePublic(BaseModel):
    model_config = _examples(MOVIE_EXAMPLE)

    id: int
    title: str
    release_date: dt.date
    actors: list[ActorSummary]


class ActorPublic(BaseModel):
    model_config = _examples(ACTOR_EXAMPLE)

    id: int
    name: str
    age: int
    gender: str
    movies: list[MovieSummary]


class FieldErrors(RootModel[dict[str, list[str]]]):
    """Each field that failed validation (a body field, a query parameter, or `body` for the body as a whole),
    with its messages."""

    model_config = _examples({"title": ["must not be empty"], "actor_ids": ["must not contain duplicate ids"]})


class ErrorBody(BaseModel):
    model_config = _examples(
        {"success": False, "error": 422, "message": "title must not be empty",
         "details": {"title": ["must not be empty"]}},
        {"success": False, "error": 404, "message": "movie not found"},
        {"success": False, "error": 503, "message": STATUS_MESSAGES[503], "request_id": EXAMPLE_REQUEST_ID},
    )

    success: Literal[False]
    error: int = Field(description="the HTTP status code, repeated")
    message: str = Field(description="what went wrong, for people")
    details: FieldErrors = _absent_unless_sent(
        "the fields at fault: sent with every 422 and with a 400 about query parameters, absent otherwise")
    request_id: str = _absent_unless_sent(
        "sent with every 5xx, absent otherwise: the `X-Request-ID` of the request; quote it when reporting the "
        "problem")


class _Envelope(BaseModel):
    success: Literal[True]


class MovieEnvelope(_Envelope):
    model_config = _examples({"success": True, "movie": MOVIE_EXAMPLE})

    movie: MoviePublic


class ActorEnvelope(_Envelope):
    model_config = _examples({"success": True, "actor": ACTOR_EXAMPLE})

    actor: ActorPublic


class _Pagination(_Envelope):
    total: int = Field(ge=0, description="matching records in all pages")
    page: int = Field(ge=1)
    per_page: int = Field(ge=1, le=100)
    next_cursor: str | None = Field(description="the next page's `cursor` (the `Link` header's rel=next); null on "
                                                "the last page")
    prev_cursor: str | None = Field(description="the previous page's `cursor` (rel=prev); null on the first page")


class MovieList(_Pagination):
    model_config = _examples({"success": True, "movies": [MOVIE_EXAMPLE], "total": 1, "page": 1, "per_page": 20,
                                "next_cursor": None, "prev_cursor": None})

    movies: list[MoviePublic]


class ActorList(_Pagination):
    model_config = _examples({"success": True, "actors": [ACTOR_EXAMPLE], "total": 1, "page": 1, "per_page": 20,
                                "next_cursor": None, "prev_cursor": None})

    actors: list[ActorPublic]


class Deleted(_Envelope):
    model_config = _examples({"success": True, "deleted": 7})

    deleted: int = Field(description="the id of the deleted record")


class MovieSnapshot(BaseModel):
    """A movie as its history keeps it: its fields and its cast as ids."""

    title: str
    release_date: dt.date
    actor_ids: list[int]


class ActorSnapshot(BaseModel):
    """An actor as their history keeps them: their fields and their movies as ids."""

    name: str
    age: int
    gender: str
    movie_ids: list[int]


class RecordRef(BaseModel):
    type: Literal["movie", "actor"]
    id: int


HISTORY_EXAMPLE = {
    "id": 41, "at": "2026-11-28T13:05:09.123Z", "subject": "auth0|64f1c2a9e3b0c12d4e5f6a7b", "action": "updated",
    "record": {"type": "movie", "id": 7},
    "before": {"title": "Raids of the Ice", "release_date": "2017-04-29", "actor_ids": [2]},
    "after": {"title": "Raids of the Ice II", "release_date": "2017-04-29", "actor_ids": [2]},
    "request_id": EXAMPLE_REQUEST_ID,
}


class HistoryEntry(BaseModel):
    model_config = _examples(HISTORY_EXAMPLE)

    id: int
    at: dt.datetime = Field(description="when the change was made, in UTC to the millisecond")
    subject: str = Field(description="the `sub` of the token that made the change")
    action: HistoryAction
    record: RecordRef
    before: MovieSnapshot | ActorSnapshot | None = Field(description="null for `created` and `restored`")
    after: MovieSnapshot | ActorSnapshot | None = Field(description="null for `deleted`")
    request_id: str = Field(description="the `X-Request-ID` of the request that made the change")


class HistoryList(_Pagination):
    model_config = _examples({"success": True, "history": [HISTORY_EXAMPLE], "total": 1, "page": 1, "per_page": 20,
                                "next_cursor": None, "prev_cursor": None})

    history: list[HistoryEntry] = Field(description="newest first")


class MovieRestored(MovieEnvelope):
    model_config = _examples({"success": True, "movie": MOVIE_EXAMPLE, "actors_not_restored": [5]})

    actors_not_restored: list[int] = Field(
        description="the actors the movie was cast with who have been deleted since: their castings stay gone")


class ActorRestored(ActorEnvelope):
    model_config = _examples({"success": True, "actor": ACTOR_EXAMPLE, "movies_not_restored": []})

    movies_not_restored: list[int] = Field(
        description="the movies the actor was cast in that have been deleted since: their castings stay gone")


class Health(BaseModel):
    model_config = _examples({"status": "ok"})

    status: Literal["ok"]


class Ready(BaseModel):
    model_config = _examples({"status": "ready"})

    status: Literal["ready"]
