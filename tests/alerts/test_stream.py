"""Stream rules evaluated by ``StreamEvaluator.on_batch`` on real readings batches in the real database."""

from __future__ import annotations

import threading
from datetime import timedelta

from alerts.stream import StreamEvaluator
from ops_center.db import connect
from tests.alerts.conftest import T0, alerts_for, feed, kinds, make_device, make_rule, uid

t0 = T0.timestamp()


def test_threshold_fires_and_resolves(conn, evaluator) -> None:  # type: ignore[no-untyped-def]
    dev = make_device(conn, kind="salinity", ward="31234", unit=uid("u"))
    rid = make_rule(conn, {"kind": "threshold", "metric": "salinity_ppt", "operator": ">", "value": 4.0,
                           "scope": {"device": dev}, "severity": "critical",
                           "summary": "Độ mặn {value}‰ tại {device_name}"})
    assert feed(conn, evaluator, [(t0, dev, "salinity_ppt", 3.0)]) == 0
    assert feed(conn, evaluator, [(t0 + 60, dev, "salinity_ppt", 4.5)]) == 1
    [a] = alerts_for(conn, rid)
    assert a["ends_at"] is None and a["severity"] == "critical" and a["value"] == 4.5
    assert a["starts_at"].timestamp() == t0 + 60
    assert a["labels"]["device"] == dev and a["labels"]["ward"] == "31234" and a["labels"]["kind"] == "salinity"
    assert a["labels"]["metric"] == "salinity_ppt" and a["labels"]["level"] == "device"
    assert a["summary"] == f"Độ mặn 4.5‰ tại Trạm {dev}"
    # still above: nothing new
    assert feed(conn, evaluator, [(t0 + 120, dev, "salinity_ppt", 6.0)]) == 0
    assert feed(conn, evaluator, [(t0 + 180, dev, "salinity_ppt", 3.9)]) == 1
    [a] = alerts_for(conn, rid)
    assert a["ends_at"].timestamp() == t0 + 180
    assert kinds(conn, a["id"]) == ["fired", "resolved"]
    ev = conn.execute("SELECT payload FROM events WHERE topic = 'alert' AND subject = %s ORDER BY id",
                      (f"alert:{a['id']}",)).fetchall()
    conn.commit()
    assert [e[0]["transition"] for e in ev] == ["fired", "resolved"]
    assert ev[0][0]["state"] == "firing" and ev[1][0]["state"] == "resolved"


def test_for_and_hysteresis_stop_a_flapping_signal_from_flapping_the_alert(conn, evaluator) -> None:  # type: ignore[no-untyped-def]
    dev = make_device(conn)
    rid = make_rule(conn, {"kind": "threshold", "metric": "water_level_cm", "operator": ">", "value": 100,
                           "for": "3m", "clear": 90, "scope": {"device": dev}})
    # a noisy signal around the threshold: short excursions above 100 never last 3 minutes
    noisy = [99, 101, 99, 102, 98, 101, 100, 103, 97]
    rows = [(t0 + 60 * i, dev, "water_level_cm", float(v)) for i, v in enumerate(noisy)]
    for r in rows:
        feed(conn, evaluator, [r])
    assert alerts_for(conn, rid) == []
    # now it stays above for 3 minutes: one alert
    base = t0 + 60 * len(noisy)
    for i, v in enumerate([105, 106, 104, 107]):
        feed(conn, evaluator, [(base + 60 * i, dev, "water_level_cm", float(v))])
    [a] = alerts_for(conn, rid)
    assert a["ends_at"] is None and a["starts_at"].timestamp() == base + 180
    # flapping between 92 and 101: inside the hysteresis band, the alert stays firing, no new alert
    base += 240
    for i, v in enumerate([95, 101, 92, 100, 91, 99, 93]):
        feed(conn, evaluator, [(base + 60 * i, dev, "water_level_cm", float(v))])
    [a] = alerts_for(conn, rid)
    assert a["ends_at"] is None and kinds(conn, a["id"]) == ["fired"]
    # below the clear value: resolved, once
    feed(conn, evaluator, [(base + 600, dev, "water_level_cm", 89.0)])
    feed(conn, evaluator, [(base + 660, dev, "water_level_cm", 85.0)])
    [a] = alerts_for(conn, rid)
    assert a["ends_at"].timestamp() == base + 600
    assert kinds(conn, a["id"]) == ["fired", "resolved"]


def test_a_whole_flapping_batch_in_one_call(conn, evaluator) -> None:  # type: ignore[no-untyped-def]
    dev = make_device(conn)
    rid = make_rule(conn, {"kind": "threshold", "metric": "water_level_cm", "operator": ">=", "value": 50,
                           "clear": 40, "scope": "all", "flap_window": 0})
    rows = [(t0 + i, dev, "water_level_cm", float(v)) for i, v in enumerate([10, 55, 45, 52, 39, 41, 60])]
    assert feed(conn, evaluator, rows[::-1]) == 3  # order inside a batch does not matter: fire, resolve, fire
    a1, a2 = alerts_for(conn, rid)
    assert a1["starts_at"].timestamp() == t0 + 1 and a1["ends_at"].timestamp() == t0 + 4
    assert a2["starts_at"].timestamp() == t0 + 6 and a2["ends_at"] is None


def test_reopen_within_flap_window_and_new_alert_after(conn, evaluator) -> None:  # type: ignore[no-untyped-def]
    dev = make_device(conn)
    rid = make_rule(conn, {"kind": "threshold", "metric": "rain_mm", "operator": ">", "value": 50,
                           "scope": {"device": dev}, "flap_window": "10m"})
    feed(conn, evaluator, [(t0, dev, "rain_mm", 60.0)])
    feed(conn, evaluator, [(t0 + 60, dev, "rain_mm", 10.0)])
    feed(conn, evaluator, [(t0 + 300, dev, "rain_mm", 70.0)])  # 4 minutes after it ended: reopened
    [a] = alerts_for(conn, rid)
    assert a["ends_at"] is None and a["reopen_count"] == 1 and a["starts_at"].timestamp() == t0
    assert kinds(conn, a["id"]) == ["fired", "resolved", "reopened"]
    feed(conn, evaluator, [(t0 + 360, dev, "rain_mm", 10.0)])
    feed(conn, evaluator, [(t0 + 360 + 11 * 60, dev, "rain_mm", 80.0)])  # 11 minutes later: a new alert
    a1, a2 = alerts_for(conn, rid)
    assert a1["ends_at"] is not None and a2["ends_at"] is None and a2["reopen_count"] == 0


def test_rate_of_change(conn, evaluator) -> None:  # type: ignore[no-untyped-def]
    dev = make_device(conn, kind="tide")
    rid = make_rule(conn, {"kind": "rate", "metric": "water_level_cm", "operator": ">", "value": 30,
                           "window": "10m", "scope": {"kind": "tide"}})
    # +20 cm in 10 minutes: fine
    feed(conn, evaluator, [(t0 + 60 * i, dev, "water_level_cm", 100.0 + 2 * i) for i in range(11)])
    assert alerts_for(conn, rid) == []
    # a surge: +35 cm within 10 minutes
    feed(conn, evaluator, [(t0 + 660, dev, "water_level_cm", 140.0)])
    feed(conn, evaluator, [(t0 + 720, dev, "water_level_cm", 150.0)])
    [a] = alerts_for(conn, rid)
    assert a["ends_at"] is None and a["starts_at"].timestamp() == t0 + 660
    assert "changed by" in a["summary"]
    # it levels off: after the window slides past the rise, the alert resolves
    for i in range(1, 12):
        feed(conn, evaluator, [(t0 + 720 + 60 * i, dev, "water_level_cm", 150.0)])
    [a] = alerts_for(conn, rid)
    assert a["ends_at"] is not None


def test_rate_window_is_seeded_from_stored_readings(conn, evaluator) -> None:  # type: ignore[no-untyped-def]
    """A rate rule created while data flows needs no warm-up: the window starts from the readings store."""
    dev = make_device(conn, kind="tide")
    from ops_center.readings import ReadingsStore

    ReadingsStore.for_connection(conn).write_batch(conn, [(t0 + 60 * i, dev, "water_level_cm", 100.0)
                                                          for i in range(5)])
    conn.commit()
    rid = make_rule(conn, {"kind": "rate", "metric": "water_level_cm", "operator": ">", "value": 30,
                           "window": "10m", "scope": {"device": dev}})
    feed(conn, evaluator, [(t0 + 300, dev, "water_level_cm", 140.0)])
    assert len(alerts_for(conn, rid)) == 1


def test_scopes_kind_and_ward(conn, evaluator) -> None:  # type: ignore[no-untyped-def]
    ward = uid("w")[:12]
    in_ward = make_device(conn, kind="salinity", ward=ward)
    other_ward = make_device(conn, kind="salinity", ward="other")
    other_kind = make_device(conn, kind="rain", ward=ward)
    rid = make_rule(conn, {"kind": "threshold", "metric": "salinity_ppt", "operator": ">", "value": 4,
                           "scope": {"ward": ward}})
    rows = [(t0, d, "salinity_ppt", 9.0) for d in (in_ward, other_ward, other_kind)]
    feed(conn, evaluator, rows)
    assert {a["subject"] for a in alerts_for(conn, rid)} == {in_ward, other_kind}
    kind_rule = make_rule(conn, {"kind": "threshold", "metric": "salinity_ppt", "operator": ">", "value": 4,
                                 "scope": {"type": "kind", "value": "salinity"}})
    evaluator.invalidate()
    feed(conn, evaluator, [(t0 + 1, d, "salinity_ppt", 9.0) for d in (in_ward, other_ward, other_kind)])
    assert {a["subject"] for a in alerts_for(conn, kind_rule)} == {in_ward, other_ward}


def test_device_registered_after_the_cache_was_loaded(conn, clock) -> None:  # type: ignore[no-untyped-def]
    ev = StreamEvaluator(refresh_s=3600, clock=clock)
    kind = "k_" + uid("k")[2:].replace("-", "")
    rid = make_rule(conn, {"kind": "threshold", "metric": "pm2_5", "operator": ">", "value": 50,
                           "scope": {"kind": kind}})
    feed(conn, ev, [(t0, "no-such-device", "pm2_5", 80.0)])  # loads the cache
    dev = make_device(conn, kind=kind, ward="30001")
    feed(conn, ev, [(t0 + 1, dev, "pm2_5", 80.0)])
    [a] = alerts_for(conn, rid)
    assert a["labels"]["ward"] == "30001"


def test_state_survives_a_restart_and_redelivery_is_harmless(conn, clock) -> None:  # type: ignore[no-untyped-def]
    dev = make_device(conn)
    rid = make_rule(conn, {"kind": "threshold", "metric": "salinity_ppt", "operator": ">", "value": 4,
                           "for": "5m", "scope": {"device": dev}})
    first = StreamEvaluator(refresh_s=0, clock=clock)
    feed(conn, first, [(t0, dev, "salinity_ppt", 5.0), (t0 + 120, dev, "salinity_ppt", 5.5)])
    # the process restarts: a new evaluator continues the pending period from the database
    second = StreamEvaluator(refresh_s=0, clock=clock)
    feed(conn, second, [(t0 + 240, dev, "salinity_ppt", 5.2)])
    assert alerts_for(conn, rid) == []
    feed(conn, second, [(t0 + 300, dev, "salinity_ppt", 5.1)])
    [a] = alerts_for(conn, rid)
    assert a["starts_at"].timestamp() == t0 + 300
    # a redelivered old batch (below threshold) changes nothing
    assert feed(conn, second, [(t0 + 120, dev, "salinity_ppt", 1.0), (t0 + 240, dev, "salinity_ppt", 1.0)]) == 0
    [a] = alerts_for(conn, rid)
    assert a["ends_at"] is None


def test_batch_without_matching_rules_touches_nothing(conn, evaluator) -> None:  # type: ignore[no-untyped-def]
    assert feed(conn, evaluator, [(t0, "x", "no_rule_metric_here", 1.0)]) == 0
    assert evaluator.on_batch(conn, []) == 0


def test_two_evaluators_never_duplicate_an_alert(settings, conn, clock) -> None:  # type: ignore[no-untyped-def]
    """Two ingest processes sharing the stream: both see readings for the same devices at the same time."""
    devs = [make_device(conn, kind="salinity") for _ in range(20)]
    rid = make_rule(conn, {"kind": "threshold", "metric": "salinity_ppt", "operator": ">", "value": 4,
                           "scope": "all", "flap_window": 0})
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def worker(offset: int) -> None:
        ev = StreamEvaluator(refresh_s=0, clock=clock)
        try:
            with connect(settings.database_url) as c:
                for step in range(5):
                    value = 9.0 if step % 2 == 0 else 1.0
                    rows = [(t0 + 10 * step + offset * 0.001, d, "salinity_ppt", value) for d in devs]
                    barrier.wait(timeout=30)
                    feed(c, ev, rows)
        except BaseException as exc:  # reported below
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    rows = alerts_for(conn, rid)
    # per device: fired at steps 0, 2, 4 and resolved at 1, 3; never two open at once, never a duplicate
    by_dev: dict[str, list] = {}
    for a in rows:
        by_dev.setdefault(a["subject"], []).append(a)
    assert set(by_dev) == set(devs)
    for alerts in by_dev.values():
        assert len(alerts) == 3
        assert sum(a["ends_at"] is None for a in alerts) == 1
    open_fps = conn.execute("SELECT fingerprint, count(*) FROM alerts WHERE rule_id = %s AND ends_at IS NULL "
                            "GROUP BY 1 HAVING count(*) > 1", (rid,)).fetchall()
    conn.commit()
    assert open_fps == []


def test_rule_deleted_under_the_cache(conn, clock) -> None:  # type: ignore[no-untyped-def]
    from alerts import rule_changes

    ev = StreamEvaluator(refresh_s=3600, clock=clock)
    dev = make_device(conn)
    rid = make_rule(conn, {"kind": "threshold", "metric": "ph", "operator": "<", "value": 5, "scope": "all"})
    feed(conn, ev, [(t0, dev, "ph", 7.0)])
    rule_changes.delete_rule(conn, rid, "test")
    conn.commit()
    # the cache still has the rule; the evaluator notices and reloads instead of failing the batch
    assert feed(conn, ev, [(t0 + 60, dev, "ph", 3.0)]) == 0


def test_muted_alerts_are_stored_and_marked(conn, evaluator, clock) -> None:  # type: ignore[no-untyped-def]
    from alerts import silences

    dev = make_device(conn)
    rid = make_rule(conn, {"kind": "threshold", "metric": "turbidity_ntu", "operator": ">", "value": 100,
                           "scope": {"device": dev}})
    silences.create(conn, silences.validate_silence({
        "matchers": [{"name": "device", "value": dev}], "ends_at": (clock.now + timedelta(hours=1)).isoformat(),
        "comment": "bảo trì trạm"}), "op", clock.now)
    conn.commit()
    feed(conn, evaluator, [(t0, dev, "turbidity_ntu", 500.0)])
    [a] = alerts_for(conn, rid)
    assert a["muted"] and "bảo trì trạm" in a["muted_reason"] and a["muted_by"].startswith("silence:")
    assert kinds(conn, a["id"]) == ["fired", "muted"]
