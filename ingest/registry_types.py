"""What the ingest decoder needs to know about a device, and the lookup it asks.

The real registry (a dict refreshed from PostgreSQL) lives elsewhere; anything with a
``get(device_id) -> DeviceInfo | None`` method satisfies :class:`DeviceLookup`, including a
plain ``dict[str, DeviceInfo]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """One registered principal: a field device or a gateway.

    ``gateway_id`` names the gateway a device sits behind (``None`` when it talks to the broker
    itself). Gateways are registered principals too (they hold MQTT credentials), usually with
    ``kind="gateway"``; the decoder does not look at ``kind``.
    """

    device_id: str
    enabled: bool
    gateway_id: str | None
    kind: str
    ward_code: str | None


class DeviceLookup(Protocol):
    """Read-only device lookup by id; must be cheap (called once or more per message)."""

    def get(self, device_id: str, /) -> DeviceInfo | None: ...
