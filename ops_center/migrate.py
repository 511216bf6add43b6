"""Apply the ordered, versioned SQL files in ``ops_center/migrations``.

File names: ``NNNN_name.sql`` for both flavours, or ``NNNN_name.postgres.sql`` / ``NNNN_name.timescale.sql`` for one.
Each version runs once, in its own transaction, and is recorded in ``schema_migrations`` with a checksum; running
again applies only what is new and refuses a file that changed after it was applied. A file whose first line is
``-- ops:no-transaction`` runs statement by statement (separated by lines ``-- ops:statement``) outside a transaction,
for DDL that TimescaleDB refuses inside one. Never run implicitly: only ``ops-center migrate`` and tests call this.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from ops_center.db import Conn
from ops_center.flavour import FLAVOURS, Flavour, detect, recorded

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+?)(?:\.(postgres|timescale))?\.sql$")
_LOCK_KEY = 7_336_001  # advisory lock id shared by every migrating process

BOOTSTRAP_SQL = """
CREATE TABLE IF NOT EXISTS ops_meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    flavour text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


class MigrationError(RuntimeError):
    pass


def discover(flavour: Flavour, directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migrations that apply to ``flavour``, by version; two files for one version and flavour is an error."""
    chosen: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        m = _NAME.match(path.name)
        if not m:
            raise MigrationError(f"migration file name {path.name!r} is not NNNN_name[.flavour].sql")
        version, name, only = int(m.group(1)), m.group(2), m.group(3)
        if only is not None and only != flavour:
            continue
        if version in chosen:
            raise MigrationError(f"two migration files for version {version}: {chosen[version].path.name}, {path.name}")
        chosen[version] = Migration(version, name, path)
    return [chosen[v] for v in sorted(chosen)]


def _statements(sql: str) -> list[str]:
    parts = re.split(r"^\s*-- ops:statement\s*$", sql, flags=re.M)
    return [p.strip() for p in parts if p.strip() and not _only_comments(p)]


def _only_comments(part: str) -> bool:
    return all(not line.strip() or line.strip().startswith("--") for line in part.splitlines())


def choose_flavour(conn: Conn, forced: Flavour | None) -> Flavour:
    have = recorded(conn)
    if forced is not None and forced not in FLAVOURS:
        raise MigrationError(f"--flavour must be one of {FLAVOURS}, got {forced!r}")
    if have is not None:
        if forced is not None and forced != have:
            raise MigrationError(f"database already uses the {have!r} flavour; refusing --flavour {forced!r}")
        return have
    flavour = forced or detect(conn)
    if flavour == "timescale" and detect(conn) != "timescale":
        raise MigrationError("--flavour timescale: this server has no timescaledb extension")
    return flavour


def migrate(conn: Conn, forced: Flavour | None = None) -> tuple[Flavour, list[Migration]]:
    """Bring the schema up to date; returns the flavour and the migrations applied now (empty when current).

    ``conn`` must be in autocommit mode.
    """
    if not conn.autocommit:
        raise MigrationError("migrate() needs an autocommit connection")
    conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
    try:
        conn.execute(BOOTSTRAP_SQL)
        flavour = choose_flavour(conn, forced)
        conn.execute(
            "INSERT INTO ops_meta (key, value) VALUES ('storage_flavour', %s) ON CONFLICT (key) DO NOTHING",
            (flavour,),
        )
        applied = {
            int(r[0]): str(r[1]) for r in conn.execute("SELECT version, checksum FROM schema_migrations").fetchall()
        }
        done: list[Migration] = []
        for mig in discover(flavour):
            if mig.version in applied:
                if applied[mig.version] != mig.checksum:
                    raise MigrationError(
                        f"migration {mig.path.name} changed after it was applied; add a new migration instead"
                    )
                continue
            _apply(conn, mig, flavour)
            done.append(mig)
        return flavour, done
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))


def _apply(conn: Conn, mig: Migration, flavour: Flavour) -> None:
    sql = mig.sql
    record = "INSERT INTO schema_migrations (version, name, flavour, checksum) VALUES (%s, %s, %s, %s)"
    args = (mig.version, mig.name, flavour, mig.checksum)
    try:
        if sql.lstrip().startswith("-- ops:no-transaction"):
            for statement in _statements(sql):
                conn.execute(statement)
            conn.execute(record, args)
        else:
            with conn.transaction():
                conn.execute(sql)
                conn.execute(record, args)
    except Exception as exc:
        raise MigrationError(f"migration {mig.path.name} failed: {exc}") from exc
