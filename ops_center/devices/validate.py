"""Input checks of the registry, shared by the API and every other caller (CLI, simulator). Pure: no I/O.

Each check returns the clean value or raises ``InvalidValue`` naming the field and the value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, Final

import orjson

from ops_center.devices.models import InvalidValue, shown
from ops_center.storable import json_problem, text_problem

ID_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
"""Device, gateway and unit ids: also MQTT usernames and topic levels, so no ``/``, ``+``, ``#`` or spaces."""
ID_RULE: Final = "1-64 characters: letters, digits, '_', '.', '-', starting with a letter or digit"
UNIT_CODE_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")

NAME_MAX: Final = 200
SEARCH_MAX: Final = 200
INTERVAL_MAX_S: Final = 7 * 86400
METADATA_MAX_BYTES: Final = 16 * 1024
METADATA_MAX_DEPTH: Final = 6


def check_id(field: str, value: object, what: str = "id") -> str:
    if type(value) is str and ID_RE.fullmatch(value):
        return value
    raise InvalidValue(field, value, f"value {shown(value)} is not a valid {what} ({ID_RULE})")


def check_unit_code(field: str, value: object) -> str:
    if type(value) is str and UNIT_CODE_RE.fullmatch(value):
        return value
    raise InvalidValue(field, value, f"value {shown(value)} is not a valid unit code "
                                     "(1-64 letters, digits, '_', '.', ':', '-')")


def check_name(field: str, value: object, max_len: int = NAME_MAX) -> str:
    """A display name: text of 1 to ``max_len`` characters, no control characters; surrounding spaces trimmed."""
    if type(value) is not str:
        raise InvalidValue(field, value, f"value {shown(value)} is not text")
    text = value.strip()
    if not text:
        raise InvalidValue(field, value, f"value {shown(value)} is empty")
    if len(text) > max_len:
        raise InvalidValue(field, value, f"value of {len(text)} characters is longer than {max_len} "
                                         f"(starts {shown(text[:40])})")
    bad = next((c for c in text if c < " " or "\x7f" <= c < "\xa0" or c in "\u2028\u2029"), None)
    if bad is not None:
        raise InvalidValue(field, value, f"value {shown(value)} contains the control character {bad!r}")
    check_unicode(field, text)
    return text


def check_unicode(field: str, text: str) -> str:
    """Text PostgreSQL can store: no NUL, no lone UTF-16 surrogate (JSON's ``"\\ud800"`` decodes to one)."""
    why = text_problem(text)
    if why is not None:
        raise InvalidValue(field, text, f"value {shown(text)} {why}")
    return text


def _coordinate(field: str, value: object, lo: float, hi: float) -> float:
    if type(value) not in (int, float):  # bool is not a coordinate
        raise InvalidValue(field, value, f"value {shown(value)} is not a number")
    x = float(value)  # type: ignore[arg-type]
    if not math.isfinite(x):
        raise InvalidValue(field, value, f"value {shown(value)} is not finite")
    if not lo <= x <= hi:
        raise InvalidValue(field, value, f"value {shown(value)} is outside [{lo:g}, {hi:g}]")
    return x


def check_location(lon: object, lat: object) -> tuple[float | None, float | None]:
    """Both coordinates (WGS 84 degrees) or neither."""
    if lon is None and lat is None:
        return None, None
    if lon is None or lat is None:
        missing, given = ("lon", lat) if lon is None else ("lat", lon)
        raise InvalidValue(missing, None, f"is missing while {'lat' if missing == 'lon' else 'lon'} is "
                                          f"{shown(given)}: give both coordinates or neither")
    return _coordinate("lon", lon, -180.0, 180.0), _coordinate("lat", lat, -90.0, 90.0)


def check_interval(field: str, value: object) -> int:
    if type(value) is not int:
        raise InvalidValue(field, value, f"value {shown(value)} is not a whole number of seconds")
    if not 1 <= value <= INTERVAL_MAX_S:
        raise InvalidValue(field, value, f"value {shown(value)} is outside [1, {INTERVAL_MAX_S}] seconds")
    return value


def check_metadata(field: str, value: object) -> dict[str, Any]:
    """A JSON object nested at most ``METADATA_MAX_DEPTH`` levels, at most ``METADATA_MAX_BYTES`` as JSON, that
    ``jsonb`` can store (``ops_center.storable.json_problem``: text, keys, finite numbers, 64-bit integers)."""
    if not isinstance(value, Mapping):
        raise InvalidValue(field, value, f"value {shown(value)} is not a JSON object")
    for key in value:
        if isinstance(key, str) and len(key) > 100:
            raise InvalidValue(field, key, f"key {shown(key[:40])} is longer than 100 characters")
    problem = json_problem(dict(value), field, METADATA_MAX_DEPTH)
    if problem is not None:
        raise InvalidValue(problem.field, problem.value, f"value {problem.value} {problem.message}")
    size = len(orjson.dumps(value))
    if size > METADATA_MAX_BYTES:
        raise InvalidValue(field, f"<{size} bytes>", f"is {size} bytes as JSON, more than {METADATA_MAX_BYTES}")
    return dict(value)


def check_search(field: str, value: object) -> str:
    if type(value) is not str:
        raise InvalidValue(field, value, f"value {shown(value)} is not text")
    if len(value) > SEARCH_MAX:
        raise InvalidValue(field, value[:40], f"value of {len(value)} characters is longer than {SEARCH_MAX}")
    return check_unicode(field, value).strip()
