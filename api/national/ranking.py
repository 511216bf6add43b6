"""The national map's figures: one metric of every province for one month, ranked, with each province's
freshness — as GeoJSON (geometry spliced in as cached bytes) or as plain rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from ops_center.db import Conn
from ops_center.federation.national import store
from ops_center.federation.national.provinces import Province
from ops_center.federation.registry import Metric, Producer


@dataclass(frozen=True)
class Row:
    code: str
    name: str
    value: float | None
    rank: int | None
    version: int | None
    received_at: datetime | None
    state: str
    age_s: float | None
    clock_skew_s: float | None

    def properties(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name, "value": self.value, "rank": self.rank,
                "version": self.version, "received_at": self.received_at, "freshness": self.state,
                "age_s": None if self.age_s is None else round(self.age_s, 1),
                "clock_skew_s": None if self.clock_skew_s is None else round(self.clock_skew_s, 1)}


def rank(conn: Conn, provinces: tuple[Province, ...], producer: Producer, metric: Metric, period: str,
         now: datetime) -> list[Row]:
    """Every province of the boundary file, best first (by ``higher_is_better``); no value ranks last."""
    values = store.metric_values(conn, producer.kind, metric.path, period)
    status = {s.code: s for s in store.statuses(conn)}
    sign = -1.0 if metric.higher_is_better else 1.0
    have = sorted((v.value * sign, p.code) for p in provinces if (v := values.get(p.code)) and v.value is not None)
    ranks = {code: i + 1 for i, (_, code) in enumerate(have)}
    rows = []
    for p in provinces:
        v, s = values.get(p.code), status.get(p.code)
        rows.append(Row(p.code, p.name, v.value if v else None, ranks.get(p.code), v.version if v else None,
                        v.received_at if v else None, s.state(now) if s else "not_connected",
                        s.age_s(now) if s else None, s.clock_skew_s if s else None))
    return sorted(rows, key=lambda r: (r.rank is None, r.rank or 0, r.code))


def feature_collection(rows: list[Row], geometry: dict[str, bytes], head: dict[str, Any]) -> bytes:
    """``{"type": "FeatureCollection", …head, "features": […]}`` with each geometry spliced in as bytes."""
    parts = []
    for r in rows:
        geom = geometry.get(r.code, b"null")
        props = orjson.dumps(r.properties())
        parts.append(b'{"type":"Feature","id":' + orjson.dumps(r.code) + b',"geometry":' + geom
                     + b',"properties":' + props + b"}")
    head_bytes = orjson.dumps({"type": "FeatureCollection", **head})
    return head_bytes[:-1] + b',"features":[' + b",".join(parts) + b"]}"
