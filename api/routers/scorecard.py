"""The national service index (Decision 766) for leaders: the scorecard per level and period, units ranked, the
province against the last period, the trend by month beside the same month a year earlier, drill-down to the
dossiers (petitions, procedures, units) behind an indicator, CSV/XLSX exports. Reading roles: admin, operator,
leader. Definitions: ``ops_center.scorecard``; the map layer is registered in ``api/map_layers.py``."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Response

from api.deps import ReadConn, SettingsDep, Staff
from api.json_types import IsoDate
from api.replica_reads import ReadRoute
from ops_center.dossiers.calendar import calendar_for, local_date
from ops_center.pagination import DEFAULT_LIMIT, MAX_LIMIT, decode_cursor, encode_cursor
from ops_center.scorecard import drill, export, service
from ops_center.scorecard.definition import definition_for
from ops_center.scorecard.periods import Period

router = APIRouter(tags=["scorecard"], route_class=ReadRoute)

LevelParam = Annotated[Literal["province", "district", "ward", "unit"], Query()]
PeriodParam = Annotated[Literal["day", "month", "quarter", "year", "range"], Query()]
FromParam = Annotated[IsoDate | None, Query(alias="from", description="first local date (default: this month's first)")]
ToParam = Annotated[IsoDate | None, Query(alias="to", description="last local date, inclusive (default: today)")]
CODE = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
CodeParam = Annotated[list[Annotated[str, Query(pattern=CODE)]] | None, Query(max_length=500)]
OneCode = Annotated[str | None, Query(pattern=CODE)]
CursorParam = Annotated[str | None, Query(max_length=1024)]
LimitParam = Annotated[int, Query(ge=1, le=MAX_LIMIT)]


def _window(start: date | None, end: date | None) -> Period:
    today = local_date(datetime.now(UTC))
    try:
        return service.window(start or today.replace(day=1), end or today)
    except service.ScorecardError as exc:
        raise HTTPException(422, str(exc)) from exc


def _after(cursor: str | None, key: str) -> str:
    found = decode_cursor(cursor)
    value = found.get(key) if found else None
    return value if isinstance(value, str) else ""


@router.get("/scorecard/definition")
def get_definition(_: Staff, on: Annotated[IsoDate | None, Query(description="the definition in force that day")]
                   = None) -> dict[str, Any]:
    """The groups, indicators, points and thresholds (the shipped, versioned definition file)."""
    return definition_for(on or local_date(datetime.now(UTC))).as_json()


@router.get("/scorecard")
def get_scorecard(conn: ReadConn, settings: SettingsDep, _: Staff, level: LevelParam = "province",
                  period: PeriodParam = "month", start: FromParam = None, end: ToParam = None,
                  code: CodeParam = None, cursor: CursorParam = None, limit: LimitParam = DEFAULT_LIMIT
                  ) -> dict[str, Any]:
    """Per group and period: each indicator's numerator, denominator, ratio (4 decimals) and score (2 decimals);
    each group's points earned and available; the total and the total scaled to 100. Groups are paged."""
    w = _window(start, end)
    items = service.scorecard(conn, level, period, w, calendar_for(settings), code)
    keys = sorted({it["code"] or "" for it in items})
    after = _after(cursor, "code")
    page_keys = [k for k in keys if k > after][:limit]
    chosen = set(page_keys)
    more = bool(page_keys) and page_keys[-1] != (keys[-1] if keys else None)
    return {"level": level, "period": period, **w.as_json(),
            "items": [it for it in items if (it["code"] or "") in chosen],
            "next_cursor": encode_cursor({"code": page_keys[-1]}) if more else None}


@router.get("/scorecard/ranking")
def get_ranking(conn: ReadConn, settings: SettingsDep, _: Staff, level: LevelParam = "unit", start: FromParam = None,
                end: ToParam = None, cursor: CursorParam = None, limit: LimitParam = DEFAULT_LIMIT
                ) -> dict[str, Any]:
    """The groups of a level ranked by their total scaled to 100 over one window (no data last)."""
    w = _window(start, end)
    ranked = service.ranking(conn, level, w, calendar_for(settings))
    found = decode_cursor(cursor)
    skip = int(found["rank"]) if found and isinstance(found.get("rank"), int) else 0
    page = ranked[skip:skip + limit]
    more = skip + limit < len(ranked)
    return {"level": level, **w.as_json(), "items": page,
            "next_cursor": encode_cursor({"rank": skip + limit}) if more else None}


@router.get("/scorecard/compare")
def get_compare(conn: ReadConn, settings: SettingsDep, _: Staff, period: PeriodParam = "month",
                start: FromParam = None, end: ToParam = None) -> dict[str, Any]:
    """The province's total and groups against the period before (the previous month, quarter or year)."""
    return service.compare(conn, period, _window(start, end), calendar_for(settings))


@router.get("/scorecard/trend")
def get_trend(conn: ReadConn, settings: SettingsDep, _: Staff, level: LevelParam = "province",
              code: OneCode = None, start: FromParam = None, end: ToParam = None) -> dict[str, Any]:
    """By month: total, groups and indicator ratios, beside the same month a year earlier (default: this year)."""
    today = local_date(datetime.now(UTC))
    if level != "province" and not code:
        raise HTTPException(422, f"code: the {level} whose trend to show is required")
    w = _window(start or today.replace(month=1, day=1), end)
    return {"level": level, "code": code, **w.as_json(),
            "items": service.trend(conn, level, code, w, calendar_for(settings))}


@router.get("/scorecard/indicators/{indicator}/items")
def get_items(conn: ReadConn, settings: SettingsDep, _: Staff,
              indicator: Annotated[str, Path(pattern=r"^[1-5]\.[1-7]$")],
              side: Literal["numerator", "denominator", "late", "unsatisfied"] = "denominator",
              level: LevelParam = "province", code: OneCode = None,
              start: FromParam = None, end: ToParam = None, cursor: CursorParam = None,
              limit: LimitParam = DEFAULT_LIMIT) -> dict[str, Any]:
    """The dossiers (petitions, procedures or units) behind an indicator's numerator or denominator for one group
    and window, by id."""
    w = _window(start, end)
    try:
        page = drill.page(conn, indicator, side, level, code, w, calendar_for(settings),
                          publication_days=definition_for(w.first).publication_days, after=_after(cursor, "id"),
                          limit=limit)
    except drill.DrillError as exc:
        raise HTTPException(422, str(exc)) from exc
    return {"indicator": indicator, "side": side, "level": level, "code": code, **w.as_json(),
            "subject": page.subject, "items": page.items,
            "next_cursor": encode_cursor({"id": page.next_after}) if page.next_after else None}


MEDIA = {"csv": "text/csv; charset=utf-8",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


@router.get("/scorecard/export.{fmt}")
def get_export(fmt: Annotated[str, Path(max_length=8)], conn: ReadConn, settings: SettingsDep, _: Staff,
               level: LevelParam = "unit", period: PeriodParam = "month", start: FromParam = None,
               end: ToParam = None, code: CodeParam = None) -> Response:
    """The scorecard as CSV (UTF-8 with BOM) or XLSX: one row per indicator, group and total."""
    if fmt not in MEDIA:
        raise HTTPException(404, f"fmt: {fmt[:8]!r} is not an export format (csv, xlsx)")
    w = _window(start, end)
    items = service.scorecard(conn, level, period, w, calendar_for(settings), code)
    name = f"scorecard_{level}_{period}_{w.first:%Y%m%d}_{(w.stop - timedelta(days=1)):%Y%m%d}.{fmt}"
    title = f"Bộ chỉ số 766 — {level} — {w.first.isoformat()} … {w.last.isoformat()}"
    body = export.to_csv(items) if fmt == "csv" else export.to_xlsx(items, title)
    return Response(body, media_type=MEDIA[fmt], headers={"Content-Disposition": f'attachment; filename="{name}"'})
