"""Fixtures for the alerting tests: devices, rules, a controllable clock, feeding batches like ingest does."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alerts import rule_changes
from alerts.rules.models import parse_rule
from alerts.stream import StreamEvaluator
from ops_center.db import Conn, connect, fetch_all
from ops_center.readings import ReadingsStore
from ops_center.settings import Settings

T0 = datetime(2025, 3, 10, 8, 0, tzinfo=UTC)


def uid(prefix: str = "t") -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> float:
        return self.now.timestamp()

    def advance(self, **kw: float) -> datetime:
        self.now += timedelta(**kw)
        return self.now


@pytest.fixture(autouse=True)
def _rules_stay_in_their_test(settings: Settings) -> Iterator[None]:
    """Rules a test creates are disabled when it ends, so a broad rule ("scope: all") of one test never fires on
    the readings of the next (the session database is shared)."""
    with connect(settings.database_url, autocommit=True) as c:
        row = c.execute("SELECT COALESCE(max(id), 0) FROM alert_rules").fetchone()
        first = int(row[0]) if row else 0
        yield
        c.execute("UPDATE alert_rules SET enabled = false WHERE id > %s AND enabled", (first,))


@pytest.fixture
def clock() -> Clock:
    return Clock(T0 + timedelta(days=1))


@pytest.fixture
def conn(settings: Settings) -> Iterator[Conn]:
    """A non-autocommit connection; helpers commit explicitly."""
    with connect(settings.database_url) as c:
        yield c


def make_device(conn: Conn, *, kind: str = "salinity", ward: str | None = None, unit: str | None = None,
                interval_s: int = 300, last_seen: datetime | None = None, created_at: datetime | None = None,
                device_id: str | None = None, ward_set: str | None = "camau-2025") -> str:
    device_id = device_id or uid("dev")
    conn.execute("INSERT INTO device_kinds (code, label_vi, label_en) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                 (kind, f"Loại {kind}", kind))
    if unit is not None:
        conn.execute("INSERT INTO units (code, name, level) VALUES (%s, %s, 'other') ON CONFLICT DO NOTHING",
                     (unit, f"Đơn vị {unit}"))
    conn.execute(
        "INSERT INTO devices (id, kind, name, ward_set, ward_code, unit_code, expected_interval_s, last_seen, "
        "created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, COALESCE(%s, now()))",
        (device_id, kind, f"Trạm {device_id}", ward_set if ward else None, ward, unit, interval_s, last_seen,
         created_at),
    )
    conn.commit()
    return device_id


def make_rule(conn: Conn, doc: dict[str, Any]) -> int:
    doc = {"name": uid("rule"), **doc}
    row = rule_changes.create_rule(conn, parse_rule(doc), "test")
    conn.commit()
    return int(row["id"])


def feed(conn: Conn, ev: StreamEvaluator, rows: list[tuple[float, str, str, float]]) -> int:
    """Like ingest: write the batch and run the stream hook in the same transaction, then commit."""
    with conn.transaction():
        ReadingsStore.for_connection(conn).write_batch(conn, rows)
        n = ev.on_batch(conn, rows)
    return n


def alerts_for(conn: Conn, rule_id: int) -> list[dict[str, Any]]:
    rows = fetch_all(conn, "SELECT * FROM alerts WHERE rule_id = %s ORDER BY id", (rule_id,))
    conn.commit()
    return rows


def kinds(conn: Conn, alert_id: int) -> list[str]:
    rows = [r[0] for r in conn.execute("SELECT kind FROM alert_timeline WHERE alert_id = %s ORDER BY id",
                                       (alert_id,)).fetchall()]
    conn.commit()
    return rows


@pytest.fixture
def evaluator(clock: Clock) -> StreamEvaluator:
    return StreamEvaluator(refresh_s=0.0, clock=clock)


Feed = Callable[[list[tuple[float, str, str, float]]], int]
