"""The device registry as ingest sees it: a dict of ``DeviceInfo``, the decoder's view of the process's device
directory (``ops_center.devices.directory``, shared with the alert stream).

Refreshed when the registry's change stamp moves (checked every ``ingest_registry_refresh_s`` seconds); the dict is
rebuilt only when the directory changed (here or by another of its users). A message
naming an id the dict does not know is not refused on the dict's word: before the batch is written, the writer looks
those ids up directly (:meth:`Registry.look_up_missed`), so a device provisioned a moment ago is accepted at once.
Ids found absent are remembered for ``negative_s`` seconds, and forgotten as soon as the change stamp moves (a device
was added or changed), so a flood from unknown ids costs one small query per batch, not a look-up per id.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Final

from ops_center.db import Conn
from ops_center.devices import directory
from ops_center.devices.models import DeviceInfo, RegistryEntry
from ops_center.devices.service import registry_stamp

LOOKUP_MAX: Final = 10_000
"""At most this many unknown ids are looked up at once (the rest wait for the next batch or the refresh)."""


def _infos(entries: Mapping[str, RegistryEntry]) -> dict[str, DeviceInfo]:
    return {k: DeviceInfo(e.device_id, bool(e.enabled), e.gateway_id, e.kind, e.ward_code) for k, e in entries.items()}


class Registry:
    """``get(device_id)`` for the decoder; ``refresh_if_due(conn)`` from the writer thread."""

    def __init__(self, refresh_s: float, negative_s: float = 2.0,
                 shared: directory.DeviceDirectory | None = None) -> None:
        self.directory = shared or directory.shared()
        self._version = -1
        self.devices: dict[str, DeviceInfo] = {}
        self.refresh_s = refresh_s
        self.negative_s = negative_s
        self.missed: set[str] = set()
        """Ids asked for and not known since the last look-up."""
        self._loaded_at = 0.0
        self._absent: dict[str, float] = {}
        self._absent_stamp: str | None = None

    def get(self, device_id: str, /) -> DeviceInfo | None:
        info = self.devices.get(device_id)
        if info is None:
            self.missed.add(device_id)
        return info

    def refresh_if_due(self, conn: Conn) -> bool:
        """Reload when the periodic check finds the registry's change stamp moved; an unchanged registry costs one
        small query, not a reload."""
        now = time.monotonic()
        if now - self._loaded_at < self.refresh_s:
            return False
        self._loaded_at = now
        self.directory.refresh(conn)
        if self.directory.version == self._version:
            return False
        self._version = self.directory.version
        self.devices = _infos(self.directory.entries)
        return True

    def look_up_missed(self, conn: Conn) -> set[str]:
        """Look up, in the database, the ids asked for since the last call that the dict did not know (unless
        found absent within ``negative_s`` seconds under the same change stamp); returns the ids found."""
        missed, self.missed = self.missed, set()
        if not missed:
            return set()
        stamp = registry_stamp(conn)
        if stamp != self._absent_stamp:
            self._absent.clear()
            self._absent_stamp = stamp
        now = time.monotonic()
        ask = sorted(i for i in missed if i not in self.devices and now - self._absent.get(i, -1e18) >= self.negative_s)
        return self._look_up(conn, ask[:LOOKUP_MAX], now)

    def _look_up(self, conn: Conn, ids: Iterable[str], now: float) -> set[str]:
        ids = list(ids)
        if not ids:
            return set()
        found = _infos(self.directory.look_up(conn, ids))
        self.devices.update(found)
        for i in ids:
            if i not in found:
                self._absent[i] = now
        if len(self._absent) > 10 * LOOKUP_MAX:
            self._absent = {k: t for k, t in self._absent.items() if now - t < self.negative_s}
        return set(found)

    def force_refresh(self, conn: Conn) -> None:
        self._loaded_at = -1e18
        self.directory.invalidate()
        self.refresh_if_due(conn)
