"""The text rules every title, name, gender and search obeys: what a database can store (no NUL, no lone
surrogate), what is refused (controls, line separators, bidirectional overrides, hidden tag characters), what
counts as visible, and the JSON Schema pattern that says the same to clients. A token's subject follows the
same rules (`subject_problem`), since it is stored beside the changes and written to the logs."""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, StringConstraints
from pydantic_core import PydanticCustomError
from typing_extensions import TypeAliasType

from models import CHARACTER_MAX, GENDER_MAX, NAME_MAX, SUBJECT_MAX, TITLE_MAX


def storable(value: Any) -> Any:
    """Text a database can hold: PostgreSQL cannot store or compare NUL, and a lone surrogate (JSON's
    "\\ud800", which Python decodes) is not Unicode text that any driver can encode."""
    if isinstance(value, str):
        if "\x00" in value:
            raise PydanticCustomError("nul", "must not contain NUL characters")
        try:
            if not value.isascii():  # (ASCII text has no surrogate: the check costs nothing there)
                value.encode("utf-8")
        except UnicodeEncodeError:
            raise PydanticCustomError("surrogate", "must not contain unpaired surrogates (\\ud800-\\udfff)") from None
    return value


def trimmed(value: Any) -> str:
    if not isinstance(value, str):
        raise PydanticCustomError("string_type", "must be a string")
    return storable(value).strip()


def _space_class() -> str:
    """The characters str.strip() removes, as a regex class body that ECMA-262 and Python read alike.

    JSON Schema patterns follow ECMA-262, whose \\s leaves out \\x1c-\\x1f and \\x85 (which Python
    trims) and adds \\ufeff (which Python keeps), so the pattern cannot say \\s.
    """
    return class_body(code for code in range(0x3001) if chr(code).isspace())  # U+3000 is the last one


def class_body(codes) -> str:
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


SPACES = frozenset(code for code in range(0x3001) if chr(code).isspace())
SPACE_CLASS = class_body(SPACES)
# Refused in any text once trimmed: C0 and C1 controls (tab, CR, LF, ESC and its terminal sequences, NUL...),
# line and paragraph separators, the bidirectional overrides and isolates that make text display in
# another order than it reads ("\u202egnp.exe" shows as "exe.png"), and characters that carry text nobody
# sees: the tag characters (U+E0000-U+E007F, which spell out hidden ASCII), but in the one place Unicode
# gives them, the flag of a region such as Scotland (U+1F3F4, two to six tags, U+E007F); and the
# interlinear annotation marks (U+FFF9-U+FFFB). The JSON Schema's pattern refuses every tag character,
# flags too: a document's pattern may be stricter than the server, never looser.
CONTROLS = _codes((0x00, 0x1F), (0x7F, 0x9F))
SEPARATORS = _codes((0x2028, 0x2029))
BIDI_CONTROLS = _codes((0x202A, 0x202E), (0x2066, 0x2069))
HIDDEN = _codes((0xFFF9, 0xFFFB), (0xE0000, 0xE007F))
REFUSED = CONTROLS | SEPARATORS | BIDI_CONTROLS | HIDDEN
# Characters that show nothing: format characters (Unicode category Cf as of Unicode 14, such as U+200B
# zero-width space, U+2060 word joiner, U+FEFF, the tag characters) and the blank fillers of Hangul and
# braille. A text needs at least one character that is neither one of these nor whitespace.
INVISIBLE = _codes(
    (0x00AD, 0x00AD), (0x0600, 0x0605), (0x061C, 0x061C), (0x06DD, 0x06DD), (0x070F, 0x070F), (0x0890, 0x0891),
    (0x08E2, 0x08E2), (0x180E, 0x180E), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x2064), (0x2066, 0x206F),
    (0xFEFF, 0xFEFF), (0xFFF9, 0xFFFB), (0x110BD, 0x110BD), (0x110CD, 0x110CD), (0x13430, 0x13438),
    (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0001, 0xE0001), (0xE0020, 0xE007F),
) | _codes((0x115F, 0x1160), (0x2800, 0x2800), (0x3164, 0x3164), (0xFFA0, 0xFFA0))


def combining(char: str) -> bool:
    """Whether `char` is a combining mark (Unicode categories Mn, Mc, Me), drawn on the character before it: alone
    it shows nothing of its own, so a text made only of them (and of invisible characters and spaces) is refused."""
    return unicodedata.category(char).startswith("M")


@functools.cache
def _combining_codes() -> frozenset[int]:
    """Every combining mark's code point, for the JSON Schema's pattern: found by asking about all of Unicode
    (a tenth of a second), so only once a document asks for it, not at every start."""
    return frozenset(code for code in range(0x110000) if combining(chr(code)))


_REGION_FLAG = re.compile("\U0001F3F4[\U000E0030-\U000E0039\U000E0061-\U000E007A]{2,6}\U000E007F")


def _ranges(codes) -> str:
    """Code points as a regex class body for Python alone: ranges of \\U escapes, astral ones included (which
    class_body spells one by one, for ECMA-262, making the class 14 times slower to search)."""
    runs: list[list[int]] = []
    for code in sorted(codes):
        if runs and runs[-1][1] == code - 1:
            runs[-1][1] = code
        else:
            runs.append([code, code])
    return "".join(f"\\U{first:08x}" + (f"-\\U{last:08x}" if last != first else "") for first, last in runs)


# Any refused character at all: most text holds none, and one search in C says so (an import checks 100,000
# rows of it); text that holds one is looked at closely below.
_ANY_REFUSED = re.compile(f"[{_ranges(REFUSED)}]")


def refused_characters(value: str) -> str:
    """`value` unchanged, or a validation error naming the kind of character it must not hold."""
    if _ANY_REFUSED.search(value) is None:
        return value
    codes = {ord(char) for char in _REGION_FLAG.sub("", value)}
    if codes & CONTROLS:
        raise PydanticCustomError("control", "must not contain control characters (U+0000-U+001F, "
                                  "U+007F-U+009F: line breaks, tabs, escape sequences)")
    if codes & SEPARATORS:
        raise PydanticCustomError("separator", "must not contain line or paragraph separators (U+2028, U+2029)")
    if codes & BIDI_CONTROLS:
        raise PydanticCustomError("bidi", "must not contain bidirectional overrides or isolates "
                                  "(U+202A-U+202E, U+2066-U+2069)")
    if codes & HIDDEN:
        raise PydanticCustomError("hidden", "must not contain tag characters (U+E0000-U+E007F) or interlinear "
                                  "annotation characters (U+FFF9-U+FFFB), which carry text nobody sees")
    return value


def _visible(value: str) -> str:
    """Trimmed text a person can see: no refused character, and something besides invisible characters and
    combining marks."""
    refused_characters(value)
    for char in value:  # (the first is nearly always visible)
        if ord(char) not in _BLANK and not combining(char):
            return value
    raise PydanticCustomError("invisible", "must contain a visible character, not only invisible ones "
                              "such as U+200B or combining marks such as U+0301")


_BLANK = INVISIBLE | SPACES


@dataclass(frozen=True)
class _TextSchema:
    """The JSON Schema of a text of 1..max_length characters, built when a document asks for it (its pattern
    lists every combining mark)."""

    max_length: int

    def __get_pydantic_json_schema__(self, core_schema, handler) -> dict:
        return dict(_text_schema(self.max_length))


@functools.cache
def _text_schema(max_length: int) -> dict:
    """A pattern says what the validators do, since maxLength would count the surrounding whitespace too."""
    refused = class_body(REFUSED)
    edge = class_body(REFUSED | SPACES)
    invisible = class_body(REFUSED | _BLANK | _combining_codes())
    return {
        "type": "string",
        # Leading whitespace, then a visible character somewhere ahead, then the trimmed text: it starts
        # and ends with a non-space and holds no refused character; trailing whitespace.
        "pattern": rf"^[{SPACE_CLASS}]*(?=[^{refused}]*[^{invisible}])[^{edge}]"
                   rf"(?:[^{refused}]{{0,{max_length - 2}}}[^{edge}])?[{SPACE_CLASS}]*$",
        "description": f"1 to {max_length} characters after trimming surrounding whitespace, with at least one "
                       "visible character (not only invisible ones or combining marks); no control characters "
                       "(U+0000-U+001F, U+007F-U+009F), line or paragraph separators (U+2028, U+2029), "
                       "bidirectional overrides and isolates (U+202A-U+202E, U+2066-U+2069), tag characters "
                       "(U+E0000-U+E007F) or interlinear annotations (U+FFF9-U+FFFB)",
    }


def _text(name: str, max_length: int) -> Any:
    """A string of 1..max_length characters once surrounding whitespace is trimmed (and stored trimmed),
    with no control character, line separator or bidirectional override, and something visible.

    The JSON schema says the same with a pattern (_TextSchema). A named type alias: the document has one
    component per kind of text (`Title`), which every field refers to.
    """
    # The length is checked inside pydantic's own str (twice as fast as after a validator of ours): trimmed, a
    # validator before it, still runs first, and _visible after it.
    return TypeAliasType(name, Annotated[
        str,
        StringConstraints(min_length=1, max_length=max_length),
        BeforeValidator(trimmed),
        AfterValidator(_visible),
        _TextSchema(max_length),
    ])


Title = _text("Title", TITLE_MAX)
Name = _text("Name", NAME_MAX)
Gender = _text("Gender", GENDER_MAX)
Character = _text("Character", CHARACTER_MAX)


def subject_problem(value: Any) -> str | None:
    """What is wrong with a token's `sub` as this API stores and logs it, or None: a string of 1 to
    SUBJECT_MAX characters (the history's and the idempotency keys' column), storable, with no refused
    character (a control, a separator, a bidirectional override or a hidden tag) and something visible."""
    if not isinstance(value, str) or not value.strip():
        return "must be a non-empty string"
    if value != value.strip():
        return "must not begin or end with whitespace"
    if len(value) > SUBJECT_MAX:
        return f"must be at most {SUBJECT_MAX} characters"
    try:
        _visible(storable(value))
    except PydanticCustomError as exc:
        return exc.message()
    return None
