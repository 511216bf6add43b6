"""The device registry as ingest sees it: a dict of ``DeviceInfo`` refreshed from PostgreSQL.

Refreshed every ``ingest_registry_refresh_s`` seconds, and sooner (at most once a second) when a message names a
device the dict does not know, so a newly provisioned device is accepted within a second or so.
"""

from __future__ import annotations

import time

from ingest.registry_types import DeviceInfo
from ops_center.db import Conn
from ops_center.devices.service import load_registry, registry_stamp


def load(conn: Conn) -> dict[str, DeviceInfo]:
    return {k: DeviceInfo(e.device_id, bool(e.enabled), e.gateway_id, e.kind, e.ward_code)
            for k, e in load_registry(conn).items()}


class Registry:
    """``get(device_id)`` for the decoder; ``refresh_if_due(conn)`` from the writer thread."""

    def __init__(self, refresh_s: float) -> None:
        self.devices: dict[str, DeviceInfo] = {}
        self.refresh_s = refresh_s
        self._loaded_at = 0.0
        self._miss = False
        self._stamp: str | None = None

    def get(self, device_id: str, /) -> DeviceInfo | None:
        info = self.devices.get(device_id)
        if info is None:
            self._miss = True
        return info

    def refresh_if_due(self, conn: Conn) -> bool:
        """Reload when a message named an unknown id (at most once a second), or when the periodic check finds the
        registry's change stamp moved; an unchanged registry costs one small query, not a reload."""
        now = time.monotonic()
        age = now - self._loaded_at
        if not (age >= self.refresh_s or (self._miss and age >= 1.0)):
            return False
        self._loaded_at = now
        stamp = registry_stamp(conn)
        self._miss = False
        if stamp == self._stamp:  # a new or changed device moves the stamp; unknown ids alone do not reload
            return False
        self.devices, self._stamp = load(conn), stamp
        return True

    def force_refresh(self, conn: Conn) -> None:
        self._loaded_at, self._stamp = 0.0, None
        self.refresh_if_due(conn)
