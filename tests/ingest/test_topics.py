"""Topic parsing, building and subscription filters."""

from __future__ import annotations

import pytest

from ingest.topics import (
    DEVICE_EVENTS,
    DEVICE_STATUS,
    DEVICE_TELEMETRY,
    GATEWAY_STATUS,
    GATEWAY_TELEMETRY,
    TopicRef,
    device_topic,
    gateway_topic,
    parse_topic,
    subscription_filters,
    topic_filter,
    topic_for,
)
from ingest.validate import BAD_DEVICE_ID, BAD_TOPIC, Reject


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        ("ops/v1/devices/sal-01/telemetry", TopicRef(DEVICE_TELEMETRY, "sal-01")),
        ("ops/v1/devices/sal-01/status", TopicRef(DEVICE_STATUS, "sal-01")),
        ("ops/v1/devices/sal-01/events", TopicRef(DEVICE_EVENTS, "sal-01")),
        ("ops/v1/gateways/gw.CaMau_1/telemetry", TopicRef(GATEWAY_TELEMETRY, "gw.CaMau_1")),
        ("ops/v1/gateways/gw.CaMau_1/status", TopicRef(GATEWAY_STATUS, "gw.CaMau_1")),
        ("ops/v1/devices/0/telemetry", TopicRef(DEVICE_TELEMETRY, "0")),
        ("ops/v1/devices/" + "a" * 64 + "/telemetry", TopicRef(DEVICE_TELEMETRY, "a" * 64)),
    ],
)
def test_parse_valid_topics(topic: str, expected: TopicRef) -> None:
    assert parse_topic(topic) == expected
    assert parse_topic(topic) == expected  # second time from the cache
    kind, entity_id = expected
    assert topic_for(kind, entity_id) == topic


@pytest.mark.parametrize(
    "topic",
    [
        "",
        "/",
        "ops/v1/devices/sal-01",
        "ops/v1/devices/sal-01/telemetry/extra",
        "ops/v2/devices/sal-01/telemetry",
        "OPS/v1/devices/sal-01/telemetry",
        "/ops/v1/devices/sal-01/telemetry",
        "ops/v1/devices/sal-01/telemetry/",
        "ops/v1/sensors/sal-01/telemetry",
        "ops/v1/devices/sal-01/command",
        "ops/v1/devices/sal-01/Telemetry",
        "ops/v1/gateways/gw-1/events",
        "$share/ingest/ops/v1/devices/sal-01/telemetry",
        "ops//devices/sal-01/telemetry",
    ],
)
def test_bad_topics_are_rejected_with_bad_topic(topic: str) -> None:
    ref = parse_topic(topic)
    assert isinstance(ref, Reject)
    assert ref.reason_code == BAD_TOPIC
    assert ref.field == "topic"
    assert ref.detail.startswith("topic: ")
    assert ref.value_repr == repr(topic)
    assert ref.device_id is None


@pytest.mark.parametrize(
    "device_id",
    [
        "",  # empty level
        "+",
        "#",
        "dev+1",
        "dev'; DROP TABLE readings;--",
        "1 OR 1=1",
        "dev%00",
        "dev\x00",
        "dev-1\n",
        "-dev",
        ".dev",
        "_dev",
        "a" * 65,
        "sal-01 ",
        "dеv-1",  # Cyrillic е
        "ｄｅｖ1",  # fullwidth letters
        "dev\u200b1",  # zero-width space
        "de\u0301v",  # combining accent
        "١٢٣",  # Arabic-Indic digits
        "dev:1",
        "dev*",
        "../etc",
    ],
)
def test_bad_ids_in_topics_are_rejected(device_id: str) -> None:
    for scope, channel in (("devices", "telemetry"), ("gateways", "status")):
        topic = f"ops/v1/{scope}/{device_id}/{channel}"
        ref = parse_topic(topic)
        assert isinstance(ref, Reject), topic
        if "/" in device_id:
            assert ref.reason_code == BAD_TOPIC
            continue
        assert ref.reason_code == BAD_DEVICE_ID, topic
        assert ref.field == "topic"
        assert ref.value_repr == repr(device_id)
        assert repr(device_id) in ref.detail


def test_value_repr_of_a_huge_topic_is_capped() -> None:
    ref = parse_topic("ops/v1/devices/" + "x" * 10_000 + "/telemetry")
    assert isinstance(ref, Reject)
    assert ref.reason_code == BAD_DEVICE_ID
    assert ref.value_repr is not None and len(ref.value_repr) <= 200
    assert len(ref.detail) < 400


def test_builders() -> None:
    assert device_topic("sal-01", "telemetry") == "ops/v1/devices/sal-01/telemetry"
    assert device_topic("sal-01", "status") == "ops/v1/devices/sal-01/status"
    assert device_topic("sal-01", "events") == "ops/v1/devices/sal-01/events"
    assert gateway_topic("gw-1", "telemetry") == "ops/v1/gateways/gw-1/telemetry"
    assert gateway_topic("gw-1", "status") == "ops/v1/gateways/gw-1/status"


def test_builders_refuse_bad_input_naming_field_and_value() -> None:
    with pytest.raises(ValueError, match=r"entity_id: value 'a/b'"):
        device_topic("a/b", "telemetry")
    with pytest.raises(ValueError, match=r"entity_id: value '\+'"):
        gateway_topic("+", "telemetry")
    with pytest.raises(ValueError, match=r"channel: value 'events'"):
        gateway_topic("gw-1", "events")
    with pytest.raises(ValueError, match=r"channel: value 'cmd'"):
        device_topic("sal-01", "cmd")
    with pytest.raises(ValueError, match=r"kind: value 'device_cmd'"):
        topic_for("device_cmd", "sal-01")  # type: ignore[arg-type]


def test_subscription_filters() -> None:
    assert subscription_filters() == [
        "$share/ingest/ops/v1/devices/+/telemetry",
        "$share/ingest/ops/v1/devices/+/status",
        "$share/ingest/ops/v1/devices/+/events",
        "$share/ingest/ops/v1/gateways/+/telemetry",
        "$share/ingest/ops/v1/gateways/+/status",
    ]
    assert subscription_filters(None)[0] == "ops/v1/devices/+/telemetry"
    assert subscription_filters("ingest-b")[3] == "$share/ingest-b/ops/v1/gateways/+/telemetry"
    assert topic_filter(GATEWAY_STATUS) == "ops/v1/gateways/+/status"
    for bad in ("", "a/b", "a+", "#"):
        with pytest.raises(ValueError, match="group: value"):
            subscription_filters(bad)


def test_every_filter_matches_its_own_topics() -> None:
    """Each subscription filter, with '+' filled in, parses back to its kind."""
    for kind in (DEVICE_TELEMETRY, DEVICE_STATUS, DEVICE_EVENTS, GATEWAY_TELEMETRY, GATEWAY_STATUS):
        topic = topic_filter(kind).replace("+", "node-7")
        assert parse_topic(topic) == TopicRef(kind, "node-7")
