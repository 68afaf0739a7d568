"""Request bodies: a Create schema per resource (POST) and an Update schema (PATCH: every field optional,
never null), with the validation table's rules."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from casting.schemas.examples import examples
from casting.schemas.text import Character, Gender, Name, Title
from casting.schemas.values import Age, Billing, IdList, IsoDate, RecordId

_UNSET = {"default": None, "json_schema_extra": lambda s: s.pop("default")}


class Role(BaseModel):
    """A casting's role: the character played and the place in the credits, both optional."""

    model_config = ConfigDict(extra="forbid", validate_default=False,
                              json_schema_extra={"examples": [{"character": "Arjun", "billing": 1}]})

    character: Character = Field(**_UNSET)
    billing: Billing = Field(**_UNSET)


class CastMember(Role):
    """One casting of a movie's cast, given whole: the actor and, optionally, their role."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"actor_id": 10, "character": "Arjun", "billing": 1}]})

    actor_id: RecordId


class _UniqueCast:
    """Documents `uniqueItems` for a cast (the `_Body._one_casting_each` validator enforces more: no actor and
    no billing twice)."""

    def __get_pydantic_json_schema__(self, core_schema, handler) -> dict:
        return {**handler(core_schema), "uniqueItems": True,
                "description": "The whole cast, each actor once, each billing at most once; ids must exist"}


# A body names its cast once: by ids or with roles.
_ONE_CAST = {"not": {"properties": {"actor_ids": {}, "cast": {}}, "required": ["actor_ids", "cast"]}}
CastList = Annotated[list[CastMember], Field(max_length=1000), _UniqueCast()]


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

    @field_validator("cast", check_fields=False)
    @classmethod
    def _one_casting_each(cls, cast: list[CastMember], info: ValidationInfo) -> list[CastMember]:
        if info.data.get("actor_ids") is not None:
            raise PydanticCustomError("exclusive", "must not be given with actor_ids: give one or the other")
        if len({member.actor_id for member in cast}) != len(cast):
            raise PydanticCustomError("duplicates", "must not name an actor twice")
        billings = [member.billing for member in cast if member.billing is not None]
        if len(set(billings)) != len(billings):
            raise PydanticCustomError("duplicates", "must not give two castings the same billing")
        return cast


class MovieCreate(_Body):
    model_config = examples(
        # A title the demo catalogue (casting/cli.py) does not have: "Execute" in Swagger UI adds a new movie
        # rather than a second "Raids of the Ice".
        {"title": "Winter on the Ninth Floor", "release_date": "2027-03-12"},
        {"title": "The Long Rehearsal", "release_date": "2027-09-03",
         "cast": [{"actor_id": 10, "character": "Arjun / Young Arjun", "billing": 1}, {"actor_id": 11}]},
        {"title": "Salt Flats", "release_date": "2016-02-12", "actor_ids": [1, 3]},
        **_ONE_CAST,
    )

    title: Title
    release_date: IsoDate
    actor_ids: IdList = Field(**_UNSET, description="Who is in the cast (or `cast`, with roles)")
    cast: CastList = Field(**_UNSET, description="The cast with characters and billing (instead of actor_ids)")


class MovieUpdate(_Body):
    model_config = examples(
        {"title": "Raids of the Ice (Director's Cut)"},
        {"release_date": "2017-05-12", "actor_ids": [1, 2]},
        **_ONE_CAST,
    )

    title: Title = Field(**_UNSET)
    release_date: IsoDate = Field(**_UNSET)
    actor_ids: IdList = Field(**_UNSET, description="Who is in the cast: castings that stay keep their roles")
    cast: CastList = Field(**_UNSET, description="The whole cast with characters and billing (instead of actor_ids)")


class ActorCreate(_Body):
    model_config = examples(
        {"name": "Chris Pine", "age": 45, "gender": "male"},
        {"name": "Gal Gadot", "age": 41, "gender": "female", "movie_ids": [1, 8]},
    )

    name: Name
    age: Age
    gender: Gender
    movie_ids: IdList = Field(default_factory=list)


class ActorUpdate(_Body):
    model_config = examples(
        {"age": 46},
        {"name": "Christopher Pine", "movie_ids": [1]},
    )

    name: Name = Field(**_UNSET)
    age: Age = Field(**_UNSET)
    gender: Gender = Field(**_UNSET)
    movie_ids: IdList = Field(**_UNSET, description="The movies they are cast in: castings that stay keep their roles")


class CastReplace(_Body):
    """PUT /movies/{id}/cast: the whole cast, with each casting's role, replaced in one request."""

    model_config = examples(
        {"cast": [{"actor_id": 10, "character": "Arjun", "billing": 1},
                  {"actor_id": 11, "character": "Mira", "billing": 2}]},
    )

    cast: CastList

