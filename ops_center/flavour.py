"""The storage flavour: ``timescale`` when the server has TimescaleDB, else ``postgres`` (see DESIGN.md).

The flavour is chosen once, at the first migration, and recorded in ``ops_meta``; everything else reads it back.
Only the storage modules branch on it.
"""

from __future__ import annotations

from typing import Literal, cast

from ops_center.db import Conn

Flavour = Literal["timescale", "postgres"]
FLAVOURS: tuple[Flavour, ...] = ("timescale", "postgres")


def detect(conn: Conn) -> Flavour:
    """What the server can do: ``timescale`` if the extension is installed or installable."""
    row = conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'").fetchone()
    return "timescale" if row else "postgres"


def recorded(conn: Conn) -> Flavour | None:
    """The flavour recorded by the first migration, or None before it."""
    exists = conn.execute("SELECT to_regclass('ops_meta') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return None
    row = conn.execute("SELECT value FROM ops_meta WHERE key = 'storage_flavour'").fetchone()
    return cast(Flavour, row[0]) if row else None


def current(conn: Conn) -> Flavour:
    """The recorded flavour; a database that was never migrated is an error that says what to run."""
    flavour = recorded(conn)
    if flavour is None:
        raise RuntimeError("database is not migrated: run `ops-center migrate`")
    return flavour
