"""Decode one MQTT message into readings, a status, an event and rejections. Pure: no I/O.

:func:`decode_message` is the single entry point. It never raises on bad input: every problem
becomes a :class:`~ingest.validate.Reject`, and a pack's good records are kept while its bad
ones are rejected one by one. It is the hot path of ingest (tens of thousands of calls a
second), so it works on plain dicts, lists and tuples straight from ``orjson``.

Order of checks: topic, payload size, publisher (registered and enabled), JSON parse, shape,
then per metric or record: name and device, unit, value, timestamp.

Non-finite numbers: JSON has no NaN or Infinity and ``orjson`` refuses them. When a payload
that ``orjson`` refused contains ``NaN``, ``Infinity`` or an overflowing literal like ``1e999``,
it is parsed again with the standard library, which accepts them, so the offending field is
rejected as ``not_finite`` and the rest of the message is kept.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Final

import orjson

from ingest.catalogue import METRIC_NAME_RE, Catalogue
from ingest.registry_types import DeviceLookup
from ingest.topics import (
    DEVICE_EVENTS,
    DEVICE_STATUS,
    DEVICE_TELEMETRY,
    GATEWAY_STATUS,
    GATEWAY_TELEMETRY,
    TopicRef,
    parse_topic,
)
from ingest.validate import (
    BAD_SHAPE,
    BAD_TIMESTAMP,
    FOREIGN_DEVICE,
    FUTURE_TOLERANCE_S,
    MAX_NESTING,
    NON_NUMERIC,
    NOT_FINITE,
    NOT_UTF8,
    PARSE_ERROR,
    PAYLOAD_TOO_LARGE,
    TOO_DEEP,
    UNIT_MISMATCH,
    UNSTORABLE,
    VALUE_REPR_MAX,
    Invalid,
    Reject,
    capped_repr,
    check_device,
    check_device_id,
    check_ts_window,
    check_value,
    depth,
    epoch_from_ts,
    type_name,
)
from ops_center.readings import ReadingRow
from ops_center.storable import json_problem, text_problem

SENML_ABSOLUTE_TIME: Final = 2**28
"""RFC 8428 §4.5.3: a resolved SenML time at or above 2**28 is absolute epoch seconds, below it is relative to now."""

SENML_URN_PREFIX: Final = "urn:dev:"
SENML_VERSION: Final = 10
EVENT_SEVERITIES: Final = ("info", "warning", "critical")
EVENT_MESSAGE_MAX: Final = 2000
EVENT_KIND_RE: Final = re.compile(r"[a-z][a-z0-9_.-]{0,63}")


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    """A device or gateway said it is online or offline (``ts`` is when ingest saw it: ``now``)."""

    device_id: str
    online: bool
    ts: float


@dataclass(frozen=True, slots=True)
class DeviceEvent:
    """A validated device event (``data`` is a JSON object nested at most ``MAX_NESTING - 1`` levels)."""

    ts: float
    device_id: str
    kind: str
    severity: str
    message: str | None
    data: dict[str, Any] | None


@dataclass(slots=True)
class Decoded:
    """What one message yielded. ``topic`` is ``None`` when the topic itself was rejected."""

    topic: TopicRef | None
    readings: list[ReadingRow]
    rejects: list[Reject]
    status: DeviceStatus | None
    events: list[DeviceEvent]


_MISSING: Final[Any] = object()


def decode_message(
    topic: str,
    payload: bytes,
    now: float,
    registry: DeviceLookup,
    catalogue: Catalogue,
    max_payload: int,
    max_age_s: float,
    names: NameMemo | None = None,
) -> Decoded:
    """Decode and validate one message published on ``topic``.

    ``now`` is the current epoch time (timestamps more than 5 minutes ahead of it, or older than
    ``max_age_s``, are rejected; SenML relative times count from it). ``max_payload`` is in bytes.
    ``names``: SenML names already resolved, shared by the messages of one batch (a gateway names the same
    devices in every pack); valid while the registry does not change, so one per batch.
    """
    ref = parse_topic(topic)
    if type(ref) is Reject:
        return Decoded(None, [], [ref], None, [])
    kind, entity_id = ref  # type: ignore[misc]
    readings: list[ReadingRow] = []
    rejects: list[Reject] = []
    out = Decoded(ref, readings, rejects, None, [])  # type: ignore[arg-type]
    size = len(payload)
    if size > max_payload:
        rejects.append(
            Reject(
                PAYLOAD_TOO_LARGE,
                f"payload: {size} bytes exceeds the limit of {max_payload} bytes",
                entity_id,
                "payload",
                capped_repr(bytes(payload[:64])),
            )
        )
        return out
    try:
        check_device(entity_id, registry)
        if kind == DEVICE_TELEMETRY:
            doc = _loads(payload)
            if type(doc) is dict:
                _json_telemetry(doc, entity_id, now, max_age_s, catalogue, readings, rejects)
            elif type(doc) is list:
                _senml(doc, entity_id, None, now, max_age_s, catalogue, registry, readings, rejects, names)
            else:
                raise Invalid(
                    BAD_SHAPE,
                    f"telemetry is {type_name(doc)}, expected a JSON object "
                    '{"ts": ..., "metrics": {...}} or a SenML array',
                    capped_repr(doc),
                    "payload",
                )
        elif kind == GATEWAY_TELEMETRY:
            doc = _loads(payload)
            if type(doc) is not list:
                raise Invalid(
                    BAD_SHAPE,
                    f"gateway telemetry is {type_name(doc)}, expected a SenML array",
                    capped_repr(doc),
                    "payload",
                )
            _senml(doc, None, entity_id, now, max_age_s, catalogue, registry, readings, rejects, names)
        elif kind in (DEVICE_STATUS, GATEWAY_STATUS):
            out.status = _status(payload, entity_id, now)
        elif kind == DEVICE_EVENTS:
            out.events.append(_event(payload, entity_id, now, max_age_s))
    except Invalid as exc:
        rejects.append(exc.reject("topic" if exc.reason_code in _PUBLISHER_REASONS else "payload", entity_id))
    return out


_PUBLISHER_REASONS: Final = frozenset({"unknown_device", "disabled_device"})


NameMemo = dict[tuple[str | None, str | None], tuple[dict[str, "tuple[str, str] | Invalid"], "_Names"]]
"""Resolved SenML names per publisher (topic device, gateway): see ``decode_message``."""


# --- parsing ----------------------------------------------------------------------------------
_NON_FINITE_TOKEN: Final = re.compile(rb"NaN|Infinity|[0-9][eE]\+?[0-9]{3}")


def _loads(payload: bytes) -> Any:
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        return _loads_slow(payload, str(exc))


def _loads_slow(payload: bytes, orjson_error: str) -> Any:
    """Classify a payload ``orjson`` refused; re-parse it when the only problem may be non-finite numbers."""
    raw = bytes(payload)
    if not raw.strip():
        raise Invalid(
            PARSE_ERROR, f"empty ({len(raw)} bytes, nothing but whitespace)", capped_repr(raw), "payload"
        )
    text = _utf8(raw)
    if "depth limit" in orjson_error or "recursion" in orjson_error:
        raise Invalid(TOO_DEEP, f"nesting exceeds the JSON parser's limit ({orjson_error})", None, "payload")
    if _NON_FINITE_TOKEN.search(raw):
        try:
            doc = json.loads(text)
        except RecursionError:
            raise Invalid(TOO_DEEP, "nesting exceeds the JSON parser's limit", None, "payload") from None
        except ValueError:
            doc = _MISSING
        if doc is not _MISSING:
            if depth(doc, MAX_NESTING) > MAX_NESTING:
                raise Invalid(TOO_DEEP, f"nests deeper than {MAX_NESTING} levels", None, "payload")
            try:
                orjson.dumps(doc)  # refuses what only the standard library lets through: lone surrogates
            except orjson.JSONEncodeError:
                pass
            else:
                return doc
    raise Invalid(PARSE_ERROR, f"not valid JSON: {orjson_error}", capped_repr(text), "payload")


def _utf8(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as u:
        raise Invalid(
            NOT_UTF8,
            f"not valid UTF-8: byte 0x{raw[u.start]:02x} at offset {u.start} ({u.reason})",
            capped_repr(raw[max(0, u.start - 16) : u.start + 16]),
            "payload",
        ) from None


# --- {"ts": ..., "metrics": {...}} ------------------------------------------------------------
def _json_telemetry(
    doc: dict[str, Any],
    device_id: str,
    now: float,
    max_age_s: float,
    catalogue: Catalogue,
    readings: list[ReadingRow],
    rejects: list[Reject],
) -> None:
    if len(doc) != 2 or "ts" not in doc or "metrics" not in doc:
        _object_shape(doc, required=("ts", "metrics"), optional=())
    raw_ts = doc["ts"]
    if (
        type(raw_ts) is float or type(raw_ts) is int
    ) and now - max_age_s <= raw_ts <= now + FUTURE_TOLERANCE_S:
        ts = float(raw_ts)
    else:
        try:
            ts = epoch_from_ts(raw_ts)
            check_ts_window(ts, now, max_age_s)
        except Invalid as exc:
            exc.field = "ts"
            raise
    metrics = doc["metrics"]
    if type(metrics) is not dict or not metrics:
        what = "an empty object" if type(metrics) is dict else type_name(metrics)
        raise Invalid(
            BAD_SHAPE,
            f"{what}, expected an object of metric: number",
            capped_repr(metrics),
            "metrics",
        )
    bounds = catalogue.bounds
    for name, raw in metrics.items():
        b = bounds.get(name)
        t = type(raw)
        if b is not None and (t is float or t is int) and b[0] <= raw <= b[1]:
            readings.append((ts, device_id, name, float(raw)))
            continue
        try:
            check_value(name, raw, bounds)
        except Invalid as exc:
            path = f"metrics.{name}" if METRIC_NAME_RE.fullmatch(name) else f"metrics[{capped_repr(name)}]"
            rejects.append(exc.reject(path, device_id))


def _object_shape(doc: dict[str, Any], required: tuple[str, ...], optional: tuple[str, ...]) -> None:
    """Raise ``bad_shape`` for the first unknown or missing key of ``doc``."""
    known = (*required, *optional)
    for key in doc:
        if key not in known:
            shown = capped_repr(key)
            raise Invalid(
                BAD_SHAPE, f"unknown field {shown} (expected {', '.join(known)})", shown, _key_path(key)
            )
    for key in required:
        if key not in doc:
            raise Invalid(BAD_SHAPE, "required field is missing", None, key)


def _key_path(key: str) -> str:
    return key if key.isidentifier() and key.isascii() else f"[{capped_repr(key)}]"


# --- SenML (RFC 8428) -----------------------------------------------------------------------------
_SENML_LABELS: Final = frozenset(
    {"bn", "bt", "bu", "bv", "bs", "bver", "n", "u", "v", "vs", "vb", "vd", "s", "t", "ut"}
)
_BASE_LABELS: Final = frozenset({"bn", "bt", "bu", "bv", "bs", "bver"})
_PLAIN_LABELS: Final = frozenset({"n", "v", "t", "u"})
_OTHER_VALUES: Final = (("vs", "string value"), ("vb", "boolean value"), ("vd", "data value"))


def _senml(
    pack: list[Any],
    topic_device: str | None,
    gateway_id: str | None,
    now: float,
    max_age_s: float,
    catalogue: Catalogue,
    registry: DeviceLookup,
    readings: list[ReadingRow],
    rejects: list[Reject],
    memo: NameMemo | None = None,
) -> None:
    """Resolve a SenML pack (base name/time/unit/value, relative times) into readings.

    Exactly one of ``topic_device`` (a device's own topic) and ``gateway_id`` is set. A record
    with a malformed base field is rejected, and so is every record after it (their names,
    times or values depend on it).
    """
    if not pack:
        raise Invalid(BAD_SHAPE, "SenML pack is empty", "[]", "payload")
    publisher: str = topic_device or gateway_id  # type: ignore[assignment]
    bounds = catalogue.bounds
    units = catalogue.units
    hi = now + FUTURE_TOLERANCE_S
    lo = now - max_age_s
    bn = ""
    bt = 0.0
    bu: str | None = None
    bv = 0.0
    bn_dev: str | Invalid | None = None  # the device a "{device}:"-style base name names, once checked
    poisoned: str | None = None
    if memo is None:
        names: dict[str, tuple[str, str] | Invalid] = {}
        ctx = _Names(topic_device, gateway_id, registry)
    else:
        names, ctx = memo.get((topic_device, gateway_id)) or memo.setdefault(
            (topic_device, gateway_id), ({}, _Names(topic_device, gateway_id, registry)))
    for i, rec in enumerate(pack):
        if type(rec) is not dict:
            rejects.append(
                Reject(
                    BAD_SHAPE,
                    f"[{i}]: record is {type_name(rec)}, expected an object",
                    publisher,
                    f"[{i}]",
                    capped_repr(rec),
                )
            )
            continue
        if poisoned is not None:
            rejects.append(Reject(BAD_SHAPE, f"[{i}]: not decoded: {poisoned}", publisher, f"[{i}]", None))
            continue
        try:
            if not _PLAIN_LABELS.issuperset(rec):  # unusual labels or base fields: look closer
                if not _SENML_LABELS.issuperset(rec):
                    _check_labels(rec, i)
                if not _BASE_LABELS.isdisjoint(rec):
                    try:
                        new_bn, bt, bu, bv = _bases(rec, i, bn, bt, bu, bv)
                    except Invalid as exc:
                        poisoned = f"it follows the invalid base field {exc.field}"
                        raise
                    if new_bn != bn:
                        bn = new_bn
                        bn_dev = ctx.base_device(bn)
                    if _BASE_LABELS.issuperset(rec):
                        continue  # a record of base fields only carries no measurement
            # name -> (device, metric)
            n = rec.get("n", "")
            if type(n) is not str:
                raise Invalid(
                    BAD_SHAPE,
                    f"name {capped_repr(n)} is {type_name(n)}, expected a string",
                    capped_repr(n),
                    f"[{i}].n",
                )
            if bn_dev is not None and n and ":" not in n:  # "{device}:" base name + bare metric name
                if type(bn_dev) is not str:
                    raise bn_dev.copy(f"[{i}].n")  # type: ignore[union-attr]
                device_id = bn_dev
                metric = n
            else:
                name = bn + n if bn else n
                res = names.get(name)
                if res is None:
                    try:
                        res = ctx.resolve(name)
                    except Invalid as exc:
                        res = exc
                    names[name] = res
                if type(res) is not tuple:
                    raise res.copy(f"[{i}].n")  # type: ignore[union-attr]
                device_id, metric = res
            # value
            v = rec.get("v", _MISSING)
            if v is _MISSING:
                _no_value(rec, i, device_id, metric)
            if bv and (type(v) is float or type(v) is int):
                v = bv + v
            # unit
            u = rec.get("u", bu)
            if u is not None and (type(u) is not str or (metric in units and u not in units[metric])):
                _unit_mismatch(u, metric, units.get(metric), i, "u" if "u" in rec else "bu", device_id)
            b = bounds.get(metric)
            t = type(v)
            if b is not None and (t is float or t is int) and b[0] <= v <= b[1]:
                value = float(v)
            else:
                try:
                    value = check_value(metric, v, bounds, f"{metric} value")
                except Invalid as exc:
                    exc.field = f"[{i}].v" if exc.reason_code != "unknown_metric" else f"[{i}].n"
                    exc.device_id = device_id
                    raise
            # time
            rt = rec.get("t", _MISSING)
            if rt is _MISSING:
                ts = bt
            elif type(rt) is float or type(rt) is int:
                ts = bt + rt
            else:
                shown = capped_repr(rt)
                raise Invalid(
                    BAD_TIMESTAMP,
                    f"time {shown} is {type_name(rt)}, expected a number",
                    shown,
                    f"[{i}].t",
                    device_id,
                )
            if ts < SENML_ABSOLUTE_TIME:
                ts = now + ts
            if not lo <= ts <= hi:
                _check_time(ts, now, max_age_s, f"[{i}].t" if rt is not _MISSING else f"[{i}].bt", device_id)
            readings.append((ts, device_id, metric, value))
        except Invalid as exc:
            rejects.append(exc.reject(f"[{i}]", publisher))


def _check_labels(rec: dict[str, Any], i: int) -> None:
    """RFC 8428 §4.4: a label ending in '_' must be understood, so a record carrying one is rejected."""
    for key in rec:
        if key not in _SENML_LABELS and (type(key) is not str or key.endswith("_")):
            shown = capped_repr(key)
            raise Invalid(
                BAD_SHAPE,
                f"label {shown} must be understood (RFC 8428 §4.4) and is not supported",
                shown,
                f"[{i}]",
            )


def _bases(
    rec: dict[str, Any], i: int, bn: str, bt: float, bu: str | None, bv: float
) -> tuple[str, float, str | None, float]:
    """The base fields in force after record ``i``."""
    x = rec.get("bn", _MISSING)
    if x is not _MISSING:
        if type(x) is not str:
            _bad_base(i, "bn", x, "a string")
        bn = x
    x = rec.get("bt", _MISSING)
    if x is not _MISSING:
        bt = _base_number(i, "bt", x)
    x = rec.get("bv", _MISSING)
    if x is not _MISSING:
        bv = _base_number(i, "bv", x)
    x = rec.get("bs", _MISSING)
    if x is not _MISSING:
        _base_number(i, "bs", x)
    x = rec.get("bu", _MISSING)
    if x is not _MISSING:
        if type(x) is not str:
            _bad_base(i, "bu", x, "a string")
        bu = x
    x = rec.get("bver", _MISSING)
    if x is not _MISSING and (type(x) is not int or not 1 <= x <= SENML_VERSION):
        _bad_base(i, "bver", x, f"an integer version from 1 to {SENML_VERSION}")
    return bn, bt, bu, bv


def _base_number(i: int, label: str, x: Any) -> float:
    if (type(x) is not float and type(x) is not int) or x - x != 0:
        _bad_base(i, label, x, "a finite number")
    return float(x)


def _bad_base(i: int, label: str, value: object, expected: str) -> None:
    shown = capped_repr(value)
    raise Invalid(
        BAD_SHAPE, f"base field {shown} is {type_name(value)}, expected {expected}", shown, f"[{i}].{label}"
    )


class _Names:
    """Resolves SenML names to ``(device_id, metric)`` for one pack, checking each named device once.

    Names are ``{metric}`` (the publisher itself), ``{device_id}:{metric}`` or
    ``urn:dev:{device_id}:{metric}``. On a device topic a named device must be that device; on
    a gateway topic it must be registered, enabled and behind that gateway (or be the gateway).
    """

    __slots__ = ("devices", "gateway_id", "publisher", "registry", "topic_device")

    def __init__(self, topic_device: str | None, gateway_id: str | None, registry: DeviceLookup) -> None:
        self.topic_device = topic_device
        self.gateway_id = gateway_id
        self.publisher: str = topic_device or gateway_id  # type: ignore[assignment]
        self.registry = registry
        self.devices: dict[str, str | Invalid] = {}

    def resolve(self, name: str) -> tuple[str, str]:
        dev, metric = _split_name(name)
        return (self.publisher if dev is None else self.device(dev), metric)

    def base_device(self, bn: str) -> str | Invalid | None:
        """The checked device of a ``{device}:``/``urn:dev:{device}:`` base name (an ``Invalid`` if bad), else None."""
        if not bn.endswith(":"):
            return None
        try:
            dev, metric = _split_name(bn)
            if dev is None or metric:
                return None
            return self.device(dev)
        except Invalid as exc:
            return exc

    def device(self, dev: str) -> str:
        verdict = self.devices.get(dev)
        if verdict is None:
            try:
                verdict = self._check(dev)
            except Invalid as exc:
                verdict = exc
            self.devices[dev] = verdict
        if type(verdict) is not str:
            raise verdict  # type: ignore[misc]
        return verdict

    def _check(self, dev: str) -> str:
        if dev == self.publisher:  # the topic's id is already checked
            return dev
        check_device_id(dev)
        if self.topic_device is not None:
            raise Invalid(
                FOREIGN_DEVICE,
                f"names device {dev!r}, but the pack was published on the topic of device {self.topic_device!r}",
                repr(dev),
                None,
                dev,
            )
        try:
            check_device(dev, self.registry, self.gateway_id)
        except Invalid as exc:
            exc.device_id = dev
            raise
        return dev


def _split_name(name: str) -> tuple[str | None, str]:
    """``(device part or None, metric part)`` of a resolved SenML name."""
    if name.startswith(SENML_URN_PREFIX):
        dev, sep, metric = name[len(SENML_URN_PREFIX) :].partition(":")
        if not sep:
            shown = capped_repr(name)
            raise Invalid(BAD_SHAPE, f"name {shown} is not urn:dev:{{device_id}}:{{metric}}", shown)
        return dev, metric
    if not name:
        raise Invalid(BAD_SHAPE, "record has no name (bn + n is empty)", "''")
    dev, sep, metric = name.partition(":")
    return (dev, metric) if sep else (None, name)


def _no_value(rec: dict[str, Any], i: int, device_id: str, metric: str) -> None:
    for label, what in _OTHER_VALUES:
        if label in rec:
            shown = capped_repr(rec[label])
            raise Invalid(
                NON_NUMERIC,
                f"{metric} has a {what} {shown}; only numeric values ('v') are accepted",
                shown,
                f"[{i}].{label}",
                device_id,
            )
    if "s" in rec:
        raise Invalid(
            BAD_SHAPE,
            f"{metric} has a sum 's' but no value 'v'; sums are not stored",
            capped_repr(rec["s"]),
            f"[{i}].s",
            device_id,
        )
    raise Invalid(BAD_SHAPE, f"{metric} record has no value 'v'", None, f"[{i}]", device_id)


def _unit_mismatch(
    u: object, metric: str, accepted: frozenset[str] | None, i: int, label: str, device_id: str
) -> None:
    shown = capped_repr(u)
    if type(u) is not str:
        raise Invalid(
            BAD_SHAPE,
            f"unit {shown} is {type_name(u)}, expected a string",
            shown,
            f"[{i}].{label}",
            device_id,
        )
    raise Invalid(
        UNIT_MISMATCH,
        f"{metric} unit {shown} is not one of {sorted(accepted or ())}",
        shown,
        f"[{i}].{label}",
        device_id,
    )


def _check_time(ts: float, now: float, max_age_s: float, field: str, device_id: str) -> None:
    if ts - ts != 0:
        raise Invalid(BAD_TIMESTAMP, f"resolved time {ts!r} is not finite", repr(ts), field, device_id)
    try:
        check_ts_window(ts, now, max_age_s)
    except Invalid as exc:
        exc.field = field
        exc.device_id = device_id
        raise


# --- status ---------------------------------------------------------------------------------------
def _status(payload: bytes, device_id: str, now: float) -> DeviceStatus | None:
    """``online``/``offline``, plain or ``{"state": ...}``; an empty payload (a cleared retained message) is nothing."""
    body = bytes(payload).strip()
    if body == b"online" or body == b"offline":
        return DeviceStatus(device_id, body == b"online", now)
    if not body:
        return None
    if body[:1] != b"{":
        _utf8(body)
        shown = capped_repr(body[:VALUE_REPR_MAX])
        raise Invalid(
            BAD_SHAPE, f"status {shown} is not 'online', 'offline' or {{\"state\": ...}}", shown, "payload"
        )
    doc = _loads(body)
    if type(doc) is not dict:
        raise Invalid(
            BAD_SHAPE, f"status is {type_name(doc)}, expected an object", capped_repr(doc), "payload"
        )
    _object_shape(doc, required=("state",), optional=())
    state = doc["state"]
    if state != "online" and state != "offline":
        shown = capped_repr(state)
        raise Invalid(BAD_SHAPE, f"value {shown} is not 'online' or 'offline'", shown, "state")
    return DeviceStatus(device_id, state == "online", now)


# --- events ---------------------------------------------------------------------------------------
_EVENT_REQUIRED: Final = ("ts", "kind")
_EVENT_OPTIONAL: Final = ("severity", "message", "data")


def _event(payload: bytes, device_id: str, now: float, max_age_s: float) -> DeviceEvent:
    doc = _loads(payload)
    if type(doc) is not dict:
        raise Invalid(
            BAD_SHAPE, f"event is {type_name(doc)}, expected an object", capped_repr(doc), "payload"
        )
    _object_shape(doc, _EVENT_REQUIRED, _EVENT_OPTIONAL)
    try:
        ts = epoch_from_ts(doc["ts"])
        check_ts_window(ts, now, max_age_s)
    except Invalid as exc:
        exc.field = "ts"
        raise
    kind = doc["kind"]
    if type(kind) is not str or not EVENT_KIND_RE.fullmatch(kind):
        shown = capped_repr(kind)
        raise Invalid(
            BAD_SHAPE, f"value {shown} is not a lower-case name [a-z][a-z0-9_.-]{{0,63}}", shown, "kind"
        )
    severity = doc.get("severity", "info")
    if severity not in EVENT_SEVERITIES or type(severity) is not str:
        shown = capped_repr(severity)
        raise Invalid(BAD_SHAPE, f"value {shown} is not one of {list(EVENT_SEVERITIES)}", shown, "severity")
    message = doc.get("message")
    if message is not None and (type(message) is not str or len(message) > EVENT_MESSAGE_MAX):
        shown = capped_repr(message)
        raise Invalid(
            BAD_SHAPE,
            f"value {shown} is not a string of at most {EVENT_MESSAGE_MAX} characters",
            shown,
            "message",
        )
    if message is not None and (why := text_problem(message)) is not None:
        shown = capped_repr(message)
        raise Invalid(UNSTORABLE, f"value {shown} {why}", shown, "message")
    data = doc.get("data")
    if data is not None:
        if type(data) is not dict:
            shown = capped_repr(data)
            raise Invalid(BAD_SHAPE, f"value {shown} is {type_name(data)}, expected an object", shown, "data")
        _scan_data(data, "data", MAX_NESTING - 1)
        problem = json_problem(data, "data", MAX_NESTING - 1)
        if problem is not None:
            raise Invalid(UNSTORABLE, f"value {problem.value} {problem.message}", problem.value, problem.field)
    return DeviceEvent(ts, device_id, kind, severity, message, data)


def _scan_data(value: Any, path: str, levels_left: int) -> None:
    """Reject event data nested too deep or holding a non-finite number (only the fallback parse makes those)."""
    if type(value) is dict:
        items: Any = value.items()
    elif type(value) is list:
        items = enumerate(value)
    else:
        if type(value) is float and value - value != 0:
            raise Invalid(NOT_FINITE, f"value {value!r} is not finite", repr(value), path)
        return
    if levels_left <= 0:
        raise Invalid(TOO_DEEP, f"nests deeper than {MAX_NESTING} levels from the payload's top", None, path)
    for key, child in items:
        if type(key) is int:
            child_path = f"{path}[{key}]"
        elif key.isidentifier() and len(key) <= 64:
            child_path = f"{path}.{key}"
        else:
            child_path = f"{path}[{capped_repr(key, 66)}]"
        _scan_data(child, child_path, levels_left - 1)


__all__ = [
    "EVENT_SEVERITIES",
    "SENML_ABSOLUTE_TIME",
    "Decoded",
    "DeviceEvent",
    "DeviceStatus",
    "Reject",
    "decode_message",
]
