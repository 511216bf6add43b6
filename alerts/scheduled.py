"""Scheduled (window) rules — absence, geo-count, KPI — evaluated once per Celery beat cycle.

One cycle, one transaction: claim the due rules (``UPDATE alert_rules SET last_evaluated_at … RETURNING``, so a
duplicate beat finds nothing left to claim), load each input once (the device registry, the latest time per
metric, incident counts per ward, KPI rows), compute each rule's wanted set of subjects with its pure function,
and diff it against the rule's open alerts: fire what is new, resolve what is gone. ``lifecycle`` locks each
fingerprint, so even two cycles racing never duplicate an alert. A rule whose inputs fail records ``last_error``
and the cycle goes on."""

from __future__ import annotations

import inspect
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from psycopg import errors as pg_errors

from alerts import lifecycle
from alerts.durations import format_duration
from alerts.models import utcnow
from alerts.muting import MuteSnapshot
from alerts.rules import absence, geocount, kpi, silence
from alerts.rules.absence import DeviceRow
from alerts.rules.models import (
    SCHEDULED_KINDS,
    SCORECARD_PREFIX,
    AbsenceRule,
    GeoCountRule,
    KpiRule,
    ProvinceSilenceRule,
    Scope,
)
from alerts.rules.store import StoredRule, stored
from alerts.summary import render
from ops_center.db import Conn, fetch_all
from ops_center.devices import lookups as device_lookups
from ops_center.dossiers.calendar import BusinessCalendar, calendar_for, local_date
from ops_center.dossiers.service import last_received_by_unit
from ops_center.incidents import reads as incident_reads
from ops_center.petitions import service as petitions
from ops_center.readiness import exchange
from ops_center.readings import ReadingsStore
from ops_center.scorecard import service as scorecard
from ops_center.settings import LOCAL_TIMEZONE, get_settings

log = logging.getLogger("alerts.scheduled")


class InputUnavailable(RuntimeError):
    """A rule's data source does not exist yet (incidents, KPIs): recorded on the rule, never fatal."""


@dataclass(frozen=True)
class Wanted:
    subject: str
    labels: dict[str, Any]
    value: float | None
    detail: dict[str, Any]


@dataclass
class CycleReport:
    rules: int = 0
    fired: int = 0
    resolved: int = 0
    errors: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"rules": self.rules, "fired": self.fired, "resolved": self.resolved, "errors": self.errors,
                "seconds": round(self.seconds, 4)}


class Inputs:
    """The data rules read, each loaded at most once per cycle."""

    def __init__(self, conn: Conn, now: datetime, tz: str = LOCAL_TIMEZONE) -> None:
        self.conn, self.now, self.tz = conn, now, tz
        self._devices: list[DeviceRow] | None = None
        self._index: dict[str, dict[str, list[DeviceRow]]] | None = None
        self._latest: dict[str, dict[str, datetime]] = {}
        self._counts: dict[tuple[Any, ...], dict[tuple[str | None, str], int]] = {}
        self._kpis: dict[tuple[Any, ...], list[Any]] = {}
        self._store: ReadingsStore | None = None
        self._feeds: dict[str, dict[str, datetime]] = {}
        self._calendar: BusinessCalendar | None = None

    @property
    def calendar(self) -> BusinessCalendar:
        if self._calendar is None:
            self._calendar = calendar_for(get_settings())
        return self._calendar

    def feed_activity(self, feed: str) -> dict[str, datetime]:
        """The newest record per unit of an e-government feed."""
        if feed not in self._feeds:
            with self.conn.transaction():
                if feed == "dossiers":
                    self._feeds[feed] = last_received_by_unit(self.conn)
                elif feed == "petitions":
                    self._feeds[feed] = petitions.last_activity(self.conn)
                else:
                    self._feeds[feed] = exchange.last_activity(self.conn, feed)
        return self._feeds[feed]

    def devices(self) -> list[DeviceRow]:
        if self._devices is None:
            self._devices = [DeviceRow(*r) for r in device_lookups.watched(self.conn)]
        return self._devices

    def devices_for(self, scope: Scope) -> list[DeviceRow]:
        """The devices a scope covers, from per-cycle indexes (a scoped rule never walks the whole registry)."""
        if scope.type == "all":
            return self.devices()
        if self._index is None:
            self._index = {"device": {}, "kind": {}, "ward": {}}
            for d in self.devices():
                self._index["device"].setdefault(d.id, []).append(d)
                if d.kind:
                    self._index["kind"].setdefault(d.kind, []).append(d)
                if d.ward_code:
                    self._index["ward"].setdefault(d.ward_code, []).append(d)
        return self._index[scope.type].get(scope.value or "", [])

    def latest(self, metric: str) -> dict[str, datetime]:
        if metric not in self._latest:
            store = self._store = self._store or ReadingsStore.for_connection(self.conn)
            self._latest[metric] = {r.device_id: r.time for r in store.latest(self.conn, metric=metric)}
        return self._latest[metric]

    def incident_counts(self, rule: GeoCountRule) -> dict[tuple[str | None, str], int]:
        key = (rule.window, tuple(sorted(rule.categories)), rule.open_only)
        if key not in self._counts:
            if not incident_reads.present(self.conn):
                raise InputUnavailable("incidents are not available yet (no incidents table)")
            with self.conn.transaction():
                self._counts[key] = incident_reads.counts_by_ward(
                    self.conn, self.now - timedelta(seconds=rule.window), self.now, list(rule.categories),
                    rule.open_only)
        return self._counts[key]

    def provinces(self) -> list[Any]:
        """National mode: each registered province's freshness (``ops_center.federation.national.store``)."""
        found = self.conn.execute("SELECT to_regclass('federation_provinces') IS NOT NULL").fetchone()
        if not found or not found[0]:
            raise InputUnavailable("federation is not available (no federation_provinces table)")
        from ops_center.federation.national.store import statuses

        with self.conn.transaction():
            return list(statuses(self.conn))

    def kpi_rows(self, rule: KpiRule) -> list[Any]:
        if rule.kpi.startswith(SCORECARD_PREFIX):
            return self._index_rows(rule)
        key = (rule.level, rule.period, tuple(sorted(rule.codes)))
        if key not in self._kpis:
            try:
                from ops_center.dossiers import kpis as kpis_mod
            except ImportError as exc:
                raise InputUnavailable("dossier KPIs are not available yet (ops_center.dossiers.kpis)") from exc
            start, end = kpi.period_window(rule.period, self.now, self.tz)
            kwargs: dict[str, Any] = {"codes": list(rule.codes) or None}
            if "now" in inspect.signature(kpis_mod.compute).parameters:
                kwargs["now"] = self.now
            with self.conn.transaction():
                result = kpis_mod.compute(self.conn, rule.level, rule.period, start, end, **kwargs)
            items = result.get("items", result) if isinstance(result, dict) else result
            self._kpis[key] = list(items or [])
        return self._kpis[key]


    def _index_rows(self, rule: KpiRule) -> list[Any]:
        """National service index rows for the current period (the scorecard of that window as one period)."""
        key = ("766", rule.level, rule.period, tuple(sorted(rule.codes)))
        if key not in self._kpis:
            start, _ = kpi.period_window(rule.period, self.now, self.tz)
            w = scorecard.window(local_date(start), local_date(self.now), self.now)
            with self.conn.transaction():
                self._kpis[key] = scorecard.scorecard(self.conn, rule.level, "range", w, self.calendar,
                                                      list(rule.codes) or None)
        return kpi.index_rows(rule.kpi, self._kpis[key])


def _device_labels(d: DeviceRow, metric: str | None) -> dict[str, Any]:
    labels: dict[str, Any] = {"level": "device", "device": d.id}
    for k, v in (("metric", metric), ("kind", d.kind), ("ward", d.ward_code), ("ward_set", d.ward_set),
                 ("unit", d.unit_code)):
        if v:
            labels[k] = v
    return labels


def wanted(rule: StoredRule, inputs: Inputs) -> list[Wanted]:
    """The subjects a scheduled rule says should be alerting now (pure but for the inputs it asks for)."""
    spec = rule.rule
    if isinstance(spec, AbsenceRule) and spec.feed is not None:
        return _silent_feeds(spec, inputs)
    if isinstance(spec, AbsenceRule):
        latest = inputs.latest(spec.metric) if spec.metric else None
        out = []
        for s in absence.silent_devices(spec, inputs.devices_for(spec.scope), inputs.now, latest):
            subject = f"{s.device.id}:{spec.metric}" if spec.metric else s.device.id
            out.append(Wanted(subject, {**spec.labels, **_device_labels(s.device, spec.metric)}, s.silent_s,
                              {"silent_for": format_duration(round(s.silent_s)),
                               "last": s.last.isoformat() if s.last else None}))
        return out
    if isinstance(spec, GeoCountRule):
        counts = inputs.incident_counts(spec)
        by_ward: dict[str, int] = {}
        sets: dict[str, str | None] = {}
        for (ward_set, ward), n in counts.items():
            by_ward[ward] = by_ward.get(ward, 0) + n
            sets[ward] = ward_set
        out = []
        for ward, n in sorted(geocount.crowded_wards(spec, by_ward).items()):
            ward_labels: dict[str, Any] = {**spec.labels, "level": "ward", "ward": ward}
            if sets.get(ward):
                ward_labels["ward_set"] = sets[ward]
            out.append(Wanted(f"ward:{ward}", ward_labels, float(n), {"count": n}))
        return out
    if isinstance(spec, KpiRule):
        out = []
        for b in kpi.below_target(spec, inputs.kpi_rows(spec)):
            labels: dict[str, Any] = {**spec.labels, "level": spec.level, "kpi": spec.kpi}
            if spec.level in ("unit", "ward", "district"):
                labels[spec.level] = b.code
            out.append(Wanted(f"{spec.level}:{b.code}", labels, b.value,
                              {"code": b.code, "name": b.name, "count": b.count}))
        return out
    if isinstance(spec, ProvinceSilenceRule):
        return [Wanted(f"province:{p.code}", {**spec.labels, **p.labels}, p.silent_s, p.detail)
                for p in silence.silent_provinces(spec, inputs.provinces(), inputs.now)]
    raise ValueError(f"kind: {spec.kind!r} is not a scheduled rule kind")


def _silent_feeds(spec: AbsenceRule, inputs: Inputs) -> list[Wanted]:
    assert spec.feed is not None
    today = local_date(inputs.now)
    out = []
    for s in absence.silent_units(spec, inputs.feed_activity(spec.feed), today, inputs.calendar):
        labels = {**spec.labels, "level": "unit", "unit": s.unit, "feed": spec.feed}
        out.append(Wanted(f"unit:{s.unit}:{spec.feed}", labels,
                          None if s.business_days is None else float(s.business_days),
                          {"silent_business_days": "never heard" if s.business_days is None else s.business_days,
                           "last": s.last.isoformat() if s.last else None}))
    return out


def claim(conn: Conn, now: datetime, min_interval_s: float, rule_ids: list[int] | None) -> list[StoredRule]:
    rows = fetch_all(
        conn,
        "UPDATE alert_rules SET last_evaluated_at = %(now)s WHERE enabled AND kind = ANY(%(kinds)s) "
        "AND (last_evaluated_at IS NULL OR last_evaluated_at <= %(before)s "
        "     OR last_evaluated_at > %(now)s) "
        "AND (%(ids)s::bigint[] IS NULL OR id = ANY(%(ids)s)) "
        "RETURNING id, name, kind, severity, enabled, spec, escalation_policy_id, version",
        {"now": now, "before": now - timedelta(seconds=min_interval_s), "kinds": sorted(SCHEDULED_KINDS),
         "ids": rule_ids},
    )
    return [stored(r) for r in sorted(rows, key=lambda r: r["id"])]


CHUNK = 2000


def evaluate(conn: Conn, *, now: datetime | None = None, min_interval_s: float = 0.0,
             rule_ids: list[int] | None = None, tz: str = LOCAL_TIMEZONE) -> CycleReport:
    """One cycle over the due scheduled rules, in one transaction (a savepoint if the caller has one open); a
    deadlock with a concurrent cycle is retried. ``min_interval_s`` skips rules evaluated more recently than that
    (a second beat in the same cycle)."""
    started = time.perf_counter()
    now = now or utcnow()
    for attempt in (1, 2, 3):
        try:
            with conn.transaction():
                report = _cycle(conn, now, min_interval_s, rule_ids, tz)
            break
        except pg_errors.DeadlockDetected:
            if attempt == 3:
                raise
            log.warning("scheduled cycle deadlocked with another; retrying")
    report.seconds = time.perf_counter() - started
    return report


def _cycle(conn: Conn, now: datetime, min_interval_s: float, rule_ids: list[int] | None, tz: str) -> CycleReport:
    report = CycleReport()
    rules = claim(conn, now, min_interval_s, rule_ids)
    report.rules = len(rules)
    if not rules:
        return report
    inputs = Inputs(conn, now, tz)
    open_rows = conn.execute(
        "SELECT rule_id, subject, fingerprint FROM alerts WHERE ends_at IS NULL AND rule_id = ANY(%s)",
        ([r.id for r in rules],)).fetchall()
    open_by_rule: dict[int, dict[str, str]] = {}
    for rid, subject, fp in open_rows:
        open_by_rule.setdefault(rid, {})[subject] = fp
    errors: list[tuple[int, str]] = []
    firings: list[lifecycle.Firing] = []
    resolves: list[tuple[str, datetime, dict[str, Any]]] = []
    gone_detail = {"reason": "condition no longer holds"}
    for rule in rules:
        try:
            want = {w.subject: w for w in wanted(rule, inputs)}
        except InputUnavailable as exc:
            report.errors[rule.rule.name] = str(exc)
            errors.append((rule.id, str(exc)))
            continue
        except Exception as exc:
            log.exception("rule %s (%s) failed", rule.id, rule.rule.name)
            report.errors[rule.rule.name] = f"{type(exc).__name__}: {exc}"[:500]
            errors.append((rule.id, report.errors[rule.rule.name]))
            continue
        have = open_by_rule.get(rule.id, {})
        for subject, w in want.items():
            if subject not in have:
                summary = render(rule.rule, w.labels, w.value, w.detail)
                firings.append(lifecycle.Firing(rule.ref, subject, w.labels, summary, w.value, now))
        resolves += [(fp, now, gone_detail) for subject, fp in have.items() if subject not in want]
    mutes = MuteSnapshot.load(conn, now) if firings else None
    for i in range(0, len(firings), CHUNK):
        report.fired += len(lifecycle.fire_many(conn, firings[i:i + CHUNK], now=now, mutes=mutes))
    for i in range(0, len(resolves), CHUNK):
        report.resolved += len(lifecycle.resolve_many(conn, resolves[i:i + CHUNK], now=now))
    if errors:
        conn.execute("UPDATE alert_rules SET last_error = u.e FROM unnest(%s::bigint[], %s::text[]) AS u(i, e) "
                     "WHERE id = u.i", ([e[0] for e in errors], [e[1] for e in errors]))
    conn.execute("UPDATE alert_rules SET last_error = NULL WHERE id = ANY(%s) AND last_error IS NOT NULL "
                 "AND NOT (id = ANY(%s))", ([r.id for r in rules], [e[0] for e in errors]))
    return report
