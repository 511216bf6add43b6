"""The device registry in PostgreSQL: devices, gateways, owning units, device kinds; what ingest reads and bumps.

Every function runs in the caller's transaction (the caller commits). Inputs are checked here, whoever calls (API,
CLI, simulator), and refusals raise ``RegistryError`` subclasses that name the field and the value. Credentials are
``ops_center.devices.credentials``' job: the API creates a device and issues its credentials in one transaction.

For ingest: ``load_registry`` (every device and gateway, with what the decoder needs), ``registry_stamp`` (cheap
change detector for a periodic refresh), ``record_seen`` (bump ``last_seen`` once per batch) and ``record_status``
(the retained ``online``/``offline`` status or last will; emits a ``device_status`` event when it changes).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final, TypeVar

import psycopg
from psycopg.types.json import Jsonb

from ops_center import events
from ops_center.db import Conn, fetch_all, fetch_one
from ops_center.devices.models import (
    GATEWAY_KIND,
    STALE_FACTOR,
    Conflict,
    Device,
    DeviceFilter,
    DeviceKind,
    Gateway,
    GatewayFilter,
    InvalidValue,
    NotFound,
    Page,
    RegistryEntry,
    Unit,
    WardAssignment,
    shown,
)
from ops_center.devices.text import fold, like_pattern
from ops_center.devices.validate import (
    check_id,
    check_interval,
    check_location,
    check_metadata,
    check_name,
    check_search,
    check_unit_code,
)

MAX_PAGE: Final = 500
T = TypeVar("T")
UNIT_LEVELS: Final = ("province", "department", "district", "commune", "other")
STATES: Final = ("online", "offline")

# ----------------------------------------------------------------------------------------------------- device kinds


def list_kinds(conn: Conn) -> list[DeviceKind]:
    rows = fetch_all(conn, "SELECT code, label_vi, label_en, default_interval_s, metrics FROM device_kinds "
                           "ORDER BY code")
    return [DeviceKind(r["code"], r["label_vi"], r["label_en"], r["default_interval_s"], tuple(r["metrics"]))
            for r in rows]


def _kind(conn: Conn, value: object) -> DeviceKind:
    kinds = {k.code: k for k in list_kinds(conn)}
    if type(value) is str and value in kinds:
        return kinds[value]
    raise InvalidValue("kind", value, f"value {shown(value)} is not a known device kind "
                                      f"(one of: {', '.join(sorted(kinds))})")


# ------------------------------------------------------------------------------------------------------------ units


def _unit(row: Mapping[str, Any]) -> Unit:
    return Unit(row["code"], row["name"], row["level"], row["parent_code"], row["ward_code"])


def get_unit(conn: Conn, code: str) -> Unit | None:
    row = fetch_one(conn, "SELECT code, name, level, parent_code, ward_code FROM units WHERE code = %s", (code,))
    return _unit(row) if row else None


def _require_unit(conn: Conn, field: str, code: object) -> str:
    code = check_unit_code(field, code)
    if get_unit(conn, code) is None:
        raise InvalidValue(field, code, f"value {shown(code)} is not a registered unit")
    return code


def _level(value: object) -> str:
    if value not in UNIT_LEVELS:
        raise InvalidValue("level", value, f"value {shown(value)} is not one of {', '.join(UNIT_LEVELS)}")
    return str(value)


def create_unit(conn: Conn, code: str, name: str, level: str, parent_code: str | None = None,
                ward_code: str | None = None) -> Unit:
    code = check_unit_code("code", code)
    name = check_name("name", name)
    level = _level(level)
    if parent_code is not None:
        parent_code = _require_unit(conn, "parent_code", parent_code)
    if ward_code is not None:
        ward_code = check_unit_code("ward_code", ward_code)
    if get_unit(conn, code) is not None:
        raise Conflict("code", code, f"value {shown(code)} is already a unit")
    try:
        with conn.transaction():
            conn.execute("INSERT INTO units (code, name, level, parent_code, ward_code) VALUES (%s, %s, %s, %s, %s)",
                         (code, name, level, parent_code, ward_code))
    except psycopg.errors.UniqueViolation:
        raise Conflict("code", code, f"value {shown(code)} is already a unit") from None
    unit = get_unit(conn, code)
    assert unit is not None
    return unit


def update_unit(conn: Conn, code: str, changes: Mapping[str, Any]) -> Unit:
    unit = get_unit(conn, code)
    if unit is None:
        raise NotFound("code", code, f"no unit {shown(code)}")
    sets: dict[str, Any] = {}
    for key, value in changes.items():
        if key == "name":
            sets["name"] = check_name("name", value)
        elif key == "level":
            sets["level"] = _level(value)
        elif key == "parent_code":
            if value == code:
                raise InvalidValue("parent_code", value, f"value {shown(value)} is the unit itself")
            sets["parent_code"] = None if value is None else _require_unit(conn, "parent_code", value)
        elif key == "ward_code":
            sets["ward_code"] = None if value is None else check_unit_code("ward_code", value)
        else:
            raise InvalidValue(key, value, "is not a field of a unit that can be changed")
    if sets:
        _update(conn, "units", "code", code, sets, touch=False)
    result = get_unit(conn, code)
    assert result is not None
    return result


def list_units(conn: Conn, *, after: str | None = None, limit: int = 50) -> Page[Unit]:
    rows = fetch_all(conn, "SELECT code, name, level, parent_code, ward_code FROM units "
                           "WHERE %(after)s::text IS NULL OR code > %(after)s ORDER BY code LIMIT %(n)s",
                     {"after": after, "n": _limit(limit) + 1})
    return _page([_unit(r) for r in rows], limit, lambda u: u.code)


# ---------------------------------------------------------------------------------------------------------- devices

_STALE_SQL: Final = (f"(d.last_seen IS NULL "
                     f"OR d.last_seen < now() - make_interval(secs => d.expected_interval_s * {STALE_FACTOR}))")
_DEVICE_SELECT: Final = f"""
    SELECT d.id, d.kind, d.name, d.lon, d.lat, d.ward_set, d.ward_code, d.ward_status, d.unit_code, d.gateway_id,
           d.enabled, d.last_seen, d.expected_interval_s, d.metadata, d.created_at, d.updated_at,
           s.state AS status, s.at AS status_at, {_STALE_SQL} AS stale
    FROM devices d LEFT JOIN device_status s ON s.device_id = d.id
"""


_STATE_SQL: Final = {  # the same decision as Device.state
    "disabled": "NOT d.enabled",
    "stale": f"d.enabled AND {_STALE_SQL}",
    "offline": f"d.enabled AND NOT {_STALE_SQL} AND s.state = 'offline'",
    "online": f"d.enabled AND NOT {_STALE_SQL} AND s.state IS DISTINCT FROM 'offline'",
}


def _device(row: Mapping[str, Any]) -> Device:
    return Device(**row)


def get_device(conn: Conn, device_id: str) -> Device | None:
    row = fetch_one(conn, _DEVICE_SELECT + " WHERE d.id = %s", (device_id,))
    return _device(row) if row else None


def require_device(conn: Conn, device_id: str) -> Device:
    device = get_device(conn, device_id)
    if device is None:
        raise NotFound("device_id", device_id, f"no device {shown(device_id)}")
    return device


def get_devices(conn: Conn, device_ids: list[str]) -> list[Device]:
    """The devices of ``device_ids`` that exist, by id."""
    rows = fetch_all(conn, _DEVICE_SELECT + " WHERE d.id = ANY(%s) ORDER BY d.id", (device_ids,))
    return [_device(r) for r in rows]


def _id_free(conn: Conn, principal_id: str) -> None:
    """Devices and gateways share one namespace (their ids are MQTT usernames)."""
    row = conn.execute("SELECT 'device' FROM devices WHERE id = %(id)s UNION ALL "
                       "SELECT 'gateway' FROM gateways WHERE id = %(id)s", {"id": principal_id}).fetchone()
    if row is not None:
        raise Conflict("id", principal_id, f"value {shown(principal_id)} is already the id of a {row[0]}")


def _require_gateway(conn: Conn, gateway_id: object) -> str:
    gateway_id = check_id("gateway_id", gateway_id, "gateway id")
    if not conn.execute("SELECT 1 FROM gateways WHERE id = %s", (gateway_id,)).fetchone():
        raise InvalidValue("gateway_id", gateway_id, f"value {shown(gateway_id)} is not a registered gateway")
    return gateway_id


def _ward_values(ward: WardAssignment | None) -> tuple[str | None, str | None, str | None]:
    return (ward.set_name, ward.code, ward.status) if ward is not None else (None, None, None)


def create_device(
    conn: Conn,
    device_id: str,
    *,
    kind: str,
    name: str,
    lon: float | None = None,
    lat: float | None = None,
    unit_code: str | None = None,
    gateway_id: str | None = None,
    expected_interval_s: int | None = None,
    metadata: Mapping[str, Any] | None = None,
    enabled: bool = True,
    ward: WardAssignment | None = None,
) -> Device:
    """Register a device (no credentials: see ``credentials.issue``). ``expected_interval_s`` defaults to the
    kind's; ``ward`` is where geo placed ``(lon, lat)``."""
    device_id = check_id("id", device_id, "device id")
    kind_row = _kind(conn, kind)
    name = check_name("name", name)
    lon, lat = check_location(lon, lat)
    if unit_code is not None:
        unit_code = _require_unit(conn, "unit_code", unit_code)
    if gateway_id is not None:
        gateway_id = _require_gateway(conn, gateway_id)
    interval = kind_row.default_interval_s if expected_interval_s is None else check_interval(
        "expected_interval_s", expected_interval_s)
    meta = check_metadata("metadata", {} if metadata is None else metadata)
    if type(enabled) is not bool:
        raise InvalidValue("enabled", enabled, f"value {shown(enabled)} is not true or false")
    _id_free(conn, device_id)
    ward_set, ward_code, ward_status = _ward_values(ward if lon is not None else None)
    try:
        with conn.transaction():
            conn.execute(
                "INSERT INTO devices (id, kind, name, name_search, lon, lat, ward_set, ward_code, ward_status, "
                "unit_code, gateway_id, enabled, expected_interval_s, metadata) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (device_id, kind_row.code, name, fold(name), lon, lat, ward_set, ward_code, ward_status, unit_code,
                 gateway_id, enabled, interval, Jsonb(meta)),
            )
    except psycopg.errors.UniqueViolation:
        raise Conflict("id", device_id, f"value {shown(device_id)} is already registered") from None
    return require_device(conn, device_id)


_DEVICE_EDITABLE: Final = ("kind", "name", "lon", "lat", "unit_code", "gateway_id", "expected_interval_s", "metadata")
_UNSET: Final[Any] = object()


def update_device(conn: Conn, device_id: str, changes: Mapping[str, Any],
                  *, ward: WardAssignment | None = None) -> Device:
    """Change the given fields (``None`` clears ``lon``/``lat`` together, ``unit_code``, ``gateway_id``).

    Changing the location replaces the ward with ``ward`` (None clears it: a stale ward is worse than none).
    ``enabled`` is not changed here: ``set_device_enabled`` also revokes or restores credentials.
    """
    current = require_device(conn, device_id)
    sets: dict[str, Any] = {}
    for key, value in changes.items():
        if key not in _DEVICE_EDITABLE:
            hint = " (use disable/enable)" if key == "enabled" else ""
            raise InvalidValue(key, value, f"is not a field of a device that can be changed{hint}")
        if key == "kind":
            sets["kind"] = _kind(conn, value).code
        elif key == "name":
            sets["name"] = check_name("name", value)
            sets["name_search"] = fold(sets["name"])
        elif key == "unit_code":
            sets["unit_code"] = None if value is None else _require_unit(conn, "unit_code", value)
        elif key == "gateway_id":
            sets["gateway_id"] = None if value is None else _require_gateway(conn, value)
        elif key == "expected_interval_s":
            sets["expected_interval_s"] = check_interval(key, value)
        elif key == "metadata":
            sets["metadata"] = Jsonb(check_metadata(key, value))
    if "lon" in changes or "lat" in changes:
        lon = changes.get("lon", _UNSET)
        lat = changes.get("lat", _UNSET)
        if lon is _UNSET or lat is _UNSET:  # one coordinate alone: the other stays, unless it is being cleared
            lon = current.lon if lon is _UNSET else lon
            lat = current.lat if lat is _UNSET else lat
        sets["lon"], sets["lat"] = check_location(lon, lat)
        located = sets["lon"] is not None
        sets["ward_set"], sets["ward_code"], sets["ward_status"] = _ward_values(ward if located else None)
    if sets:
        _update(conn, "devices", "id", device_id, sets)
    return require_device(conn, device_id)


def set_device_ward(conn: Conn, device_id: str, ward: WardAssignment | None) -> None:
    """Store where geo placed the device (``ward`` None clears it)."""
    ward_set, code, status = _ward_values(ward)
    conn.execute("UPDATE devices SET ward_set = %s, ward_code = %s, ward_status = %s, updated_at = now() "
                 "WHERE id = %s", (ward_set, code, status, device_id))


def set_device_enabled(conn: Conn, device_id: str, enabled: bool) -> Device:
    require_device(conn, device_id)
    conn.execute("UPDATE devices SET enabled = %s, updated_at = now() WHERE id = %s", (enabled, device_id))
    return require_device(conn, device_id)


def delete_device(conn: Conn, device_id: str) -> Device:
    """Remove the device and its status (its readings and dead letters stay: history is kept)."""
    device = require_device(conn, device_id)
    conn.execute("DELETE FROM device_status WHERE device_id = %s", (device_id,))
    conn.execute("DELETE FROM devices WHERE id = %s", (device_id,))
    return device


def list_devices(conn: Conn, filters: DeviceFilter | None = None, *, after: str | None = None,
                 limit: int = 50) -> Page[Device]:
    """Devices by id, after the id ``after``; every given filter must match."""
    f = filters or DeviceFilter()
    where = ["(%(after)s::text IS NULL OR d.id > %(after)s)"]
    params: dict[str, Any] = {"after": after, "n": _limit(limit) + 1}
    for column, value in (("kind", f.kind), ("ward_code", f.ward_code), ("unit_code", f.unit_code),
                          ("gateway_id", f.gateway_id), ("enabled", f.enabled)):
        if value is not None:
            where.append(f"d.{column} = %({column})s")
            params[column] = value
    _search(f.q, "d", where, params)
    if f.state is not None:
        if f.state not in _STATE_SQL:
            raise InvalidValue("state", f.state, f"value {shown(f.state)} is not one of {', '.join(_STATE_SQL)}")
        where.append(_STATE_SQL[f.state])
    if f.ids is not None:
        where.append("d.id = ANY(%(ids)s)")
        params["ids"] = list(f.ids)
    rows = fetch_all(conn, _DEVICE_SELECT + " WHERE " + " AND ".join(where) + " ORDER BY d.id LIMIT %(n)s", params)
    return _page([_device(r) for r in rows], limit, lambda d: d.id)


def _search(q: str | None, alias: str, where: list[str], params: dict[str, Any]) -> None:
    if q is None:
        return
    q = check_search("q", q)
    if not q:
        return
    params["like"] = like_pattern(q)
    params["folded"] = like_pattern(fold(q))
    where.append(f"({alias}.id ILIKE %(like)s OR {alias}.name ILIKE %(like)s "
                 f"OR coalesce({alias}.name_search, lower({alias}.name)) LIKE %(folded)s)")


# --------------------------------------------------------------------------------------------------------- gateways

_GATEWAY_SELECT: Final = """
    SELECT g.id, g.name, g.lon, g.lat, g.ward_set, g.ward_code, g.ward_status, g.unit_code, g.enabled, g.last_seen,
           g.metadata, g.created_at, g.updated_at,
           (SELECT count(*) FROM devices d WHERE d.gateway_id = g.id)::int AS device_count,
           s.state AS status, s.at AS status_at
    FROM gateways g LEFT JOIN device_status s ON s.device_id = g.id
"""


def get_gateway(conn: Conn, gateway_id: str) -> Gateway | None:
    row = fetch_one(conn, _GATEWAY_SELECT + " WHERE g.id = %s", (gateway_id,))
    return Gateway(**row) if row else None


def require_gateway(conn: Conn, gateway_id: str) -> Gateway:
    gateway = get_gateway(conn, gateway_id)
    if gateway is None:
        raise NotFound("gateway_id", gateway_id, f"no gateway {shown(gateway_id)}")
    return gateway


def create_gateway(conn: Conn, gateway_id: str, *, name: str, lon: float | None = None, lat: float | None = None,
                   unit_code: str | None = None, metadata: Mapping[str, Any] | None = None, enabled: bool = True,
                   ward: WardAssignment | None = None) -> Gateway:
    gateway_id = check_id("id", gateway_id, "gateway id")
    name = check_name("name", name)
    lon, lat = check_location(lon, lat)
    if unit_code is not None:
        unit_code = _require_unit(conn, "unit_code", unit_code)
    meta = check_metadata("metadata", {} if metadata is None else metadata)
    if type(enabled) is not bool:
        raise InvalidValue("enabled", enabled, f"value {shown(enabled)} is not true or false")
    _id_free(conn, gateway_id)
    ward_set, ward_code, ward_status = _ward_values(ward if lon is not None else None)
    try:
        with conn.transaction():
            conn.execute(
                "INSERT INTO gateways (id, name, name_search, lon, lat, ward_set, ward_code, ward_status, unit_code, "
                "enabled, metadata) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (gateway_id, name, fold(name), lon, lat, ward_set, ward_code, ward_status, unit_code, enabled,
                 Jsonb(meta)),
            )
    except psycopg.errors.UniqueViolation:
        raise Conflict("id", gateway_id, f"value {shown(gateway_id)} is already registered") from None
    return require_gateway(conn, gateway_id)


_GATEWAY_EDITABLE: Final = ("name", "lon", "lat", "unit_code", "metadata")


def update_gateway(conn: Conn, gateway_id: str, changes: Mapping[str, Any],
                   *, ward: WardAssignment | None = None) -> Gateway:
    current = require_gateway(conn, gateway_id)
    sets: dict[str, Any] = {}
    for key, value in changes.items():
        if key not in _GATEWAY_EDITABLE:
            hint = " (use disable/enable)" if key == "enabled" else ""
            raise InvalidValue(key, value, f"is not a field of a gateway that can be changed{hint}")
        if key == "name":
            sets["name"] = check_name("name", value)
            sets["name_search"] = fold(sets["name"])
        elif key == "unit_code":
            sets["unit_code"] = None if value is None else _require_unit(conn, "unit_code", value)
        elif key == "metadata":
            sets["metadata"] = Jsonb(check_metadata(key, value))
    if "lon" in changes or "lat" in changes:
        lon = changes.get("lon", _UNSET)
        lat = changes.get("lat", _UNSET)
        if lon is _UNSET or lat is _UNSET:
            lon = current.lon if lon is _UNSET else lon
            lat = current.lat if lat is _UNSET else lat
        sets["lon"], sets["lat"] = check_location(lon, lat)
        located = sets["lon"] is not None
        sets["ward_set"], sets["ward_code"], sets["ward_status"] = _ward_values(ward if located else None)
    if sets:
        _update(conn, "gateways", "id", gateway_id, sets)
    return require_gateway(conn, gateway_id)


def set_gateway_enabled(conn: Conn, gateway_id: str, enabled: bool) -> Gateway:
    require_gateway(conn, gateway_id)
    conn.execute("UPDATE gateways SET enabled = %s, updated_at = now() WHERE id = %s", (enabled, gateway_id))
    return require_gateway(conn, gateway_id)


def delete_gateway(conn: Conn, gateway_id: str) -> Gateway:
    """Remove a gateway that no device sits behind any more (else ``Conflict`` naming how many do)."""
    gateway = require_gateway(conn, gateway_id)
    if gateway.device_count:
        raise Conflict("gateway_id", gateway_id, f"{gateway.device_count} device(s) are registered behind gateway "
                                                 f"{shown(gateway_id)}; move or delete them first")
    conn.execute("DELETE FROM device_status WHERE device_id = %s", (gateway_id,))
    conn.execute("DELETE FROM gateways WHERE id = %s", (gateway_id,))
    return gateway


def list_gateways(conn: Conn, filters: GatewayFilter | None = None, *, after: str | None = None,
                  limit: int = 50) -> Page[Gateway]:
    f = filters or GatewayFilter()
    where = ["(%(after)s::text IS NULL OR g.id > %(after)s)"]
    params: dict[str, Any] = {"after": after, "n": _limit(limit) + 1}
    for column, value in (("unit_code", f.unit_code), ("ward_code", f.ward_code), ("enabled", f.enabled)):
        if value is not None:
            where.append(f"g.{column} = %({column})s")
            params[column] = value
    _search(f.q, "g", where, params)
    rows = fetch_all(conn, _GATEWAY_SELECT + " WHERE " + " AND ".join(where) + " ORDER BY g.id LIMIT %(n)s", params)
    return _page([Gateway(**r) for r in rows], limit, lambda g: g.id)


# --------------------------------------------------------------------------------------------------- for ingest


def _registry_sql(only: str) -> str:
    return ("SELECT id, enabled, gateway_id, kind, ward_code, lon, lat, expected_interval_s, name, ward_set, "
            "unit_code FROM devices" + only + " UNION ALL "
            "SELECT id, enabled, NULL, %(gw)s, ward_code, lon, lat, NULL, name, ward_set, unit_code FROM gateways" + only)


REGISTRY_SQL: Final = _registry_sql("")
"""Every device and gateway as ``RegistryEntry`` fields, in order (parameters ``registry_params()``)."""
REGISTRY_STAMP_SQL: Final = (
    "SELECT (SELECT count(*) || '/' || coalesce(max(updated_at)::text, '') FROM devices) || '|' || "
    "(SELECT count(*) || '/' || coalesce(max(updated_at)::text, '') FROM gateways)")
"""One text that changes whenever a device or gateway is added, changed or removed."""


def registry_params(ids: list[str] | None = None) -> dict[str, Any]:
    return {"gw": GATEWAY_KIND, "ids": ids}


def load_registry(conn: Conn, ids: list[str] | None = None) -> dict[str, RegistryEntry]:
    """Every device and gateway by id (or only those of ``ids``), with what ingest needs (gateways have
    ``kind == "gateway"``)."""
    sql = REGISTRY_SQL if ids is None else _registry_sql(" WHERE id = ANY(%(ids)s)")
    rows = conn.execute(sql, registry_params(ids)).fetchall()
    return {r[0]: RegistryEntry(*r) for r in rows}


def registry_stamp(conn: Conn) -> str:
    """Changes whenever a device or gateway is added, changed or removed: refresh the registry when it does."""
    row = conn.execute(REGISTRY_STAMP_SQL).fetchone()
    assert row is not None
    return str(row[0])


def _epoch(value: float | datetime) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


def record_seen(conn: Conn, seen: Mapping[str, float | datetime], *, min_step_s: float = 0.0) -> int:
    """Move ``last_seen`` of each device or gateway forward to the given time (epoch seconds or an aware datetime)
    if it is later by more than ``min_step_s``; one statement per batch. Rows are locked in id order, so concurrent
    ingest processes never deadlock on them. Returns how many rows moved.

    Writing a row is the cost (about 30 µs a row here); at high rates pass ``min_step_s`` of a few seconds: a device
    that reports every second then costs one write per ``min_step_s``, and staleness (2 x the expected interval,
    minutes) is unaffected."""
    if not seen:
        return 0
    ids = sorted(seen)
    times = [_epoch(seen[i]) for i in ids]
    row = conn.execute(
        """
        WITH v AS (SELECT id, to_timestamp(t) AS t FROM unnest(%(ids)s::text[], %(times)s::float8[]) AS v(id, t)),
        dl AS (SELECT d.id FROM devices d JOIN v ON v.id = d.id
               WHERE d.last_seen IS NULL OR d.last_seen < v.t - make_interval(secs => %(step)s)
               ORDER BY d.id FOR UPDATE OF d),
        gl AS (SELECT g.id FROM gateways g JOIN v ON v.id = g.id
               WHERE g.last_seen IS NULL OR g.last_seen < v.t - make_interval(secs => %(step)s)
               ORDER BY g.id FOR UPDATE OF g),
        du AS (UPDATE devices d SET last_seen = GREATEST(d.last_seen, v.t) FROM v
               WHERE d.id = v.id AND d.id IN (SELECT id FROM dl) RETURNING 1),
        gu AS (UPDATE gateways g SET last_seen = GREATEST(g.last_seen, v.t) FROM v
               WHERE g.id = v.id AND g.id IN (SELECT id FROM gl) RETURNING 1)
        SELECT (SELECT count(*) FROM du) + (SELECT count(*) FROM gu)
        """,
        {"ids": ids, "times": times, "step": float(min_step_s)},
    ).fetchone()
    return int(row[0]) if row else 0


def record_status(conn: Conn, device_id: str, state: str, at: float | datetime) -> bool:
    """Store a device's (or gateway's) ``online``/``offline`` status said at ``at``; an older status than the one
    stored is ignored. Emits a ``device_status`` event when the state changes; returns whether it did."""
    if state not in STATES:
        raise InvalidValue("state", state, f"value {shown(state)} is not one of {', '.join(STATES)}")
    ts = _epoch(at)
    old = conn.execute("SELECT state, extract(epoch FROM at) FROM device_status WHERE device_id = %s FOR UPDATE",
                       (device_id,)).fetchone()
    if old is not None and float(old[1]) > ts:
        return False
    conn.execute(
        "INSERT INTO device_status (device_id, state, at) VALUES (%s, %s, to_timestamp(%s)) "
        "ON CONFLICT (device_id) DO UPDATE SET state = EXCLUDED.state, at = EXCLUDED.at",
        (device_id, state, ts),
    )
    if old is not None and old[0] == state:
        return False
    who = fetch_one(conn, "SELECT kind, name, ward_code FROM devices WHERE id = %(id)s UNION ALL "
                          "SELECT %(gw)s, name, ward_code FROM gateways WHERE id = %(id)s",
                    {"id": device_id, "gw": GATEWAY_KIND})
    payload = {"device_id": device_id, "state": state, "at": ts, "previous": old[0] if old else None,
               "kind": who["kind"] if who else None, "name": who["name"] if who else None}
    events.emit(conn, "device_status", payload, subject=device_id, ward_code=who["ward_code"] if who else None)
    return True


# ---------------------------------------------------------------------------------------------------------- helpers


def _limit(limit: int) -> int:
    if type(limit) is not int or not 1 <= limit <= MAX_PAGE:
        raise InvalidValue("limit", limit, f"value {shown(limit)} is outside [1, {MAX_PAGE}]")
    return limit


def _page(items: list[T], limit: int, key: Any) -> Page[T]:
    more = len(items) > limit
    items = items[:limit]
    return Page(items, key(items[-1]) if more and items else None)


def _update(conn: Conn, table: str, key_column: str, key: str, sets: Mapping[str, Any], touch: bool = True) -> None:
    """``UPDATE table SET ...`` for known column names (never user input) and bound values."""
    assignments = [f"{column} = %({column})s" for column in sets]
    if touch:
        assignments.append("updated_at = now()")
    conn.execute(f"UPDATE {table} SET {', '.join(assignments)} WHERE {key_column} = %(__key)s",
                 {**sets, "__key": key})
