"""Where devices lie in a boundary set (any set, not only the one in force): for the device markers and the ward
drill-down. Geo places enabled devices by their coordinates (``geo.summary.place_devices``, the same placement as
the map summaries), so a 2019 ward lists today's devices inside its 2019 outline."""

from __future__ import annotations

from api.problems import ProblemError
from geo import service as geo
from geo.service import IndexedSet
from geo.store import GeoStoreError, SetNotFound, check_name
from geo.summary import place_devices
from ops_center.db import Conn


def resolve_set(conn: Conn, set_name: str | None) -> str:
    """The named set (checked), or the set in force now; 404 when there is none."""
    if set_name is None:
        name = geo.set_in_force(conn)
        if name is None:
            raise ProblemError(404, "Not Found", "set: no boundary set is in force now; name one with set=",
                               field="set", value=None)
        return name
    try:
        return check_name(set_name, "set")
    except GeoStoreError as exc:
        raise ProblemError(422, "Invalid request", str(exc), field="set", value=set_name[:200]) from None


def ward_index(conn: Conn, set_name: str, level: str = "ward") -> IndexedSet:
    try:
        return geo.indexed_set(conn, set_name, level)
    except SetNotFound as exc:
        raise ProblemError(404, "Not Found", str(exc), field="set", value=set_name) from None


def placement(conn: Conn, set_name: str) -> dict[str, str]:
    """Device id → the code of the ward it lies in, in ``set_name`` (devices outside every ward are left out)."""
    entry = ward_index(conn, set_name)
    placed = place_devices(conn, entry)
    return {d: entry.codes[i] for d, i in zip(placed.ids, placed.unit.tolist(), strict=True) if i >= 0}


def ward_device_ids(conn: Conn, set_name: str, code: str) -> list[str]:
    """The enabled devices that lie in ward ``code`` of ``set_name``, by id."""
    return sorted(d for d, c in placement(conn, set_name).items() if c == code)


def ward_unit_name(conn: Conn, set_name: str | None, code: str | None) -> str | None:
    """The name of ward ``code`` of ``set_name`` (None when either is unknown)."""
    if set_name is None or code is None:
        return None
    try:
        unit = geo.indexed_set(conn, set_name, "ward").by_code.get(code)
    except GeoStoreError:
        return None
    return unit.name if unit else None
