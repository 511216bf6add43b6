"""A real PostgreSQL streaming replica for tests and benchmarks: a private primary cluster (``private_postgres``)
and a second cluster made from it with ``pg_basebackup -R`` on another port, streaming its WAL.

The pair lives in temporary folders and is removed afterwards. Missing server binaries (``initdb``,
``pg_basebackup``: Debian's ``postgresql`` package, installed by ``scripts/test-deps.sh``) raise
``ServiceUnavailable``: the tests fail, never skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import LiteralString

import psycopg
import psycopg.sql

from tests.support.services import PrivatePostgres, ServiceUnavailable, free_port, private_postgres


@dataclass
class StreamingPair:
    """A primary and its hot standby. ``database`` exists on both (created on the primary, streamed over)."""

    primary: PrivatePostgres
    replica: PrivatePostgres
    database: str

    @staticmethod
    def _url(pg: PrivatePostgres, database: str) -> str:
        return pg.admin_url.rsplit("/", 1)[0] + "/" + database

    @property
    def primary_url(self) -> str:
        return self._url(self.primary, self.database)

    @property
    def replica_url(self) -> str:
        return self._url(self.replica, self.database)

    def primary_lsn(self) -> str:
        with psycopg.connect(self.primary.admin_url, autocommit=True, connect_timeout=5) as conn:
            row = conn.execute("SELECT pg_current_wal_flush_lsn()::text").fetchone()
        assert row is not None
        return str(row[0])

    def replayed(self, lsn: str) -> bool:
        """The replica has replayed everything up to ``lsn``."""
        with psycopg.connect(self.replica.admin_url, autocommit=True, connect_timeout=5) as conn:
            row = conn.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (lsn,)).fetchone()
        return bool(row and row[0])

    def wait_caught_up(self, timeout: float = 30.0) -> None:
        """Wait until the replica has replayed all the primary has flushed now."""
        lsn = self.primary_lsn()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with suppress(psycopg.OperationalError):
                if self.replayed(lsn):
                    return
            time.sleep(0.05)
        raise ServiceUnavailable(f"the replica did not replay up to {lsn} within {timeout} s")

    def _replica_sql(self, sql: LiteralString) -> None:
        with psycopg.connect(self.replica.admin_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql)

    def pause_replay(self) -> None:
        """The replica keeps receiving WAL but applies none of it (its answers stay as they are)."""
        self._replica_sql("SELECT pg_wal_replay_pause()")

    def resume_replay(self) -> None:
        self._replica_sql("SELECT pg_wal_replay_resume()")

    def stop_replica(self, mode: str = "fast") -> None:
        """Stop the replica's server: ``fast`` ends open sessions (queries in flight fail), ``immediate`` too,
        without a shutdown checkpoint."""
        self.replica._run("pg_ctl", "-D", str(self.replica.data_dir), "-m", mode, "-w", "stop")

    def start_replica(self) -> None:
        self.replica.start()


def _basebackup(primary: PrivatePostgres, target: Path) -> None:
    tool = primary.bin_dir / "pg_basebackup"
    if not tool.exists():
        raise ServiceUnavailable(f"{tool} is missing: run scripts/test-deps.sh (Debian package postgresql)")
    cmd = [str(tool), "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres", "-D", str(target),
           "-R", "-X", "stream", "-c", "fast", "--no-sync"]
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    if done.returncode != 0:
        raise ServiceUnavailable(f"pg_basebackup failed: {done.stderr.decode(errors='replace')[-2000:]}")


def _wait_streaming(replica: PrivatePostgres, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with suppress(psycopg.OperationalError), psycopg.connect(replica.admin_url, autocommit=True,
                                                                 connect_timeout=2) as conn:
            row = conn.execute("SELECT pg_is_in_recovery(), "
                               "(SELECT count(*) FROM pg_stat_wal_receiver WHERE status = 'streaming')").fetchone()
            if row and row[0] and row[1]:
                return
        time.sleep(0.1)
    raise ServiceUnavailable(f"the replica on port {replica.port} is not streaming within {timeout} s")


@contextmanager
def streaming_pair(database: str = "ops") -> Iterator[StreamingPair]:
    """A primary with ``database`` (empty: migrate it through ``pair.primary_url``) and a streaming hot standby."""
    with private_postgres() as primary:
        with psycopg.connect(primary.admin_url, autocommit=True) as conn:
            conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(database)))
        tmp = Path(tempfile.mkdtemp(prefix="ops-pg-replica-"))
        data = tmp / "pgdata"
        if os.geteuid() == 0:
            shutil.chown(tmp, "postgres")
        try:
            _basebackup(primary, data)
            replica = PrivatePostgres(data, free_port(), primary.bin_dir)
            replica.start()
            try:
                _wait_streaming(replica)
                yield StreamingPair(primary, replica, database)
            finally:
                with suppress(subprocess.CalledProcessError):
                    replica.stop()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
