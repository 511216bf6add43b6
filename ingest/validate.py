"""Validation pieces of the ingest decoder: reason codes, rejections and the per-field checks.

Checks raise :class:`Invalid` (cheap on the happy path: a ``try`` costs nothing until it fires);
the decoder turns each into a :class:`Reject` naming the field and the value. No I/O here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from ingest.registry_types import DeviceLookup
from ops_center.devices.models import DeviceInfo

# --- reason codes (stored in the dead-letter table; keep them stable) --------------------------
PAYLOAD_TOO_LARGE: Final = "payload_too_large"
NOT_UTF8: Final = "not_utf8"
PARSE_ERROR: Final = "parse_error"
BAD_SHAPE: Final = "bad_shape"
TOO_DEEP: Final = "too_deep"
BAD_TOPIC: Final = "bad_topic"
BAD_DEVICE_ID: Final = "bad_device_id"
UNKNOWN_DEVICE: Final = "unknown_device"
DISABLED_DEVICE: Final = "disabled_device"
FOREIGN_DEVICE: Final = "foreign_device"
UNKNOWN_METRIC: Final = "unknown_metric"
NON_NUMERIC: Final = "non_numeric"
NOT_FINITE: Final = "not_finite"
OUT_OF_RANGE: Final = "out_of_range"
UNIT_MISMATCH: Final = "unit_mismatch"
BAD_TIMESTAMP: Final = "bad_timestamp"
TS_IN_FUTURE: Final = "ts_in_future"
TS_TOO_OLD: Final = "ts_too_old"
UNSTORABLE: Final = "unstorable"
"""A value PostgreSQL cannot store (NUL, a lone surrogate, a number out of range): ``ops_center.storable``."""

REASON_CODES: Final = frozenset(
    {
        PAYLOAD_TOO_LARGE, NOT_UTF8, PARSE_ERROR, BAD_SHAPE, TOO_DEEP, BAD_TOPIC, BAD_DEVICE_ID,
        UNKNOWN_DEVICE, DISABLED_DEVICE, FOREIGN_DEVICE, UNKNOWN_METRIC, NON_NUMERIC, NOT_FINITE,
        OUT_OF_RANGE, UNIT_MISMATCH, BAD_TIMESTAMP, TS_IN_FUTURE, TS_TOO_OLD, UNSTORABLE,
    }
)  # fmt: skip

FUTURE_TOLERANCE_S: Final = 300.0
"""A timestamp more than this far ahead of ``now`` is rejected (``ts_in_future``)."""

MAX_NESTING: Final = 8
"""Deepest container nesting accepted anywhere in a payload (the top-level value is level 1)."""

_VALUE_DEPTH: Final = (
    MAX_NESTING - 2
)  # a metric value sits at level 3: {"metrics": {name: value}} or [{"v": value}]

VALUE_REPR_MAX: Final = 200
"""``Reject.value_repr`` and values quoted in details are cut to this many characters."""

DEVICE_ID_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
"""Device and gateway ids (use with ``fullmatch``: ``$`` would accept a trailing newline)."""

_MAX_TS_TEXT: Final = 64
_MS_HINT_ABOVE: Final = 1e11  # epoch seconds reach 1e11 in the year 5138; milliseconds are there now


@dataclass(frozen=True, slots=True)
class Reject:
    """One rejected message or part of one (a metric, a SenML record).

    ``field`` is the path of the offending field inside the payload (``metrics.salinity_ppt``,
    ``[3].v``) or ``"topic"``/``"payload"``; ``detail`` starts with it and names the value.
    """

    reason_code: str
    detail: str
    device_id: str | None
    field: str | None
    value_repr: str | None


class Invalid(Exception):
    """Raised by a check; carries the reason code, a message and the offending value's repr."""

    __slots__ = ("device_id", "field", "message", "reason_code", "value_repr")

    def __init__(
        self,
        reason_code: str,
        message: str,
        value_repr: str | None = None,
        field: str | None = None,
        device_id: str | None = None,
    ) -> None:
        super().__init__(reason_code, message)
        self.reason_code = reason_code
        self.message = message
        self.value_repr = value_repr
        self.field = field
        self.device_id = device_id

    def copy(self, field: str | None) -> Invalid:
        """The same verdict for another field (a cached verdict re-raised for a later record)."""
        return Invalid(self.reason_code, self.message, self.value_repr, field, self.device_id)

    def reject(self, field: str | None = None, device_id: str | None = None) -> Reject:
        """A ``Reject``; the field and device given here apply where the check did not set its own."""
        where = self.field or field
        detail = f"{where}: {self.message}" if where else self.message
        return Reject(self.reason_code, detail, self.device_id or device_id, where, self.value_repr)


def capped_repr(value: object, limit: int = VALUE_REPR_MAX) -> str:
    """``repr(value)`` cut to ``limit`` characters (non-printables escaped, so it is safe to log)."""
    try:
        text = repr(value)
    except ValueError:  # an int too long for str() (CPython's digit limit)
        text = (
            f"<int of about {int(value.bit_length() * 0.30103)} digits>" if isinstance(value, int) else "<?>"
        )
    return text if len(text) <= limit else text[: limit - 1] + "…"


def fmt_number(x: float) -> str:
    """Numbers in details: ``50`` not ``50.0``; ``75.2`` as written."""
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return capped_repr(x)


def type_name(value: object) -> str:
    """The JSON type of a decoded value with its article, for messages: ``an object``, ``null``."""
    if value is None:
        return "null"
    return _JSON_TYPE_NAMES.get(type(value), f"a {type(value).__name__}")


_JSON_TYPE_NAMES: Final = {
    bool: "a boolean",
    int: "a number",
    float: "a number",
    str: "a string",
    list: "an array",
    dict: "an object",
}


def depth(value: object, limit: int) -> int:
    """Container nesting of ``value`` (a scalar is 0), counted no further than ``limit + 1``."""
    if type(value) is dict:
        children: object = value.values()
    elif type(value) is list:
        children = value
    else:
        return 0
    if limit <= 0:
        return 1
    deepest = 0
    for child in children:  # type: ignore[attr-defined]
        d = depth(child, limit - 1)
        if d > deepest:
            deepest = d
            if deepest >= limit:
                break
    return deepest + 1


# --- identifiers --------------------------------------------------------------------------------
def check_device_id(device_id: object) -> str:
    """``device_id`` if it matches :data:`DEVICE_ID_RE`, else ``Invalid(bad_device_id)``."""
    if type(device_id) is str and DEVICE_ID_RE.fullmatch(device_id):
        return device_id
    shown = capped_repr(device_id)
    raise Invalid(BAD_DEVICE_ID, f"device id {shown} is not [A-Za-z0-9][A-Za-z0-9_.-]{{0,63}}", shown)


def check_device(device_id: str, registry: DeviceLookup, gateway_id: str | None = None) -> DeviceInfo:
    """The registered, enabled device ``device_id``; behind ``gateway_id`` when one is given.

    Raises ``Invalid`` with ``unknown_device``, ``disabled_device`` or ``foreign_device``.
    The id's syntax must already have been checked.
    """
    info = registry.get(device_id)
    if info is None:
        raise Invalid(UNKNOWN_DEVICE, f"device {device_id!r} is not registered", repr(device_id))
    if not info.enabled:
        raise Invalid(DISABLED_DEVICE, f"device {device_id!r} is disabled", repr(device_id))
    if gateway_id is not None and info.gateway_id != gateway_id and device_id != gateway_id:
        behind = f"gateway {info.gateway_id!r}" if info.gateway_id else "no gateway"
        raise Invalid(
            FOREIGN_DEVICE,
            f"device {device_id!r} is not behind gateway {gateway_id!r} (registered behind {behind})",
            repr(device_id),
        )
    return info


# --- timestamps -----------------------------------------------------------------------------------
def epoch_from_ts(raw: object) -> float:
    """Epoch seconds from an ISO-8601 string with a UTC offset, or an epoch-seconds number."""
    t = type(raw)
    if t is float or t is int:
        value = float(raw)  # type: ignore[arg-type]
        if value - value != 0.0:  # NaN or ±inf (only reachable through the non-finite fallback parse)
            raise Invalid(BAD_TIMESTAMP, f"timestamp {capped_repr(raw)} is not finite", capped_repr(raw))
        return value
    if t is str:
        text: str = raw  # type: ignore[assignment]
        cached = _iso_cache.get(text)
        if cached is not None:
            return cached
        if len(text) <= _MAX_TS_TEXT:
            try:
                dt = datetime.fromisoformat(text)
            except ValueError:
                pass
            else:
                if (
                    dt.tzinfo is None
                ):  # fromisoformat only makes fixed-offset tzinfos, never one without an offset
                    raise Invalid(
                        BAD_TIMESTAMP,
                        f"timestamp {text!r} has no UTC offset (add 'Z' or '+07:00')",
                        repr(text),
                    )
                epoch = dt.timestamp()
                if len(_iso_cache) >= _ISO_CACHE_MAX:
                    _iso_cache.clear()
                _iso_cache[text] = epoch
                return epoch
        shown = capped_repr(text)
        raise Invalid(
            BAD_TIMESTAMP, f"timestamp {shown} is not ISO-8601 (e.g. 2025-07-01T08:30:00+07:00)", shown
        )
    shown = capped_repr(raw)
    raise Invalid(
        BAD_TIMESTAMP,
        f"timestamp {shown} is {type_name(raw)}, expected an ISO-8601 string or epoch seconds",
        shown,
    )


# Fleets often sample on aligned clocks (every device at hh:mm:00), so the same ISO strings recur.
_ISO_CACHE_MAX: Final = 4096
_iso_cache: dict[str, float] = {}


def check_ts_window(ts: float, now: float, max_age_s: float) -> None:
    """Reject a timestamp more than :data:`FUTURE_TOLERANCE_S` ahead of ``now`` or older than ``max_age_s``."""
    if ts > now + FUTURE_TOLERANCE_S:
        hint = " (epoch milliseconds? send seconds)" if ts > _MS_HINT_ABOVE else ""
        raise Invalid(
            TS_IN_FUTURE,
            f"timestamp {_fmt_ts(ts)} is {fmt_number(round(ts - now, 3))} s ahead of now "
            f"(tolerance {fmt_number(FUTURE_TOLERANCE_S)} s){hint}",
            capped_repr(ts),
        )
    if ts < now - max_age_s:
        raise Invalid(
            TS_TOO_OLD,
            f"timestamp {_fmt_ts(ts)} is {fmt_number(round(now - ts, 3))} s old (limit {fmt_number(max_age_s)} s)",
            capped_repr(ts),
        )


def _fmt_ts(ts: float) -> str:
    try:
        return f"{fmt_number(ts)} ({datetime.fromtimestamp(ts, UTC).isoformat(timespec='seconds')})"
    except (ValueError, OverflowError, OSError):
        return fmt_number(ts)


# --- values ---------------------------------------------------------------------------------------
def check_value(
    metric: str, raw: object, bounds: dict[str, tuple[float, float]], what: str = "value"
) -> float:
    """The float value of ``raw`` for ``metric`` if it is a known metric and a finite number in range.

    ``what`` prefixes the message (``"value"`` or ``"salinity_ppt value"``). Raises ``Invalid``
    with ``unknown_metric``, ``non_numeric``, ``too_deep``, ``not_finite`` or ``out_of_range``.
    """
    b = bounds.get(metric)
    t = type(raw)
    if b is not None and (t is float or t is int) and b[0] <= raw <= b[1]:  # type: ignore[operator]
        return float(raw)  # type: ignore[arg-type]
    if b is None:
        shown = capped_repr(metric)
        raise Invalid(UNKNOWN_METRIC, f"metric {shown} is not in the catalogue", shown)
    if t is not float and t is not int:
        shown = capped_repr(raw)
        if (t is dict or t is list) and depth(raw, _VALUE_DEPTH) > _VALUE_DEPTH:
            raise Invalid(
                TOO_DEEP,
                f"{what} nests {_VALUE_DEPTH + 1}+ levels deep; payloads nest at most {MAX_NESTING}",
                shown,
            )
        extra = " (booleans are not numbers)" if t is bool else ""
        raise Invalid(NON_NUMERIC, f"{what} {shown} is {type_name(raw)}, expected a number{extra}", shown)
    if raw - raw != 0:  # type: ignore[operator]  # NaN or ±inf
        raise Invalid(NOT_FINITE, f"{what} {capped_repr(raw)} is not finite", capped_repr(raw))
    shown = capped_repr(raw)
    raise Invalid(
        OUT_OF_RANGE,
        f"{what} {shown} out of range [{fmt_number(b[0])}, {fmt_number(b[1])}]",
        shown,
    )
