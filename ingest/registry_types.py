"""The lookup the ingest decoder asks about devices.

The real registry (a dict refreshed from PostgreSQL) lives elsewhere; anything with a
``get(device_id) -> DeviceInfo | None`` method satisfies :class:`DeviceLookup`, including a
plain ``dict[str, DeviceInfo]``. ``DeviceInfo`` is the core's (``ops_center.devices.models``).
"""

from __future__ import annotations

from typing import Protocol

from ops_center.devices.models import DeviceInfo


class DeviceLookup(Protocol):
    """Read-only device lookup by id; must be cheap (called once or more per message)."""

    def get(self, device_id: str, /) -> DeviceInfo | None: ...
