"""A TimescaleDB test server: the PGlite WASM build served over the wire protocol.

``start_pglite()`` runs ``scripts/pglite.sh`` (which installs ``tools/pglite`` with
``npm ci`` on first use) and waits for its ready line; ``connect_timescale()`` opens
a psycopg connection the way this server needs it. What the build can and cannot do
is written down in ``docs/timescale-pglite.md``. In short:

* one client connection at a time: a second ``connect()`` waits (queued by the
  server) until the first connection closes, so use one connection (or a pool
  with ``max_size=1``) per server;
* every connection talks to the *same* backend session: the server cleans it when a
  client leaves, and ``connect_timescale`` resets it again on connect
  (``RESET_STATEMENTS``: ROLLBACK, DISCARD ALL, SET search_path, SET client_min_messages);
* ``prepare_threshold=None`` (DESIGN.md): named prepared statements live in the shared
  session;
* no ``COPY ... FROM STDIN`` (refused with SQLSTATE 0A000), no ``statement_timeout``,
  no query cancel; background jobs never run by themselves: ``CALL run_job(id)``.

Usage::

    with start_pglite() as server:
        with connect_timescale(server.dsn) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
"""

from __future__ import annotations

import collections
import contextlib
import gc
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
from psycopg import pq

__all__ = [
    "CONNECT_KWARGS",
    "RESET_SQL",
    "RESET_STATEMENTS",
    "PgliteError",
    "PgliteServer",
    "connect_timescale",
    "reset_session",
    "start_pglite",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "scripts" / "pglite.sh"
READY_PREFIX = "PGLITE_READY "

#: Run on every new connection, one statement per round trip (a multi-statement string
#: is an implicit transaction block, where DISCARD ALL is refused): the server keeps
#: one backend session for all clients, with whatever the previous client left in it.
RESET_STATEMENTS: tuple[str, ...] = (
    "ROLLBACK",
    "DISCARD ALL",
    # DISCARD ALL resets search_path to PGlite's boot value, pg_catalog, where new tables
    # would land; and client_min_messages to debug3 (2-3 DEBUG notices per statement).
    'SET search_path TO "$user", public',
    "SET client_min_messages TO notice",
)
RESET_SQL = "; ".join(RESET_STATEMENTS)

#: psycopg.connect() keyword arguments that work against the PGlite socket server.
CONNECT_KWARGS: dict[str, Any] = {
    "prepare_threshold": None,  # never PREPARE: named statements would outlive the client
    "autocommit": True,  # DISCARD ALL and refresh_continuous_aggregate refuse transaction blocks
    "connect_timeout": 30,
    # tools/pglite/server.mjs answers SSL/GSS requests 'N'; the stock pglite-socket server
    # answers with an auth request, which libpq rejects unless these are disabled.
    "sslmode": "disable",
    "gssencmode": "disable",
}


class PgliteError(RuntimeError):
    """The PGlite server could not be started or stopped."""


class PgliteServer:
    """A running ``tools/pglite/server.mjs`` process (use :func:`start_pglite`)."""

    def __init__(self, process: subprocess.Popen[bytes], host: str = "127.0.0.1") -> None:
        self.process = process
        self.host = host
        self.port: int = 0
        self.dsn: str = ""
        self.server_version: str = ""
        self._ready = threading.Event()
        self._stdout: collections.deque[str] = collections.deque(maxlen=200)
        self._stderr: collections.deque[str] = collections.deque(maxlen=400)
        self._threads = [
            threading.Thread(target=self._read_stdout, name="pglite-stdout", daemon=True),
            threading.Thread(target=self._read_stderr, name="pglite-stderr", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    # -- output readers -------------------------------------------------------------
    def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self._stdout.append(line)
            if line.startswith(READY_PREFIX) and not self._ready.is_set():
                fields = dict(part.split("=", 1) for part in line[len(READY_PREFIX) :].split() if "=" in part)
                self.host = fields.get("host", self.host)
                self.port = int(fields["port"])
                self.server_version = fields.get("server_version", "")
                self.dsn = f"postgresql://postgres:postgres@{self.host}:{self.port}/postgres"
                self._ready.set()

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for raw in self.process.stderr:
            self._stderr.append(raw.decode("utf-8", "replace").rstrip("\n"))

    @property
    def stderr(self) -> str:
        """The last lines the server (and its npm install) wrote to stderr."""
        return "\n".join(self._stderr)

    @property
    def stdout(self) -> str:
        return "\n".join(self._stdout)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.05):
            if self.process.poll() is not None:
                for thread in self._threads:
                    thread.join(2)
                raise PgliteError(
                    f"PGlite server exited with code {self.process.returncode} before it was "
                    f"ready\n--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise PgliteError(
                    f"PGlite server not ready after {timeout:.0f}s\n--- stdout ---\n"
                    f"{self.stdout}\n--- stderr ---\n{self.stderr}"
                )

    # -- lifecycle ------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> int | None:
        """Stop the server (SIGTERM, then SIGKILL after ``timeout`` s). Idempotent."""
        proc = self.process
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if proc.stdin is not None and not proc.stdin.closed:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        for thread in self._threads:
            thread.join(2)
        return proc.returncode

    def __enter__(self) -> PgliteServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else f"exited({self.process.returncode})"
        return f"<PgliteServer {self.dsn or '?'} pid={self.process.pid} {state}>"


def _check_node() -> None:
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if missing:
        raise PgliteError(
            f"{' and '.join(missing)} not found on PATH: the TimescaleDB test server needs "
            "Node.js 20+ with npm (e.g. `apt-get install nodejs npm`)"
        )
    if not SCRIPT.is_file():
        raise PgliteError(f"{SCRIPT} not found (is the package installed from a checkout?)")


def start_pglite(
    port: int | None = None,
    *,
    host: str = "127.0.0.1",
    data_dir: str | os.PathLike[str] | None = None,
    create_extension: bool = False,
    timeout: float = 180.0,
    extra_args: tuple[str, ...] = (),
) -> PgliteServer:
    """Start the TimescaleDB (PGlite) server and wait until it listens.

    ``port=None`` lets the OS pick a free port (read back from the ready line).
    ``data_dir=None`` is an in-memory database, thrown away on stop.
    ``create_extension`` runs ``CREATE EXTENSION timescaledb`` before listening.
    ``timeout`` covers a first-run ``npm ci`` too. The server exits when this
    process dies (its stdin is a pipe from us), so no orphan outlives a test run.
    """
    _check_node()
    cmd = [
        "bash",
        str(SCRIPT),
        "--host",
        host,
        "--port",
        str(0 if port is None else port),
        "--db",
        "memory://" if data_dir is None else str(Path(data_dir).resolve()),
        "--exit-on-stdin-close",
        *(["--create-extension"] if create_extension else []),
        *extra_args,
    ]
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO_ROOT,
    )
    server = PgliteServer(proc, host=host)
    server._wait_ready(timeout)
    return server


def reset_session(conn: psycopg.Connection[Any]) -> None:
    """Clear what an earlier client left in the shared backend session.

    Runs ``RESET_STATEMENTS`` one by one at the libpq level, so it works whatever
    transaction state the connection reports (a new client can find the session
    in a transaction, even a failed one, if the server did not clean up) and
    whatever the connection's ``autocommit`` setting is. Also usable as a
    ``psycopg_pool`` ``configure`` / ``reset`` callback.
    """
    ok = (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK, pq.ExecStatus.EMPTY_QUERY)
    for statement in RESET_STATEMENTS:
        result = conn.pgconn.exec_(statement.encode())
        if result.status not in ok:
            message = (result.error_message or b"").decode("utf-8", "replace").strip()
            raise psycopg.OperationalError(f"session reset {statement!r} failed: {message}")


def _close_failed_attempt(ex: BaseException) -> None:
    """Close the socket of a failed connection attempt now, not at garbage collection.

    psycopg keeps a timed-out attempt's libpq connection alive through the traceback
    of the exception (the frame of ``Connection.connect`` holds the connect generator)
    or on ``ex.pgconn``. While the caller holds the exception the socket stays open,
    and this server, which queues connections, would hand its single session to that
    dead attempt next (until its 10 s authentication timeout).
    """
    seen: set[int] = set()
    cur: BaseException | None = ex
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        pgconn = getattr(cur, "pgconn", None)
        if pgconn is not None:
            pgconn.finish()
        cur.__traceback__ = None
        cur = cur.__context__ or cur.__cause__
    gc.collect()


def connect_timescale(dsn: str, *, autocommit: bool = True, **kwargs: Any) -> psycopg.Connection[Any]:
    """Connect to the PGlite server with the kwargs it needs and reset the session.

    ``CONNECT_KWARGS`` (``prepare_threshold=None``, ``sslmode=disable``, ...) are used
    unless overridden by ``kwargs``, which go to ``psycopg.connect``. The connection
    is left in the requested ``autocommit`` mode (default True: DDL such as
    ``refresh_continuous_aggregate`` or ``CREATE MATERIALIZED VIEW ... WITH DATA``
    refuses to run in a transaction block).
    """
    params = {**CONNECT_KWARGS, **kwargs, "autocommit": autocommit}
    try:
        conn = psycopg.connect(dsn, **params)
    except psycopg.OperationalError as ex:
        _close_failed_attempt(ex)
        raise ex from None
    try:
        reset_session(conn)
    except BaseException:
        conn.close()
        raise
    return conn
