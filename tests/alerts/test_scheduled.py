"""Scheduled rules (absence, geo-count, KPI) evaluated against the real database with an injected clock."""

from __future__ import annotations

import secrets
import threading
from datetime import UTC, datetime, timedelta

from alerts import scheduled
from ops_center.db import connect
from tests.alerts.conftest import T0, alerts_for, kinds, make_device, make_rule, uid


def test_absence_of_a_device_fires_and_resolves(conn) -> None:  # type: ignore[no-untyped-def]
    kind = "absence_" + secrets.token_hex(3)
    quiet = make_device(conn, kind=kind, interval_s=600, last_seen=T0 - timedelta(minutes=40), ward="30100")
    fresh = make_device(conn, kind=kind, interval_s=600, last_seen=T0 - timedelta(minutes=5))
    never = make_device(conn, kind=kind, interval_s=600, created_at=T0 - timedelta(hours=2))
    rid = make_rule(conn, {"kind": "absence", "factor": 3, "scope": {"kind": kind}, "severity": "minor"})
    report = scheduled.evaluate(conn, now=T0, rule_ids=[rid])
    conn.commit()
    assert report.rules == 1 and report.fired == 2 and report.resolved == 0, report
    alerts = {a["subject"]: a for a in alerts_for(conn, rid)}
    assert set(alerts) == {quiet, never}
    assert alerts[quiet]["labels"]["ward"] == "30100" and "40m" in alerts[quiet]["summary"]
    # a second cycle changes nothing
    assert scheduled.evaluate(conn, now=T0 + timedelta(seconds=30), rule_ids=[rid]).fired == 0
    conn.commit()
    # the quiet device reports again; the fresh one goes quiet
    conn.execute("UPDATE devices SET last_seen = %s WHERE id = %s", (T0 + timedelta(minutes=1), quiet))
    conn.commit()
    report = scheduled.evaluate(conn, now=T0 + timedelta(minutes=30), rule_ids=[rid])
    conn.commit()
    assert (report.fired, report.resolved) == (1, 1)
    alerts = alerts_for(conn, rid)
    open_subjects = {a["subject"] for a in alerts if a["ends_at"] is None}
    assert open_subjects == {never, fresh}
    assert kinds(conn, next(a["id"] for a in alerts if a["subject"] == quiet)) == ["fired", "resolved"]


def test_absence_of_one_metric(conn) -> None:  # type: ignore[no-untyped-def]
    from ops_center.readings import ReadingsStore

    kind = "absence_" + secrets.token_hex(3)
    dev = make_device(conn, kind=kind, interval_s=60, last_seen=T0)
    ReadingsStore.for_connection(conn).write_batch(conn, [
        (T0.timestamp(), dev, "water_temperature_c", 28.0),
        ((T0 - timedelta(minutes=10)).timestamp(), dev, "salinity_ppt", 2.0),
    ])
    conn.commit()
    rid = make_rule(conn, {"kind": "absence", "metric": "salinity_ppt", "factor": 5, "scope": {"device": dev}})
    assert scheduled.evaluate(conn, now=T0, rule_ids=[rid]).fired == 1
    conn.commit()
    [a] = alerts_for(conn, rid)
    assert a["subject"] == f"{dev}:salinity_ppt" and a["labels"]["metric"] == "salinity_ppt"


def _incident(conn, ward: str, category: str, at: datetime, status: str = "new") -> int:  # type: ignore[no-untyped-def]
    row = conn.execute(
        "INSERT INTO incidents (title, category, severity, status, source, ward_set, ward_code, reported_at, due_at, "
        "last_reported_at, created_by) VALUES (%s, %s, 'major', %s, 'operator', 'camau-2025', %s, %s, %s, %s, 'test') "
        "RETURNING id", (f"Ngập đường {ward}", category, status, ward, at, at + timedelta(hours=4), at),
    ).fetchone()
    conn.commit()
    return int(row[0])


def test_geo_count_of_incidents_in_a_ward(conn) -> None:  # type: ignore[no-untyped-def]
    ward, quiet_ward = uid("w")[:10], uid("w")[:10]
    for minutes in (5, 20, 50):
        _incident(conn, ward, "flooding", T0 - timedelta(minutes=minutes))
    _incident(conn, ward, "fallen_tree", T0 - timedelta(minutes=5))   # other category
    _incident(conn, quiet_ward, "flooding", T0 - timedelta(minutes=5))
    _incident(conn, ward, "flooding", T0 - timedelta(hours=3))      # outside the window
    rid = make_rule(conn, {"kind": "geo_count", "count": 3, "window": "1h", "categories": ["flooding"],
                           "wards": [ward, quiet_ward], "labels": {"kind": "water_level"}, "severity": "major"})
    report = scheduled.evaluate(conn, now=T0, rule_ids=[rid])
    conn.commit()
    assert report.fired == 1, report
    [a] = alerts_for(conn, rid)
    assert a["labels"]["ward"] == ward and a["labels"]["level"] == "ward" and a["labels"]["kind"] == "water_level"
    assert a["value"] == 3 and "3 incidents" in a["summary"]
    # 15 minutes later the oldest of the three has left the window
    report = scheduled.evaluate(conn, now=T0 + timedelta(minutes=15), rule_ids=[rid])
    conn.commit()
    assert report.resolved == 1
    assert alerts_for(conn, rid)[0]["ends_at"] is not None


def test_kpi_below_target(conn) -> None:  # type: ignore[no-untyped-def]
    from ops_center.dossiers import service as dossiers
    from ops_center.dossiers.calendar import load_calendar

    tag = secrets.token_hex(3)
    unit, proc = f"UBND-AL-{tag}", f"PAL-{tag}"
    conn.execute("INSERT INTO units (code, name, level) VALUES (%s, 'UBND xã Khánh Bình Đông', 'commune')", (unit,))
    conn.execute("INSERT INTO procedures (code, name, processing_days, online_level, offered_by_post) VALUES "
                 "(%s, 'Đăng ký khai sinh', 2, 4, false)", (proc,))
    conn.commit()
    now = datetime(2025, 3, 20, 5, 0, tzinfo=UTC)
    cal = load_calendar()

    def ev(n: int, kind: str, day: int, **kw: str) -> dict[str, str]:
        return {"dossier_id": f"AL-{tag}-{n}", "type": kind, "at": f"2025-03-{day:02d}T09:00:00+07:00", **kw}

    received = [ev(i, "received", 3, channel="counter", procedure=proc, unit=unit) for i in range(4)]
    # due Wednesday 03-05: one on time, three late
    resolved = [ev(0, "resolved", 4)] + [ev(i, "resolved", 12) for i in range(1, 4)]
    result = dossiers.ingest_events(conn, received + resolved, "test", calendar=cal, now=now)
    conn.commit()
    assert result.rejected == [], result.rejected
    rid = make_rule(conn, {"kind": "kpi", "kpi": "on_time_rate", "level": "unit", "codes": [unit],
                           "target": 0.8, "period": "month", "min_count": 2})
    report = scheduled.evaluate(conn, now=now, rule_ids=[rid])
    conn.commit()
    assert report.errors == {} and report.fired == 1, report
    [a] = alerts_for(conn, rid)
    assert a["value"] == 0.25 and a["labels"]["unit"] == unit and a["labels"]["level"] == "unit"
    # twelve more dossiers resolved on time: 13/16 = 0.8125 ≥ 0.8 → resolved
    more = [ev(i, "received", 17, channel="online_l4", procedure=proc, unit=unit) for i in range(10, 22)]
    more += [ev(i, "resolved", 18) for i in range(10, 22)]
    dossiers.ingest_events(conn, more, "test", calendar=cal, now=now)
    conn.commit()
    report = scheduled.evaluate(conn, now=now + timedelta(minutes=1), rule_ids=[rid])
    conn.commit()
    assert report.resolved == 1, report


def test_disabling_a_rule_resolves_its_alerts_and_stops_it(conn) -> None:  # type: ignore[no-untyped-def]
    from alerts import rule_changes
    from alerts.rules.models import parse_rule

    kind = "absence_" + secrets.token_hex(3)
    make_device(conn, kind=kind, interval_s=60, last_seen=T0 - timedelta(hours=1))
    doc = {"name": uid("rule"), "kind": "absence", "scope": {"kind": kind}}
    rid = make_rule(conn, doc)
    assert scheduled.evaluate(conn, now=T0, rule_ids=[rid]).fired == 1
    conn.commit()
    rule_changes.replace_rule(conn, rid, parse_rule({**doc, "enabled": False}), "test")
    conn.commit()
    [a] = alerts_for(conn, rid)
    assert a["ends_at"] is not None and a["resolve_note"] == "rule disabled"
    assert scheduled.evaluate(conn, now=T0 + timedelta(minutes=5), rule_ids=[rid]).rules == 0
    conn.commit()


def test_a_second_beat_in_the_same_cycle_finds_nothing_to_claim(conn) -> None:  # type: ignore[no-untyped-def]
    kind = "absence_" + secrets.token_hex(3)
    make_device(conn, kind=kind, interval_s=60, last_seen=T0 - timedelta(hours=1))
    rid = make_rule(conn, {"kind": "absence", "scope": {"kind": kind}})
    assert scheduled.evaluate(conn, now=T0, min_interval_s=15, rule_ids=[rid]).rules == 1
    conn.commit()
    assert scheduled.evaluate(conn, now=T0 + timedelta(seconds=5), min_interval_s=15, rule_ids=[rid]).rules == 0
    conn.commit()


def test_two_scheduled_evaluators_never_duplicate_an_alert(settings, conn) -> None:  # type: ignore[no-untyped-def]
    kind = "absence_" + secrets.token_hex(3)
    devs = [make_device(conn, kind=kind, interval_s=60, last_seen=T0 - timedelta(hours=1)) for _ in range(30)]
    rids = [make_rule(conn, {"kind": "absence", "scope": {"kind": kind}, "flap_window": 0}) for _ in range(3)]
    barrier = threading.Barrier(4)
    reports: list[scheduled.CycleReport] = []
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            with connect(settings.database_url) as c:
                for cycle in range(3):
                    barrier.wait(timeout=60)
                    # everyone evaluates the same cycle at the same instant (min_interval 0: no claim dedupe)
                    reports.append(scheduled.evaluate(c, now=T0 + timedelta(seconds=cycle), rule_ids=rids))
                    c.commit()
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    assert not errors, errors
    assert sum(r.fired for r in reports) == len(devs) * len(rids)
    for rid in rids:
        alerts = alerts_for(conn, rid)
        assert sorted(a["subject"] for a in alerts) == sorted(devs)
