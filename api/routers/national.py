"""The national instance's reading side and its administration (``OPS_FEDERATION_MODE=national``):

- ``GET /national/map?metric=&period=&geometry=`` (staff): GeoJSON of the 34 provinces coloured by any KPI or
  scorecard figure, each with its value, rank, version and freshness;
- ``GET /national/metrics`` (staff): the figures the map can show; ``GET /national/provinces`` (staff): each
  province's freshness, clock and what it has sent; ``GET /national/provinces/{code}/snapshots`` (staff);
- ``GET /national/brief.pdf?period=`` (staff): the national brief;
- ``POST /national/provinces`` (admin) registers provinces; ``POST|DELETE /national/provinces/{code}/credential``
  issues (shown once) or revokes a province's credential; ``GET /national/dead-letters`` (admin).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import AdminOnly, ConnDep, ReadConn, SettingsDep, Staff
from api.national import brief, geometry, ranking
from api.national.deps import NationalDep
from api.replica_reads import ReadRoute
from ops_center.federation import periods
from ops_center.federation.config import FederationConfig
from ops_center.federation.national import credentials, provinces, store
from ops_center.federation.registry import metrics
from ops_center.pagination import decode_cursor, encode_cursor
from ops_center.settings import Settings

router = APIRouter(prefix="/national", tags=["national"], route_class=ReadRoute)
CodePath = Annotated[str, Path(pattern=r"^[0-9]{2}$")]
PeriodQuery = Annotated[str | None, Query(pattern=periods.MONTH_PATTERN, description="YYYY-MM (default: newest)")]


def _provinces(settings: Settings, cfg: FederationConfig) -> tuple[provinces.Province, ...]:
    try:
        return provinces.load(provinces.boundaries_path(settings, cfg))
    except FileNotFoundError as exc:
        raise HTTPException(503, str(exc)) from exc


def _metric(name: str) -> tuple[Any, Any]:
    known = metrics()
    if name not in known:
        raise HTTPException(422, f"metric: {name[:80]!r} is not one of {', '.join(sorted(known))}")
    return known[name]


@router.get("/metrics")
def list_metrics(_: Staff, __: NationalDep) -> dict[str, Any]:
    return {"items": [{"metric": key, "kind": p.kind, "label_vi": m.label_vi, "label_en": m.label_en,
                       "unit": m.unit, "higher_is_better": m.higher_is_better, "kind_title_vi": p.title_vi}
                      for key, (p, m) in metrics().items()], "next": None}


@router.get("/map", response_class=Response,
            responses={200: {"content": {"application/geo+json": {}}, "description": "provinces with the figure"}})
def national_map(conn: ReadConn, settings: SettingsDep, cfg: NationalDep, _: Staff,
                 metric: Annotated[str, Query(max_length=80)] = "dossier_kpis.on_time_rate",
                 period: PeriodQuery = None, with_geometry: Annotated[bool, Query(alias="geometry")] = True
                 ) -> Response:
    """The 34 provinces ranked by ``metric`` for ``period`` (default: the newest month any province sent)."""
    producer, m = _metric(metric)
    period = period or store.latest_period(conn, producer.kind) or periods.month_of(datetime.now(UTC))
    provs = _provinces(settings, cfg)
    now = datetime.now(UTC)
    rows = ranking.rank(conn, provs, producer, m, period, now)
    head = {"metric": metric, "period": period, "label_vi": m.label_vi, "label_en": m.label_en, "unit": m.unit,
            "higher_is_better": m.higher_is_better, "generated_at": now.isoformat(),
            "ranking": [r.code for r in rows if r.rank is not None]}
    geoms = geometry.geometries(provinces.boundaries_path(settings, cfg)) if with_geometry else {}
    body = ranking.feature_collection(rows, geoms, head)
    return Response(body, media_type="application/geo+json", headers={"Cache-Control": "no-cache"})


@router.get("/provinces")
def list_provinces(conn: ReadConn, settings: SettingsDep, cfg: NationalDep, _: Staff,
                   after: Annotated[str | None, Query(pattern=r"^[0-9]{2}$")] = None,
                   limit: Annotated[int, Query(ge=1, le=100)] = 100) -> dict[str, Any]:
    """Every province of the 2025 set: registered or not, its freshness, clock skew and newest snapshot per kind."""
    now = datetime.now(UTC)
    status = {s.code: s for s in store.statuses(conn)}
    received = store.kinds_received(conn)
    items = []
    for p in _provinces(settings, cfg):
        if after is not None and p.code <= after:
            continue
        s = status.get(p.code)
        items.append({"code": p.code, "name": p.name, "registered": s is not None,
                      "enabled": s.enabled if s else False, "connected": s.connected if s else False,
                      "freshness": s.state(now) if s else "not_connected", "schedule_s": s.schedule_s if s else None,
                      "last_contact_at": s.last_contact_at if s else None, "age_s": s.age_s(now) if s else None,
                      "clock_skew_s": s.clock_skew_s if s else None, "outbox_pending": s.outbox_pending if s else None,
                      "kinds": received.get(p.code, {})})
        if len(items) == limit:
            break
    return {"items": items, "next": items[-1]["code"] if len(items) == limit else None}


@router.get("/provinces/{code}/snapshots")
def province_snapshots(conn: ConnDep, _: Staff, __: NationalDep, code: CodePath,
                       kind: Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9_]{0,39}$")] = None,
                       cursor: Annotated[str | None, Query(max_length=1024)] = None,
                       limit: Annotated[int, Query(ge=1, le=200)] = 50) -> dict[str, Any]:
    """The province's newest snapshot of each kind and month, newest month first (``cursor``: the previous page's
    ``next_cursor``)."""
    key = decode_cursor(cursor)
    after = (str(key.get("p")), str(key.get("k"))) if key else None
    rows = store.snapshots(conn, code, kind, after=after, limit=limit)
    last = rows[-1] if len(rows) == limit else None
    return {"items": rows, "next_cursor": encode_cursor({"p": last["period"], "k": last["kind"]}) if last else None}


class ProvincesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    codes: list[Annotated[str, Field(pattern=r"^[0-9]{2}$")]] = Field(min_length=1, max_length=34)
    schedule_s: int | None = Field(default=None, ge=1, le=604800)


@router.post("/provinces", status_code=201)
def register_provinces(request: Request, conn: ConnDep, settings: SettingsDep, cfg: NationalDep, _: AdminOnly,
                       body: ProvincesIn) -> dict[str, Any]:
    """Register provinces by their official code (names from the boundary file)."""
    known = {p.code: p for p in _provinces(settings, cfg)}
    for code in body.codes:
        if code not in known:
            raise HTTPException(422, f"codes: {code!r} is not one of the 34 province codes")
        credentials.ensure_province(conn, code, known[code].name, body.schedule_s)
    request.state.audit_target = "national:provinces"
    return {"registered": sorted(set(body.codes))}


@router.post("/provinces/{code}/credential", status_code=201)
def issue_credential(request: Request, conn: ConnDep, _: AdminOnly, __: NationalDep, code: CodePath
                     ) -> dict[str, str]:
    """A new credential for the province (any previous one stops working at once); the token is shown once."""
    request.state.audit_target = f"national:province:{code}"
    try:
        token = credentials.issue(conn, code)
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from exc
    return {"province": code, "token": token}


@router.delete("/provinces/{code}/credential", status_code=204)
def revoke_credential(request: Request, conn: ConnDep, _: AdminOnly, __: NationalDep, code: CodePath) -> Response:
    request.state.audit_target = f"national:province:{code}"
    if not credentials.revoke(conn, code):
        raise HTTPException(404, f"province: {code!r} has no live credential")
    return Response(status_code=204)


@router.get("/dead-letters")
def list_dead_letters(conn: ConnDep, _: AdminOnly, __: NationalDep,
                      province: Annotated[str | None, Query(pattern=r"^[0-9]{2}$")] = None,
                      before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
                      limit: Annotated[int, Query(ge=1, le=500)] = 100) -> dict[str, Any]:
    """Refused snapshots, newest first, one row per request: reason, field, value, the body's head."""
    rows = store.dead_letters(conn, province=province, before_id=before, limit=limit)
    return {"items": rows, "next": rows[-1]["id"] if len(rows) == limit else None}


@router.get("/brief.pdf", response_class=Response,
            responses={200: {"content": {"application/pdf": {}}, "description": "the national brief"}})
def national_brief(conn: ReadConn, settings: SettingsDep, cfg: NationalDep, _: Staff, period: PeriodQuery = None
                   ) -> Response:
    """The national brief of one month: the ranking map, the table of provinces and their freshness."""
    data = brief.collect(conn, _provinces(settings, cfg), geometry.geometries(provinces.boundaries_path(settings, cfg)),
                         period)
    return Response(brief.render(data), media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="ban-tin-quoc-gia-{data.period}.pdf"',
                             "Cache-Control": "no-store"})


screen = APIRouter(tags=["screens"], include_in_schema=False)


@screen.get("/national")
def national_screen() -> Response:
    """The national screen (a public page holding no data; figures come from the authenticated API)."""
    from api.routers.screens import _file

    return _file("national.html")
