"""Values other than text: integers as JSON Schema counts them, calendar dates, instants, record ids."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

from models import AGE_MAX, AGE_MIN, BILLING_MAX, BILLING_MIN, ID_MAX

# A request id the client sends is kept when it looks like this (casting/web/middleware.py); the history's
# `request_id` filter takes the same (the OpenAPI document quotes it).
REQUEST_ID_PATTERN = r"[A-Za-z0-9._:-]{1,128}"
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# casting/web/parsing.py reads JSON numbers with a fraction or an exponent as exact decimals; past this magnitude
# one stands in as 10**21 (sign kept), out of every field's range, like parsing._parse_int's long integers.
HUGE = 10**21
EXACT_INTEGER = ("An integer; a number written with a fraction or an exponent counts when its exact decimal value "
                 "is one (30.0 and 3e1 do, 30.5 and 1e-400 do not)")


def json_integer(value: Any) -> Any:
    """An integer as JSON Schema sees one: 30 and 30.0 count; 30.5, true and "30" do not.

    Decided on the exact decimal the JSON text wrote (casting/web/parsing.py), never on a float: 1e-400 is not 0, and
    30.000000000000001 is not 30.
    """
    if type(value) is int:  # the common case, first: a CSV cell already read as one (not True, an int too)
        return value
    if isinstance(value, bool):
        raise PydanticCustomError("integer", "must be an integer")
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise PydanticCustomError("integer", "must be an integer")
        _, digits, exponent = value.as_tuple()
        if exponent < 0 and any(digits[exponent:]):  # a nonzero digit after the point
            raise PydanticCustomError("integer", "must be an integer")
        if value.adjusted() >= 21:
            return -HUGE if value < 0 else HUGE
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if not isinstance(value, int):
        raise PydanticCustomError("integer", "must be an integer")
    return value


def iso_date(value: Any) -> dt.date:
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise PydanticCustomError("date", "must be a date written YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise PydanticCustomError("date", "must be a real calendar date") from None


def query_integer(value: Any) -> Any:
    """Query strings carry text: accept plain decimal digits only."""
    if isinstance(value, str):
        if not re.fullmatch(r"[+-]?[0-9]{1,10}", value):  # ASCII digits: \d would take ٣ or ３ too
            raise PydanticCustomError("integer", "must be an integer")
        return int(value)
    return json_integer(value)


def json_int(minimum: int, maximum: int, description: str | None = None) -> Any:
    return Annotated[int, Field(ge=minimum, le=maximum, description=description), BeforeValidator(json_integer)]


def query_int(minimum: int, maximum: int) -> Any:
    return Annotated[int, Field(ge=minimum, le=maximum), BeforeValidator(query_integer)]


IsoDate = Annotated[dt.date, BeforeValidator(iso_date)]

Age = json_int(AGE_MIN, AGE_MAX, EXACT_INTEGER)
RecordId = json_int(1, ID_MAX)
Billing = json_int(BILLING_MIN, BILLING_MAX, "The place in the credits: 1 is top-billed; unique within a movie")


class _UniqueItems:
    """Documents `uniqueItems` (the `_Body._no_duplicates` validator enforces it) without a Field
    json_schema_extra, which would displace the PATCH fields' own."""

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: Any) -> dict:
        return {**handler(core_schema), "uniqueItems": True}


IdList = Annotated[list[RecordId], Field(max_length=1000), _UniqueItems()]

INSTANT = re.compile(r"(?!0000)\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})")


def instant(value: Any) -> dt.datetime:
    """An ISO 8601 / RFC 3339 instant: a date, a time and its offset from UTC (`Z` or `+hh:mm`)."""
    if not isinstance(value, str) or not INSTANT.fullmatch(value):
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
    BeforeValidator(instant),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": f"^{INSTANT.pattern}$"}),
]
