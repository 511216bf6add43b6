"""Readiness checks of the dependencies: database, MQTT broker, Redis, each named in the answer."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import paho.mqtt.client as mqtt
import redis
from paho.mqtt.enums import CallbackAPIVersion
from psycopg_pool import ConnectionPool

from ops_center.db_replicas import ReplicaSet
from ops_center.settings import Settings

TIMEOUT_S = 3.0


def check_database(pool: ConnectionPool) -> dict[str, Any]:
    with pool.connection(timeout=TIMEOUT_S) as conn:
        row = conn.execute("SELECT value FROM ops_meta WHERE key = 'storage_flavour'").fetchone()
    return {"flavour": row[0] if row else None}


def check_mqtt(settings: Settings) -> dict[str, Any]:
    """A real MQTT v5 CONNECT with the service account: proves the broker is up and accepts our credentials."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"ops-readyz-{time.monotonic_ns()}",
                         protocol=mqtt.MQTTv5)
    if settings.mqtt_username:
        client.username_pw_set(settings.mqtt_username, settings.mqtt_password.get_secret_value())
    result: dict[str, Any] = {}

    def on_connect(c: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        result["reason"] = str(reason)
        result["ok"] = not reason.is_failure

    client.on_connect = on_connect
    client.connect(settings.mqtt_host, settings.mqtt_port, keepalive=5)
    deadline = time.monotonic() + TIMEOUT_S
    while "ok" not in result and time.monotonic() < deadline:
        client.loop(timeout=0.1)
    client.disconnect()
    if not result.get("ok"):
        raise RuntimeError(f"MQTT CONNECT refused or timed out: {result.get('reason', 'no CONNACK')}")
    return {"broker": f"{settings.mqtt_host}:{settings.mqtt_port}"}


def check_redis(settings: Settings) -> dict[str, Any]:
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S)
    try:
        client.ping()
    finally:
        client.close()
    return {}


def replica_statuses(replicas: ReplicaSet) -> dict[str, Any]:
    """Each replica by name (``host:port/dbname``, no credentials) with its lag from the last check. Always ``ok``:
    reads a replica cannot serve go to the primary, so a replica never makes the API unready."""
    items = [s.as_json() for s in replicas.statuses()]
    return {"usable": sum(1 for i in items if i["usable"]), "max_lag_s": replicas.max_lag_s,
            "primary_reads": replicas.primary_reads, "items": items}


def readiness(settings: Settings, pool: ConnectionPool,
              replicas: ReplicaSet | None = None) -> tuple[bool, dict[str, dict[str, Any]]]:
    checks = {
        "database": lambda: check_database(pool),
        "mqtt": lambda: check_mqtt(settings),
        "redis": lambda: check_redis(settings),
    }
    out: dict[str, dict[str, Any]] = {}
    with ThreadPoolExecutor(max_workers=len(checks)) as ex:
        futures = {name: ex.submit(fn) for name, fn in checks.items()}
        for name, fut in futures.items():
            try:
                out[name] = {"ok": True, **fut.result(timeout=TIMEOUT_S + 2)}
            except Exception as exc:
                out[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    ok = all(v["ok"] for v in out.values())
    if replicas is not None and replicas.configured:
        out["replicas"] = {"ok": True, **replica_statuses(replicas)}
    return ok, out
