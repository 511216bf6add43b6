"""Anomalies of the simulated fleet, started at random at configurable rates.

A rate is the probability that one published telemetry message of an eligible device starts the anomaly (so with
the default pace of one message every 10 s per device, 0.001 is about one start per device every three hours, and
several a minute across 300 devices).

- ``garbage``: the message is replaced by a bad one: not JSON, a value out of the catalogue range, an unknown
  metric, or a number sent as a string. Each garbage message yields exactly one dead letter in ingest.
- ``salinity_spike``: a salinity sensor reads 5-15 ‰ higher for 5-15 minutes (and says so in a device event).
- ``flood_tide``: a storm surge of 40-110 cm centred on the water-level gauge that started it, 20-60 minutes,
  felt by every water-level gauge and flood camera within 20-60 km (falling off with distance).
- ``silence``: the device says nothing for 5-30 minutes; half of the time it also drops off the broker (its last will
  turns its status ``offline``) and comes back when the silence ends.
- ``lamp_failure``: a street light draws only standby power at night for 30-120 minutes (and reports a device event).

Durations are multiplied by ``duration_scale`` (tests use short ones).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

import orjson

from ingest.simulator.fleet import SimDevice
from ingest.simulator.geography import to_km
from ingest.simulator.physics import BOUNDS, Effects

ANOMALY_KINDS: Final = ("garbage", "salinity_spike", "flood_tide", "silence", "lamp_failure")
DEFAULT_RATES: Final[dict[str, float]] = {
    "garbage": 0.001,
    "salinity_spike": 0.0005,
    "flood_tide": 0.0002,
    "silence": 0.0003,
    "lamp_failure": 0.0003,
}
ELIGIBLE: Final[dict[str, frozenset[str] | None]] = {
    "garbage": None,  # every kind
    "salinity_spike": frozenset({"salinity"}),
    "flood_tide": frozenset({"tide_gauge", "water_level"}),
    "silence": None,
    "lamp_failure": frozenset({"street_light"}),
}
DURATIONS_S: Final[dict[str, tuple[float, float]]] = {
    "salinity_spike": (300.0, 900.0),
    "flood_tide": (1200.0, 3600.0),
    "silence": (300.0, 1800.0),
    "lamp_failure": (1800.0, 7200.0),
}
SURGE_KINDS: Final = frozenset({"tide_gauge", "water_level", "flood_camera"})
GARBAGE_VARIANTS: Final = ("bad_json", "out_of_range", "unknown_metric", "non_numeric")
GARBAGE_REASONS: Final = {"bad_json": "parse_error", "out_of_range": "out_of_range",
                          "unknown_metric": "unknown_metric", "non_numeric": "non_numeric"}
"""The ingest dead-letter reason each garbage variant must produce."""


def parse_rates(items: Iterable[str], base: dict[str, float] | None = None) -> dict[str, float]:
    """Rates from ``--anomaly-rate`` values, applied in order: ``0.01`` sets every kind, ``garbage=0.05`` one kind.
    Raises ValueError naming the value."""
    rates = dict(DEFAULT_RATES if base is None else base)
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            name, value = "", item
        name = name.strip()
        if name and name not in ANOMALY_KINDS:
            raise ValueError(f"--anomaly-rate: kind {name!r} is not one of {', '.join(ANOMALY_KINDS)}")
        try:
            rate = float(value)
        except ValueError:
            raise ValueError(f"--anomaly-rate: value {value!r} in {item!r} is not a number") from None
        if not 0.0 <= rate <= 1.0 or math.isnan(rate):
            raise ValueError(f"--anomaly-rate: value {value!r} in {item!r} is not a probability in [0, 1]")
        for kind in ([name] if name else ANOMALY_KINDS):
            rates[kind] = rate
    return rates


@dataclass(slots=True)
class Episode:
    """One running anomaly."""

    kind: str
    device_id: str
    start: float
    end: float
    magnitude: float = 0.0
    """‰ for a salinity spike, cm for a surge."""
    lon: float = 0.0
    lat: float = 0.0
    radius_km: float = 0.0
    drop_connection: bool = False

    def ramp(self, t: float) -> float:
        """0 at the start and end, 1 in the middle (half a sine)."""
        if not self.start <= t <= self.end or self.end <= self.start:
            return 0.0
        return math.sin(math.pi * (t - self.start) / (self.end - self.start))

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {"kind": self.kind, "device_id": self.device_id, "start": round(self.start, 3),
                                  "end": round(self.end, 3)}
        if self.magnitude:
            out["magnitude"] = round(self.magnitude, 2)
        if self.radius_km:
            out["radius_km"] = round(self.radius_km, 1)
        if self.kind == "silence":
            out["drop_connection"] = self.drop_connection
        return out


@dataclass(frozen=True, slots=True)
class Garbage:
    variant: str
    payload: bytes
    expected_reason: str


class AnomalyEngine:
    """Starts anomalies at random and says what the running ones do to a device at a moment."""

    def __init__(self, rates: dict[str, float], rng: random.Random, duration_scale: float = 1.0) -> None:
        self.rates = rates
        self.rng = rng
        self.scale = duration_scale
        self.by_device: dict[str, list[Episode]] = {}
        self.surges: list[Episode] = []

    def _duration(self, kind: str) -> float:
        lo, hi = DURATIONS_S[kind]
        return self.rng.uniform(lo, hi) * self.scale

    def _eligible(self, kind: str, dev: SimDevice) -> bool:
        allowed = ELIGIBLE[kind]
        return allowed is None or dev.kind in allowed

    def roll(self, dev: SimDevice, now: float) -> list[Episode]:
        """Called once per telemetry message of ``dev``: the anomalies that start now (garbage excepted)."""
        started = []
        for kind in ("salinity_spike", "flood_tide", "silence", "lamp_failure"):
            rate = self.rates.get(kind, 0.0)
            if rate <= 0.0 or not self._eligible(kind, dev) or self.rng.random() >= rate:
                continue
            if kind != "flood_tide" and self.active(dev.id, kind, now):
                continue
            if kind == "flood_tide" and any(s.end > now for s in self.surges):
                continue  # one surge at a time is plenty
            ep = Episode(kind, dev.id, now, now + self._duration(kind))
            if kind == "salinity_spike":
                ep.magnitude = self.rng.uniform(5.0, 15.0)
            elif kind == "flood_tide":
                ep.magnitude = self.rng.uniform(40.0, 110.0)
                ep.lon, ep.lat = dev.lon, dev.lat
                ep.radius_km = self.rng.uniform(20.0, 60.0)
                self.surges.append(ep)
            elif kind == "silence":
                ep.drop_connection = self.rng.random() < 0.5
            if kind != "flood_tide":
                self.by_device.setdefault(dev.id, []).append(ep)
            started.append(ep)
        return started

    def active(self, device_id: str, kind: str, t: float) -> Episode | None:
        for ep in self.by_device.get(device_id, ()):
            if ep.kind == kind and ep.start <= t < ep.end:
                return ep
        return None

    def silent(self, device_id: str, t: float) -> Episode | None:
        return self.active(device_id, "silence", t)

    def effects(self, dev: SimDevice, t: float) -> Effects:
        surge = 0.0
        if dev.kind in SURGE_KINDS:
            for s in self.surges:
                if s.start <= t <= s.end:
                    x0, y0 = to_km(s.lon, s.lat)
                    x1, y1 = to_km(dev.lon, dev.lat)
                    d = math.hypot(x1 - x0, y1 - y0)
                    surge += s.magnitude * s.ramp(t) * math.exp(-((d / s.radius_km) ** 2))
        spike = self.active(dev.id, "salinity_spike", t)
        lamp = self.active(dev.id, "lamp_failure", t)
        if not surge and spike is None and lamp is None:
            return Effects()
        return Effects(surge_cm=surge, salinity_add_ppt=spike.magnitude * min(1.0, 3.0 * spike.ramp(t)) if spike else 0.0,
                       lamp_failed=lamp is not None)

    def expire(self, now: float) -> None:
        """Forget episodes that ended (call now and then)."""
        for device_id in list(self.by_device):
            left = [ep for ep in self.by_device[device_id] if ep.end > now]
            if left:
                self.by_device[device_id] = left
            else:
                del self.by_device[device_id]
        self.surges = [s for s in self.surges if s.end > now]

    def garbage(self, dev: SimDevice, now: float) -> Garbage | None:
        """A garbage message to send instead of this telemetry message, at the garbage rate."""
        rate = self.rates.get("garbage", 0.0)
        if rate <= 0.0 or self.rng.random() >= rate:
            return None
        return make_garbage(dev, now, self.rng.choice(GARBAGE_VARIANTS), self.rng)


def make_garbage(dev: SimDevice, now: float, variant: str, rng: random.Random) -> Garbage:
    """One bad telemetry payload of ``variant`` for ``dev``: each produces exactly one ingest rejection."""
    metric = dev.metrics[0]
    ts = round(now, 3)
    if variant == "bad_json":
        good = orjson.dumps({"ts": ts, "metrics": {metric: 1.0}})
        payload = good[: rng.randint(8, len(good) - 2)]
    elif variant == "out_of_range":
        hi = BOUNDS[metric][1]
        payload = orjson.dumps({"ts": ts, "metrics": {metric: round(hi * rng.uniform(1.5, 3.0) + 1.0, 1)}})
    elif variant == "unknown_metric":
        payload = orjson.dumps({"ts": ts, "metrics": {metric + "_x": 1.0}})
    elif variant == "non_numeric":
        payload = orjson.dumps({"ts": ts, "metrics": {metric: "12.5"}})
    else:
        raise ValueError(f"variant: value {variant!r} is not one of {', '.join(GARBAGE_VARIANTS)}")
    return Garbage(variant, payload, GARBAGE_REASONS[variant])


def garbage_record(dev: SimDevice, now: float, variant: str, rng: random.Random) -> Garbage:
    """The gateway form: a one-record SenML pack (or broken JSON) that ingest rejects exactly once."""
    metric = dev.metrics[0]
    base = {"bn": f"urn:dev:{dev.id}:", "bt": round(now, 3)}
    if variant == "bad_json":
        good = orjson.dumps([{**base, "n": metric, "v": 1.0}])
        payload = good[: rng.randint(8, len(good) - 2)]
    elif variant == "out_of_range":
        payload = orjson.dumps([{**base, "n": metric, "v": round(BOUNDS[metric][1] * rng.uniform(1.5, 3.0) + 1, 1)}])
    elif variant == "unknown_metric":
        payload = orjson.dumps([{**base, "n": metric + "_x", "v": 1.0}])
    elif variant == "non_numeric":
        payload = orjson.dumps([{**base, "n": metric, "vs": "12.5"}])
    else:
        raise ValueError(f"variant: value {variant!r} is not one of {', '.join(GARBAGE_VARIANTS)}")
    return Garbage(variant, payload, GARBAGE_REASONS[variant])
