"""What PostgreSQL can store, asked before every write. Pure: no I/O.

PostgreSQL refuses, at the write and for the whole statement: text holding NUL (``text`` and ``jsonb`` alike: JSON's
``"\\u0000"`` escape decodes to one), a string with a lone UTF-16 surrogate (JSON's ``"\\ud800"`` decodes to one and
cannot be encoded as UTF-8), ``NaN``/``Infinity`` inside ``jsonb``, integers wider than their column, JSON nested
deeper than its parser's stack, and timestamps outside its range. One such value in a batch fails the batch, so every
write path (ingest's decoder, dossier events, incidents and Open311, the API's bodies, the imports) checks here first
and refuses the value with a :class:`Problem` naming the field and the value.

The ``*_problem`` functions answer ``None`` (fine) or what is wrong, for callers with their own error types; the
``check_*`` functions raise :class:`Unstorable` (a ``ValueError``) and return the value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

SHOWN_MAX: Final = 200
"""Values quoted in messages are cut to this many characters."""

INT4_RANGE: Final = (-(2**31), 2**31 - 1)
INT8_RANGE: Final = (-(2**63), 2**63 - 1)
JSON_MAX_DEPTH: Final = 64
"""Containers nested deeper than this are refused (PostgreSQL's JSON parser runs out of stack far deeper, and no
payload of ours nests this deep)."""

EPOCH_MIN: Final = datetime(1, 1, 2, tzinfo=UTC).timestamp()
EPOCH_MAX: Final = datetime(9999, 12, 30, tzinfo=UTC).timestamp()
"""Epoch seconds both Python's ``datetime`` and PostgreSQL's ``timestamptz`` hold (PostgreSQL reaches further)."""


@dataclass(frozen=True, slots=True)
class Problem:
    """A value PostgreSQL cannot store: where it is (``title``, ``data.x[2]``), the value as quoted, and why."""

    field: str
    value: str
    message: str
    loc: tuple[str | int, ...] = ()
    """The same place as keys and indexes (``("data", "x", 2)``), as a validation error's location lists it."""

    def __str__(self) -> str:
        return f"{self.field}: value {self.value} {self.message}" if self.field else f"value {self.value} {self.message}"


class Unstorable(ValueError):
    """Raised by the ``check_*`` functions; ``.problem`` names the field and the value."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem

    @property
    def field(self) -> str:
        return self.problem.field

    @property
    def value(self) -> str:
        return self.problem.value


def shown(value: object, limit: int = SHOWN_MAX) -> str:
    """``repr(value)`` cut to ``limit`` characters: NUL, control characters and surrogates come out escaped, so the
    result is itself storable and safe to log."""
    if isinstance(value, str | bool | float) or value is None:
        text = repr(value)
    elif isinstance(value, int):
        text = repr(value) if value.bit_length() < 10_000 else f"<an integer of {value.bit_length()} bits>"
    else:
        try:
            text = repr(value)
        except ValueError:
            text = f"<{type(value).__name__}>"
        text = clean_text(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def clean_text(text: str) -> str:
    """``text`` made storable for diagnostics we write ourselves (an error's message, a dead letter's detail): NUL
    and lone surrogates become backslash escapes, everything else is kept."""
    if "\x00" not in text and (text.isascii() or _encodes(text)):
        return text
    return text.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# --------------------------------------------------------------------------------------------------------- text


def text_problem(text: str) -> str | None:
    """What makes ``text`` unstorable (a NUL, a lone surrogate), or None."""
    at = text.find("\x00")
    if at >= 0:
        return f"contains the control character NUL (U+0000, at offset {at})"
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"is not valid Unicode (unicode text has no lone surrogate; U+{ord(text[exc.start]):04X} at offset {exc.start})"
    return None


def check_text(field: str, value: str) -> str:
    """``value`` if PostgreSQL can store it as text, else :class:`Unstorable`."""
    why = text_problem(value)
    if why is not None:
        raise Unstorable(Problem(field, shown(value), why))
    return value


# ------------------------------------------------------------------------------------------------------ numbers


def float_problem(value: float) -> str | None:
    return None if math.isfinite(value) else "is not a finite number"


def int_problem(value: int, bits: int = 64) -> str | None:
    lo, hi = INT4_RANGE if bits == 32 else INT8_RANGE
    return None if lo <= value <= hi else f"is too large for a {bits}-bit integer [{lo}, {hi}]"


def check_float(field: str, value: float) -> float:
    why = float_problem(value)
    if why is not None:
        raise Unstorable(Problem(field, shown(value), why))
    return value


def check_int(field: str, value: int, bits: int = 64) -> int:
    why = int_problem(value, bits)
    if why is not None:
        raise Unstorable(Problem(field, shown(value), why))
    return value


# --------------------------------------------------------------------------------------------------------- time


def datetime_problem(value: datetime) -> str | None:
    """A naive time names no moment; an aware one must stay inside years 1–9999 once in UTC."""
    if value.tzinfo is None or value.utcoffset() is None:
        return "has no UTC offset"
    try:
        value.astimezone(UTC)
    except OverflowError:
        return "is outside the years 1 to 9999 once converted to UTC"
    return None


def epoch_problem(value: float) -> str | None:
    if not math.isfinite(value):
        return "is not a finite number of seconds"
    if not EPOCH_MIN <= value <= EPOCH_MAX:
        return "is outside the years 1 to 9999 as epoch seconds"
    return None


def check_datetime(field: str, value: datetime) -> datetime:
    why = datetime_problem(value)
    if why is not None:
        raise Unstorable(Problem(field, shown(value.isoformat()), why))
    return value


def check_epoch(field: str, value: float) -> float:
    why = epoch_problem(value)
    if why is not None:
        raise Unstorable(Problem(field, shown(value), why))
    return value


# --------------------------------------------------------------------------------------------------------- JSON


def json_problem(value: object, path: str = "", max_depth: int = JSON_MAX_DEPTH, *,
                 other_scalars: bool = False, numbers: bool = True) -> Problem | None:
    """The first part of a decoded JSON value (dicts, lists, str, int, float, bool, None) that ``jsonb`` refuses:
    keys and strings that are not storable text, non-finite floats, integers wider than 64 bits, other types, or
    nesting deeper than ``max_depth``. ``path`` is where ``value`` sits (``data``; children ``data.x``, ``data[2]``,
    ``data['a\\x00']``). ``other_scalars``: let other scalar types pass (a YAML document's dates); ``numbers=False``: leave numbers
    to a validation that knows each field's range (only text and structure are checked)."""
    root: tuple[str | int, ...] = (path,) if path else ()
    stack: list[tuple[object, str, tuple[str | int, ...]]] = [(value, path, root)]
    while stack:
        item, where, loc = stack.pop()
        why = _scalar_problem(item, numbers, other_scalars)
        if why is not None:
            return Problem(where, shown(item), why, loc)
        if type(item) is list:
            if len(loc) - len(root) >= max_depth:
                return Problem(where, "<nested>", f"nests deeper than {max_depth} levels", loc)
            elements: list[object] = item
            stack.extend((child, f"{where}[{i}]", (*loc, i)) for i, child in enumerate(elements))
        elif type(item) is dict:
            if len(loc) - len(root) >= max_depth:
                return Problem(where, "<nested>", f"nests deeper than {max_depth} levels", loc)
            members: dict[object, object] = item
            for key, child in members.items():
                if type(key) is not str:
                    return Problem(where, shown(key), "is a key that is not text", loc)
                why = text_problem(key)
                if why is not None:
                    return Problem(_child(where, key), shown(key), f"is a key that {why}", (*loc, key))
                stack.append((child, _child(where, key), (*loc, key)))
    return None


def _scalar_problem(item: object, numbers: bool, other_scalars: bool) -> str | None:
    """Why ``jsonb`` refuses a scalar (None for containers and storable scalars)."""
    t = type(item)
    if t is str:
        return text_problem(item)  # type: ignore[arg-type]
    if t is dict or t is list or item is None or t is bool:
        return None
    if t is float or t is int:
        if not numbers:
            return None
        if t is float:
            ok = item == item and item not in (math.inf, -math.inf)
            return None if ok else "is not a finite number (JSON has no NaN or Infinity)"
        return int_problem(item)  # type: ignore[arg-type]
    return None if other_scalars else f"is a {t.__name__}, not a JSON value"


def check_json(field: str, value: object, max_depth: int = JSON_MAX_DEPTH) -> object:
    problem = json_problem(value, field, max_depth)
    if problem is not None:
        raise Unstorable(problem)
    return value


def _child(path: str, key: str) -> str:
    if key.isidentifier() and key.isascii() and len(key) <= 64:
        return f"{path}.{key}" if path else key
    return f"{path}[{shown(key, 66)}]"


__all__ = [
    "Problem",
    "Unstorable",
    "check_datetime",
    "check_epoch",
    "check_float",
    "check_int",
    "check_json",
    "check_text",
    "clean_text",
    "datetime_problem",
    "epoch_problem",
    "float_problem",
    "int_problem",
    "json_problem",
    "shown",
    "text_problem",
]
