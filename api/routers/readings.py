"""Time series of readings: raw range, buckets (served from rollups), latest values."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, StringConstraints

from api.deps import ReadConn, Staff, StoreDep
from api.json_types import IsoDateTime
from api.replica_reads import ReadRoute
from ingest.catalogue import METRIC_NAME_RE
from ingest.validate import DEVICE_ID_RE
from ops_center.readings import Agg

router = APIRouter(prefix="/readings", tags=["readings"], route_class=ReadRoute)
DEVICE_ID = f"^{DEVICE_ID_RE.pattern}$"
DeviceId = Annotated[str, Query(pattern=DEVICE_ID, description="a device id")]
DeviceIds = Annotated[list[Annotated[str, StringConstraints(pattern=DEVICE_ID)]] | None,
                      Query(max_length=1000, description="device ids (repeat the parameter); default: all")]
Metric = Annotated[str, Query(pattern=f"^{METRIC_NAME_RE.pattern}$", description="a metric of the catalogue")]
MAX_SPAN = timedelta(days=400)


class Point(BaseModel):
    time: datetime
    device_id: str
    metric: str
    value: float | None
    count: int | None = None


def _window(start: datetime, end: datetime) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise HTTPException(422, "from/to: give a timezone offset, e.g. 2025-01-01T00:00:00+07:00")
    if end <= start:
        raise HTTPException(422, f"to: {end.isoformat()} is not after from {start.isoformat()}")
    if end - start > MAX_SPAN:
        raise HTTPException(422, f"to: window of {(end - start).days} days exceeds {MAX_SPAN.days}")


@router.get("/range", response_model=list[Point])
def read_range(conn: ReadConn, store: StoreDep, _: Staff, device_id: DeviceId, metric: Metric,
               start: Annotated[IsoDateTime, Query(alias="from")], end: Annotated[IsoDateTime, Query(alias="to")],
               limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000) -> list[Point]:
    _window(start, end)
    rows = store.range(conn, device_id, metric, start, end)[:limit]
    return [Point(time=r.time, device_id=r.device_id, metric=r.metric, value=r.value) for r in rows]


@router.get("/buckets", response_model=list[Point])
def read_buckets(conn: ReadConn, store: StoreDep, _: Staff, metric: Metric,
                 start: Annotated[IsoDateTime, Query(alias="from")], end: Annotated[IsoDateTime, Query(alias="to")],
                 interval_s: Annotated[int, Query(ge=60, le=366 * 86400)] = 3600, agg: Agg = "avg",
                 device_id: DeviceIds = None) -> list[Point]:
    _window(start, end)
    rows = store.bucketed(conn, metric, start, end, timedelta(seconds=interval_s), agg, device_id)
    return [Point(time=b.bucket, device_id=b.device_id, metric=b.metric, value=b.value, count=b.count)
            for b in rows]


@router.get("/latest", response_model=list[Point])
def read_latest(conn: ReadConn, store: StoreDep, _: Staff,
                device_id: DeviceIds = None, metric: Metric | None = None) -> list[Point]:
    return [Point(time=r.time, device_id=r.device_id, metric=r.metric, value=r.value)
            for r in store.latest(conn, device_id, metric)]
