"""Provisioning: register a device or gateway and issue its MQTT credentials in the caller's transaction.

The API, the simulator and scripts all provision this way. After the transaction commits, call
``credentials.sync_broker(settings, conn)`` once (for a whole fleet, once at the end) so the broker loads the new
accounts::

    with transaction(pool) as conn:
        device, creds = provision_device(conn, settings, "sal-001", kind="salinity", name="Trạm đo mặn 1")
    with pool.connection() as conn:
        credentials.sync_broker(settings, conn)
"""

from __future__ import annotations

from typing import Any

from ops_center.db import Conn
from ops_center.devices import credentials, service
from ops_center.devices.credentials import Credentials
from ops_center.devices.models import Device, Gateway
from ops_center.settings import Settings


def provision_device(conn: Conn, settings: Settings, device_id: str, **fields: Any) -> tuple[Device, Credentials]:
    """``service.create_device(conn, device_id, **fields)`` plus its credentials (the secret is only here)."""
    device = service.create_device(conn, device_id, **fields)
    return device, credentials.issue(conn, "device", device.id, settings, enabled=device.enabled)


def provision_gateway(conn: Conn, settings: Settings, gateway_id: str, **fields: Any) -> tuple[Gateway, Credentials]:
    """``service.create_gateway(conn, gateway_id, **fields)`` plus its credentials."""
    gateway = service.create_gateway(conn, gateway_id, **fields)
    return gateway, credentials.issue(conn, "gateway", gateway.id, settings, enabled=gateway.enabled)


def set_enabled(conn: Conn, kind: str, principal_id: str, enabled: bool) -> Device | Gateway:
    """Disable (revoke the account) or enable (restore it, same secret) a device or gateway."""
    result: Device | Gateway
    if kind == "device":
        result = service.set_device_enabled(conn, principal_id, enabled)
    else:
        result = service.set_gateway_enabled(conn, principal_id, enabled)
    credentials.set_enabled(conn, principal_id, enabled)
    return result


def rotate(conn: Conn, settings: Settings, kind: str, principal_id: str) -> Credentials:
    """A new secret for an existing device or gateway (``NotFound`` otherwise)."""
    if kind == "device":
        enabled = service.require_device(conn, principal_id).enabled
        return credentials.rotate(conn, "device", principal_id, settings, enabled=enabled)
    enabled = service.require_gateway(conn, principal_id).enabled
    return credentials.rotate(conn, "gateway", principal_id, settings, enabled=enabled)


def delete(conn: Conn, kind: str, principal_id: str) -> None:
    """Remove a device or gateway and its account."""
    if kind == "device":
        service.delete_device(conn, principal_id)
    else:
        service.delete_gateway(conn, principal_id)
    credentials.remove(conn, principal_id)
