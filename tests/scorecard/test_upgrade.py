"""Upgrading a database that already holds dossiers: migrations 0052–0053 rename the legacy channels, mark earlier
resolutions granted, derive the timeliness fields and fill the index rollups exactly as a rebuild would; 0054 adds
the payment counter and the procedure days, filled as the write path keeps them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ops_center import migrate as migrate_mod
from ops_center.db import Conn, connect, fetch_all
from ops_center.dossiers import index_rollup
from ops_center.dossiers import service as dossiers
from ops_center.dossiers.calendar import load_calendar
from tests.scorecard.data import load
from tests.support.services import database


def _rollups(conn: Conn) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    for tables in (index_rollup.INDEX, index_rollup.PROCEDURES):
        for table, bucket in tables.tables():
            rows = conn.execute(f"SELECT * FROM {table} ORDER BY {bucket}, unit_code").fetchall()
            out[table] = [r for r in rows if any(v for v in r[4:] if isinstance(v, int))]
    out["dossier_procedure_days"] = conn.execute(
        "SELECT year, unit_code, ward_set, ward_code, procedure_code, fee_days::text, paid_days::text, pop_days::text "
        "FROM dossier_procedure_days ORDER BY 1, 2, 3, 4, 5").fetchall()
    return out


@pytest.fixture
def old_db(monkeypatch: pytest.MonkeyPatch) -> Iterator[Conn]:
    real = migrate_mod.discover
    with database("ops_upgrade") as url, connect(url, autocommit=True) as conn:
        monkeypatch.setattr(migrate_mod, "discover", lambda flavour: [m for m in real(flavour) if m.version <= 51])
        migrate_mod.migrate(conn, "postgres")
        monkeypatch.setattr(migrate_mod, "discover", real)
        yield conn


def test_existing_dossiers_survive_the_upgrade(old_db: Conn) -> None:
    conn = old_db
    conn.execute("INSERT INTO units (code, name, level) VALUES ('U', 'UBND xã', 'commune')")
    conn.execute("INSERT INTO procedures (code, name, processing_days, online_level) VALUES ('P', 'Thủ tục', 2, 4)")
    conn.execute(
        "INSERT INTO dossiers (id, procedure_code, unit_code, channel, received_at, processing_days, due_date, "
        "offered_by_post, resolved_at) VALUES "
        "('a', 'P', 'U', 'online_l3', '2025-06-02 09:00+07', 2, '2025-06-04', false, '2025-06-03 10:00+07'), "
        "('b', 'P', 'U', 'online_l4', '2025-06-02 09:00+07', 2, '2025-06-04', false, '2025-06-09 10:00+07'), "
        "('c', 'P', 'U', 'counter', '2025-06-02 09:00+07', 2, '2025-06-04', false, NULL)")
    migrate_mod.migrate(conn, "postgres")
    rows = fetch_all(conn, "SELECT id, channel, outcome, late_day::text, end_on_time FROM dossiers ORDER BY id")
    assert rows == [
        {"id": "a", "channel": "online_partial", "outcome": "granted", "late_day": "2025-06-05", "end_on_time": True},
        {"id": "b", "channel": "online_full", "outcome": "granted", "late_day": "2025-06-05", "end_on_time": False},
        {"id": "c", "channel": "counter", "outcome": None, "late_day": "2025-06-05", "end_on_time": None}]
    assert conn.execute("SELECT online_service FROM procedures").fetchone() == ("full",)
    filled = _rollups(conn)
    with conn.transaction():
        index_rollup.rebuild(conn)
    assert _rollups(conn) == filled and filled["dossier_index_yearly"]
    # the same legacy event again is a duplicate of the renamed row
    r = dossiers.ingest_events(conn, [{"dossier_id": "a", "type": "received", "at": "2025-06-02T09:00:00+07:00",
                                       "channel": "online_l3", "procedure": "P", "unit": "U"}],
                               "http:/dossiers/events", calendar=load_calendar())
    assert (r.accepted, r.duplicates) == (0, 1)


def test_migration_0054_fills_the_procedure_days_and_payments_as_the_write_path_does() -> None:
    """A database from before 0054 holding the hand-built data set: 0054 adds the payment counter and the procedure
    days, filled from what is stored exactly as the write path keeps them (and as a rebuild gives)."""
    with database("ops_upgrade54") as url, connect(url, autocommit=True) as conn:
        migrate_mod.migrate(conn, "postgres")
        load(conn)
        kept = _rollups(conn)
        assert kept["dossier_procedure_days"] and any(r[-1] for r in kept["dossier_index_yearly"])
        with conn.transaction():  # back to the schema before 0054, the rollups as they were
            conn.execute("DROP TABLE dossier_procedure_days")
            for table in ("dossier_index_daily", "dossier_index_monthly", "dossier_index_yearly"):
                conn.execute(f"ALTER TABLE {table} DROP COLUMN paid_online")
            conn.execute("DELETE FROM schema_migrations WHERE version = 54")
        migrate_mod.migrate(conn, "postgres")
        assert _rollups(conn) == kept
