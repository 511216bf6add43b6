"""The ``device_health`` snapshot kind: per device kind, how many devices there are, enabled, online, stale and
never heard from (stale: nothing within 2 × the expected interval, as the registry derives it). A state (the
current month only). Counts only: no device id, place or ward crosses."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import Field

from ops_center.db import Conn
from ops_center.devices.models import STALE_FACTOR
from ops_center.federation.registry import Metric, Producer
from ops_center.federation.wire import Code, Count, Ratio, Wire


class KindHealth(Wire):
    kind: Code
    total: Count
    enabled: Count
    online: Count
    stale: Count
    never_seen: Count


class DeviceHealth(Wire):
    total: Count
    online: Count
    online_share: Ratio
    kinds: list[KindHealth] = Field(max_length=500)


def build(conn: Conn, months: Sequence[str], now: datetime) -> dict[str, DeviceHealth]:
    rows = conn.execute(
        "SELECT kind, count(*), count(*) FILTER (WHERE enabled), "
        "count(*) FILTER (WHERE enabled AND last_seen >= %(now)s - make_interval(secs => expected_interval_s * %(f)s)), "
        "count(*) FILTER (WHERE enabled AND last_seen < %(now)s - make_interval(secs => expected_interval_s * %(f)s)), "
        "count(*) FILTER (WHERE enabled AND last_seen IS NULL) FROM devices GROUP BY 1 ORDER BY 1",
        {"now": now, "f": STALE_FACTOR}).fetchall()
    kinds = [KindHealth(kind=r[0], total=int(r[1]), enabled=int(r[2]), online=int(r[3]), stale=int(r[4]),
                        never_seen=int(r[5])) for r in rows]
    enabled = sum(k.enabled for k in kinds)
    online = sum(k.online for k in kinds)
    return {months[-1]: DeviceHealth(total=sum(k.total for k in kinds), online=online,
                                     online_share=online / enabled if enabled else None, kinds=kinds)}


PRODUCER = Producer(
    kind="device_health", title_vi="Tình trạng thiết bị", title_en="Device health", data_model=DeviceHealth,
    build=build, topics=frozenset({"device_status"}), history=False,
    metrics=(
        Metric("online_share", ("online_share",), "Tỷ lệ thiết bị trực tuyến", "Devices online", "ratio"),
        Metric("total", ("total",), "Số thiết bị", "Devices", "count"),
    ),
)
