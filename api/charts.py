"""Chart series for the drill-down screens: a time window, a bucket size that keeps a chart readable, and the
min–max band and mean of each metric from ``ReadingsStore.band`` (rollups for whole hours and days)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Annotated, Literal

from fastapi import Query
from pydantic import BaseModel, Field

from api.json_types import IsoDateTime
from api.problems import ProblemError
from ingest.catalogue import Catalogue, CatalogueError, load_catalogue
from ops_center.db import Conn
from ops_center.readings import ReadingsStore

RangeName = Literal["24h", "7d", "30d", "90d", "365d"]
RANGES: dict[str, timedelta] = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30),
                                "90d": timedelta(days=90), "365d": timedelta(days=365)}
MAX_SPAN = timedelta(days=400)
MAX_POINTS = 1000
RAW_SPAN = timedelta(hours=48)
"""Windows up to two days may use buckets of minutes (raw readings); longer ones use whole hours or days, which
``ReadingsStore.band`` reads from the rollups only."""
FINE_S = (60, 300, 600, 900, 1800)
COARSE_S = (3600, 2 * 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 7 * 86400)
MetricName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")]

RangeQ = Annotated[RangeName | None, Query(alias="range", description="a window ending now (default 24h)")]
FromQ = Annotated[IsoDateTime | None, Query(alias="from", description="custom window start, with a UTC offset")]
ToQ = Annotated[IsoDateTime | None, Query(alias="to", description="custom window end (default now), with an offset")]
IntervalQ = Annotated[int | None, Query(ge=60, le=7 * 86400, description="bucket seconds (default: chosen)")]
MetricsQ = Annotated[list[MetricName] | None, Query(alias="metric", max_length=20,
                                                    description="repeatable; default: the usual ones")]


class Series(BaseModel):
    """Columns of one metric, one entry per bucket with readings (``t``: bucket start, epoch seconds)."""

    metric: str
    unit: str | None
    description: str | None
    t: list[float]
    count: list[int]
    min: list[float]
    max: list[float]
    mean: list[float]


class Chart(BaseModel):
    start: datetime = Field(serialization_alias="from")
    end: datetime = Field(serialization_alias="to")
    interval_s: int
    source: Literal["raw", "hourly", "daily"] = Field(description="where the buckets were read from")
    devices: int = Field(description="how many devices the series aggregate")
    series: list[Series]


def window(range_name: str | None, start: datetime | None, end: datetime | None,
           now: datetime | None = None) -> tuple[datetime, datetime]:
    """[start, end) of a named range ending now, or of a custom window; refusals name the field and the value."""
    now = now or datetime.now(UTC)
    if start is None and end is None:
        return now - RANGES[range_name or "24h"], now
    if range_name is not None:
        raise ProblemError(422, "Invalid request", "range: give either range or from/to, not both",
                           field="range", value=range_name)
    if start is None:
        raise ProblemError(422, "Invalid request", "from: required with to", field="from", value=None)
    end = end or now
    for name, t in (("from", start), ("to", end)):
        if t.tzinfo is None:
            raise ProblemError(422, "Invalid request", f"{name}: {t.isoformat()} has no UTC offset "
                               "(e.g. 2025-07-01T00:00:00+07:00)", field=name, value=t.isoformat())
    if end <= start:
        raise ProblemError(422, "Invalid request", f"to: {end.isoformat()} is not after from {start.isoformat()}",
                           field="to", value=end.isoformat())
    if end - start > MAX_SPAN:
        raise ProblemError(422, "Invalid request", f"to: a window of {(end - start).days} days; at most "
                           f"{MAX_SPAN.days}", field="to", value=end.isoformat())
    return start, end


def chart_interval(span: timedelta, asked_s: int | None = None) -> timedelta:
    """The bucket size: the one asked for (at most ``MAX_POINTS`` buckets), else the smallest that keeps the
    chart under ``MAX_POINTS`` buckets — whole hours or days beyond two days so the rollups answer."""
    seconds = span.total_seconds()
    if asked_s is not None:
        if seconds / asked_s > MAX_POINTS:
            raise ProblemError(422, "Invalid request", f"interval_s: {asked_s} s gives "
                               f"{math.ceil(seconds / asked_s)} buckets; at most {MAX_POINTS}",
                               field="interval_s", value=asked_s)
        return timedelta(seconds=asked_s)
    steps = (FINE_S + COARSE_S) if span <= RAW_SPAN else COARSE_S
    for step in steps:
        if seconds / step <= MAX_POINTS:
            return timedelta(seconds=step)
    return timedelta(seconds=COARSE_S[-1])


@lru_cache(maxsize=4)
def catalogue(path: str | None) -> Catalogue:
    try:
        return load_catalogue(path)
    except CatalogueError:
        return load_catalogue(None)


def build(conn: Conn, store: ReadingsStore, device_ids: list[str], metrics: list[str], start: datetime,
          end: datetime, interval: timedelta, catalogue_file: str | None = None) -> Chart:
    """Every metric's band and mean over ``device_ids`` (an empty series for a metric without readings)."""
    buckets = store.band(conn, device_ids, metrics, start, end, interval)
    cat = catalogue(catalogue_file)
    by_metric: dict[str, Series] = {}
    for m in metrics:
        info = cat.get(m)
        by_metric[m] = Series(metric=m, unit=info.unit if info else None,
                              description=info.description if info else None,
                              t=[], count=[], min=[], max=[], mean=[])
    for b in buckets:
        s = by_metric[b.metric]
        s.t.append(b.bucket.timestamp())
        s.count.append(b.count)
        s.min.append(b.min)
        s.max.append(b.max)
        s.mean.append(b.mean)
    secs = int(interval.total_seconds())
    source: Literal["raw", "hourly", "daily"] = ("daily" if secs % 86400 == 0 else
                                                  "hourly" if secs % 3600 == 0 else "raw")
    return Chart(start=start, end=end, interval_s=secs, source=source, devices=len(device_ids),
                 series=[by_metric[m] for m in metrics])
