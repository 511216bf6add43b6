"""Payload formats: our JSON (the outbox payload as stored) and an Alertmanager-compatible webhook body
(version 4, as Alertmanager's webhook receiver sends it), plus the e-mail text."""

from __future__ import annotations

from typing import Any

ZERO_TIME = "0001-01-01T00:00:00Z"


def ops_body(payload: dict[str, Any]) -> dict[str, Any]:
    return {"version": "ops-1", **payload}


def alertmanager_body(payload: dict[str, Any], receiver: str, external_url: str) -> dict[str, Any]:
    alert = payload["alert"]
    resolved = payload["event"] == "resolved"
    labels = {k: str(v) for k, v in (alert.get("labels") or {}).items() if v not in (None, "")}
    labels.update({"alertname": alert["rule_name"], "severity": alert["severity"]})
    annotations = {"summary": alert["summary"]}
    if payload.get("event") in ("escalated", "reminder"):
        annotations["ops_event"] = payload["event"]
    status = "resolved" if resolved else "firing"
    return {
        "version": "4",
        "groupKey": f"{{}}:{{alertname=\"{alert['rule_name']}\"}}",
        "truncatedAlerts": 0,
        "status": status,
        "receiver": receiver,
        "groupLabels": {"alertname": alert["rule_name"]},
        "commonLabels": labels,
        "commonAnnotations": annotations,
        "externalURL": external_url,
        "alerts": [{
            "status": status,
            "labels": labels,
            "annotations": annotations,
            "startsAt": alert["starts_at"],
            "endsAt": alert["ends_at"] if resolved and alert.get("ends_at") else ZERO_TIME,
            "generatorURL": f"{external_url.rstrip('/')}/alerts/{alert['id']}",
            "fingerprint": alert["fingerprint"],
        }],
    }


def email_subject(payload: dict[str, Any], prefix: str) -> str:
    alert = payload["alert"]
    word = {"firing": "FIRING", "escalated": "ESCALATED", "reminder": "REMINDER", "resolved": "RESOLVED",
            "test": "TEST"}.get(payload["event"], payload["event"].upper())
    return f"{prefix} [{word}] [{alert['severity'].upper()}] {alert['rule_name']}"[:250]


def email_text(payload: dict[str, Any], external_url: str) -> str:
    alert = payload["alert"]
    labels = "\n".join(f"  {k}: {v}" for k, v in sorted((alert.get("labels") or {}).items()) if v)
    lines = [
        alert["summary"],
        "",
        f"Sự kiện / event: {payload['event']} ({payload.get('transition', '')})",
        f"Mức độ / severity: {alert['severity']}",
        f"Bắt đầu / started: {alert['starts_at']}",
    ]
    if alert.get("ends_at"):
        lines.append(f"Kết thúc / ended: {alert['ends_at']}")
    lines += ["Nhãn / labels:", labels, "", f"{external_url.rstrip('/')}/alerts/{alert['id']}",
              f"Idempotency-Key: {payload['idempotency_key']}"]
    return "\n".join(lines) + "\n"
