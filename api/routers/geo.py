"""Boundary sets, ward lookup, crosswalks, map summaries, exports and rendered maps.

Read routes are for staff (admin, operator, leader); importing a boundary file and re-assigning devices are for
admins. GeoJSON, CSV, GeoPackage and PNG answers carry a content ETag (``If-None-Match`` → 304) and a
``Cache-Control`` header.
"""

from __future__ import annotations

import hashlib
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, HTTPException, Query, Request, Response, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse

from api.deps import AdminOnly, ConnDep, ReadConn, Staff, StoreDep
from api.json_types import IsoDate, IsoDateTime
from api.map_layers import ensure_registered
from api.openapi import errors
from api.replica_reads import ReadRoute
from geo import render, service, store
from geo import summary as summaries
from geo.boundaries import BoundaryError, DuplicateCodeError, FieldMapping
from geo.export import FORMATS, MEDIA_TYPES, export_summary, export_units
from geo.shapes import MAX_SIMPLIFY_M
from geo.store import GeoStoreError, SetNotFound, ValidityOverlap
from geo.summary import DEFAULT_SIMPLIFY_M, KNOWN_LAYERS, NUMERIC_PROPERTIES, SummaryError, SummaryQuery
from ops_center.db import Conn

router = APIRouter(tags=["geo"], route_class=ReadRoute)

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
UPLOAD_SUFFIXES = (".geojson", ".json", ".gpkg", ".zip")
SUMMARY_CACHE = "private, max-age=60"
WARDS_CACHE = "private, max-age=300"

SET_NAME = store.NAME_RE.pattern
SET_RULE: dict[str, Any] = {"pattern": SET_NAME}  # documented; store.check_name refuses naming the field
SetParam = Annotated[str | None, Query(alias="set", max_length=64, json_schema_extra=SET_RULE,
                                       description="boundary set; default: in force")]
LevelParam = Annotated[Literal["ward", "district"], Query()]
SimplifyParam = Annotated[float, Query(ge=0, le=MAX_SIMPLIFY_M, description="tolerance in metres; 0: none")]
FromParam = Annotated[IsoDateTime | None, Query(alias="from")]
ToParam = Annotated[IsoDateTime | None, Query(alias="to")]
LayersParam = Annotated[str | None, Query(max_length=500, json_schema_extra={"pattern": r"^[a-z][a-z0-9_]*(,[a-z][a-z0-9_]*)*$"},
                                         description="comma-separated layer names (" + ", ".join(KNOWN_LAYERS)
                                                     + " and any a domain registers); default: all available")]
NOT_MODIFIED: dict[int | str, dict[str, Any]] = {304: {"description": "Not Modified: the ETag in If-None-Match "
                                                                     "is still current"}}
CACHED = {**NOT_MODIFIED, **errors(404)}


# ---------------------------------------------------------------------- helpers


def _etag(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


def _not_modified(header: str | None, etag: str) -> bool:
    if not header:
        return False
    tags = [t.strip() for t in header.split(",")]
    return "*" in tags or any(t.removeprefix("W/") == etag for t in tags)


def cached_response(request: Request, body: bytes, media_type: str, cache_control: str,
                    filename: str | None = None) -> Response:
    etag = _etag(body)
    headers = {"ETag": etag, "Cache-Control": cache_control, "Vary": "Authorization, X-API-Key"}
    if _not_modified(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    if filename:
        headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return Response(body, media_type=media_type, headers=headers)


def _set_for(conn: Conn, set_name: str | None, at: datetime | None = None) -> str:
    if set_name is None:
        name = service.set_in_force(conn, at)
        if name is None:
            raise HTTPException(404, "set: no boundary set is in force now; name one with set=")
        return name
    try:
        return store.check_name(set_name, "set")
    except GeoStoreError as exc:
        raise HTTPException(422, str(exc)) from None


def _entry(conn: Conn, set_name: str, level: str) -> service.IndexedSet:
    try:
        return service.indexed_set(conn, set_name, level)
    except SetNotFound as exc:
        raise HTTPException(404, str(exc)) from None


def _resolve(conn: Conn, set_name: str | None, level: str, start: datetime | None, end: datetime | None,
             layers: str | None, simplify: float) -> SummaryQuery:
    ensure_registered()
    try:
        return summaries.resolve(conn, set_name=set_name, level=level, start=start, end=end, layers=layers,
                                 simplify_m=simplify)
    except SummaryError as exc:
        raise HTTPException(exc.status, str(exc)) from None



def _build(conn: Conn, store_: Any, q: SummaryQuery) -> summaries.Summary:
    try:
        return summaries.build(conn, q, store_)
    except SummaryError as exc:
        raise HTTPException(exc.status, str(exc)) from None


def _file_stem(q: SummaryQuery) -> str:
    return f"summary_{q.set_name}_{q.level}_{q.start:%Y%m%dT%H%M}_{q.end:%Y%m%dT%H%M}"


# ---------------------------------------------------------------------- sets and wards


@router.get("/geo/sets")
def list_sets(conn: ConnDep, _: Staff) -> dict[str, Any]:
    """Every boundary set with its validity, levels and unit counts (few: one page)."""
    now_set = service.set_in_force(conn)
    items = []
    for s in store.list_sets(conn):
        d = s.as_json()
        d["in_force"] = s.name == now_set
        items.append(d)
    return {"items": items, "next_cursor": None}


@router.get("/geo/sets/{name}")
def get_set(name: Annotated[str, PathParam(max_length=64, json_schema_extra=SET_RULE)], conn: ConnDep, _: Staff) -> dict[str, Any]:
    try:
        info = store.get_set(conn, name)
    except GeoStoreError as exc:
        raise HTTPException(422, str(exc)) from None
    if info is None:
        raise HTTPException(404, f"name: {name[:80]!r} is not a boundary set")
    return info.as_json()


@router.get("/geo/wards", responses=CACHED)
def wards(request: Request, conn: ReadConn, _: Staff, set_name: SetParam = None, level: LevelParam = "ward",
          simplify: SimplifyParam = DEFAULT_SIMPLIFY_M) -> Response:
    """The units of a set as GeoJSON (simplified for screens, topology preserved)."""
    name = _set_for(conn, set_name)
    entry = _entry(conn, name, level)
    body = export_units(entry, "geojson", simplify, {"set": name, "level": level, "simplify_m": simplify})
    return cached_response(request, body, MEDIA_TYPES["geojson"], WARDS_CACHE)


@router.get("/geo/export/wards.{fmt}", responses=CACHED)
def export_wards(fmt: Annotated[str, PathParam(json_schema_extra={"enum": list(FORMATS)},
                                       description="anything else: 404")], request: Request, conn: ReadConn, _: Staff, set_name: SetParam = None,
                 level: LevelParam = "ward", simplify: SimplifyParam = 0.0) -> Response:
    """Units of a set as GeoJSON, CSV (WKT geometry) or GeoPackage; full resolution unless ``simplify``."""
    if fmt not in FORMATS:
        raise HTTPException(404, f"fmt: {fmt[:40]!r} is not an export format ({', '.join(FORMATS)})")
    name = _set_for(conn, set_name)
    entry = _entry(conn, name, level)
    body = export_units(entry, fmt, simplify, {"set": name, "level": level, "simplify_m": simplify})
    return cached_response(request, body, MEDIA_TYPES[fmt], WARDS_CACHE, f"wards_{name}_{level}.{fmt}")


@router.get("/geo/assign", responses=errors(404))
def assign(conn: ConnDep, _: Staff, lon: Annotated[float, Query(ge=-180, le=180)],
           lat: Annotated[float, Query(ge=-90, le=90)], at: IsoDateTime | None = None,
           set_name: SetParam = None) -> dict[str, Any]:
    """Which ward a point is in: in the set in force at ``at`` (default now), or in the named set."""
    if at is not None and at.tzinfo is None:
        raise HTTPException(422, f"at: {at.isoformat()} has no timezone offset")
    try:
        if set_name is not None:
            ref = service.assign_in_set(conn, _set_for(conn, set_name), lon, lat)
        else:
            ref = service.assign_ward(conn, lon, lat, at)
    except SetNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    return ref.as_json()


@router.get("/geo/crosswalk", responses=errors(404))
def get_crosswalk(conn: ConnDep, _: Staff, from_set: Annotated[str, Query(alias="from", max_length=64, json_schema_extra=SET_RULE)],
                  to_set: Annotated[str, Query(alias="to", max_length=64, json_schema_extra=SET_RULE)], from_level: LevelParam = "ward",
                  to_level: LevelParam = "ward") -> dict[str, Any]:
    """For each unit of ``from``, the fractions of its area in units of ``to`` (area-weighted overlay; computed and
    stored on first request, recomputed after a re-import)."""
    try:
        cw = service.get_crosswalk(conn, from_set, to_set, from_level, to_level)
    except SetNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except GeoStoreError as exc:
        raise HTTPException(422, str(exc)) from None
    assert cw is not None
    from_names = store.unit_names(conn, from_set, from_level)
    to_names = store.unit_names(conn, to_set, to_level)
    units: dict[str, dict[str, Any]] = {}
    for code, (covered, area) in cw.coverage.items():
        units[code] = {"from_code": code, "from_name": from_names.get(code), "area_km2": round(area, 4),
                       "covered": round(covered, 6), "uncovered": round(1.0 - covered, 6), "to": []}
    for f, t, frac, share, area in cw.rows:
        units[f]["to"].append({"to_code": t, "to_name": to_names.get(t), "fraction": round(frac, 6),
                               "area_share": round(share, 6), "area_km2": round(area, 4)})
    return {"from": {"set": from_set, "level": from_level}, "to": {"set": to_set, "level": to_level},
            "computed_at": cw.computed_at.isoformat(), "stats": cw.stats, "items": list(units.values())}


# ---------------------------------------------------------------------- map summaries


@router.get("/map/summary", responses=CACHED)
def map_summary(request: Request, conn: ReadConn, readings: StoreDep, _: Staff, set_name: SetParam = None,
                level: LevelParam = "ward", start: FromParam = None, end: ToParam = None,
                layers: LayersParam = None, simplify: SimplifyParam = DEFAULT_SIMPLIFY_M) -> Response:
    """One GeoJSON feature per ward (or district) with devices, sensor aggregates (from rollups) and the layers
    other domains register, for the window [from, to) rounded outward to whole hours (default: the last 24 h)."""
    q = _resolve(conn, set_name, level, start, end, layers, simplify)
    s = _build(conn, readings, q)
    return cached_response(request, summaries.geojson_bytes(s), MEDIA_TYPES["geojson"], SUMMARY_CACHE)


@router.get("/map/summary.{fmt}", responses=CACHED)
def map_summary_export(fmt: Annotated[str, PathParam(json_schema_extra={"enum": [*FORMATS, "png"]},
                                            description="anything else: 404")], request: Request, conn: ReadConn, readings: StoreDep, _: Staff,
                       set_name: SetParam = None, level: LevelParam = "ward", start: FromParam = None,
                       end: ToParam = None, layers: LayersParam = None, simplify: SimplifyParam = 0.0,
                       layer: Annotated[str | None, Query(json_schema_extra={"enum": list(NUMERIC_PROPERTIES)},
                                                         max_length=60)] = None) -> Response:
    """The summary as CSV, GeoPackage or GeoJSON, or rendered as a PNG choropleth of ``layer``."""
    if fmt == "png":
        return _png(request, conn, readings, set_name, level, start, end, simplify, layer)
    if fmt not in FORMATS:
        raise HTTPException(404, f"fmt: {fmt[:40]!r} is not a summary format (geojson, csv, gpkg, png)")
    q = _resolve(conn, set_name, level, start, end, layers, simplify)
    s = _build(conn, readings, q)
    return cached_response(request, export_summary(s, fmt), MEDIA_TYPES[fmt], SUMMARY_CACHE,
                           f"{_file_stem(q)}.{fmt}")


def _png(request: Request, conn: Conn, readings: Any, set_name: str | None, level: str, start: datetime | None,
         end: datetime | None, simplify: float, layer: str | None) -> Response:
    layer = layer or "devices_total"
    if layer not in NUMERIC_PROPERTIES:
        raise HTTPException(422, f"layer: {layer[:60]!r} is not a map layer (one of: {', '.join(NUMERIC_PROPERTIES)})")
    source = summaries.layer_of_property(layer)
    q = _resolve(conn, set_name, level, start, end, source, simplify or 100.0)
    if source in q.unavailable:
        raise HTTPException(404, f"layer: {layer!r} needs the {source!r} layer, which is not available")
    s = _build(conn, readings, q)
    return cached_response(request, render.render_png(s, layer), MEDIA_TYPES["png"], SUMMARY_CACHE)


# ---------------------------------------------------------------------- admin: import, re-assign


@router.post("/geo/import", status_code=201, responses=errors(409, 413))
def import_boundaries(
    request: Request, conn: ConnDep, _: AdminOnly,
    file: Annotated[UploadFile, File(description="GeoJSON, GeoPackage, or a zipped Shapefile")],
    set_name: Annotated[str, Form(alias="set", max_length=64, json_schema_extra=SET_RULE)],
    level: Annotated[Literal["ward", "district"], Form()],
    valid_from: Annotated[IsoDate, Form()],
    valid_to: Annotated[IsoDate | None, Form()] = None,
    code_field: Annotated[str, Form(max_length=100)] = "ward_code",
    name_field: Annotated[str, Form(max_length=100)] = "ward_name",
    type_field: Annotated[str | None, Form(max_length=100, description="'-' for none")] = "unit_type",
    parent_code_field: Annotated[str | None, Form(max_length=100)] = None,
    parent_name_field: Annotated[str | None, Form(max_length=100)] = None,
    description: Annotated[str | None, Form(max_length=2000)] = None,
    layer: Annotated[str | None, Form(max_length=200)] = None,
    family: Annotated[str, Form(max_length=64, json_schema_extra=SET_RULE)] = store.DEFAULT_FAMILY,
) -> JSONResponse:
    """Import an uploaded boundary file as one level of a set (replacing that level if it exists)."""
    request.state.audit_target = f"boundary_set:{set_name[:64]}"
    try:
        store.check_name(set_name, "set")
    except GeoStoreError as exc:
        raise HTTPException(422, str(exc)) from None
    filename = file.filename or ""
    suffix = Path(filename).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        raise HTTPException(422, f"file: {filename[:100]!r} must end in one of {', '.join(UPLOAD_SUFFIXES)} "
                                 "(zip a Shapefile with its .dbf, .shx and .prj)")
    mapping = FieldMapping(code_field=code_field, name_field=name_field,
                           unit_type_field=None if type_field in (None, "", "-") else type_field,
                           district_code_field=parent_code_field or None,
                           district_name_field=parent_name_field or None)
    with tempfile.TemporaryDirectory(prefix="ops-geo-upload-") as tmp:
        path = Path(tmp) / f"upload{suffix}"
        size = 0
        with open(path, "wb") as out:
            while chunk := file.file.read(1 << 20):
                size += len(chunk)
                if size > MAX_UPLOAD_BYTES:
                    raise HTTPException(413, f"file: larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB")
                out.write(chunk)
        if size == 0:
            raise HTTPException(422, f"file: {filename[:100]!r} is empty")
        try:
            imp = service.import_file(conn, path, name=set_name, level=level, valid_from=valid_from,
                                      valid_to=valid_to, mapping=mapping, description=description, layer=layer,
                                      family=family, source_name=Path(filename).name[:200])
        except DuplicateCodeError as exc:
            raise HTTPException(422, str(exc).replace(path.name, filename[:100])) from None
        except ValidityOverlap as exc:
            raise HTTPException(409, str(exc)) from None
        except (BoundaryError, GeoStoreError, ValueError) as exc:
            raise HTTPException(422, str(exc).replace(path.name, filename[:100])) from None
    request.state.audit_detail = {"level": level, "units": imp.result.units, "file": filename[:200]}
    return JSONResponse({"set": set_name, "level": level, "units": imp.result.units, "replaced": imp.result.replaced,
                         "generation": imp.result.generation, "summary": imp.summary,
                         "report": imp.result.report, "warnings": list(imp.result.warnings),
                         "devices_reassigned": imp.reassigned}, status_code=201)


@router.post("/geo/devices/reassign", responses=errors(404))
def reassign_devices(request: Request, conn: ConnDep, _: AdminOnly, set_name: SetParam = None) -> dict[str, Any]:
    """Re-assign every device with coordinates to the wards of ``set`` (default: the set in force now)."""
    name = _set_for(conn, set_name)
    request.state.audit_target = f"boundary_set:{name}"
    try:
        n = service.assign_devices(conn, name)
    except SetNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    return {"set": name, "changed": n}
