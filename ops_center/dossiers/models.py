"""Dossier (hồ sơ) events from the one-stop-shop system: their shape and their validation. Pure: no I/O.

An event is a JSON object::

    {"dossier_id": "000.00.12.H12-250102-0001", "type": "received", "at": "2025-01-02T08:30:00+07:00",
     "channel": "online_full", "procedure": "1.004227", "unit": "UBND-XA-TANTHANH", "ward": "32002",
     "digitised": true, "fee_due": true}
    {"dossier_id": "...", "type": "resolved", "at": "2025-01-06T16:00:00+07:00", "electronic_result": true}
    {"dossier_id": "...", "type": "returned", "at": "2025-01-07T09:00:00+07:00", "channel": "postal"}

Fields by type (anything else is refused, so a misspelt field is never silently dropped):

- all: ``dossier_id`` (1–100 chars ``[A-Za-z0-9][A-Za-z0-9_.:/-]*``), ``type``, ``at`` (ISO 8601 with a UTC offset;
  a naive time names no moment and is refused), optional ``unit``.
- received: ``channel`` (online_partial | online_full | counter | postal — the online kinds of Decree 42/2022; the
  legacy online_l3 and online_l4 are read as online_partial and online_full), ``procedure`` (catalogue code),
  ``unit`` (required), optional ``ward`` (ward code; default: the unit's ward) and ``ward_set`` (boundary set of that
  code; default: the set in force on the received date), and the reception facts of the national service index,
  each ``true`` or ``false`` (default false): ``digitised`` (components digitised), ``reused_data`` (a component
  reused from digitised data), ``from_personal_store`` (a component taken from the citizen's personal store on the
  national portal), ``population_data`` (account verified with VNeID / population data used), ``fee_due``.
- resolved: the dossier's processing ended; optional ``outcome`` (granted | refused | withdrawn, default granted)
  and ``electronic_result`` (true when an electronic result file was issued, default false).
- returned: ``channel`` (postal | counter).
- synced (to the National Public Service Portal), paid (the fee paid online), result_synced (the result synced to
  the citizen's personal store): ``at`` only; once per dossier.
- supplement_requested, supplement_received: ``at`` only; any number of times (at most 20 each; the same ``at``
  again is a duplicate).
- rated: ``rating`` (satisfied | unsatisfied | complaint); once per dossier.

On the MQTT topic ``ops/v1/egov/{unit}/dossiers`` the unit comes from the topic; an event naming another unit is
refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from ops_center.storable import json_problem

EVENT_TYPES: Final = ("received", "resolved", "returned", "synced", "paid", "result_synced",
                       "supplement_requested", "supplement_received", "rated")
RECEIVE_CHANNELS: Final = ("online_partial", "online_full", "counter", "postal")
LEGACY_CHANNELS: Final = {"online_l3": "online_partial", "online_l4": "online_full"}
RETURN_CHANNELS: Final = ("postal", "counter")
ONLINE_CHANNELS: Final = ("online_partial", "online_full")
OUTCOMES: Final = ("granted", "refused", "withdrawn")
RATINGS: Final = ("satisfied", "unsatisfied", "complaint")
RECEPTION_FLAGS: Final = ("digitised", "reused_data", "from_personal_store", "population_data", "fee_due")
ONCE_EVENTS: Final = {"synced": "synced_at", "paid": "paid_online_at", "result_synced": "result_synced_at"}
SUPPLEMENT_EVENTS: Final = {"supplement_requested": "supplement_requests",
                            "supplement_received": "supplement_receipts"}
MAX_SUPPLEMENTS: Final = 20

DOSSIER_ID_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/-]{0,99}")
CODE_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
SET_RE: Final = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
MQTT_TOPIC_RE: Final = re.compile(r"(?:mqtt:)?ops/v1/egov/([^/]+)/dossiers")
HTTP_SOURCE: Final = "http:/dossiers/events"

COMMON: Final = ("dossier_id", "type", "at", "unit")
FIELDS: Final = {
    "received": (*COMMON, "channel", "procedure", "ward", "ward_set", *RECEPTION_FLAGS),
    "resolved": (*COMMON, "outcome", "electronic_result"),
    "returned": (*COMMON, "channel"),
    "rated": (*COMMON, "rating"),
    **{kind: COMMON for kind in (*ONCE_EVENTS, *SUPPLEMENT_EVENTS)},
}
REQUIRED: Final = {
    "received": ("dossier_id", "type", "at", "channel", "procedure", "unit"),
    "returned": ("dossier_id", "type", "at", "channel"),
    "rated": ("dossier_id", "type", "at", "rating"),
    **{kind: ("dossier_id", "type", "at") for kind in ("resolved", *ONCE_EVENTS, *SUPPLEMENT_EVENTS)},
}
EARLIEST: Final = datetime(2000, 1, 1, tzinfo=UTC)
FUTURE_TOLERANCE: Final = timedelta(minutes=10)
VALUE_MAX: Final = 120

# reason codes (stored in dead_letters.reason)
BAD_SHAPE: Final = "bad_shape"
MISSING_FIELD: Final = "missing_field"
BAD_VALUE: Final = "bad_value"
BAD_TIMESTAMP: Final = "bad_timestamp"
UNKNOWN_PROCEDURE: Final = "unknown_procedure"
UNKNOWN_UNIT: Final = "unknown_unit"
FOREIGN_UNIT: Final = "foreign_unit"
CONFLICT: Final = "conflict"
INCONSISTENT: Final = "inconsistent_time"
UNSTORABLE: Final = "unstorable"
TOO_MANY: Final = "too_many"


class BatchTooLarge(ValueError):
    """More items in one message or request than one batch may carry (every e-government feed)."""


def shown(value: Any) -> str:
    """A value as quoted in a message, cut to ``VALUE_MAX`` characters."""
    text = repr(value)
    return text if len(text) <= VALUE_MAX else text[:VALUE_MAX] + "…"


class Rejected(Exception):
    """One event refused: a reason code, a message naming the field and the value, the field and the value."""

    def __init__(self, reason: str, detail: str, field: str | None = None, value: Any = None) -> None:
        super().__init__(detail)
        self.reason, self.detail, self.field = reason, detail, field
        self.value = None if value is None else value if isinstance(value, str) and reason == UNSTORABLE \
            else shown(value)


@dataclass(frozen=True, slots=True)
class DossierEvent:
    dossier_id: str
    type: str
    at: datetime
    channel: str | None = None
    procedure: str | None = None
    unit: str | None = None
    ward: str | None = None
    ward_set: str | None = None
    flags: tuple[str, ...] = ()  # the reception facts given as true (received events)
    outcome: str | None = None
    electronic_result: bool = False
    rating: str | None = None


def topic_unit(source: str) -> str | None:
    """The unit code of an MQTT source topic ``ops/v1/egov/{unit}/dossiers`` (optionally ``mqtt:``-prefixed),
    else None."""
    m = MQTT_TOPIC_RE.fullmatch(source)
    return m.group(1) if m else None


def _string(doc: dict[str, Any], key: str, pattern: re.Pattern[str] | None = None,
            choices: tuple[str, ...] | None = None) -> str | None:
    value = doc.get(key)
    if value is None:
        return None
    if type(value) is not str:
        raise Rejected(BAD_VALUE, f"{key}: expected a string, got {type(value).__name__} {shown(value)}", key, value)
    if choices is not None and value not in choices:
        raise Rejected(BAD_VALUE, f"{key}: {shown(value)} is not one of {', '.join(choices)}", key, value)
    if pattern is not None and not pattern.fullmatch(value):
        raise Rejected(BAD_VALUE, f"{key}: {shown(value)} is not a valid code (pattern {pattern.pattern})",
                       key, value)
    return value


def flag(doc: dict[str, Any], key: str) -> bool:
    """A JSON boolean (absent: false); anything else, even 1 or "true", is refused."""
    value = doc.get(key, False)
    if type(value) is not bool:
        raise Rejected(BAD_VALUE, f"{key}: expected true or false, got {type(value).__name__} {shown(value)}",
                       key, value)
    return value


def string_field(doc: dict[str, Any], key: str, pattern: re.Pattern[str] | None = None,
                 choices: tuple[str, ...] | None = None) -> str | None:
    """A string field (None when absent), refused when not a string, not one of ``choices`` or not matching."""
    return _string(doc, key, pattern, choices)


def parse_time(value: Any, now: datetime, key: str = "at") -> datetime:
    """An aware datetime from an ISO 8601 string with an offset, within [2000-01-01, now + 10 min]."""
    if type(value) is not str:
        raise Rejected(BAD_TIMESTAMP, f"{key}: expected an ISO 8601 string with an offset "
                                      f"(e.g. 2025-01-02T08:30:00+07:00), got {type(value).__name__} {shown(value)}",
                       key, value)
    if len(value) > 40:
        raise Rejected(BAD_TIMESTAMP, f"{key}: {shown(value)} is too long for a timestamp", key, value)
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise Rejected(BAD_TIMESTAMP, f"{key}: {shown(value)} is not an ISO 8601 timestamp", key, value) from None
    if at.tzinfo is None:
        raise Rejected(BAD_TIMESTAMP, f"{key}: {shown(value)} has no UTC offset; send e.g. {value}+07:00",
                       key, value)
    if at < EARLIEST:
        raise Rejected(BAD_TIMESTAMP, f"{key}: {shown(value)} is before 2000-01-01", key, value)
    if at > now + FUTURE_TOLERANCE:
        raise Rejected(BAD_TIMESTAMP, f"{key}: {shown(value)} is in the future (now {now.isoformat()})", key, value)
    return at


def parse_event(doc: Any, *, unit_from_topic: str | None = None, now: datetime | None = None) -> DossierEvent:
    """A validated event, or ``Rejected`` naming the first bad field and its value."""
    now = now or datetime.now(UTC)
    if not isinstance(doc, dict):
        raise Rejected(BAD_SHAPE, f"event: expected a JSON object, got {type(doc).__name__} {shown(doc)}",
                       "event", doc)
    problem = json_problem(doc)
    if problem is not None:  # what PostgreSQL cannot store, in any key or value, before anything quotes it
        raise Rejected(UNSTORABLE, str(problem), problem.field or "event", problem.value)
    kind = doc.get("type")
    if kind is None:
        raise Rejected(MISSING_FIELD, f"type: required field is missing (one of {', '.join(EVENT_TYPES)})", "type")
    if type(kind) is not str or kind not in EVENT_TYPES:
        raise Rejected(BAD_VALUE, f"type: {shown(kind)} is not one of {', '.join(EVENT_TYPES)}", "type", kind)
    allowed = FIELDS[kind]
    for key in doc:
        if key not in allowed:
            raise Rejected(BAD_SHAPE, f"{shown(key)}: unknown field for a {kind} event "
                                      f"(expected {', '.join(allowed)})", str(key)[:VALUE_MAX], key)
    required = REQUIRED[kind] if unit_from_topic is None else tuple(k for k in REQUIRED[kind] if k != "unit")
    for key in required:
        if doc.get(key) is None:
            raise Rejected(MISSING_FIELD, f"{key}: required field is missing for a {kind} event", key)
    dossier_id = _string(doc, "dossier_id", DOSSIER_ID_RE)
    assert dossier_id is not None
    at = parse_time(doc["at"], now)
    unit = _string(doc, "unit", CODE_RE)
    if unit_from_topic is not None:
        if unit is not None and unit != unit_from_topic:
            raise Rejected(FOREIGN_UNIT, f"unit: {shown(unit)} differs from the topic's unit "
                                         f"{shown(unit_from_topic)}", "unit", unit)
        unit = unit_from_topic
    channel = _channel(doc, kind)
    return DossierEvent(
        dossier_id=dossier_id,
        type=kind,
        at=at,
        channel=channel,
        procedure=_string(doc, "procedure", CODE_RE),
        unit=unit,
        ward=_string(doc, "ward", CODE_RE),
        ward_set=_string(doc, "ward_set", SET_RE),
        flags=tuple(f for f in RECEPTION_FLAGS if flag(doc, f)) if kind == "received" else (),
        outcome=(_string(doc, "outcome", choices=OUTCOMES) or "granted") if kind == "resolved" else None,
        electronic_result=flag(doc, "electronic_result") if kind == "resolved" else False,
        rating=_string(doc, "rating", choices=RATINGS),
    )


def _channel(doc: dict[str, Any], kind: str) -> str | None:
    """The channel of a received (legacy level names mapped to Decree 42's kinds) or returned event."""
    if kind != "received":
        return _string(doc, "channel", choices=RETURN_CHANNELS)
    value = doc.get("channel")
    if type(value) is str and value in LEGACY_CHANNELS:
        return LEGACY_CHANNELS[value]
    return _string(doc, "channel", choices=RECEIVE_CHANNELS)


def dead_letter_topic(source: str) -> str:
    """The ``dead_letters.topic`` of a source: the MQTT topic itself (without a ``mqtt:`` prefix) or the HTTP one."""
    return source.removeprefix("mqtt:")
