"""Silences, inhibition and escalation on the real database, under a controllable clock."""

from __future__ import annotations

import dataclasses
import secrets
from datetime import timedelta
from typing import Any

from psycopg.types.json import Jsonb

from alerts import escalation, lifecycle, muting, remuting, silences
from alerts.errors import AlertConflict, UnitNotFound
from alerts.lifecycle import Firing
from alerts.rules import store
from ops_center.db import Conn, fetch_all
from tests.alerts.conftest import T0, alerts_for, kinds, make_device, make_rule, uid


def _channel(conn: Conn, name: str | None = None) -> str:
    name = name or uid("ch")
    conn.execute("INSERT INTO notify_channels (name, type, config) VALUES (%s, 'webhook', %s)",
                 (name, Jsonb({"url": "http://127.0.0.1:9/never"})))
    conn.commit()
    return name


def _policy(conn: Conn, steps: list[dict[str, Any]], repeat: str | None = "30m") -> str:
    name = uid("policy")
    escalation.upsert_policy(conn, escalation.validate_policy({"name": name, "steps": steps, "repeat": repeat}),
                             "test")
    conn.commit()
    return name


def _fire(conn: Conn, rule_id: int, subject: str, labels: dict[str, Any], now) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    rule = store.stored(store.get_rule(conn, rule_id))  # type: ignore[arg-type]
    change = lifecycle.fire(conn, Firing(rule.ref, subject, labels, f"{subject} cảnh báo", 1.0, now), now=now)
    conn.commit()
    assert change is not None
    return dataclasses.asdict(change.alert)


def _outbox(conn: Conn, alert_id: int) -> list[tuple[str, str]]:
    rows = fetch_all(conn, "SELECT c.name, o.event FROM notification_outbox o JOIN notify_channels c "
                           "ON c.id = o.channel_id WHERE o.alert_id = %s ORDER BY o.id", (alert_id,))
    conn.commit()
    return [(r["name"], r["event"]) for r in rows]


def _run_due(conn: Conn, now) -> None:  # type: ignore[no-untyped-def]
    escalation.run_due(conn, now)
    conn.commit()


def test_silence_mutes_then_expires(conn) -> None:  # type: ignore[no-untyped-def]
    ops = _channel(conn)
    policy = _policy(conn, [{"after": 0, "channels": [ops]}], repeat=None)
    dev = make_device(conn)
    rid = make_rule(conn, {"kind": "threshold", "metric": "ph", "operator": "<", "value": 6, "escalation": policy,
                           "scope": {"device": dev}})
    now = T0
    a = _fire(conn, rid, dev, {"device": dev, "level": "device"}, now)
    assert not a["muted"] and _outbox(conn, a["id"]) == [(ops, "firing")]
    # the operator silences the device for 10 minutes: the open alert is muted, still stored
    s = silences.create(conn, silences.validate_silence({
        "matchers": [{"name": "device", "op": "=", "value": dev}],
        "ends_at": (now + timedelta(minutes=10)).isoformat(), "comment": "Đang bảo dưỡng cảm biến"}), "op1", now)
    assert remuting.refresh(conn, now) >= 1
    conn.commit()
    [row] = alerts_for(conn, rid)
    assert row["muted"] and row["muted_by"] == f"silence:{s['id']}" and "Đang bảo dưỡng" in row["muted_reason"]
    assert muting.is_muted(conn, lifecycle.get(conn, row["id"]), now).muted  # type: ignore[arg-type]
    conn.commit()
    # while the silence holds, a re-fire of the subject (new alert after resolve) is muted at birth, no outbox
    lifecycle.resolve(conn, alert_id=row["id"], now=now + timedelta(minutes=1))
    conn.commit()
    b = _fire(conn, rid, dev, {"device": dev, "level": "device"}, now + timedelta(minutes=2))
    assert b["id"] == a["id"] and b["muted"]  # reopened within the flap window, and muted
    assert _outbox(conn, a["id"]) == [(ops, "firing")]
    # nothing changes before the end ...
    remuting.refresh(conn, now + timedelta(minutes=9))
    conn.commit()
    assert alerts_for(conn, rid)[0]["muted"]
    # ... and the silence expires by its timestamps alone: the alert is unmuted and its ladder starts
    assert silences.state(s["starts_at"], s["ends_at"], now + timedelta(minutes=10)) == "expired"
    remuting.refresh(conn, now + timedelta(minutes=10))
    conn.commit()
    [row] = alerts_for(conn, rid)
    assert not row["muted"] and row["muted_reason"] is None
    assert kinds(conn, row["id"])[-1] == "unmuted"
    assert _outbox(conn, a["id"]) == [(ops, "firing"), (ops, "firing")]


def test_expiring_a_silence_early(conn) -> None:  # type: ignore[no-untyped-def]
    dev = make_device(conn)
    rid = make_rule(conn, {"kind": "threshold", "metric": "ph", "operator": "<", "value": 6,
                           "scope": {"device": dev}})
    s = silences.create(conn, silences.validate_silence({
        "matchers": [{"name": "alertname", "op": "=~", "value": "rule-.*"}, {"name": "device", "value": dev}],
        "ends_at": (T0 + timedelta(days=1)).isoformat(), "comment": "x"}), "op1", T0)
    conn.commit()
    a = _fire(conn, rid, dev, {"device": dev}, T0)
    assert a["muted"]
    silences.expire(conn, s["id"], T0 + timedelta(minutes=1))
    remuting.refresh(conn, T0 + timedelta(minutes=1))
    conn.commit()
    assert not alerts_for(conn, rid)[0]["muted"]


def test_open_flood_incident_mutes_water_level_alerts_in_its_ward(conn) -> None:  # type: ignore[no-untyped-def]
    ward, other = uid("w")[:10], uid("w")[:10]
    rid = make_rule(conn, {"kind": "threshold", "metric": "water_level_cm", "operator": ">", "value": 100})
    inc = conn.execute(
        "INSERT INTO incidents (title, category, severity, source, ward_set, ward_code, reported_at, due_at, "
        "last_reported_at, created_by) VALUES ('Ngập sâu đường Phan Ngọc Hiển', 'flooding', 'major', 'operator', "
        "'camau-2025', %s, %s, %s, %s, 'op') RETURNING id", (ward, T0, T0 + timedelta(hours=4), T0)).fetchone()[0]
    conn.commit()
    d1, d2 = make_device(conn, kind="water_level", ward=ward), make_device(conn, kind="water_level", ward=other)
    a1 = _fire(conn, rid, d1, {"device": d1, "ward": ward, "metric": "water_level_cm", "level": "device"}, T0)
    a2 = _fire(conn, rid, d2, {"device": d2, "ward": other, "metric": "water_level_cm", "level": "device"}, T0)
    assert a1["muted"] and a1["muted_by"] == "inhibit_rule:flood-incident-mutes-water-level"
    assert f"incident #{inc}" in a1["muted_reason"]
    assert not a2["muted"]
    # another metric in the flooded ward is not muted
    sal = make_rule(conn, {"kind": "threshold", "metric": "salinity_ppt", "operator": ">", "value": 4})
    a3 = _fire(conn, sal, d1, {"device": d1, "ward": ward, "metric": "salinity_ppt", "level": "device"}, T0)
    assert not a3["muted"]
    # the incident is resolved: the water-level alert is unmuted at the next refresh
    conn.execute("UPDATE incidents SET status = 'resolved', resolved_at = %s WHERE id = %s", (T0, inc))
    remuting.refresh(conn, T0 + timedelta(minutes=1))
    conn.commit()
    assert not lifecycle.get(conn, a1["id"]).muted  # type: ignore[union-attr]
    conn.commit()


def test_ward_level_alert_mutes_device_alerts_of_the_same_kind(conn) -> None:  # type: ignore[no-untyped-def]
    ward = uid("w")[:10]
    dev_rule = make_rule(conn, {"kind": "threshold", "metric": "salinity_ppt", "operator": ">", "value": 4})
    ward_rule = make_rule(conn, {"kind": "geo_count", "count": 2, "window": "1h", "labels": {"kind": "salinity"}})
    d1 = make_device(conn, kind="salinity", ward=ward)
    d2 = make_device(conn, kind="rain", ward=ward)
    before = _fire(conn, dev_rule, d1, {"device": d1, "ward": ward, "kind": "salinity", "level": "device"}, T0)
    assert not before["muted"]
    w = _fire(conn, ward_rule, f"ward:{ward}", {"ward": ward, "kind": "salinity", "level": "ward"}, T0)
    assert not w["muted"]  # an alert never inhibits itself
    remuting.refresh(conn, T0)
    conn.commit()
    row = lifecycle.get(conn, before["id"])
    assert row is not None and row.muted and row.muted_by == "inhibit_rule:ward-alert-mutes-device-alerts"
    other_kind = _fire(conn, dev_rule, d2, {"device": d2, "ward": ward, "kind": "rain", "level": "device"}, T0)
    assert not other_kind["muted"]
    # the ward-level alert resolves: the device alert speaks again
    lifecycle.resolve(conn, alert_id=w["id"], now=T0 + timedelta(minutes=5))
    remuting.refresh(conn, T0 + timedelta(minutes=5))
    conn.commit()
    assert not lifecycle.get(conn, before["id"]).muted  # type: ignore[union-attr]
    conn.commit()


def test_escalation_ladder_under_a_controllable_clock(conn) -> None:  # type: ignore[no-untyped-def]
    ops, sup = _channel(conn), _channel(conn)
    policy = _policy(conn, [{"after": 0, "channels": [ops]}, {"after": "10m", "channels": [sup]}], repeat="30m")
    rid = make_rule(conn, {"kind": "threshold", "metric": "salinity_ppt", "operator": ">", "value": 4,
                           "severity": "critical", "escalation": policy})
    subject = uid("dev")
    a = _fire(conn, rid, subject, {"device": subject}, T0)
    assert _outbox(conn, a["id"]) == [(ops, "firing")]
    assert a["next_escalation_at"] == T0 + timedelta(minutes=10)
    _run_due(conn, T0 + timedelta(minutes=9, seconds=59))
    assert _outbox(conn, a["id"]) == [(ops, "firing")]
    _run_due(conn, T0 + timedelta(minutes=10))
    assert _outbox(conn, a["id"]) == [(ops, "firing"), (sup, "escalated")]
    _run_due(conn, T0 + timedelta(minutes=39))
    assert len(_outbox(conn, a["id"])) == 2
    # 30 minutes after the last step: a reminder to everyone on the ladder so far
    _run_due(conn, T0 + timedelta(minutes=40))
    assert _outbox(conn, a["id"])[2:] == [(ops, "reminder"), (sup, "reminder")]
    _run_due(conn, T0 + timedelta(minutes=70))
    assert len(_outbox(conn, a["id"])) == 6
    assert kinds(conn, a["id"]) == ["fired", "escalated", "reminder", "reminder"]
    # acknowledged: the ladder and the reminders stop
    lifecycle.acknowledge(conn, a["id"], "trực ban", "đã cử người", now=T0 + timedelta(minutes=75))
    conn.commit()
    _run_due(conn, T0 + timedelta(hours=5))
    assert len(_outbox(conn, a["id"])) == 6
    # resolved: the channels that heard about it hear it is over
    lifecycle.resolve(conn, alert_id=a["id"], now=T0 + timedelta(hours=6))
    conn.commit()
    assert _outbox(conn, a["id"])[6:] == [(ops, "resolved"), (sup, "resolved")]


def test_escalation_stops_on_resolve_and_minor_alerts_get_no_reminders(conn) -> None:  # type: ignore[no-untyped-def]
    ops, sup = _channel(conn), _channel(conn)
    policy = _policy(conn, [{"after": 0, "channels": [ops]}, {"after": "15m", "channels": [sup]}], repeat="30m")
    rid = make_rule(conn, {"kind": "threshold", "metric": "pm10", "operator": ">", "value": 150,
                           "severity": "minor", "escalation": policy})
    a, b = uid("dev"), uid("dev")
    first = _fire(conn, rid, a, {"device": a}, T0)
    second = _fire(conn, rid, b, {"device": b}, T0)
    lifecycle.resolve(conn, alert_id=first["id"], now=T0 + timedelta(minutes=5))
    conn.commit()
    _run_due(conn, T0 + timedelta(hours=3))
    assert _outbox(conn, first["id"]) == [(ops, "firing"), (ops, "resolved")]
    # the unresolved minor alert escalates once and then stays quiet (reminders are for critical alerts)
    assert _outbox(conn, second["id"]) == [(ops, "firing"), (sup, "escalated")]
    assert lifecycle.get(conn, second["id"]).next_escalation_at is None  # type: ignore[union-attr]
    conn.commit()


def test_muted_alerts_do_not_escalate(conn) -> None:  # type: ignore[no-untyped-def]
    ops = _channel(conn)
    policy = _policy(conn, [{"after": "5m", "channels": [ops]}])
    dev = make_device(conn)
    rid = make_rule(conn, {"kind": "threshold", "metric": "ph", "operator": ">", "value": 9, "escalation": policy,
                           "severity": "critical"})
    a = _fire(conn, rid, dev, {"device": dev}, T0)
    assert _outbox(conn, a["id"]) == []
    silences.create(conn, silences.validate_silence({"matchers": [{"name": "device", "value": dev}],
                                                     "ends_at": (T0 + timedelta(hours=1)).isoformat(),
                                                     "comment": "kiểm định"}), "op", T0)
    remuting.refresh(conn, T0 + timedelta(minutes=1))
    conn.commit()
    _run_due(conn, T0 + timedelta(minutes=30))
    assert _outbox(conn, a["id"]) == []
    remuting.refresh(conn, T0 + timedelta(hours=1))  # silence over: the ladder starts from the unmute
    conn.commit()
    _run_due(conn, T0 + timedelta(hours=1, minutes=4))
    assert _outbox(conn, a["id"]) == []
    _run_due(conn, T0 + timedelta(hours=1, minutes=5))
    assert _outbox(conn, a["id"]) == [(ops, "firing")]


def test_two_ticks_never_double_escalate(settings, conn) -> None:  # type: ignore[no-untyped-def]
    import threading

    from ops_center.db import connect

    ops, sup = _channel(conn), _channel(conn)
    policy = _policy(conn, [{"after": 0, "channels": [ops]}, {"after": "1m", "channels": [sup]}], repeat=None)
    rid = make_rule(conn, {"kind": "threshold", "metric": "ph", "operator": ">", "value": 9, "escalation": policy})
    ids = [_fire(conn, rid, uid("d"), {}, T0)["id"] for _ in range(20)]
    barrier = threading.Barrier(3)

    def tick() -> None:
        with connect(settings.database_url) as c:
            barrier.wait(30)
            escalation.run_due(c, T0 + timedelta(minutes=2))
            c.commit()

    threads = [threading.Thread(target=tick) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for alert_id in ids:
        assert _outbox(conn, alert_id) == [(ops, "firing"), (sup, "escalated")]


def test_acknowledge_assign_and_resolve_by_an_operator(conn, evaluator) -> None:  # type: ignore[no-untyped-def]
    from tests.alerts.conftest import feed

    unit = "u" + secrets.token_hex(3)
    dev = make_device(conn, unit=unit, ward="31000")
    rid = make_rule(conn, {"kind": "threshold", "metric": "salinity_ppt", "operator": ">", "value": 4,
                           "scope": {"device": dev}, "flap_window": "1h"})
    t = T0.timestamp()
    feed(conn, evaluator, [(t, dev, "salinity_ppt", 6.0)])
    [a] = alerts_for(conn, rid)
    now = T0 + timedelta(minutes=1)
    row = lifecycle.acknowledge(conn, a["id"], "op-lan", "Đã báo trạm bơm", now=now)
    conn.commit()
    assert row.acknowledged_by == "op-lan" and row.ack_note == "Đã báo trạm bơm"
    try:
        lifecycle.acknowledge(conn, a["id"], "op-b", None, now=now)
        raise AssertionError("a second acknowledge must be refused")
    except AlertConflict as exc:
        assert "already acknowledged by op-lan" in str(exc)
    conn.rollback()
    try:
        lifecycle.assign(conn, a["id"], "no-such-unit", "op-lan", now=now)
        raise AssertionError("an unknown unit must be refused")
    except UnitNotFound as exc:
        assert "no-such-unit" in str(exc)
    conn.rollback()
    assert lifecycle.assign(conn, a["id"], unit, "op-lan", now=now).assigned_unit == unit
    row = lifecycle.resolve_by(conn, a["id"], "op-lan", "Đã xử lý", now=now)
    conn.commit()
    assert row.resolved_by == "op-lan" and row.ends_at == now
    assert kinds(conn, a["id"]) == ["fired", "acknowledged", "assigned", "resolved"]
    # the condition still holds: the rule fires again (reopening the alert within its flap window)
    feed(conn, evaluator, [(t + 120, dev, "salinity_ppt", 6.5)])
    [a] = alerts_for(conn, rid)
    assert a["ends_at"] is None and a["reopen_count"] == 1
    events = [r[0] for r in conn.execute("SELECT payload->>'transition' FROM events WHERE subject = %s ORDER BY id",
                                         (f"alert:{a['id']}",)).fetchall()]
    conn.commit()
    assert events == ["fired", "acknowledged", "assigned", "resolved", "reopened"]


def test_active_by_ward_counts_open_unmuted_alerts(conn) -> None:  # type: ignore[no-untyped-def]
    from alerts.service import active_by_ward

    set_name = uid("set")
    # a family of its own: a set of the default family would take over "the set in force" for every later test
    conn.execute("INSERT INTO boundary_sets (name, family, valid_from) VALUES (%s, %s, '2025-07-01')",
                 (set_name, uid("fam")))
    w1, w2, d1 = uid("w")[:10], uid("w")[:10], uid("d")[:10]
    for level, code, parent in (("district", d1, None), ("ward", w1, d1), ("ward", w2, d1)):
        conn.execute("INSERT INTO boundary_units (set_name, level, code, name, parent_code, area_km2, rep_lon, rep_lat, "
                     "geom) VALUES (%s, %s, %s, %s, %s, 1, 105, 9, '\\x00')", (set_name, level, code, code, parent))
    conn.commit()
    crit = make_rule(conn, {"kind": "threshold", "metric": "ph", "operator": "<", "value": 5, "severity": "critical",
                            "scope": {"device": "none"}})
    minor = make_rule(conn, {"kind": "threshold", "metric": "ph", "operator": "<", "value": 6, "severity": "minor",
                             "scope": {"device": "none"}})
    for rid, ward in ((crit, w1), (crit, w1), (minor, w1), (minor, w2)):
        d = uid("d")
        _fire(conn, rid, d, {"device": d, "ward": w1 if ward == w1 else w2, "ward_set": set_name}, T0)
    gone = _fire(conn, minor, uid("d"), {"ward": w2, "ward_set": set_name}, T0)
    lifecycle.resolve(conn, alert_id=gone["id"], now=T0)
    muted_dev = uid("d")
    silences.create(conn, silences.validate_silence({"matchers": [{"name": "device", "value": muted_dev}],
                                                     "ends_at": (T0 + timedelta(days=300)).isoformat(),
                                                     "comment": "x"}), "op", T0)
    conn.commit()
    _fire(conn, crit, muted_dev, {"device": muted_dev, "ward": w2, "ward_set": set_name}, T0)
    wards = active_by_ward(conn, set_name, "ward", now=T0 + timedelta(minutes=1))
    assert wards[w1] == {"critical": 2, "major": 0, "minor": 1, "info": 0, "total": 3}
    assert wards[w2] == {"critical": 0, "major": 0, "minor": 1, "info": 0, "total": 1}
    districts = active_by_ward(conn, set_name, "district", now=T0 + timedelta(minutes=1))
    assert districts == {d1: {"critical": 2, "major": 0, "minor": 2, "info": 0, "total": 4}}
    conn.commit()
