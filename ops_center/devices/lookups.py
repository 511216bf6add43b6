"""The reads of ``devices``, ``gateways`` and ``units`` that other domains need, so that the devices package alone
names its tables in SQL: the rows the absence rule checks, a device's position and stored ward, where devices lie
for map summaries, units known, their names, wards and levels; and geo's bulk ward assignment (the one write here
that another package drives: geo computes the wards, this module stores them). The cached copy of every device and
gateway (ingest, the alert stream, the live feed) is ``directory.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final, Literal, NamedTuple

from ops_center.db import Conn, fetch_one

Principals = Literal["devices", "gateways"]
PRINCIPAL_TABLES: Final[tuple[Principals, ...]] = ("devices", "gateways")


class WatchedDevice(NamedTuple):
    """An enabled device as the absence rule sees it."""

    id: str
    kind: str
    ward_code: str | None
    ward_set: str | None
    unit_code: str | None
    expected_interval_s: float
    last_seen: datetime | None
    created_at: datetime


class PlacedDevice(NamedTuple):
    """An enabled device as a map summary places it."""

    id: str
    lon: float | None
    lat: float | None
    ward_set: str | None
    ward_code: str | None
    last_seen: datetime | None
    expected_interval_s: int


def watched(conn: Conn) -> list[WatchedDevice]:
    """The enabled devices by id, with what the absence rule needs."""
    rows = conn.execute(
        "SELECT id, kind, ward_code, ward_set, unit_code, expected_interval_s, last_seen, created_at "
        "FROM devices WHERE enabled ORDER BY id").fetchall()
    return [WatchedDevice(r[0], r[1], r[2], r[3], r[4], float(r[5]), r[6], r[7]) for r in rows]


def placed(conn: Conn) -> list[PlacedDevice]:
    """The enabled devices with their coordinates and stored ward."""
    rows = conn.execute(
        "SELECT id, lon, lat, ward_set, ward_code, last_seen, expected_interval_s FROM devices WHERE enabled"
    ).fetchall()
    return [PlacedDevice(*r) for r in rows]


def position(conn: Conn, device_id: str) -> tuple[float | None, float | None]:
    """A device's coordinates, ``(None, None)`` when it has none or does not exist."""
    row = conn.execute("SELECT lon, lat FROM devices WHERE id = %s", (device_id,)).fetchone()
    return (row[0], row[1]) if row else (None, None)


def located(conn: Conn, device_id: str) -> dict[str, Any] | None:
    """A device's id, name, coordinates and stored ward (``ward_set``, ``ward_code``, ``ward_status``)."""
    return fetch_one(conn, "SELECT id, name, lon, lat, ward_set, ward_code, ward_status FROM devices "
                           "WHERE id = %s", (device_id,))


# ------------------------------------------------------------------------------------------------------ units


def unit_exists(conn: Conn, code: str) -> bool:
    return conn.execute("SELECT 1 FROM units WHERE code = %s", (code,)).fetchone() is not None


def known_units(conn: Conn, codes: Sequence[str]) -> set[str]:
    """The codes among ``codes`` that name a unit."""
    return {str(r[0]) for r in conn.execute("SELECT code FROM units WHERE code = ANY(%s)", (list(codes),)).fetchall()}


def unit_wards(conn: Conn, codes: Sequence[str]) -> dict[str, str | None]:
    """``{code: ward_code}`` of the units among ``codes``."""
    return {str(r[0]): r[1] for r in conn.execute("SELECT code, ward_code FROM units WHERE code = ANY(%s)",
                                                  (list(codes),)).fetchall()}


def unit_names(conn: Conn, codes: Sequence[str] | None = None) -> dict[str, str]:
    """``{code: name}`` of every unit (or of those among ``codes``)."""
    if codes is None:
        rows = conn.execute("SELECT code, name FROM units").fetchall()
    else:
        rows = conn.execute("SELECT code, name FROM units WHERE code = ANY(%s)", (list(codes),)).fetchall()
    return {str(c): str(n) for c, n in rows}


def province_name(conn: Conn) -> str | None:
    """The name of the province's unit (the first by code when there are several), None without one."""
    row = conn.execute("SELECT name FROM units WHERE level = 'province' ORDER BY code LIMIT 1").fetchone()
    return row[0] if row else None


def unit_codes(conn: Conn) -> list[str]:
    return [str(r[0]) for r in conn.execute("SELECT code FROM units").fetchall()]


def unit_tree(conn: Conn) -> list[tuple[str, str, str | None]]:
    """``(code, level, parent_code)`` of every unit, by code."""
    rows = conn.execute("SELECT code, level, parent_code FROM units ORDER BY code").fetchall()
    return [(str(c), str(lvl), p) for c, lvl, p in rows]


# ------------------------------------------------------------------------------------ geo's ward assignment

_DUE = ("lon IS NOT NULL AND lat IS NOT NULL AND (ward_set IS DISTINCT FROM %(s)s::text "
        "OR (%(s)s::text IS NOT NULL AND ward_status IS NULL))")


def count_unassigned_devices(conn: Conn, set_name: str | None) -> int:
    """Located devices not assigned in ``set_name`` (or never assigned)."""
    row = conn.execute("SELECT count(*) FROM devices WHERE lon IS NOT NULL AND lat IS NOT NULL "
                       "AND (ward_set IS DISTINCT FROM %s OR ward_status IS NULL)", (set_name,)).fetchone()
    return int(row[0]) if row else 0


def assignment_due(conn: Conn, set_name: str | None) -> bool:
    """Some located device or gateway is not assigned in ``set_name`` (a set in force, or none)."""
    row = conn.execute(f"SELECT EXISTS (SELECT 1 FROM devices WHERE {_DUE}) OR "
                       f"EXISTS (SELECT 1 FROM gateways WHERE {_DUE})", {"s": set_name}).fetchone()
    return bool(row and row[0])


def with_coordinates(conn: Conn, table: Principals) -> list[tuple[str, float, float]]:
    """``(id, lon, lat)`` of the devices (or gateways) with coordinates, by id."""
    rows = conn.execute(f"SELECT id, lon, lat FROM {_table(table)} WHERE lon IS NOT NULL AND lat IS NOT NULL "
                        "ORDER BY id").fetchall()
    return [(str(r[0]), float(r[1]), float(r[2])) for r in rows]


def store_wards(conn: Conn, table: Principals, set_name: str | None, ids: list[str],
                codes: Sequence[str | None], statuses: Sequence[str | None]) -> int:
    """Store the wards of ``ids`` (devices or gateways) in ``set_name``; returns how many rows changed."""
    changed = conn.execute(
        f"""
        UPDATE {_table(table)} AS d SET ward_set = %(ws)s::text, ward_code = u.wc, ward_status = u.st,
               updated_at = now()
        FROM unnest(%(ids)s::text[], %(codes)s::text[], %(st)s::text[]) AS u(id, wc, st)
        WHERE d.id = u.id AND (d.ward_set IS DISTINCT FROM %(ws)s::text OR d.ward_code IS DISTINCT FROM u.wc
                               OR d.ward_status IS DISTINCT FROM u.st)
        """,
        {"ws": set_name, "ids": ids, "codes": list(codes), "st": list(statuses)},
    ).rowcount
    return max(changed, 0)


def _table(table: Principals) -> str:
    if table not in PRINCIPAL_TABLES:
        raise ValueError(f"table: {table!r} is not one of {PRINCIPAL_TABLES}")
    return table
