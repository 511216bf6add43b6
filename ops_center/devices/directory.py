"""The device directory: one copy per process of every device and gateway (``RegistryEntry``), shared by ingest's
decoder (``ingest/registry.py``), the alert stream's labels (``alerts/stream.py``) and the live feed's ward map
(``api/live/feed.py``), instead of one copy each.

The copy is reloaded when the registry's change stamp moves (``registry_stamp``: count and newest ``updated_at`` of
both tables), and also when a caller's copy is older than it accepts (``max_age_s``: the stream and the live feed
keep their previous reload periods, which also covers a change committed late with an older ``updated_at``). Ids a
caller does not find can be looked up (``look_up``) and join the copy until the next reload. Readers get the
mapping as a whole (``entries``, replaced, never changed in place) and its ``version``, which moves on every change,
so a consumer that keeps a view of its own (ingest's decoder converts to its ``DeviceInfo``) rebuilds it only then.
Thread-safe: ingest's decoding thread, its writer and the stream's background refresher share it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from ops_center.db import Conn
from ops_center.devices.models import GATEWAY_KIND, RegistryEntry
from ops_center.devices.service import (
    REGISTRY_SQL,
    REGISTRY_STAMP_SQL,
    load_registry,
    registry_params,
    registry_stamp,
)

AsyncQuery = Callable[[str, Any], Awaitable[list[tuple[Any, ...]]]]
"""How an asynchronous caller runs one statement: ``await query(sql, params) -> rows``."""


class DeviceDirectory:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: Mapping[str, RegistryEntry] = {}
        self._stamp: str | None = None
        self._loaded_at = float("-inf")
        self.version = 0
        """Moves whenever ``entries`` changes."""

    @property
    def entries(self) -> Mapping[str, RegistryEntry]:
        """Every device and gateway by id (do not change it: it is replaced on every change)."""
        return self._entries

    def devices(self) -> dict[str, RegistryEntry]:
        """The devices only (no gateways)."""
        return {k: e for k, e in self._entries.items() if e.kind != GATEWAY_KIND}

    def _due(self, stamp: str, max_age_s: float) -> bool:
        return stamp != self._stamp or time.monotonic() - self._loaded_at >= max_age_s

    def _store(self, entries: Mapping[str, RegistryEntry], stamp: str | None, loaded_at: float) -> None:
        with self._lock:
            self._entries, self._stamp, self._loaded_at = entries, stamp, loaded_at
            self.version += 1

    def refresh(self, conn: Conn, *, max_age_s: float = float("inf")) -> bool:
        """Reload when the change stamp moved or the copy is ``max_age_s`` old (0: now); True when it did."""
        stamp = registry_stamp(conn)
        if not self._due(stamp, max_age_s):
            return False
        started = time.monotonic()
        self._store(load_registry(conn), stamp, started)
        return True

    async def refresh_async(self, query: AsyncQuery, *, max_age_s: float = float("inf")) -> bool:
        """``refresh`` through an asynchronous caller's own connection (the live hub's)."""
        rows = await query(REGISTRY_STAMP_SQL, None)
        stamp = str(rows[0][0])
        if not self._due(stamp, max_age_s):
            return False
        started = time.monotonic()
        loaded = await query(REGISTRY_SQL, registry_params())
        self._store({r[0]: RegistryEntry(*r) for r in loaded}, stamp, started)
        return True

    def look_up(self, conn: Conn, ids: Sequence[str]) -> dict[str, RegistryEntry]:
        """Read ``ids`` from the database now; those found join the copy. Returns them."""
        found = load_registry(conn, list(ids)) if ids else {}
        if found:
            with self._lock:
                self._entries = {**self._entries, **found}
                self.version += 1
        return found

    def invalidate(self) -> None:
        """The next ``refresh`` reloads whatever the stamp says."""
        with self._lock:
            self._stamp, self._loaded_at = None, float("-inf")


_SHARED = DeviceDirectory()


def shared() -> DeviceDirectory:
    """This process's directory."""
    return _SHARED
