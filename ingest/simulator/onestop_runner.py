"""Run the simulated one-stop-shop against the real API, as the province's one-stop-shop system would: it registers
its units and procedures (through the registry, like an operator and an admin do), holds an API key of role
integration, sends its history in batches to ``POST /dossiers/events``, then each event when its time comes; and it
files citizens' reports through Open311 (``POST /open311/v2/requests.json``).

History: ``history_days`` back from today (or ``history_from``..``history_to``). A re-run resends only the last
``RESEND_DAYS`` before the day it had reached (events still pending then), so restarts are cheap; what it sends
twice is a duplicate. Secrets and progress: ``.run/simulator/onestop.json`` (0600)."""

from __future__ import annotations

import heapq
import logging
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import httpx
import shapely

from ingest.simulator import citizen
from ingest.simulator.geography import Geography
from ingest.simulator.onestop import ICT, Commune, Config, Event, Planner, Province, events_of
from ingest.simulator.provision import FleetState
from ops_center.auth import users
from ops_center.auth.accounts import AccountRefused, check_key_owner
from ops_center.auth.apikeys import create_api_key, verify_api_key
from ops_center.auth.roles import Role
from ops_center.db import Conn
from ops_center.devices import service as registry
from ops_center.dossiers import procedures
from ops_center.settings import REPO_ROOT

log = logging.getLogger("ingest.simulator.onestop")
DEFAULT_STATE: Final = REPO_ROOT / ".run" / "simulator" / "onestop.json"
RESEND_DAYS: Final = 80
BATCH: Final = 5000
KEY_NAME: Final = "simulator-onestop"
DEFAULT_KEY_OWNER: Final = "admin"
"""The admin account ``make up`` creates; the simulator's API key belongs to it (keys borrow an admin's standing)."""


class ProvisionError(RuntimeError):
    """The one-stop-shop cannot be provisioned as asked (the message names the option and the value)."""


@dataclass
class Options:
    api_url: str
    scale: float = 0.1
    seed: int = 2025
    prefix: str = "cm"
    history_days: int = 760
    history_from: date | None = None
    history_to: date | None = None
    live: bool = True
    citizens_per_hour: float = 6.0
    duration: float | None = None
    tick_s: float = 2.0


@dataclass
class Stats:
    dossiers: int = 0
    events: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    reports: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"dossiers": self.dossiers, "events": self.events, "accepted": self.accepted,
                "duplicates": self.duplicates, "rejected": self.rejected, "rejected_by_reason": self.reasons,
                "citizen_reports": self.reports}


def build_province(geo: Geography, wards_2019: Any | None, prefix: str) -> Province:
    """Commune units of the 2025 wards, each with the 2019 wards its territory covers (area weights), from the
    2019 boundary frame (``geo.boundaries.load_boundaries(...).frame``; None: no history before the reform)."""
    codes19: list[str] = []
    tree = None
    geoms19: list[Any] = []
    if wards_2019 is not None:
        codes19 = [str(c) for c in wards_2019["code"]]
        geoms19 = list(wards_2019.geometry.values)
        tree = shapely.STRtree(geoms19)
    communes = []
    for w in geo.wards:
        cover: list[tuple[str, float]] = []
        if tree is not None:
            for i in tree.query(w.geometry):
                share = shapely.area(shapely.intersection(w.geometry, geoms19[int(i)])) / max(w.geometry.area, 1e-12)
                if share > 0.01:
                    cover.append((codes19[int(i)], round(share, 4)))
        communes.append(Commune(f"{prefix}-ubnd-{w.code}", w.code, tuple(cover), 2.0 if w.urban else 1.0))
    return Province(tuple(communes), tuple(codes19), tuple(w.code for w in geo.wards))


def key_owner(conn: Conn, username: str) -> users.User:
    """The enabled admin who owns the simulator's API key, its row held (``FOR SHARE``) while the key is minted."""
    found = users.get_user(conn, username)
    row = users.get_user_by_id(conn, found.id, lock=True) if found is not None else None
    try:
        return check_key_owner(row, KEY_NAME)
    except AccountRefused as exc:
        raise ProvisionError(f"--onestop-key-owner {username!r}: {exc}; an API key belongs to an enabled admin "
                             f"(ops-center users create {username} --role admin)") from exc


def provision(conn: Conn, config: Config, geo: Geography, province: Province, state: FleetState,
              owner: str = DEFAULT_KEY_OWNER) -> str:
    """Units (communes and departments) and procedures in the registry (idempotent), and the API key of role
    integration the system sends with, minted for the admin ``owner`` (kept in the state file while the database
    still accepts it: not revoked, its owner still an enabled admin)."""
    names = {w.code: w.name for w in geo.wards}
    with conn.transaction():
        for c in province.communes:
            if registry.get_unit(conn, c.unit) is None:
                registry.create_unit(conn, c.unit, config.commune_unit.format(name=names[c.ward]), "commune",
                                     ward_code=c.ward)
        for code, name in config.departments.items():
            if registry.get_unit(conn, code) is None:
                registry.create_unit(conn, code, name, "department")
        procedures.upsert(conn, [procedures.Procedure(p.code, p.name, p.days, p.online_level, p.post,
                                                      config.departments.get(p.unit, "UBND cấp xã"))
                                 for p in config.procedures])
        key = state.secrets.get("api_key")
        found = verify_api_key(conn, key) if key else None
        if found is None or found.role != Role.integration or not _owner_may_act(found.owner):
            _, key = create_api_key(conn, KEY_NAME, Role.integration, key_owner(conn, owner))
            state.secrets["api_key"] = key
            state.save()
    assert key is not None
    return key


def _owner_may_act(owner: users.User | None) -> bool:
    try:
        check_key_owner(owner, KEY_NAME)
    except AccountRefused:
        return False
    return True


class Api:
    """The API as an integrator sees it: an API key, retries while the API is unreachable or restarting."""

    def __init__(self, base_url: str, key: str, stop: threading.Event) -> None:
        self.http = httpx.Client(base_url=base_url.rstrip("/"), headers={"X-API-Key": key}, timeout=120.0)
        self.stop = stop

    def _call(self, method: str, path: str, **kw: Any) -> httpx.Response | None:
        delay = 0.5
        while not self.stop.is_set():
            try:
                r = self.http.request(method, path, **kw)
            except httpx.TransportError as exc:
                log.warning("%s %s: %s; retrying in %.0f s", method, path, exc, delay)
            else:
                if r.status_code < 500:
                    return r
                log.warning("%s %s: HTTP %d; retrying in %.0f s", method, path, r.status_code, delay)
            self.stop.wait(delay)
            delay = min(delay * 2, 30.0)
        return None

    def send(self, events: list[Event], stats: Stats) -> None:
        r = self._call("POST", "/dossiers/events", json=events)
        if r is None:
            return
        if r.status_code != 200:
            log.error("POST /dossiers/events: HTTP %d %s", r.status_code, r.text[:300])
            return
        body = r.json()
        stats.events += len(events)
        stats.accepted += body["accepted"]
        stats.duplicates += body["duplicates"]
        stats.rejected += len(body["rejected"])
        for item in body["rejected"]:
            stats.reasons[item["reason"]] = stats.reasons.get(item["reason"], 0) + 1

    def services(self) -> set[str]:
        r = self._call("GET", "/open311/v2/services.json")
        return {s["service_code"] for s in r.json()} if r is not None and r.status_code == 200 else set()

    def report(self, form: dict[str, str]) -> bool:
        r = self._call("POST", "/open311/v2/requests.json", data=form)
        if r is not None and r.status_code != 200:
            log.error("Open311 request: HTTP %d %s", r.status_code, r.text[:300])
        return r is not None and r.status_code == 200


class OneStopShop:
    def __init__(self, planner: Planner, api: Api, options: Options, geo: Geography, state: FleetState,
                 stop: threading.Event) -> None:
        self.planner, self.api, self.options, self.geo, self.state = planner, api, options, geo, state
        self.stop = stop
        self.stats = Stats()
        self.pending: list[tuple[float, int, Event]] = []
        self._seq = 0
        self._buffer: list[Event] = []

    def _first_day(self, today: date) -> date:
        o = self.options
        first = o.history_from or today - timedelta(days=o.history_days)
        info = self.state.info
        reached = info.get("reached")
        if reached and info.get("tag") == self.planner.tag and o.history_from is None:
            first = max(first, date.fromisoformat(reached) - timedelta(days=RESEND_DAYS))
        return first

    def _plan(self, day: date, now: datetime) -> None:
        for d in self.planner.day(day):
            self.stats.dossiers += 1
            for at, ev in events_of(d):
                if at <= now:
                    self._buffer.append(ev)
                else:
                    self._seq += 1
                    heapq.heappush(self.pending, (at.timestamp(), self._seq, ev))
        if len(self._buffer) >= BATCH:
            self._flush()

    def _flush(self) -> None:
        if self._buffer:
            batch, self._buffer = self._buffer, []
            self.api.send(batch, self.stats)

    def backfill(self, now: datetime) -> date:
        """Every event up to ``now`` of the history window; later ones wait in ``pending``. Returns the last day
        planned."""
        today = now.astimezone(ICT).date()
        last = min(self.options.history_to or today, today)
        day = self._first_day(today)
        t0 = time.monotonic()
        while day <= last and not self.stop.is_set():
            self._plan(day, now)
            day += timedelta(days=1)
        self._flush()
        log.info("one-stop-shop history up to %s: %s in %.1f s", last, self.stats.as_json(), time.monotonic() - t0)
        if self.options.history_from is None:
            self.state.info.update({"reached": last.isoformat(), "tag": self.planner.tag})
            self.state.save()
        return last

    def run(self) -> dict[str, Any]:
        start = time.monotonic()
        planned = self.backfill(datetime.now(UTC))
        if not self.options.live:
            return self.stats.as_json()
        rng = random.Random(self.planner.seed)
        services = self.api.services() if self.options.citizens_per_hour > 0 else set()
        wards = self.geo.wards
        next_report = time.monotonic() + rng.expovariate(max(self.options.citizens_per_hour, 1e-9) / 3600)
        while not self.stop.is_set():
            if self.options.duration is not None and time.monotonic() - start >= self.options.duration:
                break
            now = datetime.now(UTC)
            today = now.astimezone(ICT).date()
            while planned < today:
                planned += timedelta(days=1)
                self._plan(planned, now)
            while self.pending and self.pending[0][0] <= now.timestamp():
                self._buffer.append(heapq.heappop(self.pending)[2])
            self._flush()
            if services and time.monotonic() >= next_report:
                rep = citizen.report(rng, wards, services)
                if rep is not None and self.api.report(rep.form()):
                    self.stats.reports += 1
                next_report = time.monotonic() + rng.expovariate(self.options.citizens_per_hour / 3600)
            self.stop.wait(self.options.tick_s)
        self.state.info.update({"reached": planned.isoformat(), "tag": self.planner.tag})
        self.state.save()
        return self.stats.as_json()


def load_wards_2019(path: Path) -> Any | None:
    """The 2019 ward frame (code, geometry), or None when the file is missing (no history before the reform)."""
    if not path.is_file():
        log.warning("no %s: the one-stop-shop has no history before 2025-07-01", path)
        return None
    from geo.boundaries import CAMAU_2019, load_boundaries

    return load_boundaries(path, CAMAU_2019).frame
