"""Fixtures for the incident tests: the real Cà Mau boundary sets in the session database (loaded through
``geo.demo.ensure_demo``, as ``make up`` does), points inside real wards, unique times so tests never link to each
other's incidents, units, and API keys."""

from __future__ import annotations

import random
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from geo.demo import ensure_demo
from ops_center.auth.apikeys import create_api_key
from ops_center.auth.users import create_user
from ops_center.db import Conn, connect
from ops_center.settings import Settings

_rng = random.Random()


@dataclass(frozen=True)
class Ward:
    set_name: str
    code: str
    name: str
    lon: float
    lat: float
    district_code: str | None


@pytest.fixture(scope="session")
def camau(settings: Settings) -> Iterator[None]:
    with connect(settings.database_url, autocommit=True) as conn:
        ensure_demo(conn, settings.data_dir, say=lambda _: None)
    yield None


def _ward(conn: Conn, set_name: str, n: int) -> Ward:
    row = conn.execute("SELECT code, name, rep_lon, rep_lat, parent_code FROM boundary_units WHERE set_name = %s "
                       "AND level = 'ward' ORDER BY code OFFSET %s LIMIT 1", (set_name, n)).fetchone()
    assert row is not None
    return Ward(set_name, row[0], row[1], float(row[2]), float(row[3]), row[4])


@pytest.fixture
def ward25(camau: None, db: Conn) -> Ward:
    return _ward(db, "camau-2025", _rng.randrange(60))


@pytest.fixture
def ward19(camau: None, db: Conn) -> Ward:
    return _ward(db, "camau-2019", _rng.randrange(100))


def when(after: datetime = datetime(2025, 7, 2, tzinfo=UTC), span_days: int = 480) -> datetime:
    """A random whole minute in the window (the 2025 set is in force from 2025-07-01)."""
    return after + timedelta(minutes=_rng.randrange(span_days * 1440))


def spot() -> float:
    """A random northward offset in metres (multiples of 500 m up to 30 km): reports filed "now" by different
    tests stay more than 200 m apart."""
    return 500.0 * _rng.randrange(1, 60)


def north(lat: float, metres: float) -> float:
    return lat + metres / 111_195.0


@pytest.fixture
def unit(db: Conn) -> str:
    code = f"DV-{secrets.token_hex(3)}"
    db.execute("INSERT INTO units (code, name, level) VALUES (%s, %s, 'department')",
               (code, f"Đội phản ứng nhanh {code}"))
    return code


@pytest.fixture
def api_key(db: Conn):  # type: ignore[no-untyped-def]
    """``make(role)`` → (name, key) of a new API key owned by a new enabled admin (a key borrows its owner's
    standing: it works only while the owner is an enabled admin)."""
    owner = create_user(db, f"key-owner-{secrets.token_hex(4)}", secrets.token_urlsafe(16), "admin")

    def make(role: str = "integration") -> tuple[str, str]:
        name = f"app-{secrets.token_hex(3)}"
        _, secret = create_api_key(db, name, role, owner)
        return name, secret
    return make
