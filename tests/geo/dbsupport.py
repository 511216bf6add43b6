"""Fixtures for the geo tests that use the database: the Cà Mau sets imported once per session into the session
database (through ``geo.demo.ensure_demo``, as ``make up`` does), and helpers for devices and small test sets.
Import the fixtures into a test module with ``from tests.geo.dbsupport import camau  # noqa: F401``."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import shapely

from geo.demo import DemoResult, ensure_demo
from ops_center.db import Conn, connect
from ops_center.settings import Settings

HANOI = (105.85, 21.03)


@pytest.fixture(scope="session")
def camau(settings: Settings) -> Iterator[DemoResult]:
    with connect(settings.database_url, autocommit=True) as conn:
        yield ensure_demo(conn, settings.data_dir, say=lambda _: None)


def camau_dir(settings: Settings) -> Path:
    return settings.data_dir / "camau"


def uid(prefix: str = "t") -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def add_device(conn: Conn, lon: float | None, lat: float | None, *, kind: str = "salinity",
               last_seen: str | None = "now()", expected_interval_s: int = 60) -> str:
    """A device row written straight into the registry table (the devices API is another domain's)."""
    device_id = uid("geo-dev")
    conn.execute(
        f"INSERT INTO devices (id, kind, name, lon, lat, last_seen, expected_interval_s) "
        f"VALUES (%s, %s, %s, %s, %s, {last_seen or 'NULL'}, %s)",
        (device_id, kind, f"Trạm đo {device_id}", lon, lat, expected_interval_s),
    )
    return device_id


def unit_row(conn: Conn, set_name: str, level: str, code: str) -> dict[str, Any]:
    row = conn.execute("SELECT code, name, parent_code, rep_lon, rep_lat, geom FROM boundary_units "
                       "WHERE set_name = %s AND level = %s AND code = %s", (set_name, level, code)).fetchone()
    assert row is not None, (set_name, level, code)
    return {"code": row[0], "name": row[1], "parent_code": row[2], "rep_lon": row[3], "rep_lat": row[4],
            "geom": shapely.from_wkb(bytes(row[5]))}


def write_geojson(path: Path, features: list[tuple[dict[str, Any], shapely.Geometry | None]]) -> Path:
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": props,
         "geometry": None if g is None else shapely.geometry.mapping(g)} for props, g in features]}
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def grid_set(path: Path, n: int = 3, origin: tuple[float, float] = (100.0, 10.0), size: float = 0.01,
             prefix: str = "G") -> Path:
    """A small n x n grid of square 'wards' (about 1 km) as GeoJSON, with Vietnamese names."""
    feats = []
    for i in range(n):
        for j in range(n):
            x0, y0 = origin[0] + i * size, origin[1] + j * size
            feats.append(({"ward_code": f"{prefix}{i}{j}", "ward_name": f"Phường Thử {i}-{j}",
                           "unit_type": "Phường"}, shapely.box(x0, y0, x0 + size, y0 + size)))
    return write_geojson(path, feats)
