"""Drive the fleet: schedule each device's messages, apply anomalies, publish, count.

Modes:

- realtime (default): every device publishes every ``interval`` seconds (±20 % jitter), on its own connection;
- ``rate``: ``rate`` messages a second in total, cycling through the devices (load);
- ``gateway``: devices sit behind gateways; each gateway publishes SenML packs of ``pack`` readings for them
  (in realtime, a pack also leaves when ``interval`` has passed; with ``rate``, ``rate`` packs a second).

Device events (``ops/v1/devices/{id}/events``): ``flood.detected`` when a flood camera's depth rises over 15 cm
(critical over 30 cm; again once it fell under 8 cm), ``salinity.spike`` and ``lamp.failure`` when those anomalies
start. Devices behind a gateway have no event channel of their own, so gateway mode sends no events.
"""

from __future__ import annotations

import functools
import logging
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final

import orjson

from ingest.simulator import physics
from ingest.simulator.anomalies import AnomalyEngine, Episode, garbage_record
from ingest.simulator.fleet import SimDevice, SimGateway
from ingest.simulator.publisher import EventLoop, Link
from ingest.topics import device_topic, gateway_topic

log = logging.getLogger("ingest.simulator")

FLOOD_WARNING_CM: Final = 15.0
FLOOD_CRITICAL_CM: Final = 30.0
FLOOD_CLEAR_CM: Final = 8.0
MAX_INFLIGHT: Final = 200
"""Per connection, in rate mode: a device with this many unacknowledged messages is skipped (backpressure)."""
RATE_TICK_S: Final = 0.01
EXPIRE_EVERY_S: Final = 30.0


@dataclass
class Options:
    interval: float = 10.0
    rate: float | None = None
    gateway: bool = False
    pack: int = 50
    duration: float | None = None
    jitter: float = 0.2
    stats_every: float = 60.0
    start_delay: float = 0.0
    """Seconds to wait before connecting (lets ingest load newly registered devices first)."""


@dataclass
class Stats:
    telemetry: int = 0
    """Telemetry messages with readings (device JSON messages or gateway packs)."""
    readings: int = 0
    garbage: Counter[str] = field(default_factory=Counter)
    events: Counter[str] = field(default_factory=Counter)
    anomalies: Counter[str] = field(default_factory=Counter)
    skipped_disconnected: int = 0
    skipped_backpressure: int = 0
    skipped_silent: int = 0
    behind: int = 0
    """Rate mode: messages not sent because the simulator could not keep up."""


class Simulator:
    def __init__(self, devices: Sequence[SimDevice], gateways: Sequence[SimGateway], secrets: dict[str, str],
                 host: str, port: int, options: Options, engine: AnomalyEngine, rng: random.Random,
                 anomaly_log: IO[str] | None = None) -> None:
        self.devices = list(devices)
        self.gateways = list(gateways)
        self.opt = options
        self.engine = engine
        self.rng = rng
        self.loop = EventLoop()
        self.stats = Stats()
        self.anomaly_log = anomaly_log
        self.prev_t: dict[str, float] = {}
        self.last_ts: dict[str, float] = {}
        self.flooded: set[str] = set()
        self.links: dict[str, Link] = {}
        if options.gateway:
            for gw in self.gateways:
                self.links[gw.id] = Link(self.loop, gw.id, secrets[gw.id], gateway_topic(gw.id, "status"), host,
                                         port, rng)
            self.gateway_of = {d.id: d.gateway_id for d in self.devices if d.gateway_id}
            self.buffers: dict[str, list[tuple[SimDevice, float, dict[str, float]]]] = {g.id: [] for g in gateways}
            self.buffered: dict[str, int] = {g.id: 0 for g in gateways}
            self.members = {g.id: [d for d in self.devices if d.gateway_id == g.id] for g in gateways}
        else:
            for d in self.devices:
                self.links[d.id] = Link(self.loop, d.id, secrets[d.id], device_topic(d.id, "status"), host, port,
                                        rng)
        self.topics = {d.id: device_topic(d.id, "telemetry") for d in self.devices}
        self.event_topics = {d.id: device_topic(d.id, "events") for d in self.devices}
        self._cursor = 0
        self._sent = 0
        self._member_cursor: dict[str, int] = {}
        self._t0 = time.monotonic()
        self._cpu0 = time.process_time()

    # ------------------------------------------------------------------------------------------- helpers
    def _log(self, record: dict[str, Any]) -> None:
        if self.anomaly_log is not None:
            self.anomaly_log.write(orjson.dumps(record).decode() + "\n")
            self.anomaly_log.flush()

    def _ts(self, device_id: str, now: float) -> float:
        """A timestamp for ``device_id`` later than its previous one (readings are keyed by device, metric, time)."""
        ts = round(now, 3)
        last = self.last_ts.get(device_id)
        if last is not None and ts <= last:
            ts = round(last + 0.001, 3)
        self.last_ts[device_id] = ts
        return ts

    def _event(self, dev: SimDevice, kind: str, severity: str, message: str, data: dict[str, Any],
               now: float) -> None:
        if self.opt.gateway:
            return
        link = self.links[dev.id]
        payload = orjson.dumps({"ts": round(now, 3), "kind": kind, "severity": severity, "message": message,
                                "data": data})
        if link.publish(self.event_topics[dev.id], payload):
            self.stats.events[kind] += 1
            self._log({"type": "event", "at": round(now, 3), "device_id": dev.id, "kind": kind,
                       "severity": severity, "data": data})

    def _started(self, dev: SimDevice, ep: Episode, now: float) -> None:
        self.stats.anomalies[ep.kind] += 1
        self._log({"type": "anomaly", "at": round(now, 3), **ep.as_json()})
        if ep.kind == "salinity_spike":
            self._event(dev, "salinity.spike", "warning",
                        f"Độ mặn tăng đột biến tại {dev.name} (+{ep.magnitude:.1f} ‰)",
                        {"increase_ppt": round(ep.magnitude, 2)}, now)
        elif ep.kind == "lamp_failure":
            self._event(dev, "lamp.failure", "warning", f"Đèn không sáng: {dev.name}",
                        {"rated_w": dev.site.rated_w}, now)
        elif ep.kind == "silence" and ep.drop_connection and not self.opt.gateway:
            self.links[dev.id].go_offline(with_will=True)
            self.loop.call_at(time.monotonic() + (ep.end - now), lambda: self._back(dev))

    def _back(self, dev: SimDevice) -> None:
        link = self.links[dev.id]
        if link.offline and not self.loop.stopping:
            link.connect()

    def _flood_events(self, dev: SimDevice, depth: float, now: float) -> None:
        if dev.id in self.flooded:
            if depth < FLOOD_CLEAR_CM:
                self.flooded.discard(dev.id)
            return
        if depth >= FLOOD_WARNING_CM:
            self.flooded.add(dev.id)
            critical = depth >= FLOOD_CRITICAL_CM
            self._event(dev, "flood.detected", "critical" if critical else "warning",
                        f"Camera phát hiện ngập {depth:.0f} cm tại {dev.ward_name}",
                        {"depth_cm": depth, "threshold_cm": FLOOD_CRITICAL_CM if critical else FLOOD_WARNING_CM},
                        now)

    # ------------------------------------------------------------------------------------------- one reading
    def _sample(self, dev: SimDevice, now: float) -> dict[str, float] | None:
        """The device's readings now, with anomalies applied; None when it is silent or sent garbage instead."""
        if self.engine.silent(dev.id, now):
            self.stats.skipped_silent += 1
            return None
        garbage = self.engine.garbage(dev, now)
        if garbage is not None:
            if self.opt.gateway:
                gid = dev.gateway_id or ""
                garbage = garbage_record(dev, now, garbage.variant, self.rng)
                topic, link = gateway_topic(gid, "telemetry"), self.links[gid]
            else:
                topic, link = self.topics[dev.id], self.links[dev.id]
            if link.publish(topic, garbage.payload):
                self.stats.garbage[garbage.variant] += 1
                self._log({"type": "garbage", "at": round(now, 3), "device_id": dev.id, "topic": topic,
                           "variant": garbage.variant, "expected_reason": garbage.expected_reason})
            return None
        for ep in self.engine.roll(dev, now):
            self._started(dev, ep, now)
        if self.engine.silent(dev.id, now):
            self.stats.skipped_silent += 1
            return None
        values = physics.readings(dev.site, now, self.prev_t.get(dev.id), self.engine.effects(dev, now))
        return values

    def emit(self, dev: SimDevice, now: float) -> bool:
        """Publish one telemetry message of ``dev`` (direct mode); False if nothing could be sent."""
        link = self.links[dev.id]
        if not link.connected:
            self.stats.skipped_disconnected += 1
            return False
        values = self._sample(dev, now)
        if values is None:
            return True
        payload = orjson.dumps({"ts": self._ts(dev.id, now), "metrics": values})
        if not link.publish(self.topics[dev.id], payload):
            self.stats.skipped_disconnected += 1
            return False
        self.prev_t[dev.id] = now
        self.stats.telemetry += 1
        self.stats.readings += len(values)
        if dev.kind == "flood_camera":
            self._flood_events(dev, values["flood_depth_cm"], now)
        return True

    # ------------------------------------------------------------------------------------------- gateways
    def _collect(self, dev: SimDevice, now: float, limit: int | None = None) -> int:
        """Buffer ``dev``'s readings at its gateway (at most ``limit``); returns how many."""
        gid = dev.gateway_id
        if gid is None or not self.links[gid].connected:
            self.stats.skipped_disconnected += 1
            return 0
        values = self._sample(dev, now)
        if not values:
            return 0
        if limit is not None and len(values) > limit:
            values = dict(list(values.items())[:limit])
        self.prev_t[dev.id] = now
        self.buffers[gid].append((dev, self._ts(dev.id, now), values))
        self.buffered[gid] += len(values)
        return len(values)

    def flush(self, gid: str) -> None:
        """Publish the gateway's buffered readings as one SenML pack."""
        buf = self.buffers[gid]
        if not buf:
            return
        pack: list[dict[str, Any]] = []
        for dev, ts, values in buf:
            first = True
            for metric, value in values.items():
                rec: dict[str, Any] = {"n": metric, "v": value}
                if first:
                    rec = {"bn": f"urn:dev:{dev.id}:", "bt": ts, **rec}
                    first = False
                pack.append(rec)
        n = self.buffered[gid]
        self.buffers[gid] = []
        self.buffered[gid] = 0
        if self.links[gid].publish(gateway_topic(gid, "telemetry"), orjson.dumps(pack)):
            self.stats.telemetry += 1
            self.stats.readings += n
        else:
            self.stats.skipped_disconnected += 1

    # ------------------------------------------------------------------------------------------- schedules
    def _tick(self, dev: SimDevice) -> None:
        """Realtime: one message of ``dev`` now, then the next one an interval (jittered) later."""
        if self.loop.stopping:
            return
        j = self.opt.jitter
        self.loop.call_later(self.opt.interval * self.rng.uniform(1.0 - j, 1.0 + j), lambda: self._tick(dev))
        now = time.time()
        if self.opt.gateway:
            gid = dev.gateway_id or ""
            self._collect(dev, now)
            if self.buffered.get(gid, 0) >= self.opt.pack:
                self.flush(gid)
        else:
            link = self.links[dev.id]
            if link.offline and not self.engine.silent(dev.id, now):
                link.connect()  # back from a silence that dropped the connection
                return
            self.emit(dev, now)

    def _gateway_timer(self, gid: str) -> None:
        if self.loop.stopping:
            return
        self.flush(gid)
        self.loop.call_later(self.opt.interval, lambda: self._gateway_timer(gid))

    def _rate_tick(self) -> None:
        if self.loop.stopping:
            return
        self.loop.call_later(RATE_TICK_S, self._rate_tick)
        assert self.opt.rate is not None
        now = time.time()
        due = int(self.opt.rate * (time.monotonic() - self._t0)) - self._sent
        cap = max(1, int(self.opt.rate * RATE_TICK_S * 5))
        if due > cap:  # falling behind (CPU-bound): drop the deficit rather than burst to catch up
            self.stats.behind += due - cap
            self._sent += due - cap
            due = cap
        if self.opt.gateway:
            self._rate_packs(due, now)
            return
        n = len(self.devices)
        for _ in range(due):
            for _attempt in range(n):
                dev = self.devices[self._cursor % n]
                self._cursor += 1
                link = self.links[dev.id]
                if link.connected and link.inflight < MAX_INFLIGHT:
                    break
            else:
                self.stats.skipped_backpressure += 1
                self._sent += 1
                continue
            self.emit(dev, now)
            self._sent += 1

    def _rate_packs(self, due: int, now: float) -> None:
        gws = [g for g in self.gateways if self.members[g.id]]
        for _ in range(due):
            for _attempt in range(len(gws)):
                gw = gws[self._cursor % len(gws)]
                self._cursor += 1
                link = self.links[gw.id]
                if link.connected and link.inflight < MAX_INFLIGHT:
                    break
            else:
                self.stats.skipped_backpressure += 1
                self._sent += 1
                continue
            members = self.members[gw.id]
            k = self._member_cursor.get(gw.id, 0)
            guard = 0
            while self.buffered[gw.id] < self.opt.pack and guard < 4 * self.opt.pack:
                dev = members[k % len(members)]
                k += 1
                guard += 1
                self._collect(dev, now, self.opt.pack - self.buffered[gw.id])
            self._member_cursor[gw.id] = k
            self.flush(gw.id)
            self._sent += 1

    def _expire(self) -> None:
        if self.loop.stopping:
            return
        self.engine.expire(time.time())
        self.loop.call_later(EXPIRE_EVERY_S, self._expire)

    def _report(self) -> None:
        if self.loop.stopping:
            return
        log.info("%s", self.progress())
        self.loop.call_later(self.opt.stats_every, self._report)

    # ------------------------------------------------------------------------------------------- running
    def progress(self) -> str:
        up = sum(1 for link in self.links.values() if link.connected)
        elapsed = max(1e-9, time.monotonic() - self._t0)
        cpu = time.process_time() - self._cpu0
        s = self.stats
        return (f"{up}/{len(self.links)} connected, {s.telemetry} messages ({s.telemetry / elapsed:.1f}/s), "
                f"{s.readings} readings, {sum(s.garbage.values())} garbage, {sum(s.events.values())} events, "
                f"{sum(s.anomalies.values())} anomalies, CPU {100.0 * cpu / elapsed:.1f}%")

    def _connect_all(self) -> None:
        links = list(self.links.values())
        spread = min(2.0, 0.005 * len(links))
        for i, link in enumerate(links):
            self.loop.call_later(spread * i / max(1, len(links)), link.connect)

    def _schedule(self) -> None:
        if self.opt.rate:
            self.loop.call_later(0.0, self._rate_tick)
        else:
            for dev in self.devices:
                self.loop.call_later(self.rng.uniform(0.0, self.opt.interval), functools.partial(self._tick, dev))
            if self.opt.gateway:
                for gw in self.gateways:
                    self.loop.call_later(self.opt.interval, functools.partial(self._gateway_timer, gw.id))
        self.loop.call_later(EXPIRE_EVERY_S, self._expire)
        if self.opt.stats_every > 0:
            self.loop.call_later(self.opt.stats_every, self._report)

    def run(self) -> dict[str, Any]:
        """Run until the duration passes or ``stop()``; then flush, say ``offline`` and disconnect."""
        if self.opt.start_delay > 0:
            log.info("waiting %.1f s for ingest to load the registry", self.opt.start_delay)
            until = time.monotonic() + self.opt.start_delay
            while time.monotonic() < until and not self.loop.stopping:
                time.sleep(0.1)
        self._t0 = time.monotonic()
        self._cpu0 = time.process_time()
        self._connect_all()
        # wait for the connections before publishing (at most 10 s: the broker may still be reloading its files)
        self.loop.pump(lambda: all(link.connected for link in self.links.values()), 10.0)
        up = sum(1 for link in self.links.values() if link.connected)
        log.info("%d/%d connections up after %.1f s", up, len(self.links), time.monotonic() - self._t0)
        self._t0 = time.monotonic()
        self._cpu0 = time.process_time()
        self._schedule()
        deadline = None if self.opt.duration is None else self._t0 + self.opt.duration
        self.loop.run(lambda: deadline is not None and time.monotonic() >= deadline)
        elapsed = time.monotonic() - self._t0
        cpu = time.process_time() - self._cpu0
        return self.shutdown(elapsed, cpu)

    def stop(self) -> None:
        self.loop.stop()

    def shutdown(self, elapsed: float, cpu: float) -> dict[str, Any]:
        self.loop.stop()
        if self.opt.gateway:
            for gid in self.buffers:
                self.flush(gid)
        links = list(self.links.values())
        self.loop.pump(lambda: not any(link.connected and link.inflight for link in links), 10.0)
        for link in links:
            link.go_offline(with_will=False)
        self.loop.pump(lambda: not any(link.connected for link in links), 5.0)
        return self.summary(elapsed, cpu)

    def summary(self, elapsed: float, cpu: float) -> dict[str, Any]:
        s = self.stats
        links = list(self.links.values())
        return {
            "mode": ("gateway " if self.opt.gateway else "") + ("rate" if self.opt.rate else "realtime"),
            "devices": len(self.devices),
            "gateways": len(self.gateways) if self.opt.gateway else 0,
            "connections": len(links),
            "elapsed_s": round(elapsed, 3),
            "telemetry_messages": s.telemetry,
            "readings": s.readings,
            "messages_per_s": round(s.telemetry / elapsed, 2) if elapsed > 0 else None,
            "readings_per_s": round(s.readings / elapsed, 2) if elapsed > 0 else None,
            "garbage": dict(s.garbage),
            "events": dict(s.events),
            "anomalies": dict(s.anomalies),
            "published": sum(link.stats.published for link in links),
            "acked": sum(link.stats.acked for link in links),
            "refused": sum(link.stats.refused for link in links),
            "connects": sum(link.stats.connects for link in links),
            "connect_refused": sum(link.stats.connect_refused for link in links),
            "drops": sum(link.stats.drops for link in links),
            "skipped": {"disconnected": s.skipped_disconnected, "backpressure": s.skipped_backpressure,
                        "silent": s.skipped_silent, "behind": s.behind},
            "cpu_s": round(cpu, 3),
            "cpu_pct": round(100.0 * cpu / elapsed, 2) if elapsed > 0 else None,
        }


def open_log(path: Path | None) -> IO[str] | None:
    if path is None:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.open("a", encoding="utf-8")
