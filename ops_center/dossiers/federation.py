"""The ``dossier_kpis`` snapshot kind: the province's dossier KPIs per month, in total and per receiving unit
(``kpis.compute``). Units are offices, not people; no dossier id, procedure or citizen crosses."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import Field

from ops_center.db import Conn
from ops_center.dossiers import kpis
from ops_center.federation import periods
from ops_center.federation.registry import Metric, Producer
from ops_center.federation.wire import Code, Count, Label, Ratio, Wire


class Received(Wire):
    online_l3: Count
    online_l4: Count
    counter: Count
    postal: Count
    total: Count


class DossierKpi(Wire):
    received: Received
    resolved: Count
    resolved_on_time: Count
    open_overdue: Count
    on_time_rate: Ratio
    online_share: Ratio
    postal_receive_share: Ratio
    postal_return_share: Ratio


class UnitKpi(DossierKpi):
    code: Code
    name: Label


class DossierKpis(Wire):
    province: DossierKpi
    units: list[UnitKpi] = Field(max_length=5000)


def _kpi(item: Mapping[str, Any]) -> dict[str, Any]:
    return {"received": {k: int(item["received"][k]) for k in ("online_l3", "online_l4", "counter", "postal",
                                                              "total")},
            "resolved": int(item["resolved"]), "resolved_on_time": int(item["resolved_on_time"]),
            "open_overdue": max(0, int(item["open_overdue"])), "on_time_rate": item["on_time_rate"],
            "online_share": item["online_share"], "postal_receive_share": item["postal_receive_share"],
            "postal_return_share": item["postal_return_share"]}


def build(conn: Conn, months: Sequence[str], now: datetime) -> dict[str, DossierKpis]:
    first, _ = periods.bounds(months[0])
    _, stop = periods.bounds(months[-1])
    totals = {i["period_start"][:7]: i for i in kpis.compute(conn, "province", "month", first, stop, now=now)}
    units: dict[str, list[UnitKpi]] = {}
    for item in kpis.compute(conn, "unit", "month", first, stop, now=now):
        if item["code"] is None:
            continue
        units.setdefault(item["period_start"][:7], []).append(
            UnitKpi(code=item["code"], name=str(item["name"] or item["code"])[:200], **_kpi(item)))
    out: dict[str, DossierKpis] = {}
    for month in months:
        total = totals.get(month)
        if total is None:
            continue
        out[month] = DossierKpis(province=DossierKpi(**_kpi(total)), units=units.get(month, []))
    return out


PRODUCER = Producer(
    kind="dossier_kpis", title_vi="Chỉ số hồ sơ thủ tục hành chính", title_en="Dossier KPIs",
    data_model=DossierKpis, build=build, topics=frozenset({"dossier"}), history=True,
    metrics=(
        Metric("on_time_rate", ("province", "on_time_rate"), "Tỷ lệ giải quyết đúng hạn", "On-time rate", "ratio"),
        Metric("online_share", ("province", "online_share"), "Tỷ lệ hồ sơ trực tuyến", "Online share", "ratio"),
        Metric("postal_receive_share", ("province", "postal_receive_share"), "Tỷ lệ tiếp nhận qua bưu chính",
               "Postal receive share", "ratio"),
        Metric("received", ("province", "received", "total"), "Hồ sơ tiếp nhận", "Dossiers received", "count"),
        Metric("open_overdue", ("province", "open_overdue"), "Hồ sơ quá hạn chưa giải quyết",
               "Open overdue dossiers", "count", higher_is_better=False),
    ),
)
