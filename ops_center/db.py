"""PostgreSQL connections: pools for the app and workers, and a small transaction helper."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from ops_center.settings import Settings

Conn = psycopg.Connection[Any]


def connect(url: str, **kwargs: Any) -> Conn:
    """One connection; ``prepare_threshold=None`` keeps it usable through poolers and the PGlite test server."""
    kwargs.setdefault("prepare_threshold", None)
    return psycopg.connect(url, **kwargs)


def create_pool(settings: Settings, *, min_size: int | None = None, max_size: int | None = None,
                name: str = "ops", url: str | None = None, wait: bool = True) -> ConnectionPool:
    """An opened pool; the caller closes it (the app's lifespan, a worker's shutdown).

    ``url`` (default ``settings.database_url``) names another server, a read replica; ``wait=False`` returns at
    once, without waiting for the first connections (a replica that is down must not stop the app from starting).

    Made to survive a database restart: every connection is checked before it is handed out (a connection the
    server closed is replaced, not given to a request), a caller waits at most ``db_pool_timeout_s`` for one
    (``PoolTimeout``, an ``OperationalError``: the API answers 503), and a connection that cannot be re-made is
    retried for at most that long before its slot is given back, so the next request starts a fresh attempt at
    once instead of waiting out psycopg_pool's doubling back-off (minutes after a long outage).
    """
    pool = ConnectionPool(
        url or settings.database_url,
        min_size=min_size if min_size is not None else settings.db_pool_min,
        max_size=max_size if max_size is not None else settings.db_pool_max,
        kwargs={"prepare_threshold": None, "application_name": name},
        name=name,
        open=False,
        check=ConnectionPool.check_connection,
        timeout=settings.db_pool_timeout_s,
        reconnect_timeout=settings.db_pool_timeout_s,
    )
    pool.open(wait=wait, timeout=15)
    return pool


@contextmanager
def transaction(pool: ConnectionPool) -> Iterator[Conn]:
    """A pooled connection inside one transaction: committed on success, rolled back on error."""
    with pool.connection() as conn, conn.transaction():
        yield conn


def fetch_all(conn: Conn, sql: str, params: Any = None) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def fetch_one(conn: Conn, sql: str, params: Any = None) -> dict[str, Any] | None:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql, params)
        return cur.fetchone()
