"""MQTT topic names: parse an incoming topic, build topics, list the ingest subscriptions.

Layout (see ``docs/mqtt.md``)::

    ops/v1/devices/{device_id}/telemetry     JSON {"ts", "metrics"} or a SenML pack
    ops/v1/devices/{device_id}/status        retained "online"/"offline" (last will: "offline")
    ops/v1/devices/{device_id}/events        JSON {"ts", "kind", "severity"?, "message"?, "data"?}
    ops/v1/gateways/{gateway_id}/telemetry   SenML pack for the devices behind the gateway
    ops/v1/gateways/{gateway_id}/status      retained "online"/"offline"
"""

from __future__ import annotations

from typing import Final, Literal, NamedTuple

from ingest.validate import BAD_DEVICE_ID, BAD_TOPIC, DEVICE_ID_RE, Reject, capped_repr

PREFIX: Final = "ops/v1"
DEVICES: Final = "devices"
GATEWAYS: Final = "gateways"

TELEMETRY: Final = "telemetry"
STATUS: Final = "status"
EVENTS: Final = "events"

TopicKind = Literal[
    "device_telemetry", "device_status", "device_events", "gateway_telemetry", "gateway_status"
]
DEVICE_TELEMETRY: Final = "device_telemetry"
DEVICE_STATUS: Final = "device_status"
DEVICE_EVENTS: Final = "device_events"
GATEWAY_TELEMETRY: Final = "gateway_telemetry"
GATEWAY_STATUS: Final = "gateway_status"

_KINDS: Final[dict[tuple[str, str], TopicKind]] = {
    (DEVICES, TELEMETRY): DEVICE_TELEMETRY,
    (DEVICES, STATUS): DEVICE_STATUS,
    (DEVICES, EVENTS): DEVICE_EVENTS,
    (GATEWAYS, TELEMETRY): GATEWAY_TELEMETRY,
    (GATEWAYS, STATUS): GATEWAY_STATUS,
}
_PARTS: Final[dict[TopicKind, tuple[str, str]]] = {kind: key for key, kind in _KINDS.items()}

SHARE_GROUP: Final = "ingest"


class TopicRef(NamedTuple):
    """A parsed topic: what kind of message it carries and the publishing device or gateway id."""

    kind: TopicKind
    entity_id: str


_CACHE_MAX: Final = 100_000
_cache: dict[str, TopicRef] = {}


def parse_topic(topic: str) -> TopicRef | Reject:
    """``TopicRef`` for a topic of the layout above, else a ``Reject`` (``bad_topic``/``bad_device_id``).

    Valid topics are memoised (bounded; the cache is dropped when full), so the hot path is a
    dict lookup.
    """
    ref = _cache.get(topic)
    if ref is not None:
        return ref
    parts = topic.split("/") if type(topic) is str else []
    if len(parts) != 5 or parts[0] != "ops" or parts[1] != "v1":
        return _bad_topic(topic, f"expected {PREFIX}/devices|gateways/{{id}}/{{channel}}")
    kind = _KINDS.get((parts[2], parts[4]))
    if kind is None:
        if parts[2] not in (DEVICES, GATEWAYS):
            return _bad_topic(topic, f"level 3 {parts[2]!r} is not 'devices' or 'gateways'")
        allowed = sorted(ch for scope, ch in _KINDS if scope == parts[2])
        return _bad_topic(topic, f"channel {capped_repr(parts[4])} is not one of {allowed} for {parts[2]}")
    entity_id = parts[3]
    if not DEVICE_ID_RE.fullmatch(entity_id):
        shown = capped_repr(entity_id)
        return Reject(
            BAD_DEVICE_ID,
            f"topic: {parts[2][:-1]} id {shown} is not [A-Za-z0-9][A-Za-z0-9_.-]{{0,63}}",
            None,
            "topic",
            shown,
        )
    ref = TopicRef(kind, entity_id)
    if len(_cache) >= _CACHE_MAX:
        _cache.clear()
    _cache[topic] = ref
    return ref


def _bad_topic(topic: object, why: str) -> Reject:
    shown = capped_repr(topic)
    return Reject(BAD_TOPIC, f"topic: {shown} {why}", None, "topic", shown)


def topic_for(kind: TopicKind, entity_id: str) -> str:
    """The topic a device or gateway publishes ``kind`` messages on; ``ValueError`` on a bad id or kind."""
    parts = _PARTS.get(kind)
    if parts is None:
        raise ValueError(f"kind: value {kind!r} is not one of {sorted(_PARTS)}")
    if type(entity_id) is not str or not DEVICE_ID_RE.fullmatch(entity_id):
        raise ValueError(
            f"entity_id: value {capped_repr(entity_id)} is not [A-Za-z0-9][A-Za-z0-9_.-]{{0,63}}"
        )
    return f"{PREFIX}/{parts[0]}/{entity_id}/{parts[1]}"


def device_topic(device_id: str, channel: str) -> str:
    """``ops/v1/devices/{device_id}/{channel}`` (channel: telemetry, status or events)."""
    kind = _KINDS.get((DEVICES, channel))
    if kind is None:
        raise ValueError(f"channel: value {channel!r} is not one of ['events', 'status', 'telemetry']")
    return topic_for(kind, device_id)


def gateway_topic(gateway_id: str, channel: str) -> str:
    """``ops/v1/gateways/{gateway_id}/{channel}`` (channel: telemetry or status)."""
    kind = _KINDS.get((GATEWAYS, channel))
    if kind is None:
        raise ValueError(f"channel: value {channel!r} is not one of ['status', 'telemetry']")
    return topic_for(kind, gateway_id)


def topic_filter(kind: TopicKind) -> str:
    """The plain (unshared) filter matching every topic of ``kind``: ``ops/v1/devices/+/telemetry``."""
    scope, channel = _PARTS[kind]
    return f"{PREFIX}/{scope}/+/{channel}"


def subscription_filters(group: str | None = SHARE_GROUP) -> list[str]:
    """Filters the ingest service subscribes to; shared (``$share/{group}/...``) unless ``group`` is None.

    With a shared subscription the broker spreads messages over every ingest process in the
    group, and each message goes to one of them.
    """
    if group is not None and (not group or any(c in group for c in "/+#")):
        raise ValueError(f"group: value {group!r} must be non-empty without '/', '+' or '#'")
    filters = [topic_filter(kind) for kind in _PARTS]
    return filters if group is None else [f"$share/{group}/{f}" for f in filters]
