"""Inline evaluation of threshold and rate rules on each committed readings batch (called by ingest).

``StreamEvaluator(settings_or_nothing).on_batch(conn, rows) -> int`` — rows are ``(epoch_s, device_id, metric,
value)``; the return value is the number of alert transitions (fired, reopened, resolved).

Design (see docs/architecture.md, "alerts"):

- Rules and the device registry (kind, ward, unit) are cached in memory and reloaded every ``rules_refresh_s``
  (a few seconds). Rules are indexed by metric, so a batch costs one dictionary lookup per row and nothing more
  for rows no rule watches; a batch that no rule matches touches no table.
- The evaluation state of each (rule, subject) — ok / pending since / firing, the newest reading applied, the
  samples of a rate window — lives in ``alert_rule_state``, not in the process. A batch locks the rows it needs
  with one ``INSERT … ON CONFLICT DO UPDATE … RETURNING`` in key order (so two ingest processes splitting one
  shared subscription serialise per subject and never deadlock each other), steps the pure rule functions, writes
  the rows back with one ``UPDATE … FROM unnest``, and applies the transitions through ``alerts.lifecycle`` — all
  in one transaction. A restart loses nothing; readings older than the newest applied are ignored, so
  redelivered batches are harmless.
- ``for`` durations, hysteresis and rate windows run on reading time, which keeps evaluation deterministic under
  redelivery and replay.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg import errors as pg_errors

from alerts import lifecycle
from alerts.config import get_config
from alerts.muting import MuteSnapshot
from alerts.rules import rate, threshold
from alerts.rules.models import STREAM_KINDS, RateRule, ThresholdRule
from alerts.rules.state import EvalState, Transition
from alerts.rules.store import StoredRule, load_enabled
from alerts.summary import render
from ops_center.db import Conn
from ops_center.readings import ReadingsStore
from ops_center.settings import Settings

log = logging.getLogger("alerts.stream")

Row = tuple[float, str, str, float]


@dataclass(frozen=True)
class DeviceInfo:
    kind: str | None
    name: str | None
    ward_code: str | None
    ward_set: str | None
    unit_code: str | None


def device_labels(device_id: str, info: DeviceInfo | None, metric: str | None) -> dict[str, Any]:
    labels: dict[str, Any] = {"level": "device", "device": device_id}
    if metric:
        labels["metric"] = metric
    if info is not None:
        for key, value in (("kind", info.kind), ("ward", info.ward_code), ("ward_set", info.ward_set),
                           ("unit", info.unit_code), ("device_name", info.name)):
            if value:
                labels[key] = value
    return labels


_LOCK_SQL = """
INSERT INTO alert_rule_state AS s (rule_id, subject, rule_version)
SELECT u.r, u.s, u.v FROM unnest(%s::bigint[], %s::text[], %s::int[]) WITH ORDINALITY AS u(r, s, v, n) ORDER BY u.n
ON CONFLICT (rule_id, subject) DO UPDATE SET updated_at = s.updated_at
RETURNING s.rule_id, s.subject, s.rule_version, s.status, extract(epoch FROM s.since)::float8,
          extract(epoch FROM s.last_time)::float8, s.last_value, s.samples, (s.xmax = 0) AS inserted
"""

_SAVE_SQL = """
UPDATE alert_rule_state s SET rule_version = u.v, status = u.st, since = to_timestamp(u.since),
       last_time = to_timestamp(u.lt), last_value = u.lv, samples = u.sm::jsonb, updated_at = now()
FROM unnest(%s::bigint[], %s::text[], %s::int[], %s::text[], %s::float8[], %s::float8[], %s::float8[], %s::text[])
     AS u(r, s, v, st, since, lt, lv, sm)
WHERE s.rule_id = u.r AND s.subject = u.s
"""


class StreamEvaluator:
    """Evaluates stream rules on committed batches. One per ingest process; thread-safe for refreshes."""

    def __init__(self, settings: Settings | None = None, *, refresh_s: float | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.refresh_s = refresh_s if refresh_s is not None else get_config().rules_refresh_s
        self.clock = clock
        self._lock = threading.Lock()
        self._loaded_at = float("-inf")
        self._rules: dict[int, StoredRule] = {}
        self._by_metric: dict[str, list[StoredRule]] = {}
        self._registry_metrics: frozenset[str] = frozenset()
        self._devices: dict[str, DeviceInfo] = {}
        self._unknown: dict[str, float] = {}
        self._store: ReadingsStore | None = None
        self.stats = {"batches": 0, "rows_matched": 0, "transitions": 0, "refreshes": 0}

    # -- caches ----------------------------------------------------------------------------------------------------
    def invalidate(self) -> None:
        """Force a reload on the next batch (tests, or after a rule change in this process)."""
        self._loaded_at = float("-inf")

    def refresh(self, conn: Conn) -> None:
        rules = load_enabled(conn, STREAM_KINDS)
        by_metric: dict[str, list[StoredRule]] = defaultdict(list)
        registry: set[str] = set()
        for r in rules:
            assert isinstance(r.rule, ThresholdRule | RateRule)
            by_metric[r.rule.metric].append(r)
            if r.rule.scope.type in ("kind", "ward"):
                registry.add(r.rule.metric)
        devices = {
            row[0]: DeviceInfo(row[1], row[2], row[3], row[4], row[5])
            for row in conn.execute("SELECT id, kind, name, ward_code, ward_set, unit_code FROM devices").fetchall()
        }
        if self._store is None:
            self._store = ReadingsStore.for_connection(conn)
        with self._lock:
            self._rules = {r.id: r for r in rules}
            self._by_metric = dict(by_metric)
            self._registry_metrics = frozenset(registry)
            self._devices = devices
            self._unknown = {}
            self._loaded_at = time.monotonic()
        self.stats["refreshes"] += 1

    def _refresh_if_due(self, conn: Conn) -> None:
        if time.monotonic() - self._loaded_at >= self.refresh_s:
            with conn.transaction():
                self.refresh(conn)

    def _lookup_devices(self, conn: Conn, ids: set[str]) -> None:
        """Devices registered since the last refresh (or never): fetched once, misses remembered for a while."""
        now = time.monotonic()
        wanted = [d for d in ids if now - self._unknown.get(d, float("-inf")) >= self.refresh_s]
        if not wanted:
            return
        rows = conn.execute("SELECT id, kind, name, ward_code, ward_set, unit_code FROM devices WHERE id = ANY(%s)",
                            (wanted,)).fetchall()
        found = {r[0]: DeviceInfo(r[1], r[2], r[3], r[4], r[5]) for r in rows}
        with self._lock:
            self._devices.update(found)
            for d in wanted:
                if d not in found:
                    self._unknown[d] = now

    # -- the hook --------------------------------------------------------------------------------------------------
    def on_batch(self, conn: Conn, rows: Sequence[Row]) -> int:
        """Evaluate stream rules on a committed batch; returns the number of alert transitions. Runs in its own
        transaction (a savepoint if the caller has one open) and retries once on a deadlock."""
        if not rows:
            return 0
        self._refresh_if_due(conn)
        by_metric = self._by_metric
        if not by_metric:
            return 0
        if self._registry_metrics:
            devices = self._devices
            missing = {d for _, d, m, _ in rows if m in self._registry_metrics and d not in devices}
            if missing:
                self._lookup_devices(conn, missing)
        work = self._match(rows, by_metric)
        self.stats["batches"] += 1
        if not work:
            return 0
        self.stats["rows_matched"] += sum(len(v) for v in work.values())
        for attempt in (1, 2, 3):
            try:
                with conn.transaction():
                    n = self._evaluate(conn, work)
                self.stats["transitions"] += n
                return n
            except (pg_errors.DeadlockDetected, pg_errors.SerializationFailure):
                if attempt == 3:
                    raise
                log.warning("stream evaluation hit a deadlock; retrying (attempt %d)", attempt + 1)
            except pg_errors.ForeignKeyViolation:
                if attempt == 3:
                    raise
                log.info("a rule was deleted under the cache; reloading rules")
                with conn.transaction():
                    self.refresh(conn)
                work = self._match(rows, self._by_metric)
                if not work:
                    return 0
        return 0  # pragma: no cover

    def _match(self, rows: Sequence[Row], by_metric: dict[str, list[StoredRule]]
               ) -> dict[tuple[int, str], list[tuple[float, float]]]:
        devices = self._devices
        work: dict[tuple[int, str], list[tuple[float, float]]] = defaultdict(list)
        for t, d, m, v in rows:
            rules = by_metric.get(m)
            if rules is None:
                continue
            info: DeviceInfo | None = None
            for r in rules:
                scope = r.rule.scope  # type: ignore[union-attr]
                if scope.type == "all":
                    ok = True
                elif scope.type == "device":
                    ok = scope.value == d
                else:
                    if info is None:
                        info = devices.get(d)
                    if info is None:
                        ok = False
                    else:
                        ok = (info.kind if scope.type == "kind" else info.ward_code) == scope.value
                if ok:
                    work[(r.id, d)].append((float(t), float(v)))
        return work

    def _evaluate(self, conn: Conn, work: dict[tuple[int, str], list[tuple[float, float]]]) -> int:
        rules = self._rules
        keys = sorted(work)
        got = conn.execute(_LOCK_SQL, ([k[0] for k in keys], [k[1] for k in keys],
                                       [rules[k[0]].version for k in keys])).fetchall()
        states: dict[tuple[int, str], EvalState] = {}
        for rid, subject, version, status, since, last_time, last_value, samples, inserted in got:
            rule = rules[rid]
            st = EvalState(status, since, last_time, last_value, [(float(a), float(b)) for a, b in samples or []])
            if version != rule.version:  # the rule changed: restart its state, keep "firing" so it can resolve
                st = EvalState("firing" if status == "firing" else "ok")
            if inserted and isinstance(rule.rule, RateRule):
                self._seed_rate(conn, rule.rule, subject, st, min(t for t, _ in work[(rid, subject)]))
            states[(rid, subject)] = st
        transitions: list[tuple[StoredRule, str, Transition]] = []
        for key in keys:
            rule, st = rules[key[0]], states[key]
            spec = rule.rule
            for t, v in sorted(work[key]):
                tr = (threshold.step(spec, st, t, v) if isinstance(spec, ThresholdRule)
                      else rate.step(spec, st, t, v))  # type: ignore[arg-type]
                if tr is not None:
                    transitions.append((rule, key[1], tr))
        conn.execute(_SAVE_SQL, (
            [k[0] for k in keys], [k[1] for k in keys], [rules[k[0]].version for k in keys],
            [states[k].status for k in keys], [states[k].since for k in keys], [states[k].last_time for k in keys],
            [states[k].last_value for k in keys], [json.dumps(states[k].samples) for k in keys],
        ))
        if not transitions:
            return 0
        return self._apply(conn, transitions)

    def _seed_rate(self, conn: Conn, spec: RateRule, device_id: str, st: EvalState, first_t: float) -> None:
        """A new (rule, device) pair starts its window from stored readings, so a rate rule created while data
        flows (or a state row lost) needs no warm-up."""
        store = self._store or ReadingsStore.for_connection(conn)
        end = datetime.fromtimestamp(first_t, UTC)
        for r in store.range(conn, device_id, spec.metric, end - timedelta(seconds=spec.window), end):
            st.samples.append((r.time.timestamp(), r.value))
        if st.samples:
            st.last_time, st.last_value = st.samples[-1]

    def _apply(self, conn: Conn, transitions: list[tuple[StoredRule, str, Transition]]) -> int:
        """Apply transitions in rounds — the k-th transition of every subject together, resolves then fires, each
        round with a handful of bulk statements — which keeps each subject's order (fire, resolve, fire …)."""
        now = datetime.fromtimestamp(self.clock(), UTC)
        per_key: dict[tuple[int, str], list[tuple[StoredRule, str, Transition]]] = defaultdict(list)
        for item in transitions:
            per_key[(item[0].id, item[1])].append(item)
        mutes: MuteSnapshot | None = None
        n = 0
        for k in range(max(len(v) for v in per_key.values())):
            fires: list[lifecycle.Firing] = []
            resolves: list[tuple[str, datetime, dict[str, Any]]] = []
            for items in per_key.values():
                if k >= len(items):
                    continue
                rule, subject, tr = items[k]
                at = datetime.fromtimestamp(tr.time, UTC)
                if tr.action == "resolve":
                    resolves.append((lifecycle.fingerprint(rule.id, subject), at, {"value": tr.value, **tr.detail}))
                    continue
                info = self._devices.get(subject)
                spec = rule.rule
                labels = {**spec.labels, **device_labels(subject, info, spec.metric)}  # type: ignore[union-attr]
                fires.append(lifecycle.Firing(rule.ref, subject, labels, render(spec, labels, tr.value, tr.detail),
                                              tr.value, at))
            if resolves:
                n += len(lifecycle.resolve_many(conn, resolves, now=now))
            if fires:
                if mutes is None:
                    mutes = MuteSnapshot.load(conn, now)
                n += len(lifecycle.fire_many(conn, fires, now=now, mutes=mutes))
        return n


def evaluate_rows(conn: Conn, rows: Sequence[Row], evaluator: StreamEvaluator | None = None) -> int:
    """One-shot helper (CLI, tests): evaluate ``rows`` with a fresh (or given) evaluator."""
    ev = evaluator or StreamEvaluator()
    return ev.on_batch(conn, rows)


__all__ = ["DeviceInfo", "StreamEvaluator", "device_labels", "evaluate_rows"]
