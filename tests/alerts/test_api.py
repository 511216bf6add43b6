"""The alerting API through the real ASGI app: alerts (list, filters, pagination, acknowledge, resolve, assign,
timeline), rules CRUD and YAML import, silences, inhibition rules, escalation policies, channels — with roles and
malformed, hostile and oversized input."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alerts import lifecycle, rule_changes
from alerts.lifecycle import Firing
from alerts.rules import store
from alerts.rules.models import parse_rule
from ops_center.db import connect
from tests.alerts.conftest import make_device, uid


@pytest.fixture(scope="module")
def operator(login):  # type: ignore[no-untyped-def]
    return login("operator")


@pytest.fixture(scope="module")
def leader(login):  # type: ignore[no-untyped-def]
    return login("leader")


def _rule_doc(**kw: Any) -> dict[str, Any]:
    return {"name": f"Mực nước cao {uid('r')}", "kind": "threshold", "metric": "water_level_cm", "operator": ">",
            "value": 120, "for": "5m", "clear": 110, "scope": {"kind": "water_level"}, "severity": "major", **kw}


def _problem(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    return r.json()  # type: ignore[no-any-return]


def _fields(body: dict[str, Any]) -> set[str]:
    return {e["field"] for e in body.get("errors", [])}


# -- rules ---------------------------------------------------------------------------------------------------------
def test_rule_crud_by_an_operator(client, operator, leader) -> None:  # type: ignore[no-untyped-def]
    doc = _rule_doc()
    r = client.post("/alert-rules", json=doc, headers=operator.headers)
    assert r.status_code == 201, r.text
    rule = r.json()
    assert rule["name"] == doc["name"] and rule["spec"]["for"] == 300 and rule["version"] == 1
    rid = rule["id"]
    assert client.get(f"/alert-rules/{rid}", headers=leader.headers).json()["spec"]["clear"] == 110
    r = client.put(f"/alert-rules/{rid}", json={**doc, "value": 130}, headers=operator.headers)
    assert r.status_code == 200 and r.json()["version"] == 2 and r.json()["spec"]["value"] == 130
    listed = client.get("/alert-rules", params={"kind": "threshold", "limit": 500}, headers=leader.headers).json()
    assert rid in [i["id"] for i in listed["items"]]
    _problem(client.post("/alert-rules", json=doc, headers=operator.headers), 422)  # same name
    _problem(client.post("/alert-rules", json=_rule_doc(), headers=leader.headers), 403)
    assert client.delete(f"/alert-rules/{rid}", headers=operator.headers).status_code == 204
    _problem(client.get(f"/alert-rules/{rid}", headers=operator.headers), 404)
    with connect(client.app.state.settings.database_url) as c:
        audit = c.execute("SELECT action FROM audit_log WHERE target = %s ORDER BY id", (f"alert_rule:{rid}",)).fetchall()
    assert [a[0] for a in audit] == ["POST /alert-rules", "PUT /alert-rules/{rule_id}",
                                     "DELETE /alert-rules/{rule_id}"]


@pytest.mark.parametrize(("doc", "field"), [
    ({"name": "x", "kind": "threshold", "metric": "ph", "operator": "<"}, "value"),
    ({"name": "x", "kind": "treshold", "metric": "ph"}, "kind"),
    ({"name": "x", "kind": "threshold", "metric": "ph", "operator": "=>", "value": 1}, "operator"),
    ({"name": "x", "kind": "threshold", "metric": "ph", "operator": "<", "value": "7"}, "value"),
    ({"name": "x", "kind": "threshold", "metric": "ph", "operator": "<", "value": True}, "value"),
    ({"name": "x", "kind": "threshold", "metric": "ph", "operator": "<", "value": 6, "clear": 5}, "clear"),
    ({"name": "x", "kind": "threshold", "metric": "salinity'; DROP TABLE alerts;--", "operator": ">",
      "value": 1}, "metric"),
    ({"name": "x", "kind": "threshold", "metric": "ph", "operator": "<", "value": 6,
      "scope": {"type": "device", "value": "a' OR '1'='1"}}, "scope.value"),
    ({"name": "x", "kind": "threshold", "metric": "ph", "operator": "<", "value": 6, "for": "ten minutes"}, "for"),
    ({"name": "x", "kind": "threshold", "metric": "ph", "operator": "<", "value": 6, "for": "400d"}, "for"),
    ({"name": "x" * 5000, "kind": "absence"}, "name"),
    ({"name": "x", "kind": "absence", "labels": {f"k{i}": "v" for i in range(100)}}, "labels"),
    ({"name": "x", "kind": "absence", "labels": {"a": {"b": {"c": 1}}}}, "labels.a"),
    ({"name": "x", "kind": "absence", "description": "d" * 100_000}, "description"),
    ({"name": "x", "kind": "absence", "unexpected": 1}, "unexpected"),
    ({"name": "x", "kind": "rate", "metric": "ph", "operator": "==", "value": 1, "window": "5m"}, "operator"),
    ({"name": "x", "kind": "geo_count", "count": 0, "window": "1h"}, "count"),
    ({"name": "x", "kind": "geo_count", "count": 2, "window": "1h", "categories": ["<script>"]}, "categories[0]"),
    ({"name": "x", "kind": "kpi", "kpi": "on_time_rate", "level": "ward", "target": 80}, "target"),
    ({"name": "x", "kind": "kpi", "kpi": "happiness", "level": "ward", "target": 0.8}, "kpi"),
    ({"name": "x", "kind": "absence", "escalation": "no-such-policy"}, "escalation"),
])
def test_bad_rules_are_refused_naming_the_field(client, operator, doc, field) -> None:  # type: ignore[no-untyped-def]
    body = _problem(client.post("/alert-rules", json=doc, headers=operator.headers), 422)
    assert field in _fields(body), body


def test_hostile_bodies(client, operator) -> None:  # type: ignore[no-untyped-def]
    raw = b'{"name": "x", "kind": "absence", "labels": ' + b'{"a":' * 100_000 + b'1' + b'}' * 100_000 + b'}'
    r = client.post("/alert-rules", content=raw, headers={**operator.headers, "Content-Type": "application/json"})
    assert r.status_code in (400, 422) and r.headers["content-type"].startswith("application/problem+json")
    for num in (b"1e999", b"NaN", b"-Infinity"):
        r = client.post("/alert-rules", content=b'{"name": "x", "kind": "absence", "factor": ' + num + b"}",
                        headers={**operator.headers, "Content-Type": "application/json"})
        assert "factor" in _fields(_problem(r, 422))
    for bad in ([1, 2, 3], "rule", None, 42):
        r = client.post("/alert-rules", json=bad, headers=operator.headers)
        assert r.status_code == 422, r.text
    r = client.post("/alert-rules", content=b"\xff\xfe{not json", headers={**operator.headers,
                                                                          "Content-Type": "application/json"})
    assert r.status_code in (400, 422) and r.headers["content-type"].startswith("application/problem+json")


def test_vietnamese_text_survives(client, operator) -> None:  # type: ignore[no-untyped-def]
    name = f"Xâm nhập mặn sông Ông Đốc {uid('r')}"
    doc = _rule_doc(name=name, description="Cảnh báo độ mặn ≥ 4‰ tại cống Tắc Thủ",
                    summary="Độ mặn {value}‰ tại {device}", labels={"vung": "Trần Văn Thời"})
    rid = client.post("/alert-rules", json=doc, headers=operator.headers).json()["id"]
    got = client.get(f"/alert-rules/{rid}", headers=operator.headers).json()
    assert got["name"] == name and got["spec"]["description"] == "Cảnh báo độ mặn ≥ 4‰ tại cống Tắc Thủ"
    assert got["spec"]["labels"] == {"vung": "Trần Văn Thời"}


def test_yaml_import(client, operator, admin) -> None:  # type: ignore[no-untyped-def]
    tag = secrets.token_hex(3)
    text = f"""
rules:
  - name: "Mặn vượt 4‰ {tag}"
    kind: threshold
    metric: salinity_ppt
    operator: ">"
    value: 4
    for: 10m
    clear: 3.5
    scope: {{kind: salinity}}
  - name: "Mất tín hiệu {tag}"
    kind: absence
    factor: 3
""".encode()
    r = client.post("/alert-rules/import", content=text, headers=operator.headers)
    assert r.status_code == 200, r.text
    assert sorted(r.json()["rules"]["created"]) == sorted([f"Mặn vượt 4‰ {tag}", f"Mất tín hiệu {tag}"])
    again = client.post("/alert-rules/import", content=text, headers=operator.headers).json()
    assert sorted(again["rules"]["unchanged"]) == sorted([f"Mặn vượt 4‰ {tag}", f"Mất tín hiệu {tag}"])
    bad = text.replace(b'operator: ">"', b'operator: "=>"').replace(b"factor: 3", b"factor: 0.5")
    body = _problem(client.post("/alert-rules/import", content=bad, headers=operator.headers), 422)
    assert {"rules[0].operator", "rules[1].factor"} <= _fields(body)
    body = _problem(client.post("/alert-rules/import", content=b"rules: [a, b\n  - :", headers=operator.headers),
                    422)
    assert "not valid YAML at line" in body["detail"]
    _problem(client.post("/alert-rules/import", content=b"\xff\xfe\x00", headers=operator.headers), 422)
    _problem(client.post("/alert-rules/import", content=b"#" * 2_000_001, headers=operator.headers), 413)
    body = _problem(client.post("/alert-rules/import", content=b"!!python/object:os.system ls",
                                headers=operator.headers), 422)
    with_channels = f"channels: [{{name: hook-{tag}, type: webhook, config: {{url: 'http://127.0.0.1:9/'}}}}]\n"
    _problem(client.post("/alert-rules/import", content=with_channels.encode(), headers=operator.headers), 403)
    assert client.post("/alert-rules/import", content=with_channels.encode(), headers=admin.headers).json()[
        "channels"] == [f"hook-{tag}"]


# -- alerts --------------------------------------------------------------------------------------------------------
def _alerts(settings: Any, n: int, ward: str, severity: str = "major") -> tuple[int, list[int]]:
    with connect(settings.database_url) as conn:
        row = rule_changes.create_rule(conn, parse_rule(_rule_doc(severity=severity)), "test")
        rule = store.stored(row)
        ids = []
        for _ in range(n):
            dev = make_device(conn, kind="water_level", ward=ward, unit="UBND-" + ward)
            change = lifecycle.fire(conn, Firing(rule.ref, dev, {"device": dev, "ward": ward, "kind": "water_level",
                                                                 "level": "device"}, f"Mực nước cao tại {dev}", 130.0,
                                                 datetime.now(UTC)))
            assert change is not None
            ids.append(change.alert.id)
        conn.commit()
    return rule.id, ids


def test_list_filter_and_paginate(client, settings, operator, leader) -> None:  # type: ignore[no-untyped-def]
    ward = uid("w")[:10]
    rid, ids = _alerts(settings, 5, ward, "minor")
    got = client.get("/alerts", params={"ward": ward, "limit": 2}, headers=leader.headers)
    assert got.status_code == 200, got.text
    page1 = got.json()
    assert [i["id"] for i in page1["items"]] == ids[::-1][:2] and page1["next_cursor"]
    seen = [i["id"] for i in page1["items"]]
    cursor = page1["next_cursor"]
    while cursor:
        page = client.get("/alerts", params={"ward": ward, "limit": 2, "cursor": cursor}, headers=leader.headers).json()
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
    assert seen == ids[::-1]
    item = page1["items"][0]
    assert set(item) >= {"id", "fingerprint", "rule_id", "rule_name", "severity", "state", "muted", "muted_reason",
                         "labels", "summary", "starts_at", "ends_at", "acknowledged_by", "acknowledged_at", "ack_note",
                         "assigned_unit"}
    assert item["state"] == "firing" and item["labels"]["ward"] == ward
    # acknowledge one, resolve one
    a, b = ids[0], ids[1]
    r = client.post(f"/alerts/{a}/acknowledge", json={"note": "Đã nhận, đang xử lý"}, headers=operator.headers)
    assert r.status_code == 200 and r.json()["state"] == "acknowledged" and r.json()["ack_note"] == "Đã nhận, đang xử lý"
    r = client.post(f"/alerts/{b}/resolve", json={"note": "Nước rút"}, headers=operator.headers)
    assert r.status_code == 200 and r.json()["state"] == "resolved" and r.json()["ends_at"] is not None

    def ids_for(**params: str) -> list[int]:
        return [i["id"] for i in client.get("/alerts", params={"ward": ward, **params},
                                            headers=leader.headers).json()["items"]]

    assert ids_for(state="acknowledged") == [a]
    assert ids_for(state="resolved") == [b]
    assert sorted(ids_for(state="firing")) == sorted(ids[2:])
    assert ids_for(state="muted") == []
    assert sorted(ids_for(severity="minor")) == sorted(ids) and ids_for(severity="critical") == []
    assert sorted(ids_for(rule=str(rid))) == sorted(ids)
    rule_name = client.get(f"/alerts/{a}", headers=leader.headers).json()["rule_name"]
    assert sorted(ids_for(rule=rule_name)) == sorted(ids)
    _problem(client.get("/alerts", params={"state": "exploded"}, headers=leader.headers), 422)
    _problem(client.get("/alerts", params={"cursor": "not-a-cursor!!"}, headers=leader.headers), 400)
    _problem(client.get("/alerts", params={"ward": "w" * 500}, headers=leader.headers), 422)
    _problem(client.get("/alerts", params={"limit": 100_000}, headers=leader.headers), 422)
    assert client.get("/alerts", params={"rule": "x' OR 1=1 --"}, headers=leader.headers).json()["items"] == []


def test_acknowledge_resolve_assign_timeline(client, settings, operator, leader) -> None:  # type: ignore[no-untyped-def]
    ward = uid("w")[:10]
    _, [a] = _alerts(settings, 1, ward)
    _problem(client.post(f"/alerts/{a}/acknowledge", json={}, headers=leader.headers), 403)
    _problem(client.post(f"/alerts/{a}/acknowledge", json={"note": "n" * 5000}, headers=operator.headers), 422)
    _problem(client.post(f"/alerts/{a}/acknowledge", json={"note": "x", "extra": 1}, headers=operator.headers), 422)
    assert client.post(f"/alerts/{a}/acknowledge", json={}, headers=operator.headers).status_code == 200
    body = _problem(client.post(f"/alerts/{a}/acknowledge", json={}, headers=operator.headers), 409)
    assert "already acknowledged" in body["detail"]
    _problem(client.post("/alerts/999999999/acknowledge", json={}, headers=operator.headers), 404)
    _problem(client.post("/alerts/99999999999999999999999/acknowledge", json={}, headers=operator.headers), 422)
    body = _problem(client.post(f"/alerts/{a}/assign", json={"unit": "no-such-unit"}, headers=operator.headers), 422)
    assert "no-such-unit" in body["detail"]
    _problem(client.post(f"/alerts/{a}/assign", json={"unit": "x'; DELETE FROM units;--"},
                         headers=operator.headers), 422)
    r = client.post(f"/alerts/{a}/assign", json={"unit": "UBND-" + ward}, headers=operator.headers)
    assert r.status_code == 200 and r.json()["assigned_unit"] == "UBND-" + ward
    assert client.post(f"/alerts/{a}/resolve", json={"note": "xong"}, headers=operator.headers).status_code == 200
    _problem(client.post(f"/alerts/{a}/resolve", json={}, headers=operator.headers), 409)
    tl = client.get(f"/alerts/{a}/timeline", headers=leader.headers).json()
    assert [e["kind"] for e in tl["items"]] == ["fired", "acknowledged", "assigned", "resolved"]
    assert tl["items"][1]["actor"] == operator.username
    _problem(client.get("/alerts/999999999/timeline", headers=leader.headers), 404)
    with connect(settings.database_url) as c:
        audit = c.execute("SELECT action, status FROM audit_log WHERE target = %s ORDER BY id",
                          (f"alert:{a}",)).fetchall()
    assert ("POST /alerts/{alert_id}/acknowledge", 200) in audit and ("POST /alerts/{alert_id}/acknowledge", 409) in audit


def test_integration_keys_cannot_read_alerts(client, admin) -> None:  # type: ignore[no-untyped-def]
    key = client.post("/api-keys", json={"name": uid("k")}, headers=admin.headers).json()["key"]
    _problem(client.get("/alerts", headers={"X-API-Key": key}), 403)
    _problem(client.get("/alerts"), 401)


# -- silences ------------------------------------------------------------------------------------------------------
def test_silences_api(client, settings, operator, leader) -> None:  # type: ignore[no-untyped-def]
    ward = uid("w")[:10]
    _, [a] = _alerts(settings, 1, ward)
    ends = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    r = client.post("/silences", json={"matchers": [{"name": "ward", "op": "=", "value": ward}], "ends_at": ends,
                                       "comment": "Triều cường dự báo, đã biết"}, headers=operator.headers)
    assert r.status_code == 201, r.text
    s = r.json()
    assert s["state"] == "active" and s["created_by"] == operator.username and s["alerts_changed"] >= 1
    item = client.get(f"/alerts/{a}", headers=leader.headers).json()
    assert item["muted"] and item["state"] == "muted" and "Triều cường" in item["muted_reason"]
    assert a in [i["id"] for i in client.get("/alerts", params={"state": "muted", "ward": ward},
                                             headers=leader.headers).json()["items"]]
    assert s["id"] in [x["id"] for x in client.get("/silences", params={"state": "active"},
                                                   headers=leader.headers).json()["items"]]
    r = client.delete(f"/silences/{s['id']}", headers=operator.headers)
    assert r.status_code == 200 and r.json()["state"] == "expired"
    assert not client.get(f"/alerts/{a}", headers=leader.headers).json()["muted"]
    for bad, field in [
        ({"matchers": [{"name": "ward", "op": "=~", "value": "(unclosed"}], "ends_at": ends, "comment": "x"},
         "matchers[0]"),
        ({"matchers": [{"name": "Ward Name", "value": "x"}], "ends_at": ends, "comment": "x"}, "matchers[0].name"),
        ({"matchers": [{"name": "ward", "value": "x"}], "ends_at": "2030-01-01T00:00:00", "comment": "x"}, "ends_at"),
        ({"matchers": [{"name": "ward", "value": "x"}], "ends_at": "2001-01-01T00:00:00Z", "comment": "x"}, "ends_at"),
        ({"matchers": [{"name": "ward", "value": "x"}], "ends_at": "2999-01-01T00:00:00Z", "comment": "x"}, "ends_at"),
        ({"matchers": [{"name": "ward", "op": "!=", "value": "x"}], "ends_at": ends, "comment": "x"}, "matchers"),
        ({"matchers": [], "ends_at": ends, "comment": "x"}, "matchers"),
        ({"matchers": [{"name": "ward", "value": "x"}] * 50, "ends_at": ends, "comment": "x"}, "matchers"),
        ({"matchers": [{"name": "ward", "value": "x"}], "ends_at": ends, "comment": ""}, "comment"),
        ({"matchers": [{"name": "ward", "value": "v" * 10_000}], "ends_at": ends, "comment": "x"},
         "matchers[0].value"),
    ]:
        body = _problem(client.post("/silences", json=bad, headers=operator.headers), 422)
        assert any(f.startswith(field) for f in _fields(body)), (bad, body)
    _problem(client.post("/silences", json={"matchers": [{"name": "ward", "value": "x"}], "ends_at": ends,
                                            "comment": "x"}, headers=leader.headers), 403)
    _problem(client.delete("/silences/999999999", headers=operator.headers), 404)


# -- configuration -------------------------------------------------------------------------------------------------
def test_channels_policies_and_inhibition_rules(client, admin, operator) -> None:  # type: ignore[no-untyped-def]
    name = uid("hook")
    ch = {"name": name, "type": "webhook", "config": {"url": "https://hooks.camau.gov.vn/ioc", "format": "alertmanager"}}
    _problem(client.post("/notify-channels", json=ch, headers=operator.headers), 403)
    r = client.post("/notify-channels", json=ch, headers=admin.headers)
    assert r.status_code == 201, r.text
    _problem(client.post("/notify-channels", json=ch, headers=admin.headers), 409)
    for cfg, field in [({"url": "javascript:alert(1)"}, "config.url"),
                       ({"url": "http://x/\r\nHost: evil"}, "config.url"),
                       ({"url": "http://x/", "headers": {"X-A": "a\r\nInjected: 1"}}, "config.headers"),
                       ({"url": "http://x/", "headers": {"Idempotency-Key": "mine"}}, "config.headers"),
                       ({"url": "http://x/", "format": "slack"}, "config.format")]:
        body = _problem(client.post("/notify-channels", json={**ch, "name": uid("c"), "config": cfg},
                                    headers=admin.headers), 422)
        assert any(f.startswith(field) for f in _fields(body)), body
    body = _problem(client.post("/notify-channels", json={"name": uid("m"), "type": "email",
                                                          "config": {"to": ["not-an-address"]}},
                                headers=admin.headers), 422)
    assert "config.to" in _fields(body)
    pol = {"name": uid("pol"), "steps": [{"after": 0, "channels": [name]}, {"after": "15m", "channels": [name]}],
           "repeat": "30m"}
    _problem(client.post("/escalation-policies", json=pol, headers=operator.headers), 403)
    r = client.post("/escalation-policies", json=pol, headers=admin.headers)
    assert r.status_code == 201 and r.json()["steps"][1]["after_s"] == 900 and r.json()["repeat_s"] == 1800
    body = _problem(client.post("/escalation-policies", json={**pol, "name": uid("p"), "steps": [
        {"after": "15m", "channels": [name]}, {"after": "5m", "channels": [name]}]}, headers=admin.headers), 422)
    assert "steps" in _fields(body)
    assert pol["name"] in [p["name"] for p in client.get("/escalation-policies", headers=operator.headers).json()[
        "items"]]
    inh = {"name": uid("inh"), "source": "incident",
           "source_matchers": [{"name": "category", "op": "=", "value": "power_outage"}],
           "target_matchers": [{"name": "kind", "op": "=", "value": "street_light"}], "equal": ["ward"]}
    r = client.post("/inhibit-rules", json=inh, headers=operator.headers)
    assert r.status_code == 201, r.text
    body = _problem(client.post("/inhibit-rules", json={**inh, "name": uid("i"), "equal": ["Ward; DROP"]},
                                headers=operator.headers), 422)
    assert "equal[0]" in _fields(body)
    names = [x["name"] for x in client.get("/inhibit-rules", headers=operator.headers).json()["items"]]
    assert {"flood-incident-mutes-water-level", "ward-alert-mutes-device-alerts", inh["name"]} <= set(names)
    assert client.delete(f"/inhibit-rules/{r.json()['id']}", headers=operator.headers).status_code == 204
    assert client.get("/notifications", headers=operator.headers).status_code == 200


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/escalation-policies", {"name": "p", "steps": [{"after": "soon", "channels": ["a"]}]}, "steps[0].after"),
    ("/escalation-policies", {"name": "p", "steps": [{"after": 0, "channels": ["a'; DROP TABLE alerts;--"]}]},
     "steps[0].channels[0]"),
    ("/escalation-policies", {"name": "p", "steps": [{"after": i * 60, "channels": ["a"]} for i in range(50)]},
     "steps"),
    ("/escalation-policies", {"name": "p", "steps": [{"after": 0, "channels": ["a"]}], "repeat": "10s"}, "repeat"),
    ("/escalation-policies", {"name": "p" * 500, "steps": [{"after": 0, "channels": ["a"]}]}, "name"),
    ("/escalation-policies", {"name": "p", "steps": {"after": 0}}, "steps"),
    ("/escalation-policies", {"name": "p", "steps": [{"after": 0, "channels": ["a"]}],
                              "repeat_severities": ["urgent"]}, "repeat_severities[0]"),
    ("/inhibit-rules", {"name": "i", "source": "weather", "source_matchers": [{"name": "a", "value": "b"}],
                        "target_matchers": [{"name": "a", "value": "b"}]}, "source"),
    ("/inhibit-rules", {"name": "i", "source_matchers": [], "target_matchers": [{"name": "a", "value": "b"}]},
     "source_matchers"),
    ("/inhibit-rules", {"name": "i", "source_matchers": [{"name": "a", "op": "~~", "value": "b"}],
                        "target_matchers": [{"name": "a", "value": "b"}]}, "source_matchers[0].op"),
    ("/inhibit-rules", {"name": "i", "source_matchers": [{"name": "a", "value": {"nested": [1, 2]}}],
                        "target_matchers": [{"name": "a", "value": "b"}]}, "source_matchers[0].value"),
    ("/notify-channels", {"name": "c", "type": "sms", "config": {}}, "type"),
    ("/notify-channels", {"name": "c", "type": "email", "config": {"to": ["a@b.vn"], "port": 99999}}, "config.port"),
    ("/notify-channels", {"name": "c", "type": "webhook", "config": {"url": "http://x/" + "a" * 5000}}, "config.url"),
    ("/notify-channels", {"name": "c", "type": "email", "config": {"to": ["a@b.vn"], "password_env": "$(rm -rf)"}},
     "config.password_env"),
])
def test_bad_configuration_is_refused_naming_the_field(client, admin, path, body, field) -> None:  # type: ignore[no-untyped-def]
    got = _problem(client.post(path, json=body, headers=admin.headers), 422)
    assert field in _fields(got), got
