"""The metric catalogue: which metric names ingest accepts, their units and plausible ranges.

A reading whose metric is not in the catalogue is rejected (``unknown_metric``); a value outside
``[min, max]`` is rejected (``out_of_range``). The defaults below cover Cà Mau's field devices;
``load_catalogue(path)`` extends or overrides them from a YAML or JSON file::

    metrics:
      salinity_ppt: {max: 60}                 # override: only the fields given change
      nitrate_mg_l: {unit: mg/l, min: 0, max: 100, description: Nitrate}   # new metric

``metrics`` may also be a list of objects with a ``name`` field. Units are SenML (RFC 8428)
symbols where one exists; a SenML record's ``u``/``bu`` must be the metric's unit or one of the
spellings in :data:`UNIT_SYNONYMS`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

METRIC_NAME_RE = re.compile(r"[a-z][a-z0-9_]{0,62}")
"""Metric names: lower-case ASCII identifiers (``pm2_5``, ``salinity_ppt``)."""


@dataclass(frozen=True, slots=True)
class Metric:
    """One accepted metric; ``min``/``max`` are inclusive plausibility bounds in ``unit``."""

    name: str
    unit: str
    min: float
    max: float
    description: str = ""


# canonical unit -> other spellings devices commonly send for it
UNIT_SYNONYMS: dict[str, frozenset[str]] = {
    "ppt": frozenset({"/1000", "‰", "g/kg", "PSU", "psu"}),
    "Cel": frozenset({"°C", "degC"}),
    "%RH": frozenset({"%"}),
    "ug/m3": frozenset({"µg/m3", "μg/m3", "µg/m³", "μg/m³", "ug/m³"}),
    "mg/m3": frozenset({"mg/m³"}),
    "mg/l": frozenset({"mg/L"}),
    "uS/cm": frozenset({"µS/cm", "μS/cm"}),
    "hPa": frozenset({"mbar"}),
    "deg": frozenset({"°"}),
    "dB": frozenset({"dBA"}),
}

DEFAULT_METRICS: tuple[Metric, ...] = (
    # water: salinity intrusion, tides and floods
    Metric("salinity_ppt", "ppt", 0, 50, "Salinity of river or canal water, parts per thousand"),
    Metric("water_level_cm", "cm", -500, 1000, "Water level against the gauge datum (tide and river gauges)"),
    Metric("flood_depth_cm", "cm", 0, 500, "Depth of standing flood water on a street or field"),
    Metric("water_temperature_c", "Cel", 0, 45, "Water temperature"),
    Metric("ph", "pH", 0, 14, "Water pH"),
    Metric("dissolved_oxygen_mg_l", "mg/l", 0, 25, "Dissolved oxygen"),
    Metric("conductivity_us_cm", "uS/cm", 0, 200_000, "Electrical conductivity of water"),
    Metric("turbidity_ntu", "NTU", 0, 4000, "Turbidity"),
    # weather
    Metric("rain_mm", "mm", 0, 500, "Rain accumulated since the previous reading"),
    Metric("rain_rate_mm_h", "mm/h", 0, 500, "Rain intensity"),
    Metric("temperature_c", "Cel", -20, 60, "Air temperature"),
    Metric("humidity_pct", "%RH", 0, 100, "Relative humidity"),
    Metric("pressure_hpa", "hPa", 800, 1100, "Air pressure"),
    Metric("wind_speed_ms", "m/s", 0, 90, "Wind speed"),
    Metric("wind_dir_deg", "deg", 0, 360, "Wind direction, degrees from north"),
    # air quality
    Metric("pm2_5", "ug/m3", 0, 1000, "Fine particulate matter PM2.5"),
    Metric("pm10", "ug/m3", 0, 1000, "Particulate matter PM10"),
    Metric("no2", "ug/m3", 0, 2000, "Nitrogen dioxide"),
    Metric("so2", "ug/m3", 0, 2000, "Sulphur dioxide"),
    Metric("o3", "ug/m3", 0, 2000, "Ozone"),
    Metric("co_mg_m3", "mg/m3", 0, 200, "Carbon monoxide"),
    Metric("aqi", "index", 0, 500, "Vietnamese air-quality index (VN_AQI)"),
    Metric("noise_db", "dB", 0, 150, "Sound level"),
    # street lights and device health
    Metric("lamp_power_w", "W", 0, 2000, "Street-light power draw"),
    Metric("lamp_dimming_pct", "%", 0, 100, "Street-light dimming level"),
    Metric("lamp_energy_kwh", "kWh", 0, 10_000_000, "Street-light energy meter (cumulative)"),
    Metric("battery_v", "V", 0, 30, "Device battery voltage"),
    Metric("signal_rssi_dbm", "dBm", -150, 0, "Radio signal strength"),
)


class CatalogueError(ValueError):
    """A catalogue definition or configuration file is invalid; the message names field and value."""


class Catalogue(Mapping[str, Metric]):
    """Metrics by name, with the lookups the decoder's hot path needs precomputed.

    ``bounds[name]`` is ``(min, max)``; ``units[name]`` is the set of unit spellings accepted
    for the metric in a SenML ``u``/``bu`` field.
    """

    __slots__ = ("_metrics", "bounds", "units")

    def __init__(self, metrics: Iterable[Metric]) -> None:
        by_name: dict[str, Metric] = {}
        for metric in metrics:
            _check_metric(metric, where="metric")
            by_name[metric.name] = metric
        self._metrics = by_name
        self.bounds: dict[str, tuple[float, float]] = {m.name: (m.min, m.max) for m in by_name.values()}
        self.units: dict[str, frozenset[str]] = {
            m.name: frozenset({m.unit}) | UNIT_SYNONYMS.get(m.unit, frozenset()) for m in by_name.values()
        }

    def __getitem__(self, name: str) -> Metric:
        return self._metrics[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._metrics)

    def __len__(self) -> int:
        return len(self._metrics)

    def __repr__(self) -> str:
        return f"Catalogue({len(self._metrics)} metrics)"


def default_catalogue() -> Catalogue:
    """The built-in metrics only."""
    return Catalogue(DEFAULT_METRICS)


def load_catalogue(extra: str | Path | None = None) -> Catalogue:
    """The default metrics, extended and overridden by the YAML/JSON file ``extra`` if given.

    A ``.json`` file is read as JSON, anything else as YAML. Raises :class:`CatalogueError`
    naming the file, the field and the offending value.
    """
    metrics = {m.name: m for m in DEFAULT_METRICS}
    if extra is None:
        return Catalogue(metrics.values())
    path = Path(extra)
    where = f"catalogue file {str(path)!r}"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogueError(f"{where}: cannot be read: {exc}") from exc
    try:
        doc = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise CatalogueError(
            f"{where}: not valid {'JSON' if path.suffix.lower() == '.json' else 'YAML'}: {exc}"
        ) from exc
    for name, values in _entries(doc, where):
        metrics[name] = _merge(metrics.get(name), name, values, where)
    return Catalogue(metrics.values())


_FIELDS = ("unit", "min", "max", "description")


def _entries(doc: object, where: str) -> Iterator[tuple[str, dict[str, object]]]:
    """Yield ``(name, fields given)`` for each metric in a config document."""
    if not isinstance(doc, dict) or "metrics" not in doc:
        raise CatalogueError(f"{where}: expected a mapping with a 'metrics' key, got {_short(doc)}")
    extra_keys = set(doc) - {"metrics"}
    if extra_keys:
        raise CatalogueError(f"{where}: unknown top-level key(s) {sorted(map(str, extra_keys))}")
    raw = doc["metrics"]
    items: list[tuple[str, object]]
    if isinstance(raw, dict):
        items = [(str(k), v) for k, v in raw.items()]
        for key, value in items:
            if isinstance(value, dict) and "name" in value and value["name"] != key:
                raise CatalogueError(
                    f"{where}: metrics.{key}.name: value {value['name']!r} differs from its key"
                )
    elif isinstance(raw, list):
        items = []
        for i, value in enumerate(raw):
            if not isinstance(value, dict) or not isinstance(value.get("name"), str):
                raise CatalogueError(
                    f"{where}: metrics[{i}]: expected a mapping with a string 'name', got {_short(value)}"
                )
            items.append((value["name"], value))
    else:
        raise CatalogueError(f"{where}: metrics: expected a mapping or a list, got {_short(raw)}")
    for name, value in items:
        path = f"{where}: metrics.{name}"
        if not METRIC_NAME_RE.fullmatch(name):
            raise CatalogueError(
                f"{where}: metrics: name {name!r} is not a lower-case identifier [a-z][a-z0-9_]*"
            )
        if not isinstance(value, dict):
            raise CatalogueError(f"{path}: expected a mapping, got {_short(value)}")
        unknown = set(value) - {"name", *_FIELDS}
        if unknown:
            raise CatalogueError(f"{path}: unknown field(s) {sorted(map(str, unknown))}")
        yield name, {f: value[f] for f in _FIELDS if f in value}


def _merge(base: Metric | None, name: str, values: dict[str, object], where: str) -> Metric:
    path = f"{where}: metrics.{name}"
    if base is None:
        missing = [f for f in ("unit", "min", "max") if f not in values]
        if missing:
            raise CatalogueError(f"{path}: new metric needs field(s) {missing}")
        base = Metric(name, "", 0.0, 0.0, "")
    merged = replace(base, **values)  # type: ignore[arg-type]
    _check_metric(merged, where=path)
    return Metric(merged.name, merged.unit, float(merged.min), float(merged.max), merged.description)


def _check_metric(m: Metric, where: str) -> None:
    if not isinstance(m.name, str) or not METRIC_NAME_RE.fullmatch(m.name):
        raise CatalogueError(
            f"{where}: name: value {m.name!r} is not a lower-case identifier [a-z][a-z0-9_]*"
        )
    if not isinstance(m.unit, str) or not m.unit or len(m.unit) > 32:
        raise CatalogueError(
            f"{where}: unit: value {m.unit!r} must be a non-empty string of at most 32 characters"
        )
    for field_name in ("min", "max"):
        bound = getattr(m, field_name)
        if isinstance(bound, bool) or not isinstance(bound, (int, float)) or not math.isfinite(bound):
            raise CatalogueError(f"{where}: {field_name}: value {bound!r} is not a finite number")
    if not m.min < m.max:
        raise CatalogueError(f"{where}: min {m.min!r} must be below max {m.max!r}")
    if not isinstance(m.description, str):
        raise CatalogueError(f"{where}: description: value {_short(m.description)} is not a string")


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:79] + "…"
