"""Boundary sets in the database: the one module that writes ``boundary_sets``, ``boundary_units`` and the crosswalk
tables (migration 0020).

A set has a name, a *family*, a validity window of local dates ``[valid_from, valid_to]`` (``valid_to`` inclusive,
NULL while in force) and units at one or two levels (``ward``, ``district``). Importing a level into a set is
idempotent: it replaces that level's units, the set's metadata and its report in one transaction, bumps the set's
``generation`` (caches key on it) and drops crosswalks computed from the old units.

Validity windows of sets of one family may not overlap, so the set in force at a date is unique: an import whose
window overlaps another set of its family is refused with a message naming that set and how to close it
(``set_validity``). Different families (a test family, a hypothetical water-basin layer) never interfere.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

import numpy as np
import shapely
from psycopg.types.json import Jsonb

from geo.boundaries import BoundaryReport, BoundarySet
from geo.crosswalk import Crosswalk
from ops_center.db import Conn, fetch_all, fetch_one

Level = Literal["ward", "district"]
LEVELS: tuple[Level, ...] = ("ward", "district")
DEFAULT_FAMILY = "admin"
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
MAX_UNIT_NAME = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_LOCK_KEY = 7_336_020  # advisory lock serialising imports and validity changes


class GeoStoreError(ValueError):
    """A request the store refuses; the message names the field and the value."""


class SetNotFound(GeoStoreError, LookupError):
    """No boundary set (or no units at that level) by that name."""


class ValidityOverlap(GeoStoreError):
    """Two sets of one family would both be in force on some day."""


@dataclass(frozen=True, slots=True)
class SetInfo:
    name: str
    description: str
    family: str
    valid_from: date
    valid_to: date | None
    source: str | None
    imported_at: datetime
    report: dict[str, Any]
    generation: int
    levels: dict[str, int]  # level -> number of units

    def covers(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "family": self.family,
            "valid_from": self.valid_from.isoformat(),
            "valid_to": self.valid_to.isoformat() if self.valid_to else None,
            "source": self.source,
            "imported_at": self.imported_at.isoformat(),
            "generation": self.generation,
            "levels": self.levels,
            "report": self.report,
        }


@dataclass(frozen=True, slots=True)
class Unit:
    """One stored unit; ``geom`` is WKB (EPSG:4326)."""

    code: str
    name: str
    unit_type: str | None
    parent_code: str | None
    parent_name: str | None
    area_km2: float
    rep_lon: float
    rep_lat: float
    geom: bytes


@dataclass(frozen=True, slots=True)
class ImportResult:
    set_name: str
    level: Level
    units: int
    replaced: int  # units of that level the import replaced (0 for a first import)
    generation: int
    report: dict[str, Any]
    warnings: tuple[str, ...] = ()


# ---------------------------------------------------------------------- checks


def check_name(value: object, field: str = "set") -> str:
    """A set (or family) name: lower-case ASCII letters, digits, '.', '_' and '-', 1-64 characters."""
    if not isinstance(value, str) or not NAME_RE.match(value):
        shown = repr(value)[:80]
        raise GeoStoreError(
            f"{field}: {shown} is not a valid name (lower-case letters, digits, '.', '_', '-'; 1-64 characters)"
        )
    return value


def check_level(value: object, field: str = "level") -> Level:
    if value not in LEVELS:
        raise GeoStoreError(f"{field}: {str(value)[:80]!r} is not one of {', '.join(LEVELS)}")
    return value


def _check_units(frame: Any, source: str) -> None:
    """Codes are short identifiers (statistics-office codes, letters, digits, '_', '.', ':', '-'); names and types are
    printable text of at most 200 characters."""
    for i, r in enumerate(frame.itertuples(index=False)):
        if not CODE_RE.match(r.code):
            raise GeoStoreError(f"code: {r.code[:80]!r} of feature {i} in {source} is not a unit code "
                                "(letters, digits, '_', '.', ':', '-'; at most 64 characters)")
        for field, value in (("name", r.name), ("unit_type", r.unit_type), ("parent_code", r.parent_code),
                             ("parent_name", r.parent_name)):
            if value is None:
                continue
            if len(value) > MAX_UNIT_NAME or _CONTROL.search(value):
                raise GeoStoreError(f"{field}: {value[:80]!r} of unit {r.code!r} in {source} is too long or "
                                    f"holds control characters (at most {MAX_UNIT_NAME} printable characters)")
        if r.parent_code is not None and not CODE_RE.match(r.parent_code):
            raise GeoStoreError(f"parent_code: {r.parent_code[:80]!r} of unit {r.code!r} in {source} is not a code")


def _check_window(valid_from: date, valid_to: date | None) -> None:
    if not isinstance(valid_from, date):
        raise GeoStoreError(f"valid_from: {valid_from!r} is not a date")
    if valid_to is not None and not isinstance(valid_to, date):
        raise GeoStoreError(f"valid_to: {valid_to!r} is not a date")
    if valid_to is not None and valid_to < valid_from:
        raise GeoStoreError(f"valid_to: {valid_to.isoformat()} is before valid_from {valid_from.isoformat()}")


def _window_text(valid_from: date, valid_to: date | None) -> str:
    return f"{valid_from.isoformat()} .. {valid_to.isoformat() if valid_to else 'open'}"


def _check_overlap(conn: Conn, name: str, family: str, valid_from: date, valid_to: date | None) -> None:
    rows = fetch_all(
        conn,
        "SELECT name, valid_from, valid_to FROM boundary_sets WHERE family = %s AND name <> %s "
        "AND daterange(valid_from, valid_to, '[]') && daterange(%s::date, %s::date, '[]') ORDER BY valid_from",
        (family, name, valid_from, valid_to),
    )
    if rows:
        other = rows[0]
        raise ValidityOverlap(
            f"valid_from/valid_to: {_window_text(valid_from, valid_to)} for set {name!r} overlaps set "
            f"{other['name']!r} ({_window_text(other['valid_from'], other['valid_to'])}) of family {family!r}; "
            f"only one set of a family is in force on a day: close the other one first "
            f"(ops-center wards set-validity {other['name']} --valid-to DATE) or choose another window"
        )


# ---------------------------------------------------------------------- import


def _insert_columns(conn: Conn, table: str, columns: tuple[str, ...], types: tuple[str, ...],
                    rows: list[tuple[Any, ...]]) -> None:
    """One INSERT ... SELECT FROM unnest(arrays): a single round trip, no pipeline (the PGlite test server of the
    timescale flavour does not take psycopg's pipelined executemany)."""
    if not rows:
        return
    cols = list(zip(*rows, strict=True))
    args = ", ".join(f"%s::{t}[]" for t in types)
    conn.execute(
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM unnest({args})",
        [list(c) for c in cols],
    )


def report_json(report: BoundaryReport, **extra: Any) -> dict[str, Any]:
    """A BoundaryReport as JSON-ready data (tuples become lists, NaN becomes None)."""

    def clean(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, tuple | list):
            return [clean(x) for x in v]
        return v

    out = {k: clean(v) for k, v in dataclasses.asdict(report).items()}
    out.update(extra)
    return out


def import_set(
    conn: Conn,
    bset: BoundarySet,
    *,
    name: str,
    level: str,
    valid_from: date,
    valid_to: date | None = None,
    description: str | None = None,
    family: str = DEFAULT_FAMILY,
    source: str | None = None,
    extra_report: Mapping[str, Any] | None = None,
) -> ImportResult:
    """Store a loaded boundary set as ``level`` of set ``name``, replacing what that level held, in one transaction
    (a savepoint when the caller already has one open). ``description`` None keeps the stored one."""
    check_name(name)
    check_name(family, "family")
    lvl = check_level(level)
    _check_window(valid_from, valid_to)
    if len(bset) == 0:
        raise GeoStoreError(f"file: {bset.report.source!r} has no usable units (all {bset.report.features} empty)")
    frame = bset.frame
    _check_units(frame, bset.report.source)
    geoms = np.asarray(frame.geometry.values, dtype=object)
    reps = shapely.point_on_surface(geoms)
    wkbs = shapely.to_wkb(geoms)
    rows = [
        (name, lvl, r.code, r.name, r.unit_type, r.parent_code, r.parent_name, float(r.area_km2),
         float(p.x), float(p.y), bytes(w))
        for r, p, w in zip(frame.itertuples(index=False), reps, wkbs, strict=True)
    ]
    rep = report_json(bset.report, units=len(rows), **dict(extra_report or {}))
    warnings: list[str] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        _check_overlap(conn, name, family, valid_from, valid_to)
        row = conn.execute(
            """
            INSERT INTO boundary_sets AS s (name, description, family, valid_from, valid_to, source, report)
            VALUES (%(name)s, COALESCE(%(description)s, ''), %(family)s, %(vf)s, %(vt)s, %(source)s,
                    jsonb_build_object(%(level)s::text, %(report)s::jsonb))
            ON CONFLICT (name) DO UPDATE SET
                description = COALESCE(%(description)s, s.description),
                family = EXCLUDED.family, valid_from = EXCLUDED.valid_from, valid_to = EXCLUDED.valid_to,
                source = COALESCE(EXCLUDED.source, s.source), imported_at = now(),
                report = s.report || EXCLUDED.report,
                generation = nextval('boundary_generation_seq')
            RETURNING generation
            """,
            {"name": name, "description": description, "family": family, "vf": valid_from, "vt": valid_to,
             "source": source, "level": lvl, "report": Jsonb(rep)},
        ).fetchone()
        assert row is not None
        generation = int(row[0])
        replaced = conn.execute(
            "DELETE FROM boundary_units WHERE set_name = %s AND level = %s", (name, lvl)
        ).rowcount
        _insert_columns(
            conn, "boundary_units",
            ("set_name", "level", "code", "name", "unit_type", "parent_code", "parent_name", "area_km2", "rep_lon",
             "rep_lat", "geom"),
            ("text", "text", "text", "text", "text", "text", "text", "float8", "float8", "float8", "bytea"),
            rows,
        )
        conn.execute(
            "DELETE FROM boundary_crosswalks WHERE (from_set = %(n)s AND from_level = %(l)s) "
            "OR (to_set = %(n)s AND to_level = %(l)s)",
            {"n": name, "l": lvl},
        )
        warnings += _parent_warnings(conn, name)
    return ImportResult(name, lvl, len(rows), max(replaced, 0), generation, rep, tuple(warnings))


def _parent_warnings(conn: Conn, name: str) -> list[str]:
    """When a set has both levels: ward parent codes that are not districts of the set, and the reverse."""
    row = fetch_one(
        conn,
        """
        SELECT
          (SELECT count(*) FROM boundary_units WHERE set_name = %(n)s AND level = 'district') AS districts,
          ARRAY(SELECT DISTINCT w.parent_code FROM boundary_units w
                WHERE w.set_name = %(n)s AND w.level = 'ward' AND w.parent_code IS NOT NULL
                  AND NOT EXISTS (SELECT 1 FROM boundary_units d WHERE d.set_name = %(n)s AND d.level = 'district'
                                  AND d.code = w.parent_code) ORDER BY 1) AS orphan_parents,
          ARRAY(SELECT d.code FROM boundary_units d WHERE d.set_name = %(n)s AND d.level = 'district'
                  AND NOT EXISTS (SELECT 1 FROM boundary_units w WHERE w.set_name = %(n)s AND w.level = 'ward'
                                  AND w.parent_code = d.code) ORDER BY 1) AS empty_districts
        """,
        {"n": name},
    )
    assert row is not None
    if not row["districts"]:
        return []
    out = []
    if row["orphan_parents"]:
        out.append(f"wards name district codes missing from the district level: {', '.join(row['orphan_parents'])}")
    has_wards = fetch_one(conn, "SELECT 1 AS x FROM boundary_units WHERE set_name = %s AND level = 'ward' LIMIT 1",
                          (name,))
    if has_wards and row["empty_districts"]:
        out.append(f"districts with no ward of the set: {', '.join(row['empty_districts'])}")
    return out


def set_validity(conn: Conn, name: str, valid_from: date | None = None, valid_to: date | str | None = "keep",
                 ) -> SetInfo:
    """Change a set's validity window (``valid_to=None`` opens it; the default ``"keep"`` leaves it)."""
    check_name(name)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        info = get_set(conn, name)
        if info is None:
            raise SetNotFound(f"set: {name!r} is not a boundary set")
        vf = valid_from or info.valid_from
        vt = info.valid_to if valid_to == "keep" else valid_to
        assert vt is None or isinstance(vt, date)
        _check_window(vf, vt)
        _check_overlap(conn, name, info.family, vf, vt)
        conn.execute("UPDATE boundary_sets SET valid_from = %s, valid_to = %s, "
                     "generation = nextval('boundary_generation_seq') WHERE name = %s", (vf, vt, name))
    out = get_set(conn, name)
    assert out is not None
    return out


def delete_set(conn: Conn, name: str) -> bool:
    check_name(name)
    return conn.execute("DELETE FROM boundary_sets WHERE name = %s", (name,)).rowcount > 0


# ---------------------------------------------------------------------- reading

_SET_SELECT = """
    SELECT s.name, s.description, s.family, s.valid_from, s.valid_to, s.source, s.imported_at, s.report,
           s.generation,
           COALESCE((SELECT jsonb_object_agg(level, n) FROM
                       (SELECT level, count(*) AS n FROM boundary_units u WHERE u.set_name = s.name GROUP BY level) c),
                    '{}'::jsonb) AS levels
    FROM boundary_sets s
"""


def _info(row: dict[str, Any]) -> SetInfo:
    return SetInfo(row["name"], row["description"], row["family"], row["valid_from"], row["valid_to"], row["source"],
                   row["imported_at"], row["report"] or {}, int(row["generation"]),
                   {k: int(v) for k, v in (row["levels"] or {}).items()})


def list_sets(conn: Conn, family: str | None = None) -> list[SetInfo]:
    sql = _SET_SELECT + (" WHERE s.family = %s" if family else "") + " ORDER BY s.family, s.valid_from, s.name"
    return [_info(r) for r in fetch_all(conn, sql, (family,) if family else None)]


def get_set(conn: Conn, name: str) -> SetInfo | None:
    check_name(name)
    row = fetch_one(conn, _SET_SELECT + " WHERE s.name = %s", (name,))
    return _info(row) if row else None


def generation(conn: Conn, name: str) -> int | None:
    row = conn.execute("SELECT generation FROM boundary_sets WHERE name = %s", (name,)).fetchone()
    return int(row[0]) if row else None


def in_force(conn: Conn, day: date, family: str = DEFAULT_FAMILY) -> tuple[str, int] | None:
    """(name, generation) of the set of ``family`` in force on local date ``day``."""
    row = conn.execute(
        "SELECT name, generation FROM boundary_sets WHERE family = %s AND valid_from <= %s "
        "AND (valid_to IS NULL OR valid_to >= %s) ORDER BY valid_from DESC LIMIT 1",
        (family, day, day),
    ).fetchone()
    return (str(row[0]), int(row[1])) if row else None


def load_units(conn: Conn, set_name: str, level: str) -> list[Unit]:
    """Units of one level of a set, by code."""
    rows = conn.execute(
        "SELECT code, name, unit_type, parent_code, parent_name, area_km2, rep_lon, rep_lat, geom "
        "FROM boundary_units WHERE set_name = %s AND level = %s ORDER BY code",
        (set_name, level),
    ).fetchall()
    return [Unit(r[0], r[1], r[2], r[3], r[4], float(r[5]), float(r[6]), float(r[7]), bytes(r[8])) for r in rows]


# ---------------------------------------------------------------------- crosswalks


@dataclass(frozen=True, slots=True)
class StoredCrosswalk:
    from_set: str
    from_level: str
    to_set: str
    to_level: str
    from_generation: int
    to_generation: int
    computed_at: datetime
    stats: dict[str, Any]
    rows: list[tuple[str, str, float, float, float]]  # (from_code, to_code, fraction, area_share, area_km2)
    coverage: dict[str, tuple[float, float]]  # from_code -> (covered share, from area km²)

    def fractions(self) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for f, t, frac, _, _ in self.rows:
            out.setdefault(f, {})[t] = frac
        return out


def save_crosswalk(conn: Conn, cw: Crosswalk, *, from_set: str, from_level: str, to_set: str, to_level: str,
                   from_generation: int, to_generation: int, stats: Mapping[str, Any]) -> None:
    """Replace the stored crosswalk between the two (set, level) pairs."""
    key = (from_set, from_level, to_set, to_level)
    with conn.transaction():
        conn.execute("DELETE FROM boundary_crosswalks WHERE from_set = %s AND from_level = %s AND to_set = %s "
                     "AND to_level = %s", key)
        conn.execute(
            "INSERT INTO boundary_crosswalks (from_set, from_level, to_set, to_level, from_generation, "
            "to_generation, stats) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (*key, from_generation, to_generation, Jsonb(dict(stats))),
        )
        _insert_columns(
            conn, "boundary_crosswalk",
            ("from_set", "from_level", "to_set", "to_level", "from_code", "to_code", "fraction", "area_share",
             "area_km2"),
            ("text", "text", "text", "text", "text", "text", "float8", "float8", "float8"),
            [(*key, r.from_code, r.to_code, min(r.fraction, 1.0), r.area_share, r.area_km2) for r in cw.rows],
        )
        _insert_columns(
            conn, "boundary_crosswalk_coverage",
            ("from_set", "from_level", "to_set", "to_level", "from_code", "covered", "from_area_km2"),
            ("text", "text", "text", "text", "text", "float8", "float8"),
            [(*key, code, cov, cw.from_area_km2[code]) for code, cov in cw.covered.items()],
        )


def load_crosswalk(conn: Conn, from_set: str, from_level: str, to_set: str, to_level: str,
                   ) -> StoredCrosswalk | None:
    key = (from_set, from_level, to_set, to_level)
    head = fetch_one(conn, "SELECT * FROM boundary_crosswalks WHERE from_set = %s AND from_level = %s "
                           "AND to_set = %s AND to_level = %s", key)
    if head is None:
        return None
    where = "WHERE from_set = %s AND from_level = %s AND to_set = %s AND to_level = %s"
    rows = conn.execute(
        f"SELECT from_code, to_code, fraction, area_share, area_km2 FROM boundary_crosswalk {where} "
        "ORDER BY from_code, fraction DESC, to_code", key).fetchall()
    cov = conn.execute(
        f"SELECT from_code, covered, from_area_km2 FROM boundary_crosswalk_coverage {where} ORDER BY from_code",
        key).fetchall()
    return StoredCrosswalk(
        from_set, from_level, to_set, to_level, int(head["from_generation"]), int(head["to_generation"]),
        head["computed_at"], head["stats"] or {},
        [(r[0], r[1], float(r[2]), float(r[3]), float(r[4])) for r in rows],
        {r[0]: (float(r[1]), float(r[2])) for r in cov},
    )


def unit_names(conn: Conn, set_name: str, level: str, codes: Iterable[str] | None = None) -> dict[str, str]:
    sql = "SELECT code, name FROM boundary_units WHERE set_name = %s AND level = %s"
    params: list[Any] = [set_name, level]
    if codes is not None:
        sql += " AND code = ANY(%s)"
        params.append(list(codes))
    return {r[0]: r[1] for r in conn.execute(sql, params).fetchall()}
