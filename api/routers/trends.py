"""Leaders' trends: each dossier KPI by month beside the same month a year earlier, per group of a level."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.deps import ReadConn, Staff
from api.problems import ProblemError
from api.replica_reads import ReadRoute
from api.screen_models import id_cursor, problems
from ops_center.dossiers import trends
from ops_center.dossiers.calendar import local_date
from ops_center.pagination import DEFAULT_LIMIT, MAX_LIMIT, encode_cursor

router = APIRouter(tags=["dossiers"], route_class=ReadRoute)
TO_MONTH = r"^(200[1-9]|20[1-9][0-9]|21[0-9]{2})-(0[1-9]|1[0-2])$"
"""``to``: 2001-01 to 2199-12, stated in the schema (year 0000 is no date at all; beyond 2199 is no year this system
can mean, as in ``api.json_types``)."""
KpiName = Literal["received", "online", "online_share", "resolved", "on_time_rate", "open_overdue",
                  "postal_receive_share", "postal_return_share"]


class TrendSeries(BaseModel):
    current: list[float | None] = Field(description="one value per month of `months`")
    previous: list[float | None] = Field(description="one value per month of `previous_months`")


class TrendItem(BaseModel):
    code: str | None
    name: str
    set: str | None = Field(description="boundary set of a ward or district group")
    kpis: dict[KpiName, TrendSeries]


class TrendOut(BaseModel):
    level: str
    months: list[str] = Field(description="YYYY-MM, oldest first")
    previous_months: list[str] = Field(description="the same months a year earlier")
    items: list[TrendItem]
    next_cursor: str | None


@router.get("/kpis/dossiers/trend", response_model=TrendOut, responses=problems(400, 422))
def trend(conn: ReadConn, _: Staff,
          level: Literal["province", "district", "ward", "unit"] = "province",
          to: Annotated[str | None, Query(pattern=TO_MONTH,
                                          description="last month, YYYY-MM, 2001-01 to 2199-12 (default: this "
                                                      "month)")] = None,
          months: Annotated[int, Query(ge=1, le=trends.MAX_MONTHS)] = 12,
          code: Annotated[list[Annotated[str, Field(max_length=64)]] | None, Query(max_length=500)] = None,
          cursor: Annotated[str | None, Query(max_length=1024)] = None,
          limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT) -> TrendOut:
    """Each KPI by month over ``months`` months ending with ``to``, and the same months a year earlier (received,
    online = levels 3 and 4, online share, resolved, on-time rate, open overdue, postal receive and return shares;
    see ``GET /kpis/dossiers``). Groups by code, paginated."""
    last = date.fromisoformat(f"{to}-01") if to else local_date(datetime.now(UTC)).replace(day=1)
    t = trends.monthly_trend(conn, level, last, months, code)
    offset = id_cursor(cursor) or 0
    if offset < 0:
        raise ProblemError(400, "Bad cursor", "cursor: not a cursor returned by this API", field="cursor",
                           value=cursor)
    page = t.groups[offset:offset + limit]
    items = [TrendItem(code=g.code, name=g.name, set=g.set,
                       kpis={k: TrendSeries(current=g.current[k], previous=g.previous[k])
                             for k in trends.TREND_KPIS})
             for g in page]
    more = offset + limit < len(t.groups)
    return TrendOut(level=level, months=[m.strftime("%Y-%m") for m in t.months],
                    previous_months=[m.strftime("%Y-%m") for m in t.previous_months], items=items,
                    next_cursor=encode_cursor({"id": offset + limit}) if more else None)
