"""``GET /brief/daily.pdf?date=&set=&layer=``: the leaders' one-page daily brief, made on the server (fpdf2)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response

from api.brief import data as brief_data
from api.brief import pdf as brief_pdf
from api.deps import ReadConn, SettingsDep, Staff, StoreDep
from api.json_types import IsoDate
from api.openapi import errors
from api.replica_reads import ReadRoute
from ops_center import wards
from ops_center.dossiers.calendar import calendar_for
from ops_center.settings import LOCAL_TZ

router = APIRouter(tags=["brief"], route_class=ReadRoute)


@router.get("/brief/daily.pdf", response_class=Response,
            responses={200: {"content": {"application/pdf": {}}, "description": "the brief"}, **errors(404)})
def daily_brief(conn: ReadConn, readings: StoreDep, settings: SettingsDep, _: Staff,
                day: Annotated[IsoDate | None, Query(alias="date", description="local day (default today)")] = None,
                set_name: Annotated[str | None, Query(alias="set", max_length=64,
                                                      pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")] = None,
                layer: Annotated[str | None, Query(json_schema_extra={"enum": list(brief_data.MAP_LAYERS)},
                                                  max_length=60)] = None) -> Response:
    """Map, KPI table per district, the national service index of the month to date, top incidents and alert
    statistics of one day, as PDF."""
    today = datetime.now(LOCAL_TZ).date()
    day = day or today
    if day > today:
        raise HTTPException(422, f"date: {day.isoformat()} is in the future (today is {today.isoformat()})")
    if day < date(2000, 1, 1):
        raise HTTPException(422, f"date: {day.isoformat()} is before 2000-01-01")
    if layer is not None and layer not in brief_data.MAP_LAYERS:
        raise HTTPException(422, f"layer: {layer!r} is not one of {', '.join(brief_data.MAP_LAYERS)}")
    if set_name is not None and not wards.set_exists(conn, set_name):
        raise HTTPException(404, f"set: {set_name!r} is not a boundary set")
    content = brief_pdf.render(brief_data.collect(conn, readings, day, set_name, layer,
                                                  calendar=calendar_for(settings)))
    return Response(content, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="ban-tin-{day.isoformat()}.pdf"',
                             "Cache-Control": "no-store"})
