"""Duplicate linking: a new report of the same category within 200 m and 2 h of an open incident joins that
incident (its report count grows) instead of opening another.

"Within 2 h" compares the report's time with the incident's first report time (both ways: a late-arriving report
made earlier links too); "within 200 m" is the great-circle distance to the incident's location. The nearest
candidate wins (then the oldest). Linking for one category is serialised with a transaction-scoped advisory lock,
so two reports of the same flood arriving at once never open two incidents.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from ops_center.db import Conn
from ops_center.incidents.models import LINK_RADIUS_M, LINK_WINDOW_S, OPEN_STATUSES

EARTH_RADIUS_M = 6_371_008.8
_LOCK_NS = 7_336_040  # advisory lock namespace for incident linking


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def lock_category(conn: Conn, category: str) -> None:
    conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_LOCK_NS, category))


def find_duplicate(conn: Conn, category: str, lon: float, lat: float, at: datetime,
                   radius_m: float = LINK_RADIUS_M, window_s: float = LINK_WINDOW_S) -> tuple[int, float] | None:
    """``(incident id, distance in metres)`` of the open incident this report duplicates, or None. Locks the row."""
    dlat = radius_m / 111_000.0 * 1.01
    dlon = dlat / max(math.cos(math.radians(lat)), 0.01)
    window = timedelta(seconds=window_s)
    rows = conn.execute(
        "SELECT id, lon, lat FROM incidents WHERE category = %s AND status = ANY(%s) AND lon IS NOT NULL "
        "AND reported_at BETWEEN %s AND %s AND lon BETWEEN %s AND %s AND lat BETWEEN %s AND %s ORDER BY id",
        (category, list(OPEN_STATUSES), at - window, at + window, lon - dlon, lon + dlon, lat - dlat, lat + dlat),
    ).fetchall()
    best: tuple[float, int] | None = None
    for iid, ilon, ilat in rows:
        d = haversine_m(lon, lat, float(ilon), float(ilat))
        if d <= radius_m and (best is None or (d, iid) < best):
            best = (d, int(iid))
    if best is None:
        return None
    conn.execute("SELECT 1 FROM incidents WHERE id = %s FOR UPDATE", (best[1],))
    return best[1], best[0]
