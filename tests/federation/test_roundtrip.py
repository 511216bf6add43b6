"""A province publishes to a national instance over real HTTP: change marks in the change's own transaction,
versioned snapshots through the outbox, nothing personal on the wire (captured at the national receiver and
validated against the published JSON Schema with ``jsonschema``), idempotency, stale versions, an outage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import jsonschema
import orjson
import pytest

from ops_center.db import connect
from ops_center.dossiers.calendar import calendar_for
from ops_center.federation import outbox, periods
from ops_center.federation.schema import heartbeat_schema, snapshot_schema
from ops_center.federation.tasks import run_round
from ops_center.readiness import report as readiness_report
from ops_center.scorecard import service
from ops_center.settings import get_settings
from tests.federation.conftest import National, Server, national_user, province_config
from tests.federation.support import deliver_all, rows
from tests.support.province_data import generate

CODE = "96"


@pytest.fixture(scope="module")
def province(national: National, province_url: str):  # type: ignore[no-untyped-def]
    token = national.register(CODE, schedule_s=60)
    cfg = province_config(national, CODE, token, publish_interval_s=60)
    with connect(province_url) as conn:
        outbox.set_publishing(conn, True)
        conn.commit()
        data = generate(conn, tag="CM", marker="PII96X", months=3, dossiers_per_month=20)
        conn.commit()
    return cfg, data


def test_marks_are_written_in_the_transaction_of_the_change(province_url: str, province) -> None:  # type: ignore[no-untyped-def]
    from ops_center.devices import service as devices

    with connect(province_url) as conn:
        conn.execute("DELETE FROM federation_changes")
        conn.commit()
        devices.record_status(conn, "dv-CM-01", "online", datetime.now(UTC))
        assert conn.execute("SELECT topic FROM federation_changes").fetchall() == [("device_status",)]
        conn.rollback()
    assert rows(province_url, "SELECT * FROM federation_changes") == []  # rolled back with the change
    with connect(province_url) as conn:
        devices.record_status(conn, "dv-CM-01", "offline", datetime.now(UTC))
        conn.commit()
    assert rows(province_url, "SELECT topic FROM federation_changes") == [("device_status",)]


def test_publish_builds_versions_once_and_unchanged_content_makes_none(province_url: str, province) -> None:  # type: ignore[no-untyped-def]
    cfg, _ = province
    first = run_round(province_url, cfg, scheduled=True)
    assert first["built"] >= 6 and not first["errors"], first
    assert rows(province_url, "SELECT * FROM federation_changes") == []  # consumed with the build
    kinds = {r[0] for r in rows(province_url, "SELECT DISTINCT kind FROM federation_outbox")}
    assert kinds == {"dossier_kpis", "incidents_open", "device_health", "alerts_open", "scorecard_766", "readiness"}
    again = run_round(province_url, cfg, scheduled=True)
    assert again["built"] == 0 and again["unchanged"] == first["built"] + first["unchanged"]
    deliver_all(province_url, cfg)


def test_snapshots_cross_and_nothing_personal_does(national: National, province_url: str, province) -> None:  # type: ignore[no-untyped-def]
    cfg, data = province
    deliver_all(province_url, cfg)
    snaps = [c for c in national.captured if c.path == "/federation/v1/snapshots"]
    assert snaps, "nothing reached the national receiver"
    validator = jsonschema.Draft202012Validator(snapshot_schema(), format_checker=jsonschema.FormatChecker())
    wire = b"".join(c.body for c in national.captured)
    for c in snaps:
        validator.validate(orjson.loads(c.body))  # someone else's validator, on the bytes as received
        assert c.headers["authorization"].startswith("Bearer opsfed_")
    for beat in (c for c in national.captured if c.path == "/federation/v1/heartbeat"):
        jsonschema.validate(orjson.loads(beat.body), heartbeat_schema())
    text = wire.decode()
    assert data.personal and data.dossier_ids and data.devices
    for secret in [*data.personal, *data.dossier_ids, *data.devices, "PII96X", "example.vn", "Sự cố"]:
        assert secret not in text, f"{secret!r} crossed to the national instance"
    stored = rows(national.settings.database_url,
                  "SELECT kind, count(*) FROM federation_snapshots WHERE province = %s GROUP BY 1 ORDER BY 1", (CODE,))
    # the scorecard for the three months with dossiers; readiness for every month of the history (units exist)
    assert dict(stored) == {"alerts_open": 1, "device_health": 1, "dossier_kpis": 3, "incidents_open": 1,
                            "scorecard_766": 3, "readiness": cfg.history_months}


def test_the_scorecard_crosses_and_colours_the_national_map(national: National, province_url: str,
                                                           province) -> None:  # type: ignore[no-untyped-def]
    """The month's 766 scorecard as the province computes it arrives whole (province and units), and the national
    map is coloured and ranked by its total, a group and an indicator; the readiness figures too."""
    cfg, data = province
    assert not run_round(province_url, cfg, scheduled=True)["errors"]
    deliver_all(province_url, cfg)
    month = periods.month_of(datetime.now(UTC))
    first, stop = periods.bounds(month)
    calendar = calendar_for(get_settings())
    with connect(province_url) as conn:
        w = service.window(first, stop - timedelta(days=1))
        (mine,) = service.scorecard(conn, "province", "range", w, calendar)
        units = {u["code"]: u for u in service.scorecard(conn, "unit", "range", w, calendar)}
        ready = readiness_report.readiness(conn, w.last, first)
    (sent,) = rows(national.settings.database_url, "SELECT data FROM federation_snapshots WHERE province = %s "
                   "AND kind = 'scorecard_766' AND period = %s", (CODE, month))
    got = sent[0]
    assert got["as_of"] == w.last.isoformat() and got["definition"] == mine["definition"]
    assert got["province"]["total"] == mine["total"]["scaled"] is not None
    assert got["province"]["indicators"]["2.1"] == {k: next(i for i in mine["indicators"] if i["id"] == "2.1")[k]
                                                    for k in ("numerator", "denominator", "ratio", "score")}
    assert {u["code"]: u["total"] for u in got["units"]} == {c: u["total"]["scaled"] for c, u in units.items()}
    assert set(units) <= set(data.units)
    username, password = national_user(national, "leader")
    with httpx.Client(base_url=national.url, timeout=30) as client:
        tok = client.post("/auth/token", data={"username": username, "password": password}).json()["access_token"]
        h = {"Authorization": f"Bearer {tok}"}
        known = {m["metric"] for m in client.get("/national/metrics", headers=h).json()["items"]}
        assert {"scorecard_766.total", "scorecard_766.group_2", "scorecard_766.ind_2_1",
                "readiness.procedures_online_share"} <= known
        groups = {g["id"]: g["earned"] for g in mine["groups"]}
        ratio_21 = next(i["ratio"] for i in mine["indicators"] if i["id"] == "2.1")
        online = ready["procedures"]["online"] / ready["procedures"]["total"]
        for metric, expected, unit in (("scorecard_766.total", mine["total"]["scaled"], "points"),
                                       ("scorecard_766.group_2", groups["2"], "points"),
                                       ("scorecard_766.ind_2_1", ratio_21, "ratio"),
                                       ("readiness.procedures_online_share", round(online, 4), "ratio")):
            fc = client.get("/national/map", params={"metric": metric, "period": month, "geometry": "false"},
                            headers=h).json()
            by = {f["id"]: f["properties"] for f in fc["features"]}
            assert (by[CODE]["value"], by[CODE]["rank"], fc["unit"]) == (expected, 1, unit), metric
            assert fc["ranking"] == [CODE]


def test_a_change_publishes_a_new_version_which_replaces_the_stored_one(national: National, province_url: str,
                                                                        province) -> None:  # type: ignore[no-untyped-def]
    from ops_center.devices import service as devices

    cfg, _ = province
    deliver_all(province_url, cfg)
    before = rows(national.settings.database_url, "SELECT version, data->'kinds' FROM federation_snapshots "
                  "WHERE province = %s AND kind = 'device_health'", (CODE,))[0]
    with connect(province_url) as conn:
        devices.set_device_enabled(conn, "dv-CM-03", False)
        devices.record_status(conn, "dv-CM-03", "offline", datetime.now(UTC))
        conn.commit()
    report = run_round(province_url, cfg, scheduled=False)
    assert report["topics"] == ["device_status"] and report["built"] == 1, report
    deliver_all(province_url, cfg)
    after = rows(national.settings.database_url, "SELECT version, data->'kinds' FROM federation_snapshots "
                 "WHERE province = %s AND kind = 'device_health'", (CODE,))[0]
    assert after[0] == before[0] + 1 and after[1] != before[1]


def test_the_same_snapshot_twice_is_stored_once_and_an_older_one_never_wins(national: National, province_url: str,
                                                                           province) -> None:  # type: ignore[no-untyped-def]
    from ops_center.federation.deliver import deliver

    cfg, _ = province
    newest = rows(province_url, "SELECT id, version, envelope FROM federation_outbox WHERE kind = 'device_health' "
                  "ORDER BY version DESC LIMIT 1")[0]
    with connect(province_url) as conn:  # sent again, as a replay after a lost answer would
        conn.execute("UPDATE federation_outbox SET status = 'pending', next_attempt_at = now(), enqueued_at = NULL "
                     "WHERE id = %s", (newest[0],))
        conn.commit()
    assert deliver(province_url, newest[0], cfg).answer == "duplicate"
    # an older version arriving late (first time seen): recorded as stale, never stored over the newer one
    env = dict(newest[2])
    headers = {"Authorization": f"Bearer {cfg.token.get_secret_value()}"}  # type: ignore[union-attr]
    late = {**env, "version": newest[1] + 7, "data": {**env["data"], "total": env["data"]["total"] + 1}}
    r = httpx.post(f"{national.url}/federation/v1/snapshots", json=late, headers=headers)
    assert (r.status_code, r.json()["outcome"]) == (201, "stored")
    older = {**env, "version": newest[1] + 5}
    r = httpx.post(f"{national.url}/federation/v1/snapshots", json=older, headers=headers)
    assert (r.status_code, r.json()["outcome"], r.json()["stored_version"]) == (200, "stale", newest[1] + 7)
    r = httpx.post(f"{national.url}/federation/v1/snapshots", json=late, headers=headers)
    assert (r.status_code, r.json()["outcome"]) == (200, "duplicate")
    conflicting = {**late, "data": env["data"]}
    r = httpx.post(f"{national.url}/federation/v1/snapshots", json=conflicting, headers=headers)
    assert r.status_code == 409 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["reason"] == "version_conflict" and r.json()["field"] == "version"
    stored = rows(national.settings.database_url, "SELECT version, (data->>'total')::int FROM federation_snapshots "
                  "WHERE province = %s AND kind = 'device_health'", (CODE,))
    assert stored == [(newest[1] + 7, env["data"]["total"] + 1)]
    receipts = rows(national.settings.database_url, "SELECT version, outcome FROM federation_receipts "
                    "WHERE province = %s AND kind = 'device_health' AND version > %s ORDER BY 1", (CODE, newest[1]))
    assert receipts == [(newest[1] + 5, "stale"), (newest[1] + 7, "stored")]


def test_national_down_provinces_hold_and_replay(national_server: tuple[National, Server], province_url: str,
                                                 province) -> None:  # type: ignore[no-untyped-def]
    from ops_center.incidents import service as incidents
    from ops_center.incidents.models import NewReport

    national, server = national_server
    cfg, _ = province
    deliver_all(province_url, cfg)
    server.stop()
    try:
        with connect(province_url) as conn:
            incidents.file_report(conn, NewReport(title="Ngập", category="flooding", source="operator", lon=105.15,
                                                  lat=9.18), actor="t")
            conn.commit()
        report = run_round(province_url, cfg, scheduled=False)
        assert report["built"] == 1
        outcomes = deliver_all(province_url, cfg, timeout=1.0, until_empty=False)
        assert outcomes and {o.outcome for o in outcomes} == {"retry"}, outcomes  # recoverable: held, retried
        assert "transport" in (outcomes[0].error or "")
        pending = rows(province_url, "SELECT status, attempts FROM federation_outbox WHERE status <> 'delivered' "
                       "AND status <> 'superseded'")
        assert pending == [("pending", len(outcomes))]
    finally:
        server.start()
    done = deliver_all(province_url, cfg)
    assert done[-1].outcome == "delivered" and done[-1].answer == "stored"
    ours = rows(province_url, "SELECT kind, period, version FROM federation_outbox WHERE status = 'delivered'")
    nat = rows(national.settings.database_url, "SELECT kind, period, version FROM federation_receipts "
               "WHERE province = %s", (CODE,))
    assert set(ours) <= set(nat)  # nothing lost
    assert len(nat) == len(set(nat))  # nothing twice


def test_prune_keeps_the_newest_version_of_each_snapshot(province_url: str, province) -> None:  # type: ignore[no-untyped-def]
    cfg, _ = province
    deliver_all(province_url, cfg)
    newest = set(rows(province_url, "SELECT kind, period, max(version) FROM federation_outbox GROUP BY 1, 2"))
    with connect(province_url) as conn:
        conn.execute("UPDATE federation_outbox SET created_at = now() - interval '60 days'")
        removed = outbox.prune(conn, keep_days=30)
        conn.commit()
    assert removed > 0
    left = set(rows(province_url, "SELECT kind, period, version FROM federation_outbox"))
    assert left == newest
    assert run_round(province_url, cfg, scheduled=True)["errors"] == {}
    assert set(rows(province_url, "SELECT kind, period, max(version) FROM federation_outbox GROUP BY 1, 2")) >= {
        (k, p, v) for k, p, v in newest if k == "dossier_kpis"}  # versions go on from the kept ones
