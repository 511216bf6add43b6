"""Reads past one database server: PostgreSQL streaming replicas (hot standbys) for the read-heavy routes.

One ``ReplicaSet`` per process holds a connection pool per replica (``OPS_DB_REPLICA_URLS``, made by
``ops_center.db.create_pool`` like the primary's: checked connections, bounded waits and reconnects) and judges
every replica each ``OPS_DB_REPLICA_CHECK_S`` on a background thread, over connections of its own (a saturated pool
never makes a replica look dead):

- **Lag.** The primary's WAL flush position is read first; a replica that has replayed at least that far is caught
  up (lag 0), however long the primary has been idle. Otherwise its lag is the age of the last transaction it
  replayed (``now() - pg_last_xact_replay_timestamp()``): an upper bound on how old its answers are (the first
  transaction it has not replayed committed after that one). With the primary unreachable only this second measure
  is left. The two servers' clocks must agree (NTP) for it to mean seconds.
- **Use.** A replica serves reads while it answered its last check, is still a standby (``pg_is_in_recovery()``:
  a promoted replica has its own history), lags at most ``OPS_DB_REPLICA_MAX_LAG_S``, and was checked within
  the last ``STALE_CHECKS`` intervals. A failure a request meets (``report_failure``) takes it out at once, until a
  check finds it good again.
- **Choice.** ``source()`` takes the usable replicas in turn, else the primary; reads per replica and reads that
  fell back to the primary are counted.

A replica's name is ``host:port/dbname`` from its URL, never the user or the password, so statuses can be shown
(``/readyz``). The API side (the ``ReadConn`` dependency) is ``api/replica_reads.py``; docs/scaling.md.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

from ops_center.db import Conn, connect, create_pool
from ops_center.settings import Settings

log = logging.getLogger("ops_center.db_replicas")

CHECK_TIMEOUT_S = 2  # libpq's connect_timeout takes whole seconds, at least 2
STALE_CHECKS = 3  # a status older than this many check intervals is not trusted
CHECK_APP_NAME = "ops-replica-check"

_REPLICA_SQL = """SELECT pg_is_in_recovery(),
       pg_wal_lsn_diff(%(primary)s::pg_lsn, pg_last_wal_replay_lsn())::float8,
       extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8,
       CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() ELSE false END"""


@dataclass(frozen=True)
class Measure:
    """What one check of a replica found."""

    standby: bool
    behind_bytes: float | None  # the primary's flush position minus what the replica replayed; None: primary unread
    replay_age_s: float | None  # age of the last replayed transaction; None: none replayed since it started
    paused: bool = False


def judge(m: Measure, max_lag_s: float) -> tuple[float | None, str | None]:
    """The replica's lag in seconds (None: unknown) and, when it must not serve reads, why."""
    if not m.standby:
        return None, "not a standby (promoted, or not a replica)"
    if m.behind_bytes is not None and m.behind_bytes <= 0:
        return 0.0, None
    if m.replay_age_s is None:
        return None, "lag unknown: nothing replayed since it started and the primary not read"
    lag = max(0.0, m.replay_age_s)
    if lag > max_lag_s:
        return lag, f"lag {lag:.1f} s over the {max_lag_s:g} s allowed"
    return lag, None


def replica_name(url: str) -> str:
    """``host:port/dbname`` of a connection URL or conninfo string: nothing secret."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "replica (unreadable URL)"
    host = parts.get("host") or parts.get("hostaddr") or "localhost"
    return f"{host}:{parts.get('port') or 5432}/{parts.get('dbname') or ''}"


@dataclass(frozen=True)
class ReplicaStatus:
    """A replica as the last check (or a failed read since) left it."""

    name: str
    usable: bool
    reachable: bool
    lag_s: float | None = None
    lag_bytes: int | None = None
    paused: bool = False
    reason: str | None = None
    checked_at: datetime | None = None
    reads: int = 0
    failures: int = 0

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "usable": self.usable, "reachable": self.reachable,
                "lag_s": None if self.lag_s is None else round(self.lag_s, 3), "lag_bytes": self.lag_bytes,
                "replay_paused": self.paused, "reason": self.reason,
                "checked_at": self.checked_at.isoformat() if self.checked_at else None,
                "reads": self.reads, "failed_reads": self.failures}


@dataclass(frozen=True)
class ReadSource:
    """Where one read goes: the primary's pool or a replica's."""

    name: str
    pool: ConnectionPool
    replica: bool


class Replica:
    """One replica: its pool, its check connection, its last status and counters (guarded by the set's lock)."""

    def __init__(self, name: str, url: str, pool: ConnectionPool) -> None:
        self.name, self.url, self.pool = name, url, pool
        self.status = ReplicaStatus(name, usable=False, reachable=False, reason="not checked yet")
        self.checked_mono = 0.0
        self.reads = 0
        self.failures = 0
        self._conn: Conn | None = None

    def measure(self, primary_lsn: str | None) -> Measure:
        """One check over the replica's own connection (made again after any failure)."""
        if self._conn is None or self._conn.closed:
            self._conn = connect(self.url, autocommit=True, connect_timeout=CHECK_TIMEOUT_S,
                                 application_name=CHECK_APP_NAME,
                                 options=f"-c statement_timeout={CHECK_TIMEOUT_S * 1000}")
        try:
            row = self._conn.execute(_REPLICA_SQL, {"primary": primary_lsn}).fetchone()
        except psycopg.Error:
            self.close_check()
            raise
        assert row is not None
        return Measure(bool(row[0]), row[1], row[2], bool(row[3]))

    def close_check(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class ReplicaSet:
    """The replicas of one process, their checks and the choice of where a read goes."""

    def __init__(self, primary: ConnectionPool, primary_url: str, replicas: Sequence[Replica], *,
                 max_lag_s: float, check_s: float, pool_timeout_s: float) -> None:
        self.replicas = list(replicas)
        self.max_lag_s, self.check_s, self.pool_timeout_s = max_lag_s, check_s, pool_timeout_s
        self.primary_reads = 0  # reads that went to the primary because no replica was fit
        self._primary = ReadSource("primary", primary, replica=False)
        self._primary_url = primary_url
        self._primary_conn: Conn | None = None
        self._lock = threading.Lock()
        self._check_lock = threading.Lock()
        self._turn = itertools.count()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def open(cls, settings: Settings, primary: ConnectionPool, *, name: str = "ops-read",
             start: bool = True) -> ReplicaSet:
        """The replicas named in ``settings`` with their pools opened (without waiting: a replica that is down
        must not stop the process from starting) and, with ``start``, the checking thread running."""
        replicas: list[Replica] = []
        for i, secret in enumerate(settings.db_replica_urls):
            url = secret.get_secret_value()
            label = replica_name(url)
            if any(r.name == label for r in replicas):
                label = f"{label}#{i + 1}"
            pool = create_pool(settings, url=url, min_size=min(settings.db_pool_min, settings.db_replica_pool_max),
                               max_size=settings.db_replica_pool_max, name=f"{name}-{i + 1}", wait=False)
            replicas.append(Replica(label, url, pool))
        made = cls(primary, settings.database_url, replicas, max_lag_s=settings.db_replica_max_lag_s,
                   check_s=settings.db_replica_check_s, pool_timeout_s=settings.db_replica_pool_timeout_s)
        if start and replicas:
            made.start()
        return made

    @property
    def configured(self) -> bool:
        return bool(self.replicas)

    # ------------------------------------------------------------------ checks

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="ops-replica-check", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.refresh()
            except Exception:  # the checker must outlive any surprise; the statuses age and go stale meanwhile
                log.exception("replica check failed")
            self._stop.wait(self.check_s)

    def _primary_lsn(self) -> str | None:
        try:
            if self._primary_conn is None or self._primary_conn.closed:
                self._primary_conn = connect(self._primary_url, autocommit=True, connect_timeout=CHECK_TIMEOUT_S,
                                             application_name=CHECK_APP_NAME)
            row = self._primary_conn.execute("SELECT pg_current_wal_flush_lsn()::text").fetchone()
            return str(row[0]) if row else None
        except psycopg.Error as exc:
            log.info("replica checks: the primary's WAL position is unreadable (%s); judging by replay age",
                     type(exc).__name__)
            if self._primary_conn is not None:
                self._primary_conn.close()
                self._primary_conn = None
            return None

    def refresh(self) -> list[ReplicaStatus]:
        """Check every replica now (the background thread does this each ``check_s``)."""
        with self._check_lock:
            primary_lsn = self._primary_lsn()
            for r in self.replicas:
                self._check(r, primary_lsn)
        return self.statuses()

    def _check(self, r: Replica, primary_lsn: str | None) -> None:
        at = datetime.now(UTC)
        try:
            m = r.measure(primary_lsn)
        except psycopg.Error as exc:
            status = ReplicaStatus(r.name, usable=False, reachable=False, checked_at=at,
                                   reason=f"unreachable ({type(exc).__name__})")
        else:
            lag, why = judge(m, self.max_lag_s)
            behind = None if m.behind_bytes is None else max(0, int(m.behind_bytes))
            status = ReplicaStatus(r.name, usable=why is None, reachable=True, lag_s=lag, lag_bytes=behind,
                                   paused=m.paused, reason=why, checked_at=at)
        with self._lock:
            if r.status.usable != status.usable:
                log.warning("replica %s %s%s", r.name, "in use" if status.usable else "not used: ",
                            "" if status.usable else status.reason)
            r.status, r.checked_mono = status, time.monotonic()

    def report_failure(self, name: str, exc: BaseException) -> None:
        """A read on replica ``name`` failed: use it no more until a check finds it good again."""
        with self._lock:
            for r in self.replicas:
                if r.name == name:
                    r.failures += 1
                    r.status = replace(r.status, usable=False, reason=f"a read failed ({type(exc).__name__})")

    def _fit(self, r: Replica, now: float) -> bool:
        return r.status.usable and now - r.checked_mono <= STALE_CHECKS * self.check_s + CHECK_TIMEOUT_S

    # ------------------------------------------------------------------ choice and statuses

    def source(self, *, primary_only: bool = False) -> ReadSource:
        """Where the next read goes: the usable replicas in turn, else (or with ``primary_only``) the primary."""
        if not self.replicas or primary_only:
            return self._primary
        now = time.monotonic()
        with self._lock:
            fit = [r for r in self.replicas if self._fit(r, now)]
            if not fit:
                self.primary_reads += 1
                return self._primary
            chosen = fit[next(self._turn) % len(fit)]
            chosen.reads += 1
        return ReadSource(chosen.name, chosen.pool, replica=True)

    def statuses(self) -> list[ReplicaStatus]:
        now = time.monotonic()
        out = []
        with self._lock:
            for r in self.replicas:
                s = replace(r.status, reads=r.reads, failures=r.failures)
                if s.usable and not self._fit(r, now):
                    s = replace(s, usable=False, reason=f"not checked for {now - r.checked_mono:.0f} s")
                out.append(s)
        return out

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(CHECK_TIMEOUT_S * 3)
        with self._check_lock:
            for r in self.replicas:
                r.close_check()
                r.pool.close()
            if self._primary_conn is not None:
                self._primary_conn.close()
                self._primary_conn = None
