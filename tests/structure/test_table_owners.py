"""One owner per table: a table's name appears in SQL only in its owning module, which writes it and offers the reads
others need (issue #12).

Owners are modules (``ops_center/events.py``) or, where a domain's store is split into a few small modules, the
domain's folder (``ops_center/incidents/``: service, linking, categories, federation snapshot). A file belongs to the
deepest owner folder holding it, so ``ops_center/devices/dead_letters.py`` owning ``dead_letters`` does not make the
rest of ``ops_center/devices/`` an owner of it, and ``alerts/warnings/`` is its own domain inside ``alerts/``.

``READERS`` names the few read-only modules a layering rule requires, with the reason: they may read the table, never
write it. ``ALLOWED`` is the allow-list (file, table) with a reason per entry.

The SQL scan is ``tests/structure/sql_tables.py``; ``test_the_scan_flags_a_planted_offender`` proves it can fail.
"""

from __future__ import annotations

from pathlib import Path

from tests.structure.sql_tables import Mention, mentions, migration_tables

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("ops_center", "alerts", "geo", "ingest", "api", "app")
SKIP: tuple[str, ...] = ()  # nothing: the test tooling left the shipped packages (tests/support)

_AUTH = "ops_center/auth/"
_READINGS = ("ops_center/readings.py", "ops_center/readings_sql.py")  # readings_sql: the write statements' text
_DEVICES = "ops_center/devices/"
_GEO = "geo/store.py"
_ALERTS = "alerts/"
_WARNINGS = "alerts/warnings/"
_INCIDENTS = "ops_center/incidents/"
_DOSSIERS = "ops_center/dossiers/"
_FEDERATION = "ops_center/federation/"

OWNERS: dict[str, tuple[str, ...]] = {
    "users": (_AUTH,), "api_keys": (_AUTH,), "audit_log": (_AUTH,),
    "events": ("ops_center/events.py",),
    "readings": _READINGS, "readings_hourly": _READINGS, "readings_daily": _READINGS, "readings_latest": _READINGS,
    "mqtt_accounts": ("ops_center/devices/credentials.py",),
    "devices": (_DEVICES,), "gateways": (_DEVICES,), "units": (_DEVICES,), "device_status": (_DEVICES,),
    "device_kinds": (_DEVICES,),
    "dead_letters": ("ops_center/devices/dead_letters.py",),
    "dead_letter_quota": ("ops_center/devices/dead_letter_quota.py",),
    "boundary_sets": (_GEO,), "boundary_units": (_GEO,), "boundary_crosswalk": (_GEO,),
    "boundary_crosswalks": (_GEO,), "boundary_crosswalk_coverage": (_GEO,),
    **{t: (_ALERTS,) for t in ("alerts", "alert_rules", "alert_rule_state", "alert_timeline", "escalation_policies",
                               "inhibit_rules", "silences", "notify_channels", "notification_outbox",
                               "notification_deliveries")},
    **{t: (_WARNINGS,) for t in ("warnings", "warning_events", "warning_messages", "warning_sources",
                                 "warning_subscriptions")},
    **{t: (_INCIDENTS,) for t in ("incidents", "incident_categories", "incident_reports", "incident_timeline")},
    **{t: (_DOSSIERS,) for t in ("dossiers", "procedures", "dossier_daily", "dossier_monthly", "dossier_index_daily",
                                 "dossier_index_monthly", "dossier_index_yearly", "dossier_procedure_daily",
                                 "dossier_procedure_monthly", "dossier_procedure_yearly",
                                 "dossier_procedure_days")},
    **{t: ("ops_center/petitions/",) for t in ("petitions", "petition_daily", "petition_monthly", "petition_yearly")},
    **{t: ("ops_center/readiness/",) for t in ("documents", "meeting_sessions", "feed_activity", "unit_facts")},
    **{t: (_FEDERATION,) for t in ("federation_changes", "federation_outbox", "federation_deliveries",
                                   "federation_state", "federation_provinces", "federation_receipts",
                                   "federation_snapshots", "federation_dead_letters")},
}

WARD_DIRECTORY = ("ops_center/wards.py",
                  "the core's ward directory (ward -> district, names, sets): the core may not import geo, whose "
                  "store owns and writes the boundary tables; docs/architecture.md 'Ward directory'")
BROKER_ACCOUNTS = ("ops_center/broker/accounts.py",
                   "the broker's configuration is rendered from the stored accounts; the owner "
                   "(ops_center.devices.credentials) imports the broker to sync it after each change, so the broker "
                   "may not import the owner back")
READERS: dict[str, tuple[tuple[str, str], ...]] = {
    "boundary_sets": (WARD_DIRECTORY,),
    "boundary_units": (WARD_DIRECTORY,),
    "mqtt_accounts": (BROKER_ACCOUNTS,),
}

ALLOWED: dict[tuple[str, str], str] = {}


def owner_folders() -> set[str]:
    return {o for owners in OWNERS.values() for o in owners if o.endswith("/")}


def is_owner(path: str, owners: tuple[str, ...], folders: set[str]) -> bool:
    """``path`` is one of the owning modules, or its deepest owner folder is one of the owners."""
    if path in owners:
        return True
    holding = [f for f in folders if path.startswith(f)]
    return bool(holding) and max(holding, key=len) in owners


def offenders(found: list[Mention], owners: dict[str, tuple[str, ...]]) -> list[Mention]:
    folders = {o for os_ in owners.values() for o in os_ if o.endswith("/")}
    out = []
    for m in found:
        if is_owner(m.path, owners[m.table], folders) or (m.path, m.table) in ALLOWED:
            continue
        if not m.writes and any(m.path == reader for reader, _ in READERS.get(m.table, ())):
            continue
        out.append(m)
    return out


def test_every_table_has_an_owner() -> None:
    tables = migration_tables(REPO / "ops_center" / "migrations")
    assert tables, "no table found in the migrations"
    assert sorted(tables - OWNERS.keys()) == [], "tables without an owner in OWNERS"
    assert sorted(OWNERS.keys() - tables) == [], "OWNERS names tables the migrations do not create"
    for owners in OWNERS.values():
        for owner in owners:
            assert (REPO / owner).exists(), owner


def test_tables_are_named_in_sql_only_by_their_owner() -> None:
    tables = migration_tables(REPO / "ops_center" / "migrations")
    found = list(mentions(REPO, PACKAGES, tables, SKIP))
    bad = offenders(found, OWNERS)
    assert not bad, "a table named in SQL outside its owner:\n" + "\n".join(
        f"  {m}  (owner: {', '.join(OWNERS[m.table])})" for m in bad)


def test_allow_list_and_readers_are_current() -> None:
    """Every allow-list entry and reader still names the table (no stale exceptions)."""
    tables = migration_tables(REPO / "ops_center" / "migrations")
    found = {(m.path, m.table) for m in mentions(REPO, PACKAGES, tables, SKIP)}
    stale = [k for k in ALLOWED if k not in found]
    stale += [(r, t) for t, rs in READERS.items() for r, _ in rs if (r, t) not in found]
    assert not stale, f"exceptions that no longer apply: {stale}"


def test_the_scan_flags_a_planted_offender(tmp_path: Path) -> None:
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations" / "0001_x.sql").write_text(
        "CREATE TABLE things (id int);\nCREATE TABLE thing_log (id int);\n-- CREATE TABLE not_a_table\n")
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "owner.py").write_text('SQL = "INSERT INTO things VALUES (1)"\n')
    (pkg / "other.py").write_text(
        '"""Docstring: SELECT * FROM things is prose."""\n'
        'def f(conn, n):\n'
        '    conn.execute(f"SELECT id FROM {n} a JOIN things t ON t.id = a.id")\n'
        '    conn.execute("UPDATE things SET id = 2")\n'
        '    conn.execute("SELECT to_regclass(\'things\')")\n'
        '    return "things", "thing_log"\n')
    tables = migration_tables(tmp_path / "migrations")
    assert tables == {"things", "thing_log"}
    found = list(mentions(tmp_path, ("pkg",), tables))
    bad = offenders(found, {"things": ("pkg/owner.py",), "thing_log": ("pkg/owner.py",)})
    assert sorted((m.path, m.line, m.table, m.writes) for m in bad) == [
        ("pkg/other.py", 3, "things", False), ("pkg/other.py", 4, "things", True),
        ("pkg/other.py", 6, "thing_log", False)]
