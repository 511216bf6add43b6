"""Inline evaluation of threshold and rate rules on each committed readings batch (called by ingest).

``StreamEvaluator(settings_or_nothing).on_batch(conn, rows) -> int`` — rows are ``(epoch_s, device_id, metric,
value)``; the return value is the number of alert transitions (fired, reopened, resolved).

Design (see docs/architecture.md, "alerts"):

- Rules and the device registry (kind, ward, unit) are cached in memory and reloaded every ``rules_refresh_s``
  (a few seconds). Rules are indexed by metric, so a batch costs one dictionary lookup per row and nothing more
  for rows no rule watches; a batch that no rule matches touches no table.
- The evaluation state of each (rule, subject) — ok / pending since / firing, the time of its last change, the
  slots of a rate window — lives in ``alert_rule_state``, shared by every ingest process (a shared subscription
  hands one device's readings to any of them) and surviving restarts. A batch reads the state of the keys it
  matched with one plain ``SELECT`` and steps the pure rule functions on a copy. Only keys whose state changes
  materially (a threshold crossed, a pending period started, a new rate slot) go on: they are locked in key order
  (``INSERT … ON CONFLICT DO UPDATE … RETURNING`` — two processes serialise per key and never deadlock), stepped
  again from the locked state, written back, and their transitions applied through ``alerts.lifecycle`` in bulk —
  all in the caller's transaction. A steady signal costs one indexed read per batch and no writes.
- ``for`` durations, hysteresis and rate windows run on reading time, so redelivery and replay evaluate the same
  way. Readings older than the key's last change are ignored, and a key whose newest committed reading (the
  readings store's latest value) is newer than everything this batch brings for it is left alone: a late batch
  from another process never moves a state backwards.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import orjson
from psycopg import errors as pg_errors
from psycopg.rows import class_row

from alerts import lifecycle
from alerts.config import get_config
from alerts.muting import MuteSnapshot
from alerts.rules import rate, threshold
from alerts.rules.models import STREAM_KINDS, RateRule, ThresholdRule
from alerts.rules.state import EvalState, Status, Transition
from alerts.rules.store import StoredRule, load_enabled
from alerts.summary import render
from ops_center.db import Conn
from ops_center.devices import directory as device_directory
from ops_center.devices.models import GATEWAY_KIND, DeviceInfo, RegistryEntry
from ops_center.readings import ReadingRow, ReadingsStore
from ops_center.settings import Settings

log = logging.getLogger("alerts.stream")

def _info(e: RegistryEntry) -> DeviceInfo:
    return DeviceInfo(e.device_id, e.enabled, e.gateway_id, e.kind, e.ward_code, e.name, e.ward_set, e.unit_code)


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


_STATE_COLS = ("s.rule_id, s.subject, s.rule_version, s.status, extract(epoch FROM s.since)::float8 AS since, "
               "extract(epoch FROM s.last_time)::float8 AS last_time, s.last_value, s.samples::text AS samples")


class StoredState(NamedTuple):
    """A row of ``alert_rule_state`` as the evaluator reads it: times as epoch seconds, samples as JSON text."""

    rule_id: int
    subject: str
    rule_version: int
    status: Status
    since: float | None
    last_time: float | None
    last_value: float | None
    samples: str | None
    inserted: bool = False  # read by _LOCK_SQL only: the row did not exist before this statement

# Keys travel as comma-joined text (device ids and numbers cannot contain commas): far cheaper to send than
# arrays, which psycopg quotes element by element.
_READ_SQL = f"""
SELECT {_STATE_COLS} FROM alert_rule_state s
WHERE s.rule_id = ANY(string_to_array(%(thr)s, ',')::bigint[]) AND s.status <> 'ok'
  AND s.subject = ANY(string_to_array(%(subjects)s, ','))
UNION ALL
SELECT {_STATE_COLS} FROM unnest(string_to_array(%(rr)s, ',')::bigint[], string_to_array(%(rs)s, ',')) AS u(r, s)
JOIN alert_rule_state s ON s.rule_id = u.r AND s.subject = u.s
"""

_LOCK_SQL = f"""
INSERT INTO alert_rule_state AS s (rule_id, subject, rule_version)
SELECT u.r, u.s, u.v FROM unnest(%s::bigint[], %s::text[], %s::int[]) WITH ORDINALITY AS u(r, s, v, n) ORDER BY u.n
ON CONFLICT (rule_id, subject) DO UPDATE SET updated_at = s.updated_at
RETURNING {_STATE_COLS}, (s.xmax = 0) AS inserted
"""

_SAVE_SQL = """
UPDATE alert_rule_state s SET rule_version = u.v, status = u.st, since = to_timestamp(u.since),
       last_time = to_timestamp(u.lt), last_value = u.lv, samples = u.sm::jsonb, updated_at = now()
FROM unnest(%s::bigint[], %s::text[], %s::int[], %s::text[], %s::float8[], %s::float8[], %s::float8[], %s::text[])
     AS u(r, s, v, st, since, lt, lv, sm)
WHERE s.rule_id = u.r AND s.subject = u.s
"""


def _state(rule: StoredRule, row: StoredState | None) -> EvalState:
    """The state from a stored row (None: never written); a row of an older rule version restarts, keeping
    "firing" so the open alert can still resolve."""
    if row is None:
        return EvalState()
    if row.rule_version != rule.version:
        return EvalState("firing" if row.status == "firing" else "ok")
    samples = row.samples
    return EvalState(row.status, row.since, row.last_time, row.last_value,
                     orjson.loads(samples) if samples and samples != "[]" else [])


def _material(before: EvalState, after: EvalState) -> bool:
    return (before.status != after.status or before.since != after.since
            or (before.samples is not after.samples and before.samples != after.samples))


def _metric(rule: StoredRule) -> str:
    spec = rule.rule
    assert isinstance(spec, ThresholdRule | RateRule)
    return spec.metric


def _step(rule: StoredRule, st: EvalState, t: float, v: float) -> Transition | None:
    spec = rule.rule
    if isinstance(spec, ThresholdRule):
        return threshold.step(spec, st, t, v)
    return rate.step(spec, st, t, v)  # type: ignore[arg-type]


class StreamEvaluator:
    """Evaluates stream rules on committed batches. One per ingest process.

    With ``background`` (the default when ``refresh_s`` is not given, i.e. inside ingest) a daemon thread with its
    own connection reloads rules, devices and the muting snapshot on their intervals, so no batch pays for a
    refresh; the first batch loads synchronously. Without it (tests, one-shot use) refreshes happen inline, due at
    most every ``refresh_s`` (0: before every batch)."""

    def __init__(self, settings: Settings | None = None, *, refresh_s: float | None = None,
                 clock: Callable[[], float] = time.time, background: bool | None = None) -> None:
        self.settings = settings
        cfg = get_config()
        self.refresh_s = refresh_s if refresh_s is not None else cfg.rules_refresh_s
        self.devices_refresh_s = max(self.refresh_s, cfg.devices_refresh_s) if refresh_s is None else refresh_s
        self.background = background if background is not None else refresh_s is None
        self._devices_at = float("-inf")
        self.mute_cache_s = min(self.refresh_s, cfg.mute_cache_s)
        self._mutes: MuteSnapshot | None = None
        self._mutes_at = float("-inf")
        self.clock = clock
        self._lock = threading.Lock()
        self._loaded_at = float("-inf")
        # (rules by id, rules by metric, metrics with kind/ward scopes): replaced as one, read as one
        self._ruleset: tuple[dict[int, StoredRule], dict[str, list[StoredRule]], frozenset[str]] = ({}, {}, frozenset())
        self._devices: dict[str, DeviceInfo] = {}
        self._unknown: dict[str, float] = {}
        self._store: ReadingsStore | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.stats = {"batches": 0, "rows_matched": 0, "transitions": 0, "refreshes": 0}

    # -- background refresh ----------------------------------------------------------------------------------------
    def _start_background(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._background_loop, name="alerts-stream-refresh", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the background refresher (it is a daemon thread: a process may also just exit)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _background_loop(self) -> None:
        from ops_center.db import connect
        from ops_center.settings import get_settings

        url = (self.settings or get_settings()).database_url
        conn: Conn | None = None
        while not self._stop.wait(min(self.refresh_s, self.mute_cache_s or self.refresh_s)):
            try:
                if conn is None or conn.closed:
                    conn = connect(url, autocommit=True, application_name="alerts-stream-refresh")
                mono = time.monotonic()
                if mono - self._loaded_at >= self.refresh_s:
                    self.refresh(conn, devices=mono - self._devices_at >= self.devices_refresh_s)
                if mono - self._mutes_at >= self.mute_cache_s:
                    snap = MuteSnapshot.load(conn, datetime.fromtimestamp(self.clock(), UTC))
                    with self._lock:
                        self._mutes, self._mutes_at = snap, time.monotonic()
            except Exception:  # a database outage: keep the caches, try again next round
                log.warning("alert rule refresh failed; keeping the cached rules", exc_info=True)
                if conn is not None:
                    conn.close()
                conn = None
        if conn is not None:
            conn.close()

    # -- caches ----------------------------------------------------------------------------------------------------
    def invalidate(self) -> None:
        """Force a reload of rules and devices on the next batch (tests, or after a change in this process)."""
        self._loaded_at = self._devices_at = float("-inf")
        device_directory.shared().invalidate()

    def refresh(self, conn: Conn, *, devices: bool = True) -> None:
        rules = load_enabled(conn, STREAM_KINDS)
        by_metric: dict[str, list[StoredRule]] = defaultdict(list)
        registry: set[str] = set()
        for r in rules:
            assert isinstance(r.rule, ThresholdRule | RateRule)
            by_metric[r.rule.metric].append(r)
            if r.rule.scope.type in ("kind", "ward"):
                registry.add(r.rule.metric)
        loaded: dict[str, DeviceInfo] | None = None
        if devices:
            shared = device_directory.shared()
            shared.refresh(conn, max_age_s=self.devices_refresh_s)
            loaded = {k: _info(e) for k, e in shared.devices().items()}
        if self._store is None:
            self._store = ReadingsStore.for_connection(conn)
        now = time.monotonic()
        with self._lock:
            self._ruleset = ({r.id: r for r in rules}, dict(by_metric), frozenset(registry))
            if loaded is not None:
                self._devices = loaded
                self._unknown = {}
                self._devices_at = now
            self._loaded_at = now
        self.stats["refreshes"] += 1

    def _refresh_if_due(self, conn: Conn) -> None:
        now = time.monotonic()
        if self.background and self._loaded_at != float("-inf"):
            self._start_background()
            return
        if now - self._loaded_at >= self.refresh_s:
            with conn.transaction():
                self.refresh(conn, devices=now - self._devices_at >= self.devices_refresh_s)
            if self.background:
                self._start_background()

    def _lookup_devices(self, conn: Conn, ids: set[str]) -> None:
        """Devices registered since the last refresh (or never): fetched once, misses remembered for a while."""
        now = time.monotonic()
        wanted = [d for d in ids if now - self._unknown.get(d, float("-inf")) >= self.refresh_s]
        if not wanted:
            return
        found = {k: _info(e) for k, e in device_directory.shared().look_up(conn, wanted).items()
                 if e.kind != GATEWAY_KIND}
        with self._lock:
            self._devices.update(found)
            for d in wanted:
                if d not in found:
                    self._unknown[d] = now

    # -- the hook --------------------------------------------------------------------------------------------------
    def on_batch(self, conn: Conn, rows: Sequence[ReadingRow]) -> int:
        """Evaluate stream rules on a committed batch; returns the number of alert transitions. Runs in its own
        transaction (a savepoint if the caller has one open) and retries once on a deadlock."""
        if not rows:
            return 0
        self._refresh_if_due(conn)
        rules, by_metric, registry = self._ruleset
        if not by_metric:
            return 0
        if registry:
            devices = self._devices
            missing = {d for _, d, m, _ in rows if m in registry and d not in devices}
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
                    n = self._evaluate(conn, work, rules)
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
                rules, by_metric, registry = self._ruleset
                work = self._match(rows, by_metric)
                if not work:
                    return 0
        return 0  # pragma: no cover

    def _match(self, rows: Sequence[ReadingRow], by_metric: dict[str, list[StoredRule]]
               ) -> dict[tuple[int, str], list[tuple[float, float]]]:
        """{(rule id, device): readings}. Readings are grouped per (device, metric) once and that one list is
        shared by every rule that watches the pair, so the cost is rows + keys, not rows × rules."""
        series: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for t, d, m, v in rows:
            if m in by_metric:
                got = series.get((d, m))
                if got is None:
                    series[(d, m)] = [(float(t), float(v))]
                else:
                    got.append((float(t), float(v)))
        devices = self._devices
        work: dict[tuple[int, str], list[tuple[float, float]]] = {}
        for (d, m), readings in series.items():
            info = devices.get(d)
            for r in by_metric[m]:
                scope = r.rule.scope  # type: ignore[union-attr]
                if scope.type == "all":
                    ok = True
                elif scope.type == "device":
                    ok = scope.value == d
                elif info is None:
                    ok = False
                else:
                    ok = (info.kind if scope.type == "kind" else info.ward_code) == scope.value
                if ok:
                    work[(r.id, d)] = readings
        return work

    def _evaluate(self, conn: Conn, work: dict[tuple[int, str], list[tuple[float, float]]],
                  rules: dict[int, StoredRule]) -> int:
        keys = sorted(work)
        # threshold states that are "ok" are the default: only pending/firing rows are read; rate states always
        thr = sorted({k[0] for k in keys if isinstance(rules[k[0]].rule, ThresholdRule)})
        rate_keys = [k for k in keys if isinstance(rules[k[0]].rule, RateRule)]
        read = conn.cursor(row_factory=class_row(StoredState)).execute(_READ_SQL, {
            "thr": ",".join(map(str, thr)), "subjects": ",".join(sorted({k[1] for k in keys})) if thr else "",
            "rr": ",".join(str(k[0]) for k in rate_keys), "rs": ",".join(k[1] for k in rate_keys)}).fetchall()
        stored = {(r.rule_id, r.subject): r for r in read}
        changed: list[tuple[int, str]] = []
        for key in keys:
            rule = rules[key[0]]
            row = stored.get(key)
            spec = rule.rule
            if row is None and isinstance(spec, ThresholdRule) and not any(
                    threshold.breached(spec, v) for _, v in work[key]):
                continue  # ok and staying ok: the common case costs nothing more
            before = _state(rule, row)
            after = EvalState(before.status, before.since, before.last_time, before.last_value, before.samples)
            for t, v in sorted(work[key]):
                _step(rule, after, t, v)
            if _material(before, after) or (row is not None and row.rule_version != rule.version):
                changed.append(key)
        if not changed:
            return 0
        changed = self._not_superseded(conn, changed, work, rules)
        if not changed:
            return 0
        got = conn.cursor(row_factory=class_row(StoredState)).execute(_LOCK_SQL, (
            [k[0] for k in changed], [k[1] for k in changed], [rules[k[0]].version for k in changed])).fetchall()
        states: dict[tuple[int, str], EvalState] = {}
        seeds: list[tuple[tuple[int, str], EvalState]] = []
        for row in got:
            key = (row.rule_id, row.subject)
            st = _state(rules[key[0]], row)
            if row.inserted and isinstance(rules[key[0]].rule, RateRule):
                seeds.append((key, st))
            states[key] = st
        if seeds:
            self._seed_rate(conn, seeds, work, rules)
        transitions: list[tuple[StoredRule, str, Transition]] = []
        for key in changed:
            rule, st = rules[key[0]], states[key]
            for t, v in sorted(work[key]):
                tr = _step(rule, st, t, v)
                if tr is not None:
                    transitions.append((rule, key[1], tr))
        conn.execute(_SAVE_SQL, (
            [k[0] for k in changed], [k[1] for k in changed], [rules[k[0]].version for k in changed],
            [states[k].status for k in changed], [states[k].since for k in changed],
            [states[k].last_time for k in changed], [states[k].last_value for k in changed],
            [orjson.dumps(states[k].samples).decode() for k in changed],
        ))
        if not transitions:
            return 0
        return self._apply(conn, transitions)

    def _not_superseded(self, conn: Conn, keys: list[tuple[int, str]],
                        work: dict[tuple[int, str], list[tuple[float, float]]],
                        rules: dict[int, StoredRule]) -> list[tuple[int, str]]:
        """Drop keys whose device already has a newer committed reading of the rule's metric than anything this
        batch brings for it (a late batch from another ingest process)."""
        store = self._store
        if store is None:
            return keys
        by_metric: dict[str, set[str]] = defaultdict(set)
        for rid, subject in keys:
            by_metric[_metric(rules[rid])].add(subject)
        newest: dict[tuple[str, str], float] = {}
        for metric, devices in by_metric.items():
            for r in store.latest(conn, sorted(devices), metric):
                newest[(r.device_id, metric)] = r.time.timestamp()
        out = []
        for key in keys:
            metric = _metric(rules[key[0]])
            latest = newest.get((key[1], metric))
            if latest is None or max(t for t, _ in work[key]) >= latest - 1e-6:
                out.append(key)
        return out

    def _seed_rate(self, conn: Conn, seeds: list[tuple[tuple[int, str], EvalState]],
                   work: dict[tuple[int, str], list[tuple[float, float]]], rules: dict[int, StoredRule]) -> None:
        """New (rule, device) pairs start their window from the readings store (one query per metric and
        window), so a rate rule created while data flows, or a state row lost, needs no warm-up."""
        store = self._store or ReadingsStore.for_connection(conn)
        groups: dict[tuple[str, float], list[tuple[tuple[int, str], EvalState]]] = defaultdict(list)
        for key, st in seeds:
            spec = rules[key[0]].rule
            assert isinstance(spec, RateRule)
            groups[(spec.metric, spec.window)].append((key, st))
        for (metric, window), items in groups.items():
            first = min(min(t for t, _ in work[key]) for key, _ in items)
            end = datetime.fromtimestamp(first, UTC)
            slot = max(1, int(rate.slot_s(rules[items[0][0][0]].rule)))  # type: ignore[arg-type]
            buckets = store.bucketed(conn, metric, end - timedelta(seconds=window), end, timedelta(seconds=slot),
                                     "last", sorted({key[1] for key, _ in items}))
            by_device: dict[str, list[list[float]]] = defaultdict(list)
            for b in buckets:
                if b.value is not None:
                    by_device[b.device_id].append([b.bucket.timestamp(), b.value])
            for key, st in items:
                before = min(t for t, _ in work[key])
                st.samples = [s for s in by_device.get(key[1], []) if s[0] < before]

    def _mute_snapshot(self, conn: Conn, now: datetime) -> MuteSnapshot:
        """Silences and inhibition sources for new alerts, reused for ``mute_cache_s`` (alerts fired meanwhile
        by this process are added to it as sources)."""
        mono = time.monotonic()
        snap = self._mutes
        stale = mono - self._mutes_at >= self.mute_cache_s * (3 if self.background else 1)
        if snap is None or stale or now < snap.now:
            snap = MuteSnapshot.load(conn, now)
            self._mutes, self._mutes_at = snap, mono
        return snap

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
                    mutes = self._mute_snapshot(conn, now)
                n += len(lifecycle.fire_many(conn, fires, now=now, mutes=mutes))
        return n


def evaluate_rows(conn: Conn, rows: Sequence[ReadingRow], evaluator: StreamEvaluator | None = None) -> int:
    """One-shot helper (CLI, tests): evaluate ``rows`` with a fresh (or given) evaluator."""
    ev = evaluator or StreamEvaluator()
    return ev.on_batch(conn, rows)


__all__ = ["StreamEvaluator", "device_labels", "evaluate_rows"]
