"""The ``scorecard_766`` snapshot kind: the national service index (Decision 766) of each month, for the province and
per receiving unit — every indicator's numerator, denominator, ratio and score, every group's points, the total.
Units are offices (a code and a name); counts only: no dossier, petition or citizen crosses. The running month is
scored as of the day it is built (``as_of``), like ``GET /scorecard``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import Field

from ops_center.db import Conn
from ops_center.dossiers.calendar import calendar_for, local_date
from ops_center.federation import periods
from ops_center.federation.registry import Metric, Producer
from ops_center.federation.wire import Code, Count, Label, Ratio, Wire
from ops_center.levels import group_names, public_code
from ops_center.scorecard import service
from ops_center.scorecard.definition import definition_for, load_definitions
from ops_center.scorecard.periods import Period
from ops_center.scorecard.scoring import Card

Points = Annotated[float | None, Field(ge=0.0, le=100.0)]
PointsOf = Annotated[float, Field(ge=0.0, le=100.0)]
IndicatorId = Annotated[str, Field(pattern=r"^[1-9]\.[1-9]$")]
GroupId = Annotated[str, Field(pattern=r"^[1-9]$")]
Day = Annotated[str, Field(pattern=r"^2[0-9]{3}-[01][0-9]-[0-3][0-9]$")]
MAX_UNITS = 1000  # ~1.3 kB a unit: the snapshot stays well under the national body cap (2 MiB)


class IndicatorFigure(Wire):
    numerator: Count
    denominator: Count
    ratio: Ratio
    score: Points


class GroupFigure(Wire):
    points: PointsOf
    earned: Points
    available: PointsOf


class CardFigures(Wire):
    total: Points = Field(description="the total scaled to 100 (earned / available × 100); null without data")
    earned: Points
    available: PointsOf
    groups: dict[GroupId, GroupFigure] = Field(max_length=9)
    indicators: dict[IndicatorId, IndicatorFigure] = Field(max_length=81)


class UnitCard(CardFigures):
    code: Code
    name: Label


class Scorecard766(Wire):
    definition: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,19}$", description="the definition's version")
    as_of: Day = Field(description="the last local day scored (today for the running month)")
    province: CardFigures
    units: list[UnitCard] = Field(max_length=MAX_UNITS)


def figures(c: Card) -> dict[str, Any]:
    """A scorecard as the wire's ``CardFigures`` fields."""
    return {"total": c.total["scaled"], "earned": c.total["earned"], "available": c.total["available"],
            "groups": {g["id"]: {"points": g["points"], "earned": g["earned"], "available": g["available"]}
                       for g in c.groups},
            "indicators": {i["id"]: {"numerator": i["numerator"], "denominator": i["denominator"],
                                     "ratio": i["ratio"], "score": i["score"]} for i in c.indicators}}


def build(conn: Conn, months: Sequence[str], now: datetime) -> dict[str, Scorecard766]:
    from ops_center.settings import get_settings

    calendar = calendar_for(get_settings())
    today = local_date(now)
    windows: list[tuple[str, Period]] = []
    for month in months:
        first, stop = periods.bounds(month)
        if first <= today:
            windows.append((month, service.window(first, stop - timedelta(days=1), now)))
    if not windows:
        return {}
    wins = [w for _, w in windows]
    province = {k[0]: c for k, c in service.cards(conn, "province", wins, calendar).items()}
    by_unit = service.cards(conn, "unit", wins, calendar)
    names = group_names(conn, "unit", sorted({(k[1], k[2]) for k in by_unit}))
    units: dict[int, list[UnitCard]] = {}
    for (tag, gset, gcode), c in sorted(by_unit.items(), key=lambda kv: kv[0]):
        code = public_code(gcode)
        if code is not None:
            units.setdefault(tag, []).append(UnitCard(code=code, name=str(names.get((gset, gcode), code))[:200],
                                                      **figures(c)))
    out: dict[str, Scorecard766] = {}
    for tag, (month, w) in enumerate(windows):
        card = province.get(tag)
        if card is None:  # nothing happened in the month: nothing to say
            continue
        out[month] = Scorecard766(definition=definition_for(w.first).version, as_of=w.last.isoformat(),
                                  province=CardFigures(**figures(card)), units=units.get(tag, [])[:MAX_UNITS])
    return out


def _metrics() -> tuple[Metric, ...]:
    newest = load_definitions()[-1]
    out = [Metric("total", ("province", "total"), "Chỉ số 766: tổng điểm (thang 100)",
                  "766 index: total (out of 100)", "points")]
    out += [Metric(f"group_{g.id}", ("province", "groups", g.id, "earned"), f"Chỉ số 766 nhóm {g.id}: {g.vi}",
                   f"766 group {g.id}: {g.en}", "points") for g in newest.groups]
    out += [Metric(f"ind_{i.id.replace('.', '_')}", ("province", "indicators", i.id, "ratio"),
                   f"Chỉ số 766 — {i.id} {i.vi}", f"766 index — {i.id} {i.en}", "ratio") for i in newest.indicators]
    return tuple(out)


PRODUCER = Producer(
    kind="scorecard_766", title_vi="Bộ chỉ số 766 (chất lượng phục vụ người dân, doanh nghiệp)",
    title_en="National service index (Decision 766)", data_model=Scorecard766, build=build,
    topics=frozenset({"dossier"}), history=True, metrics=_metrics(),
)
