"""MQTT credentials of devices and gateways: every one is its own broker principal.

The username is the device or gateway id; the secret is random, returned once and stored only as a Mosquitto
``$7$`` hash in ``mqtt_accounts``, from which ``ops_center.broker`` renders the password file and the broker's
dynamic-security rights. Rights:

- a device writes ``ops/v1/devices/{id}/telemetry``, ``.../status`` (its retained status and last will) and
  ``.../events``, and reads ``ops/v1/devices/{id}/commands/#``;
- a gateway writes ``ops/v1/gateways/{id}/#`` and reads ``ops/v1/gateways/{id}/commands/#``;
- a unit's e-government system (username ``unit.{code}``) writes ``ops/v1/egov/{code}/dossiers``, ``…/documents``,
  ``…/meetings`` and ``…/petitions`` and reads nothing.

Nothing else is granted, so a device cannot write another device's topics (the broker answers PUBACK "Not
authorized") nor subscribe to anything but its own commands (SUBACK "Not authorized": no shared subscription, no
wildcard over other devices). Disabling revokes (the account stays, disabled, and comes back with the same secret on
enable); deleting removes the account; rotating replaces the secret. Every change takes effect when the caller's
transaction has committed and ``sync_broker`` has updated the broker, never before.
"""

from __future__ import annotations

import logging
import secrets
import threading
from dataclasses import dataclass
from typing import Final

import psycopg

from ops_center.broker.accounts import TOPIC_ROOT, reserved_usernames
from ops_center.broker.files import sync
from ops_center.broker.passwd import mosquitto_hash, mosquitto_verify
from ops_center.db import Conn
from ops_center.devices.models import Conflict, NotFound, PrincipalKind, shown
from ops_center.settings import Settings

log = logging.getLogger("ops_center.devices.credentials")

SECRET_BYTES: Final = 24
"""``secrets.token_urlsafe(24)``: 192 random bits, 32 URL-safe characters."""
DEVICE_CHANNELS: Final = ("telemetry", "status", "events")
EGOV_CHANNELS: Final = ("dossiers", "documents", "meetings", "petitions")
UNIT_PREFIX: Final = "unit."
"""The MQTT username of a unit's e-government system is ``unit.{unit code}``."""


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a device needs to connect: shown once, never stored in clear."""

    username: str
    password: str
    publish: tuple[str, ...]
    subscribe: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Account:
    """An account as stored (without its hash)."""

    username: str
    kind: str
    enabled: bool
    publish: tuple[str, ...]
    subscribe: tuple[str, ...]


def acl(kind: PrincipalKind, principal_id: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(publish, subscribe)`` topic filters of a device or gateway (ids never contain ``/``, ``+`` or ``#``)."""
    if kind == "device":
        base = f"{TOPIC_ROOT}/devices/{principal_id}"
        return tuple(f"{base}/{channel}" for channel in DEVICE_CHANNELS), (f"{base}/commands/#",)
    if kind == "unit":
        base = f"{TOPIC_ROOT}/egov/{principal_id.removeprefix(UNIT_PREFIX)}"
        return tuple(f"{base}/{channel}" for channel in EGOV_CHANNELS), ()
    base = f"{TOPIC_ROOT}/gateways/{principal_id}"
    return (f"{base}/#",), (f"{base}/commands/#",)


def new_secret() -> str:
    return secrets.token_urlsafe(SECRET_BYTES)


def _refuse_reserved(principal_id: str, settings: Settings) -> None:
    if principal_id in reserved_usernames(settings):
        raise Conflict("id", principal_id, f"value {shown(principal_id)} is reserved for a service account")


def issue(conn: Conn, kind: PrincipalKind, principal_id: str, settings: Settings, *,
          enabled: bool = True) -> Credentials:
    """Create the account of a new device or gateway; ``Conflict`` if the username is taken (the service
    accounts' names are reserved)."""
    _refuse_reserved(principal_id, settings)
    publish, subscribe = acl(kind, principal_id)
    secret = new_secret()
    try:
        with conn.transaction():
            conn.execute(
                "INSERT INTO mqtt_accounts (username, kind, password_hash, publish, subscribe, enabled) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                (principal_id, kind, mosquitto_hash(secret), list(publish), list(subscribe), enabled),
            )
    except psycopg.errors.UniqueViolation:
        raise Conflict("id", principal_id, f"value {shown(principal_id)} is already an MQTT username") from None
    return Credentials(principal_id, secret, publish, subscribe)


def rotate(conn: Conn, kind: PrincipalKind, principal_id: str, settings: Settings, *, enabled: bool) -> Credentials:
    """A new secret for the account (the old one stops working at the next broker sync). An account that is missing
    (a device registered without credentials) is created. ``enabled`` is the principal's state."""
    _refuse_reserved(principal_id, settings)
    existing = get_account(conn, principal_id)
    if existing is not None and existing.kind != kind:
        raise Conflict("id", principal_id, f"MQTT username {shown(principal_id)} belongs to a {existing.kind}")
    publish, subscribe = acl(kind, principal_id)
    secret = new_secret()
    conn.execute(
        "INSERT INTO mqtt_accounts (username, kind, password_hash, publish, subscribe, enabled) "
        "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (username) DO UPDATE SET password_hash = EXCLUDED.password_hash, "
        "publish = EXCLUDED.publish, subscribe = EXCLUDED.subscribe, enabled = EXCLUDED.enabled, updated_at = now()",
        (principal_id, kind, mosquitto_hash(secret), list(publish), list(subscribe), enabled),
    )
    return Credentials(principal_id, secret, publish, subscribe)


def set_enabled(conn: Conn, principal_id: str, enabled: bool) -> bool:
    """Revoke (False) or restore (True) the account; False if there is none."""
    cur = conn.execute("UPDATE mqtt_accounts SET enabled = %s, updated_at = now() WHERE username = %s "
                       "AND kind IN ('device', 'gateway', 'unit')", (enabled, principal_id))
    return cur.rowcount > 0


def remove(conn: Conn, principal_id: str) -> bool:
    cur = conn.execute("DELETE FROM mqtt_accounts WHERE username = %s AND kind IN ('device', 'gateway', 'unit')",
                       (principal_id,))
    return cur.rowcount > 0


def get_account(conn: Conn, username: str) -> Account | None:
    row = conn.execute("SELECT username, kind, enabled, publish, subscribe FROM mqtt_accounts WHERE username = %s",
                       (username,)).fetchone()
    return Account(row[0], row[1], row[2], tuple(row[3]), tuple(row[4])) if row else None


def accepts(conn: Conn, username: str, secret: str) -> bool:
    """The account exists, is enabled and its stored hash accepts ``secret``."""
    row = conn.execute("SELECT password_hash, enabled FROM mqtt_accounts WHERE username = %s",
                       (username,)).fetchone()
    return row is not None and bool(row[1]) and mosquitto_verify(row[0], secret)


def require_account(conn: Conn, username: str) -> Account:
    account = get_account(conn, username)
    if account is None:
        raise NotFound("id", username, f"{shown(username)} has no MQTT account")
    return account


_sync_lock = threading.Lock()


def sync_broker(settings: Settings, conn: Conn) -> bool:
    """Bring the broker's rights and password file up to the committed data. Call it after the transaction that
    changed accounts has committed. Never raises: a failure is logged (the database stays the source of truth;
    ``ops-center broker sync`` repairs) and False is returned."""
    with _sync_lock:  # one sync per process at a time (``sync`` also serialises processes with an advisory lock)
        try:
            sync(settings, conn)
        except Exception:
            log.exception("broker sync failed; run `ops-center broker sync`")
            return False
    return True
