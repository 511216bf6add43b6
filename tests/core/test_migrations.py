"""Migrations: ordered, recorded, idempotent, flavour recorded, changed files refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ops_center.db import connect
from ops_center.flavour import detect
from ops_center.migrate import MIGRATIONS_DIR, MigrationError, discover, migrate
from tests.support.services import database


def _schema(conn) -> list[tuple]:  # type: ignore[no-untyped-def]
    return conn.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'public' ORDER BY 1, 2"
    ).fetchall()


def test_migrate_twice_changes_nothing_postgres() -> None:
    with database() as url, connect(url, autocommit=True) as conn:
        flavour, first = migrate(conn)
        assert flavour == detect(conn) == "postgres"
        assert [m.version for m in first] == [m.version for m in discover("postgres")]
        before = _schema(conn)
        flavour2, second = migrate(conn)
        assert flavour2 == "postgres" and second == []
        assert _schema(conn) == before
        recorded = conn.execute("SELECT version, flavour FROM schema_migrations ORDER BY version").fetchall()
        assert [v for v, _ in recorded] == [m.version for m in first]
        assert {f for _, f in recorded} == {"postgres"}


def test_forcing_timescale_on_plain_postgres_is_refused() -> None:
    with database() as url, connect(url, autocommit=True) as conn:
        with pytest.raises(MigrationError, match="no timescaledb extension"):
            migrate(conn, "timescale")


def test_flavour_cannot_change_once_recorded() -> None:
    with database() as url, connect(url, autocommit=True) as conn:
        migrate(conn, "postgres")
        conn.execute("UPDATE ops_meta SET value = 'timescale' WHERE key = 'storage_flavour'")
        with pytest.raises(MigrationError, match="already uses the 'timescale' flavour"):
            migrate(conn, "postgres")


def test_a_changed_migration_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, copy)
    import ops_center.migrate as m

    monkeypatch.setattr(m, "MIGRATIONS_DIR", copy)
    monkeypatch.setattr(m.discover, "__defaults__", (copy,))
    with database() as url, connect(url, autocommit=True) as conn:
        migrate(conn)
        first = sorted(copy.glob("0001_*.sql"))[0]
        first.write_text(first.read_text() + "\n-- edited\n")
        with pytest.raises(MigrationError, match="changed after it was applied"):
            migrate(conn)


def test_bad_file_name_is_refused(tmp_path: Path) -> None:
    (tmp_path / "1_bad.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="is not NNNN_name"):
        discover("postgres", tmp_path)


def test_migrate_twice_changes_nothing_timescale() -> None:
    from tests.support.pglite import connect_timescale, start_pglite

    with start_pglite() as server, connect_timescale(server.dsn) as conn:
        assert detect(conn) == "timescale"
        flavour, first = migrate(conn)
        assert flavour == "timescale" and [m.version for m in first] == [m.version for m in discover("timescale")]
        assert conn.execute("SELECT count(*) FROM timescaledb_information.hypertables "
                            "WHERE hypertable_name = 'readings'").fetchone()[0] == 1
        assert conn.execute("SELECT count(*) FROM timescaledb_information.continuous_aggregates").fetchone()[0] == 2
        before = _schema(conn)
        jobs = conn.execute("SELECT count(*) FROM timescaledb_information.jobs").fetchone()[0]
        assert migrate(conn) == ("timescale", [])
        assert _schema(conn) == before
        assert conn.execute("SELECT count(*) FROM timescaledb_information.jobs").fetchone()[0] == jobs
