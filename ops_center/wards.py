"""The core's ward directory: the reads of the boundary tables (``boundary_sets``, ``boundary_units``, migration
0020) that the core and the packages above it need — a ward's district, the names of wards and districts, the
administrative sets and their validity.

geo's store (``geo/store.py``) owns those tables: it alone writes them (imports, validity windows, crosswalks).
The core may not import geo, yet its domains group figures by district (dossier KPIs, the scorecard, petitions)
and name a device's ward (incidents), so these reads live here, in the core, as the one read module beside the
owner; alerts, warnings and the API use them too, so the ward -> district SQL is written once. Every read answers
"nothing" when the geo migrations were not applied (the tables are absent), as the callers did before.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from ops_center.db import Conn

ADMIN_FAMILY = "admin"
SetWindows = list[tuple[str, date, date | None]]

DISTRICT_JOIN = ("LEFT JOIN boundary_units m ON m.set_name = d.ward_set AND m.level = 'ward' "
                 "AND m.code = d.ward_code")
"""Joins ``m``, the ward of a row aliased ``d`` (``d.ward_set``, ``d.ward_code``): ``m.parent_code`` is its district."""

SET_HAS_NO_DISTRICTS = ("NOT EXISTS (SELECT 1 FROM boundary_units x WHERE x.set_name = d.ward_set "
                        "AND x.level = 'district')")
"""True for a row aliased ``d`` whose ward's set has no district level."""


def has_geo(conn: Conn) -> bool:
    """The boundary tables exist (the geo migrations were applied)."""
    row = conn.execute("SELECT to_regclass('boundary_units') IS NOT NULL").fetchone()
    return bool(row and row[0])


def district_rows_sql(value_cols: str, table: str, where: str) -> str:
    """A statement mapping a rollup's rows (``table`` aliased ``d``, filtered by ``where`` on it) of one set to
    their district: ``SELECT m.parent_code, <value_cols> … GROUP BY 1`` (for map layers)."""
    return (f"SELECT m.parent_code, {value_cols} FROM {table} d JOIN boundary_units m ON m.set_name = d.ward_set "
            f"AND m.level = 'ward' AND m.code = d.ward_code WHERE {where} AND m.parent_code IS NOT NULL GROUP BY 1")


def set_exists(conn: Conn, set_name: str) -> bool:
    """A boundary set of that name exists (any family)."""
    return conn.execute("SELECT 1 FROM boundary_sets WHERE name = %s", (set_name,)).fetchone() is not None


def set_windows(conn: Conn) -> SetWindows:
    """The administrative boundary sets and their validity, newest first (empty when the geo tables are absent)."""
    row = conn.execute("SELECT to_regclass('boundary_sets') IS NOT NULL").fetchone()
    if not row or not row[0]:
        return []
    rows = conn.execute("SELECT name, valid_from, valid_to FROM boundary_sets WHERE family = %s "
                        "ORDER BY valid_from DESC", (ADMIN_FAMILY,)).fetchall()
    return [(str(r[0]), r[1], r[2]) for r in rows]


def ward_districts(conn: Conn, set_name: str) -> dict[str, str | None]:
    """Every ward of ``set_name`` (code) and its district's code (None in a set without districts)."""
    return {r[0]: r[1] for r in conn.execute(
        "SELECT code, parent_code FROM boundary_units WHERE set_name = %s AND level = 'ward'",
        (set_name,)).fetchall()}


def ward_name_and_district(conn: Conn, set_name: str, code: str) -> tuple[str, str | None] | None:
    """A ward's name and its district's code, or None when the set has no such ward."""
    row = conn.execute("SELECT name, parent_code FROM boundary_units WHERE set_name = %s "
                       "AND level = 'ward' AND code = %s", (set_name, code)).fetchone()
    return (row[0], row[1]) if row else None


def names(conn: Conn, level: str, sets: Iterable[str], codes: Iterable[str]) -> dict[tuple[str, str], str]:
    """``{(set, code): name}`` of the units of ``level`` (ward, district) in ``sets`` with one of ``codes``."""
    rows = conn.execute("SELECT set_name, code, name FROM boundary_units WHERE level = %s AND set_name = ANY(%s) "
                        "AND code = ANY(%s)", (level, list(sets), list(codes))).fetchall()
    return {(set_name, code): name for set_name, code, name in rows}
