"""Administrative levels for figures read from rollups keyed by ``(unit_code, ward_set, ward_code)``: the SQL that
groups such rows by unit, ward, district or the province, and the names of the groups. The one place where a
rollup's ward is mapped to its district (``boundary_units.parent_code`` in the ward's own set, read through the
core's ward directory ``ops_center.wards``).

- ``unit``: the receiving unit; ``ward``: the row's ward in its set (the set in force when the thing happened);
- ``district``: that ward's district in that set; a set without districts (Cà Mau since 2025-07-01) puts its wards
  in one group with the code ``NA_DISTRICT`` (shown as ``code: null`` with a note), rows without a ward in the
  group ``UNKNOWN``;
- ``province``: everything in one group ``PROVINCE_CODE``.

Rollup tables must be aliased ``d`` in the query the SQL pieces are put into.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from ops_center import wards
from ops_center.db import Conn
from ops_center.devices import lookups as device_lookups
from ops_center.wards import SetWindows, has_geo

LEVELS: tuple[str, ...] = ("province", "district", "ward", "unit")
NA_DISTRICT = "#n/a"  # internal group code: a ward of a set without districts (never a real code)
UNKNOWN = ""  # internal group code: no ward known
NA_NAME = "Không áp dụng: bộ ranh giới không có cấp huyện (cấp huyện bãi bỏ từ 01/07/2025) / not applicable"
UNKNOWN_NAME = "Chưa xác định / unknown"
PROVINCE_CODE, PROVINCE_NAME = "province", "Toàn tỉnh"
NA_NOTE = ("district level does not apply: these wards belong to a boundary set without districts "
           "(Cà Mau abolished the district level on 2025-07-01)")
UNKNOWN_NOTE = "the dossiers named no ward and their unit has none"


@dataclass(frozen=True)
class GroupSql:
    """``select``: two SQL expressions ``gset, gcode``; ``join``: what they need; ``filter_col``: the expression a
    list of group codes is matched against."""

    select: str
    join: str
    filter_col: str


def group_sql(level: str, geo: bool) -> GroupSql:
    """How rows aliased ``d`` group at ``level`` (``geo``: the boundary tables exist; only the district level
    reads them)."""
    if level == "unit":
        return GroupSql("'' AS gset, d.unit_code AS gcode", "", "d.unit_code")
    if level == "ward":
        return GroupSql("d.ward_set AS gset, d.ward_code AS gcode", "", "d.ward_code")
    if level == "province":
        return GroupSql(f"'' AS gset, '{PROVINCE_CODE}' AS gcode", "", "''")
    if not geo:
        code = f"CASE WHEN d.ward_set = '' THEN '' ELSE '{NA_DISTRICT}' END"
        return GroupSql(f"d.ward_set AS gset, {code} AS gcode", "", code)
    code = (f"CASE WHEN m.parent_code IS NOT NULL THEN m.parent_code "
            f"WHEN d.ward_set <> '' AND {wards.SET_HAS_NO_DISTRICTS} THEN '{NA_DISTRICT}' ELSE '' END")
    return GroupSql(f"d.ward_set AS gset, {code} AS gcode", wards.DISTRICT_JOIN, code)


def group_for(conn: Conn, level: str) -> GroupSql:
    """``group_sql`` for a connection (the district level looks for the boundary tables)."""
    return group_sql(level, level == "district" and has_geo(conn))


def merged_key(level: str, key: tuple[str, str]) -> tuple[str, str]:
    """At the district level every ward without a district (whatever its set) is one group, as are the unknown."""
    if level == "district" and key[1] in (NA_DISTRICT, UNKNOWN):
        return ("", key[1])
    return key


def public_code(gcode: str) -> str | None:
    return None if gcode in (NA_DISTRICT, UNKNOWN) else gcode


def extra(level: str, gset: str, gcode: str) -> dict[str, Any]:
    """The ``set`` and ``note`` keys of an answer's item."""
    out: dict[str, Any] = {}
    if level in ("ward", "district") and gset:
        out["set"] = gset
    if gcode == NA_DISTRICT:
        out["note"] = NA_NOTE
    elif gcode == UNKNOWN and level in ("ward", "district"):
        out["note"] = UNKNOWN_NOTE
    return out


def sort_key(key: tuple[str, str]) -> tuple[bool, bool, str, str]:
    """Real codes first, then the not-applicable group, then the unknown one."""
    return (key[1] == NA_DISTRICT, key[1] == UNKNOWN, key[1], key[0])


def group_names(conn: Conn, level: str, keys: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """The names of groups: units from ``units``, wards and districts from ``boundary_units`` of their set."""
    codes = sorted({c for _, c in keys if c not in (NA_DISTRICT, UNKNOWN)})
    out: dict[tuple[str, str], str] = {}
    if level == "unit":
        for code, name in device_lookups.unit_names(conn, codes).items():
            out[("", code)] = name
    elif level == "province":
        province = device_lookups.province_name(conn)
        out[("", PROVINCE_CODE)] = province if province is not None else PROVINCE_NAME
    elif has_geo(conn):
        lvl = "ward" if level == "ward" else "district"
        out.update(wards.names(conn, lvl, sorted({s for s, _ in keys if s}), codes))
    for key in keys:
        if key[1] == NA_DISTRICT:
            out[key] = NA_NAME
        elif key[1] == UNKNOWN:
            out[key] = UNKNOWN_NAME
    return out


def set_on(windows: SetWindows, day: date) -> str:
    """The set in force on ``day`` ("" when none)."""
    for name, start, end in windows:
        if start <= day and (end is None or day <= end):
            return name
    return ""
