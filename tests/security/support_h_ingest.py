"""Helpers shared by the h-ingest security modules (poison messages, dead-letter amplification, foreign letters,
new devices): a QoS 1 publisher, dead-letter and reading counts, waiting on exact counts, a database trap."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ops_center.db import Conn, fetch_all
from ops_center.settings import Settings
from tests.devices.conftest import Mqtt

WAIT_S = 60.0


def uid(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def service_publisher(settings: Settings) -> Mqtt:
    """A connected client with the service account (may publish on any device's topic)."""
    m = Mqtt(settings, settings.mqtt_username, settings.mqtt_password.get_secret_value(), client_id=uid("pub"))
    assert not m.connect().is_failure
    return m


def publish_all(m: Mqtt, messages: list[tuple[str, bytes]]) -> None:
    """Publish at QoS 1, waiting for each PUBACK (the broker has the message)."""
    for topic, body in messages:
        assert not m.publish(topic, body).is_failure, topic


def add_devices(db: Conn, ids: list[str], *, kind: str = "water_level", gateway: str | None = None) -> None:
    if gateway:
        db.execute("INSERT INTO gateways (id, name) VALUES (%s, %s) ON CONFLICT DO NOTHING", (gateway, gateway))
    for device_id in ids:
        db.execute("INSERT INTO devices (id, kind, name, gateway_id, expected_interval_s) VALUES (%s, %s, %s, %s, 60)",
                   (device_id, kind, f"Trạm {device_id}", gateway))


def readings_of(db: Conn, prefix: str) -> int:
    row = db.execute("SELECT count(*) FROM readings WHERE device_id LIKE %s",
                     (prefix.replace("_", r"\_") + "%",)).fetchone()
    return int(row[0]) if row else 0


def letters(db: Conn, topic_like: str) -> list[dict[str, Any]]:
    return fetch_all(db, "SELECT id, topic, device_id, reason, detail, field, value, reasons, reason_count, "
                         "reason_codes, payload, payload_size FROM dead_letters WHERE topic LIKE %s ORDER BY id",
                     (topic_like,))


def wait_until(probe: Callable[[], Any], done: Callable[[Any], bool], timeout: float = WAIT_S) -> Any:
    """Poll ``probe`` until ``done(value)``; returns the last value (the caller asserts on it)."""
    deadline = time.monotonic() + timeout
    value = probe()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(0.2)
        value = probe()
    return value


def settle(probe: Callable[[], Any], quiet_s: float = 1.5, timeout: float = WAIT_S) -> Any:
    """The value of ``probe`` once it stopped changing for ``quiet_s`` (to catch extra rows arriving late)."""
    deadline = time.monotonic() + timeout
    last = probe()
    since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = probe()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            break
    return last


@contextmanager
def readings_trap(db: Conn, device_like: str, value: float) -> Iterator[None]:
    """A trigger that makes the database refuse any reading of ``value`` from devices matching ``device_like``
    (check_violation naming the column): a write failure validation cannot foresee, as an operator's constraint
    would cause."""
    name = f"trap_{secrets.token_hex(4)}"
    db.execute(f"""CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.device_id LIKE '{device_like}' AND NEW.value = {value} THEN
                RAISE EXCEPTION 'reading % of % refused by the trap', NEW.value, NEW.device_id
                    USING ERRCODE = 'check_violation', COLUMN = 'value', TABLE = 'readings';
            END IF;
            RETURN NEW;
        END $$""")
    db.execute(f"CREATE TRIGGER {name} BEFORE INSERT ON readings FOR EACH ROW EXECUTE FUNCTION {name}()")
    try:
        yield
    finally:
        db.execute(f"DROP TRIGGER IF EXISTS {name} ON readings")
        db.execute(f"DROP FUNCTION IF EXISTS {name}()")
