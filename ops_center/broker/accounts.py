"""The broker's principals and what each may do: the service accounts from settings, the rest from ``mqtt_accounts``.

An ``Account`` holds the topics it may publish to and the topic filters it may subscribe to; what it may receive is
exactly what those filters cover. Nothing else is granted (``ops_center.broker.dynsec`` turns this into the plugin's
roles and denies everything by default).

Only the accounts built here from settings may subscribe to a ``$``-topic: the ingest service account joins the
``$share/<group>/ops/v1/...`` shared subscriptions, the broker admin uses ``$CONTROL``. A row of ``mqtt_accounts``
(a device, a gateway, an integration account publishing dossiers) never gets a ``$`` topic or filter, whatever the
row says: it is dropped (and logged) when the row is read, so no stored account can join a share group and take
messages from ingest.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from dataclasses import dataclass
from typing import Final

from ops_center.broker.passwd import mosquitto_hash
from ops_center.db import Conn
from ops_center.settings import Settings

log = logging.getLogger("ops_center.broker")

TOPIC_ROOT: Final = "ops/v1"
CONTROL_TOPIC: Final = "$CONTROL/dynamic-security/v1"
CONTROL_RESPONSE_TOPIC: Final = f"{CONTROL_TOPIC}/response"
SHARE_PREFIX: Final = "$share/"


@dataclass(frozen=True, slots=True)
class Account:
    """A broker principal: its ``$7$`` hash, the topics it publishes to and the filters it subscribes to."""

    username: str
    password_hash: str
    publish: tuple[str, ...] = ()
    subscribe: tuple[str, ...] = ()


def admin_password(settings: Settings) -> str:
    """The broker admin's secret: ``mqtt_admin_password``, or (unset) one derived from the service account's secret
    (HMAC-SHA256), so a deployment that sets only ``OPS_MQTT_PASSWORD`` still works. Set it separately to keep the
    ingest host's secret from opening the broker's account management."""
    explicit = settings.mqtt_admin_password.get_secret_value()
    if explicit:
        return explicit
    service = settings.mqtt_password.get_secret_value()
    if not service:
        return ""
    digest = hmac.new(service.encode(), b"ops-center/mqtt-admin/v1", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def reserved_usernames(settings: Settings) -> frozenset[str]:
    """Usernames a device or gateway can never take."""
    return frozenset({settings.mqtt_username, settings.mqtt_admin_username})


def service_accounts(settings: Settings) -> list[Account]:
    """The ingest/API service account (reads and writes everything under ``ops/v1``, joins any share group there)
    and the broker admin (only ``$CONTROL/dynamic-security``). None without a service password."""
    password = settings.mqtt_password.get_secret_value()
    if not password:
        return []
    everything = f"{TOPIC_ROOT}/#"
    return [
        Account(settings.mqtt_username, mosquitto_hash(password), publish=(everything,),
                subscribe=(everything, f"{SHARE_PREFIX}+/{everything}")),
        Account(settings.mqtt_admin_username, mosquitto_hash(admin_password(settings)), publish=(CONTROL_TOPIC,),
                subscribe=(CONTROL_RESPONSE_TOPIC,)),
    ]


def _ordinary(username: str, topics: list[str], what: str) -> tuple[str, ...]:
    """``topics`` without any ``$`` topic or filter (shared subscriptions, ``$SYS``, ``$CONTROL``)."""
    kept = tuple(t for t in topics if not t.startswith("$"))
    if len(kept) != len(topics):
        log.warning("mqtt account %r: %s %r dropped (a stored account never gets a $ topic)", username, what,
                    [t for t in topics if t.startswith("$")])
    return kept


def db_accounts(conn: Conn) -> list[Account]:
    """The enabled accounts of ``mqtt_accounts`` (devices, gateways, integration accounts)."""
    if not conn.execute("SELECT to_regclass('mqtt_accounts') IS NOT NULL").fetchone()[0]:  # type: ignore[index]
        return []
    rows = conn.execute(
        "SELECT username, password_hash, publish, subscribe FROM mqtt_accounts WHERE enabled ORDER BY username"
    ).fetchall()
    return [Account(r[0], r[1], _ordinary(r[0], list(r[2]), "publish topics"),
                    _ordinary(r[0], list(r[3]), "subscribe filters")) for r in rows]


def all_accounts(settings: Settings, conn: Conn | None) -> list[Account]:
    """Every principal the broker should know; a stored row named like a service account is ignored."""
    service = service_accounts(settings)
    taken = {a.username for a in service}
    stored = [a for a in db_accounts(conn) if a.username not in taken] if conn is not None else []
    return service + stored
