"""Map summaries: one feature per ward (or district) of a boundary set with per-layer figures for a time window.

Layers:

- ``devices`` (built in): ``devices: {total, online, stale}`` — enabled devices placed in the unit by their
  coordinates (bulk assignment in the summary's set, so a 2019 summary places today's devices in 2019 wards), or by
  their stored ward when they have no coordinates. A device is *online* when its ``last_seen`` is at most
  ``ONLINE_FACTOR`` × ``expected_interval_s`` old, else *stale* (never seen counts as stale).
- ``sensors`` (built in): ``water_level_cm_max``, ``salinity_ppt_max`` (maximum over the unit's devices in the
  window), ``rain_mm_total`` (rain fallen in the window: each gauge's total, averaged over the unit's gauges — rain
  is a depth, so gauges are averaged, not added), and the current state: ``water_level_cm_latest``,
  ``salinity_ppt_latest`` (highest latest value among the unit's devices) and ``latest_reading_at``. Read from the
  readings store's hourly and daily rollups only (``ReadingsStore.window_aggregates``: whole local days from the
  daily rollup, the hours at either end from the hourly one, one statement; never raw readings).
- anything registered with ``register_layer(name, fn, defaults=...)``: ``fn(conn, set_name, level, start, end)``
  returns ``{code: {property: value}}``; units it leaves out get ``defaults``. The API registers ``alerts``,
  ``incidents`` and ``dossiers`` when those domains provide their functions.

The window is rounded outward to whole hours (local time), so every figure comes from a rollup; the response says
which window and which boundary set it used.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import orjson

from geo import service, shapes, store
from geo.service import IndexedSet
from geo.store import DEFAULT_FAMILY, GeoStoreError, SetInfo, SetNotFound
from ops_center.db import Conn
from ops_center.db_errors import is_retryable
from ops_center.devices import lookups as device_lookups
from ops_center.readings import ReadingsStore, WindowAggregate
from ops_center.settings import LOCAL_TZ

log = logging.getLogger("geo.summary")

LayerFn = Callable[[Conn, str, str, datetime, datetime], Mapping[str, Mapping[str, Any]]]
BUILTIN_LAYERS = ("devices", "sensors")
KNOWN_LAYERS = ("devices", "sensors", "alerts", "incidents", "dossiers", "scorecard")
ONLINE_FACTOR = 2.0
DEFAULT_WINDOW = timedelta(hours=24)
MAX_WINDOW = timedelta(days=400)
DEFAULT_SIMPLIFY_M = 30.0
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class SensorField:
    metric: str
    agg: str  # "max" or "sum"
    prop: str


SENSOR_FIELDS = (
    SensorField("water_level_cm", "max", "water_level_cm_max"),
    SensorField("salinity_ppt", "max", "salinity_ppt_max"),
    SensorField("rain_mm", "sum", "rain_mm_total"),
)
SENSOR_METRICS = tuple(f.metric for f in SENSOR_FIELDS)
LATEST_FIELDS = (("water_level_cm", "water_level_cm_latest"), ("salinity_ppt", "salinity_ppt_latest"))


# ---------------------------------------------------------------------- layer registry


@dataclass(frozen=True, slots=True)
class LayerSpec:
    name: str
    fn: LayerFn
    defaults: Mapping[str, Any]


_registry: dict[str, LayerSpec] = {}
_registry_lock = threading.Lock()


def register_layer(name: str, fn: LayerFn, *, defaults: Mapping[str, Any] | None = None,
                   numeric: Mapping[str, str] | None = None) -> None:
    """Add (or replace) a summary layer. ``fn(conn, set_name, level, start, end) -> {code: {prop: value}}``;
    ``numeric`` names the flat properties it provides that a PNG choropleth may colour by, with their labels."""
    store.check_name(name, "layer")
    if name in BUILTIN_LAYERS:
        raise ValueError(f"layer: {name!r} is built in")
    with _registry_lock:
        _registry[name] = LayerSpec(name, fn, dict(defaults or {}))
        for prop, label in (numeric or {}).items():
            NUMERIC_PROPERTIES[prop] = (prop, label)
            _numeric_layer[prop] = name


def unregister_layer(name: str) -> None:
    with _registry_lock:
        _registry.pop(name, None)


def available_layers() -> tuple[str, ...]:
    with _registry_lock:
        return BUILTIN_LAYERS + tuple(sorted(_registry))


# ---------------------------------------------------------------------- query


class SummaryError(ValueError):
    """A summary request that cannot be answered: ``status`` 422 (bad value) or 404 (no such set)."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class SummaryQuery:
    set_name: str
    level: str
    start: datetime
    end: datetime
    layers: tuple[str, ...]
    unavailable: tuple[str, ...]
    simplify_m: float
    requested_start: datetime | None = None
    requested_end: datetime | None = None


def _floor_hour(t: datetime) -> datetime:
    t = t.astimezone(LOCAL_TZ)
    return t.replace(minute=0, second=0, microsecond=0)


def _ceil_hour(t: datetime) -> datetime:
    f = _floor_hour(t)
    return f if f == t else f + HOUR


def _floor_day(t: datetime) -> datetime:
    return t.astimezone(LOCAL_TZ).replace(hour=0, minute=0, second=0, microsecond=0)


def _ceil_day(t: datetime) -> datetime:
    f = _floor_day(t)
    return f if f == t else f + DAY


def parse_layers(value: str | Sequence[str] | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(layers to compute, requested layers not available in this process). None: every available layer."""
    available = available_layers()
    if value is None:
        return available, ()
    items = [p.strip() for p in (value.split(",") if isinstance(value, str) else value)]
    items = [p for p in items if p]
    if not items:
        raise SummaryError("layers: empty; give a comma-separated list such as devices,sensors")
    out: list[str] = []
    missing: list[str] = []
    for item in items:
        if item not in available and item not in KNOWN_LAYERS:
            raise SummaryError(f"layers: {item[:60]!r} is not a layer (known: {', '.join(KNOWN_LAYERS)})")
        target = out if item in available else missing
        if item not in target:
            target.append(item)
    return tuple(out), tuple(missing)


def resolve(conn: Conn, *, set_name: str | None = None, level: str = "ward", start: datetime | None = None,
            end: datetime | None = None, layers: str | Sequence[str] | None = None,
            simplify_m: float = DEFAULT_SIMPLIFY_M, now: datetime | None = None,
            family: str = DEFAULT_FAMILY) -> SummaryQuery:
    """Check a summary request and fill its defaults. The window is rounded outward to whole local hours; ``to``
    defaults to now, ``from`` to 24 hours before (rounded) ``to``; the set defaults to the one in force at the end
    of the window."""
    try:
        store.check_level(level)
    except GeoStoreError as exc:
        raise SummaryError(str(exc)) from None
    for fname, t in (("from", start), ("to", end)):
        if t is not None and t.tzinfo is None:
            raise SummaryError(f"{fname}: {t.isoformat()} has no timezone offset (e.g. 2025-07-01T00:00:00+07:00)")
    now = now or datetime.now(UTC)
    e = end or now
    if start is not None and start >= e:
        raise SummaryError(f"to: {e.isoformat()} is not after from {start.isoformat()}")
    we = _ceil_hour(e)
    ws = _floor_hour(start) if start is not None else we - DEFAULT_WINDOW
    if we - ws > MAX_WINDOW:
        raise SummaryError(f"to: window of {(we - ws).days} days exceeds the maximum of {MAX_WINDOW.days} days")
    try:
        tol = shapes.check_tolerance(simplify_m)
    except (TypeError, ValueError) as exc:
        raise SummaryError(str(exc)) from None
    computed, missing = parse_layers(layers)
    if set_name is None:
        at = we - timedelta(microseconds=1)
        name = service.set_in_force(conn, at, family)
        if name is None:
            raise SummaryError(f"set: no boundary set of family {family!r} is in force on "
                               f"{service.local_date(at).isoformat()}; name one with set=", 404)
    else:
        try:
            name = store.check_name(set_name, "set")
        except GeoStoreError as exc:
            raise SummaryError(str(exc)) from None
    return SummaryQuery(name, level, ws, we, computed, missing, tol, start, end)


# ---------------------------------------------------------------------- computing


@dataclass(frozen=True, slots=True)
class Placement:
    """Enabled devices and the unit (index into the set) each one falls in; -1 when none."""

    ids: list[str]
    unit: np.ndarray  # int per device
    last_seen: list[datetime | None]
    interval_s: list[int]


def place_devices(conn: Conn, entry: IndexedSet) -> Placement:
    rows = device_lookups.placed(conn)
    n = len(rows)
    unit = np.full(n, -1, dtype=np.int64)
    pos = {c: i for i, c in enumerate(entry.codes)}
    has = np.array([r[1] is not None and r[2] is not None for r in rows], dtype=bool)
    if has.any():
        lon = np.array([r[1] for r in rows if r[1] is not None and r[2] is not None], dtype=np.float64)
        lat = np.array([r[2] for r in rows if r[1] is not None and r[2] is not None], dtype=np.float64)
        idx, _, _ = entry.index.assign_indices(lon, lat)
        unit[has] = idx
    parents: Mapping[str, store.Unit] | None = None
    for i in np.flatnonzero(~has).tolist():
        ws, wc = rows[i][3], rows[i][4]
        if ws != entry.set_name or wc is None:
            continue
        if entry.level == "ward":
            unit[i] = pos.get(wc, -1)
        else:
            if parents is None:
                parents = service.indexed_set(conn, entry.set_name, "ward").by_code
            ward = parents.get(wc)
            unit[i] = pos.get(ward.parent_code, -1) if ward and ward.parent_code else -1
    return Placement([r[0] for r in rows], unit, [r[5] for r in rows], [int(r[6]) for r in rows])


def device_aggregates(conn: Conn, readings: ReadingsStore, start: datetime, end: datetime,
                      metrics: Sequence[str] | None = None,
                      ) -> dict[tuple[str, str], WindowAggregate]:
    """Per (device, metric): count, min, max, sum over [start, end) (whole hours), from the rollups in one
    statement (``ReadingsStore.window_aggregates``)."""
    return readings.window_aggregates(conn, list(metrics or SENSOR_METRICS), start, end)


@dataclass(frozen=True, slots=True)
class Summary:
    query: SummaryQuery
    set_info: SetInfo
    entry: IndexedSet
    properties: list[dict[str, Any]]  # one per unit, index order
    failed: tuple[str, ...] = ()

    def meta(self) -> dict[str, Any]:
        q = self.query
        return {
            "set": {"name": self.set_info.name, "level": q.level, "family": self.set_info.family,
                    "description": self.set_info.description,
                    "valid_from": self.set_info.valid_from.isoformat(),
                    "valid_to": self.set_info.valid_to.isoformat() if self.set_info.valid_to else None},
            "window": {"from": q.start.isoformat(), "to": q.end.isoformat()},
            "layers": list(q.layers),
            "layers_unavailable": list(q.unavailable) + list(self.failed),
            "simplify_m": q.simplify_m,
        }


def _devices_layer(place: Placement, n_units: int, now: datetime) -> list[dict[str, Any]]:
    total = np.bincount(place.unit[place.unit >= 0], minlength=n_units)
    online_mask = np.array([
        ls is not None and (now - ls).total_seconds() <= ONLINE_FACTOR * iv
        for ls, iv in zip(place.last_seen, place.interval_s, strict=True)
    ], dtype=bool)
    sel = (place.unit >= 0) & online_mask if len(place.ids) else np.zeros(0, dtype=bool)
    online = np.bincount(place.unit[sel], minlength=n_units)
    return [{"devices": {"total": int(t), "online": int(o), "stale": int(t - o)}}
            for t, o in zip(total.tolist(), online.tolist(), strict=True)]


def _sensors_layer(conn: Conn, readings: ReadingsStore, place: Placement, n_units: int, start: datetime,
                   end: datetime) -> list[dict[str, Any]]:
    unit_of = {d: int(u) for d, u in zip(place.ids, place.unit.tolist(), strict=True) if u >= 0}
    props: list[dict[str, Any]] = [{} for _ in range(n_units)]
    by_metric = {f.metric: f for f in SENSOR_FIELDS}
    values: dict[str, dict[int, list[float]]] = {f.metric: {} for f in SENSOR_FIELDS}
    for (device, metric), a in device_aggregates(conn, readings, start, end).items():
        u = unit_of.get(device)
        f = by_metric.get(metric)
        if u is not None and f is not None and a.count:
            values[metric].setdefault(u, []).append(a.max if f.agg == "max" else a.sum)
    for f in SENSOR_FIELDS:
        per_unit = values[f.metric]
        for u in range(n_units):
            vals = per_unit.get(u)
            if not vals:
                props[u][f.prop] = None
            elif f.agg == "max":
                props[u][f.prop] = max(vals)
            else:
                props[u][f.prop] = sum(vals) / len(vals)
    latest_val: dict[tuple[int, str], float] = {}
    latest_at: dict[int, datetime] = {}
    wanted = {m for m, _ in LATEST_FIELDS}
    for r in readings.latest(conn) if unit_of else []:  # all rows: cheaper than sending every device id
        u = unit_of.get(r.device_id, -1)
        if u < 0:
            continue
        if u not in latest_at or r.time > latest_at[u]:
            latest_at[u] = r.time
        if r.metric in wanted:
            k = (u, r.metric)
            latest_val[k] = max(latest_val.get(k, -math.inf), r.value)
    for u in range(n_units):
        for metric, prop in LATEST_FIELDS:
            props[u][prop] = latest_val.get((u, metric))
        at = latest_at.get(u)
        props[u]["latest_reading_at"] = at.isoformat() if at else None
    return props


def _readings_store(conn: Conn, given: ReadingsStore | None) -> ReadingsStore:
    return given if given is not None else ReadingsStore.for_connection(conn)


def build(conn: Conn, query: SummaryQuery, readings: ReadingsStore | None = None,
          now: datetime | None = None) -> Summary:
    """Compute a summary. Raises SummaryError(404) when the set or its level does not exist."""
    info = store.get_set(conn, query.set_name)
    if info is None:
        raise SummaryError(f"set: {query.set_name!r} is not a boundary set", 404)
    if query.level not in info.levels:
        raise SummaryError(f"level: set {query.set_name!r} has no {query.level} units "
                           f"(it has: {', '.join(sorted(info.levels)) or 'none'})", 404)
    try:
        entry = service.indexed_set(conn, query.set_name, query.level)
    except SetNotFound as exc:
        raise SummaryError(str(exc), 404) from None
    now = now or datetime.now(UTC)
    n = len(entry.units)
    props: list[dict[str, Any]] = []
    for u in entry.units:
        district = (u.parent_code, u.parent_name) if query.level == "ward" else (None, None)
        props.append({"code": u.code, "name": u.name, "unit_type": u.unit_type, "district_code": district[0],
                      "district_name": district[1], "area_km2": round(u.area_km2, 3)})
    place: Placement | None = None
    if "devices" in query.layers or "sensors" in query.layers:
        place = place_devices(conn, entry)
    if "devices" in query.layers and place is not None:
        for p, extra in zip(props, _devices_layer(place, n, now), strict=True):
            p.update(extra)
    if "sensors" in query.layers and place is not None:
        rs = _readings_store(conn, readings)
        for p, extra in zip(props, _sensors_layer(conn, rs, place, n, query.start, query.end), strict=True):
            p.update(extra)
    failed: list[str] = []
    for name in query.layers:
        if name in BUILTIN_LAYERS:
            continue
        with _registry_lock:
            spec = _registry.get(name)
        if spec is None:
            failed.append(name)
            continue
        try:
            with conn.transaction():  # a savepoint: a failing layer does not spoil the rest
                result = spec.fn(conn, query.set_name, query.level, query.start, query.end)
        except Exception as exc:
            if is_retryable(exc):  # the connection failed, not the layer: the read is retried or answers 503
                raise
            log.exception("summary layer %r failed", name)
            failed.append(name)
            continue
        for p in props:
            p.update(result.get(p["code"]) or spec.defaults)
    q = query
    if failed:
        q = SummaryQuery(q.set_name, q.level, q.start, q.end, tuple(x for x in q.layers if x not in failed),
                         q.unavailable, q.simplify_m, q.requested_start, q.requested_end)
    return Summary(q, info, entry, props, tuple(failed))


def geojson_bytes(summary: Summary) -> bytes:
    """The summary as an RFC 7946 FeatureCollection (UTF-8), with the set, window and layers as foreign members."""
    geoms = shapes.geojson_geometries(summary.entry, summary.query.simplify_m)
    parts = [
        b'{"type":"Feature","id":' + orjson.dumps(p["code"]) + b',"geometry":' + g + b',"properties":'
        + orjson.dumps(p, option=orjson.OPT_NON_STR_KEYS) + b"}"
        for p, g in zip(summary.properties, geoms, strict=True)
    ]
    meta = orjson.dumps(summary.meta())
    return b'{"type":"FeatureCollection",' + meta[1:-1] + b',"features":[' + b",".join(parts) + b"]}"


def flat_properties(props: Mapping[str, Any]) -> dict[str, Any]:
    """Nested properties flattened for tables: ``devices.total`` becomes ``devices_total``."""
    out: dict[str, Any] = {}
    for k, v in props.items():
        if isinstance(v, Mapping):
            for k2, v2 in v.items():
                out[f"{k}_{k2}"] = v2
        else:
            out[k] = v
    return out


NUMERIC_PROPERTIES: dict[str, tuple[str, str]] = {
    # layer name for the PNG -> (flat property, Vietnamese label)
    "devices_total": ("devices_total", "Số thiết bị"),
    "devices_online": ("devices_online", "Thiết bị trực tuyến"),
    "devices_stale": ("devices_stale", "Thiết bị mất kết nối"),
    "water_level_cm_max": ("water_level_cm_max", "Mực nước cao nhất (cm)"),
    "salinity_ppt_max": ("salinity_ppt_max", "Độ mặn cao nhất (‰)"),
    "rain_mm_total": ("rain_mm_total", "Tổng lượng mưa (mm)"),
    "alerts_total": ("alerts_total", "Cảnh báo đang hoạt động"),
    "alerts_critical": ("alerts_critical", "Cảnh báo nghiêm trọng"),
    "incidents_open": ("incidents_open", "Sự cố chưa xử lý"),
    "dossier_on_time_rate": ("dossier_on_time_rate", "Tỷ lệ hồ sơ đúng hạn"),
}


_numeric_layer: dict[str, str] = {}  # flat property -> the registered layer that provides it


def layer_of_property(name: str) -> str:
    """Which summary layer provides a PNG layer (flat property)."""
    if name in _numeric_layer:
        return _numeric_layer[name]
    if name.startswith("devices_"):
        return "devices"
    if name.startswith("alerts_"):
        return "alerts"
    if name == "incidents_open":
        return "incidents"
    if name == "dossier_on_time_rate":
        return "dossiers"
    return "sensors"


def iter_flat(summary: Summary) -> Iterable[dict[str, Any]]:
    for p in summary.properties:
        yield flat_properties(p)
