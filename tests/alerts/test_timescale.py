"""The alerting engine on the timescale flavour (the TimescaleDB build served by PGlite): the same calls as on
PostgreSQL — stream rules over the hypertable-backed store, a scheduled rule, the lifecycle and muting."""

from __future__ import annotations

from datetime import timedelta

from alerts import lifecycle, remuting, rule_changes, scheduled, silences
from alerts.rules.models import parse_rule
from alerts.stream import StreamEvaluator
from ops_center.db import fetch_all
from ops_center.migrate import migrate
from ops_center.readings import ReadingsStore
from tests.alerts.conftest import T0, Clock
from tests.support.pglite import connect_timescale, start_pglite


def test_alerting_on_timescale() -> None:
    with start_pglite() as server, connect_timescale(server.dsn) as conn:
        assert migrate(conn)[0] == "timescale"
        conn.execute("INSERT INTO devices (id, kind, name, ward_set, ward_code, expected_interval_s, last_seen) VALUES "
                     "('ts-sal', 'salinity', 'Trạm đo mặn Sông Đốc', 'camau-2025', '32014', 60, %s), "
                     "('ts-rain', 'rain', 'Trạm đo mưa', 'camau-2025', '32014', 60, %s)",
                     (T0, T0 - timedelta(hours=1)))
        sal = rule_changes.create_rule(conn, parse_rule({"name": "Mặn > 4‰", "kind": "threshold", "metric": "salinity_ppt",
                                                  "operator": ">", "value": 4, "for": "2m", "clear": 3.5,
                                                  "scope": {"kind": "salinity"}}), "test")["id"]
        surge = rule_changes.create_rule(conn, parse_rule({"name": "Mặn tăng nhanh", "kind": "rate",
                                                    "metric": "salinity_ppt", "operator": ">", "value": 2,
                                                    "window": "10m", "scope": "all"}), "test")["id"]
        quiet = rule_changes.create_rule(conn, parse_rule({"name": "Mất tín hiệu", "kind": "absence",
                                                    "scope": {"kind": "rain"}}), "test")["id"]
        conn.commit()
        rs = ReadingsStore.for_connection(conn)
        ev = StreamEvaluator(refresh_s=0, clock=Clock(T0 + timedelta(days=1)))
        t = T0.timestamp()
        for i, v in enumerate([3.0, 4.5, 4.8, 5.6, 4.0, 3.9, 3.2]):
            with conn.transaction():
                rs.write_batch(conn, [(t + 60 * i, "ts-sal", "salinity_ppt", v)])
                ev.on_batch(conn, [(t + 60 * i, "ts-sal", "salinity_ppt", v)])
        [a] = fetch_all(conn, "SELECT * FROM alerts WHERE rule_id = %s", (sal,))
        assert a["starts_at"].timestamp() == t + 180 and a["ends_at"].timestamp() == t + 360
        [r] = fetch_all(conn, "SELECT * FROM alerts WHERE rule_id = %s", (surge,))
        assert r["starts_at"].timestamp() == t + 180
        report = scheduled.evaluate(conn, now=T0, rule_ids=[quiet])
        assert report.fired == 1
        [q] = fetch_all(conn, "SELECT * FROM alerts WHERE rule_id = %s", (quiet,))
        silences.create(conn, silences.validate_silence({"matchers": [{"name": "device", "value": "ts-rain"}],
                                                         "ends_at": (T0 + timedelta(hours=1)).isoformat(),
                                                         "comment": "Bảo trì"}), "op", T0)
        assert remuting.refresh(conn, T0) == 1
        row = lifecycle.acknowledge(conn, q["id"], "op", "đã biết", now=T0 + timedelta(minutes=1))
        assert row.muted and row.acknowledged_by == "op"
        kinds = [k["kind"] for k in lifecycle.timeline(conn, q["id"])]
        assert kinds == ["fired", "muted", "acknowledged"]
        conn.commit()
