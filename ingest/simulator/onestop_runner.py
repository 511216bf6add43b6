"""Run the simulated one-stop-shop and the province's other e-government systems against the real API, as they
would: after the setup (``onestop_setup``: units, catalogue, an API key of role integration) they send the units'
facts to ``POST /readiness/facts``, their history in batches — dossier events to ``POST /dossiers/events``,
petitions to ``POST /petitions/events``, documents exchanged to ``POST /egov/documents``, meeting sessions to
``POST /egov/meetings`` — then each item when its time comes; and citizens file reports through Open311
(``POST /open311/v2/requests.json``).

History: ``history_days`` back from today (or ``history_from``..``history_to``). A re-run resends only the last
``RESEND_DAYS`` before the day it had reached (items still pending then), so restarts are cheap; what it sends
twice is a duplicate. Secrets and progress: ``.run/simulator/onestop.json`` (0600)."""

from __future__ import annotations

import heapq
import logging
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

import httpx

from ingest.simulator import citizen
from ingest.simulator.geography import Geography
from ingest.simulator.onestop import Event, Planner, events_of
from ingest.simulator.onestop_feeds import FEEDS, FeedPlanner, items_of
from ingest.simulator.provision import FleetState
from ops_center.settings import LOCAL_TZ, REPO_ROOT

log = logging.getLogger("ingest.simulator.onestop")
DEFAULT_STATE: Final = REPO_ROOT / ".run" / "simulator" / "onestop.json"
RESEND_DAYS: Final = 80
BATCH: Final = 5000
DOSSIERS: Final = "dossiers"
FACTS: Final = "facts"
PATHS: Final = {DOSSIERS: "/dossiers/events", "petitions": "/petitions/events", "documents": "/egov/documents",
                "meetings": "/egov/meetings", FACTS: "/readiness/facts"}
"""Where each feed's batches go."""


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
class FeedStats:
    sent: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def add(self, sent: int, answer: dict[str, Any]) -> None:
        self.sent += sent
        self.accepted += answer["accepted"]
        self.duplicates += answer["duplicates"]
        self.rejected += len(answer["rejected"])
        for item in answer["rejected"]:
            self.reasons[item["reason"]] = self.reasons.get(item["reason"], 0) + 1

    def as_json(self) -> dict[str, Any]:
        return {"sent": self.sent, "accepted": self.accepted, "duplicates": self.duplicates,
                "rejected": self.rejected, "rejected_by_reason": self.reasons}


@dataclass
class Stats:
    """Counts of what was sent and what the API answered: dossier events at the top (as before), the other feeds
    under ``feeds``."""

    dossiers: int = 0
    reports: int = 0
    feeds: dict[str, FeedStats] = field(default_factory=lambda: {f: FeedStats() for f in PATHS})

    @property
    def rejected(self) -> int:
        return sum(f.rejected for f in self.feeds.values())

    def as_json(self) -> dict[str, Any]:
        d = self.feeds[DOSSIERS]
        return {"dossiers": self.dossiers, "events": d.sent, "accepted": d.accepted, "duplicates": d.duplicates,
                "rejected": d.rejected, "rejected_by_reason": d.reasons, "citizen_reports": self.reports,
                "feeds": {name: f.as_json() for name, f in self.feeds.items() if name != DOSSIERS}}


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

    def send(self, feed: str, items: list[Event], stats: Stats) -> None:
        """One batch of a feed (``PATHS``); the answer's counts go to ``stats``."""
        path = PATHS[feed]
        r = self._call("POST", path, json=items)
        if r is None:
            return
        if r.status_code != 200:
            log.error("POST %s: HTTP %d %s", path, r.status_code, r.text[:300])
            return
        answer = r.json()
        stats.feeds[feed].add(len(items), answer)
        for item in answer["rejected"][:3]:
            log.error("POST %s: item %d refused: %s (%s)", path, item["index"], item["reason"], item["detail"])

    def services(self) -> set[str]:
        r = self._call("GET", "/open311/v2/services.json")
        return {s["service_code"] for s in r.json()} if r is not None and r.status_code == 200 else set()

    def report(self, form: dict[str, str]) -> bool:
        r = self._call("POST", "/open311/v2/requests.json", data=form)
        if r is not None and r.status_code != 200:
            log.error("Open311 request: HTTP %d %s", r.status_code, r.text[:300])
        return r is not None and r.status_code == 200


class OneStopShop:
    """The systems' clock: what is due is sent, what is not yet waits in ``pending``. ``facts(today)`` gives the
    unit facts known on a day (sent at the start and each new day; the ones sent before are duplicates)."""

    def __init__(self, planner: Planner, feeds: FeedPlanner, facts: Any, api: Api, options: Options,
                 geo: Geography, state: FleetState, stop: threading.Event) -> None:
        self.planner, self.feeds, self.facts, self.api = planner, feeds, facts, api
        self.options, self.geo, self.state, self.stop = options, geo, state, stop
        self.stats = Stats()
        self.pending: list[tuple[float, int, str, Event]] = []
        self._seq = 0
        self._buffers: dict[str, list[Event]] = {f: [] for f in (DOSSIERS, *FEEDS)}

    def _first_day(self, today: date) -> date:
        o = self.options
        first = o.history_from or today - timedelta(days=o.history_days)
        info = self.state.info
        reached = info.get("reached")
        if reached and info.get("tag") == self.planner.tag and o.history_from is None:
            first = max(first, date.fromisoformat(reached) - timedelta(days=RESEND_DAYS))
        return first

    def _due(self, at: datetime, feed: str, item: Event, now: datetime) -> None:
        if at <= now:
            self._buffers[feed].append(item)
        else:
            self._seq += 1
            heapq.heappush(self.pending, (at.timestamp(), self._seq, feed, item))

    def _plan(self, day: date, now: datetime) -> None:
        for d in self.planner.day(day):
            self.stats.dossiers += 1
            for at, ev in events_of(d):
                self._due(at, DOSSIERS, ev, now)
        for at, feed, item in items_of(self.feeds.day(day)):
            self._due(at, feed, item, now)
        if any(len(b) >= BATCH for b in self._buffers.values()):
            self._flush()

    def _flush(self) -> None:
        for feed, buffer in self._buffers.items():
            for i in range(0, len(buffer), BATCH):
                self.api.send(feed, buffer[i:i + BATCH], self.stats)
            buffer.clear()

    def send_facts(self, today: date) -> None:
        items = self.facts(today)
        for i in range(0, len(items), BATCH):
            self.api.send(FACTS, items[i:i + BATCH], self.stats)

    def backfill(self, now: datetime) -> date:
        """The units' facts, then every item up to ``now`` of the history window; later ones wait in ``pending``.
        Returns the last day planned."""
        today = now.astimezone(LOCAL_TZ).date()
        self.send_facts(today)
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
        next_report = time.monotonic() + rng.expovariate(max(self.options.citizens_per_hour, 1e-9) / 3600)
        while not self.stop.is_set():
            if self.options.duration is not None and time.monotonic() - start >= self.options.duration:
                break
            now = datetime.now(UTC)
            today = now.astimezone(LOCAL_TZ).date()
            while planned < today:
                planned += timedelta(days=1)
                self.send_facts(planned)
                self._plan(planned, now)
            while self.pending and self.pending[0][0] <= now.timestamp():
                _, _, feed, item = heapq.heappop(self.pending)
                self._buffers[feed].append(item)
            self._flush()
            if services and time.monotonic() >= next_report:
                rep = citizen.report(rng, self.geo.wards, services)
                if rep is not None and self.api.report(rep.form()):
                    self.stats.reports += 1
                next_report = time.monotonic() + rng.expovariate(self.options.citizens_per_hour / 3600)
            self.stop.wait(self.options.tick_s)
        self.state.info.update({"reached": planned.isoformat(), "tag": self.planner.tag})
        self.state.save()
        return self.stats.as_json()
