"""Open311 GeoReport v2 (JSON) for citizen reporting apps: ``/open311/v2/...``.

Authentication, the GeoReport way (this router is in ``PUBLIC`` and does its own):

- ``POST requests.json`` needs an ``api_key`` (form field, query parameter or ``X-API-Key`` header): an API key of
  this system (``POST /api-keys``, role integration, operator or admin). A bad or missing key answers 403, as the
  standard says.
- ``GET services.json``, ``GET requests.json`` and ``GET requests/{id}.json`` are public by default, as the standard
  intends (citizens follow their reports): they show only the standard's fields, never reporter contacts. Set
  ``OPS_OPEN311_PUBLIC_READ=false`` to require a key for reads as well.

Errors use the standard's shape, ``[{"code": 400, "description": "..."}]`` with the HTTP status, because that is
what GeoReport clients parse; the description names the field and the value. POST bodies are
``application/x-www-form-urlencoded`` (the standard's encoding); only the JSON format is served.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from api.deps import PoolDep, Principal, SettingsDep
from api.openapi import errors
from geo.service import assign_ward
from ops_center.auth.accounts import AccountRefused, check_key_owner
from ops_center.auth.apikeys import verify_api_key
from ops_center.auth.roles import Role
from ops_center.db import transaction
from ops_center.incidents import categories, open311, service
from ops_center.incidents.models import Contact, IncidentError, NewReport
from ops_center.storable import shown, text_problem

router = APIRouter(prefix="/open311/v2", tags=["open311"], responses=errors(403))
Format = Annotated[str, Path(json_schema_extra={"enum": ["json"]},
                             description="the response format: only json is served (anything else: 400)")]
RequestId = Annotated[str, Path(json_schema_extra={"pattern": r"^[0-9]{1,18}$"},
                                description="a service_request_id (anything else: 404)")]
ServiceCode = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,39}$", description="a service_code")]

WRITER_ROLES = frozenset({Role.integration, Role.operator, Role.admin})
MAX_RESULTS = 1000
DEFAULT_WINDOW = timedelta(days=90)
SPEC = "http://wiki.open311.org/GeoReport_v2"
W3C_DATETIME = (r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
                r"(\.[0-9]{1,6})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$")
"""The standard's dates: W3C date-times with seconds and an offset (``2025-07-01T08:00:00+07:00``)."""


class Open311Error(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status, self.description = status, description


def _error(status: int, description: str) -> JSONResponse:
    return JSONResponse(open311.error(status, description), status_code=status)


def error_answer(status: int, title: str, detail: str | None, headers: dict[str, str] | None) -> Response:
    """The GeoReport shape for errors raised before or around these routes (a parameter refused by the app, the
    database unavailable): ``api.problems`` calls it for every path under ``/open311/``. An invalid parameter is
    400, as for every other GeoReport error."""
    code = 400 if status == 422 else status
    return JSONResponse(open311.error(code, detail or title), status_code=code, headers=headers)


def _key(request: Request, form_key: str | None) -> str | None:
    return form_key or request.query_params.get("api_key") or request.headers.get("x-api-key")


def _principal(pool: Any, request: Request, key: str | None) -> Principal:
    if not key:
        raise Open311Error(403, "api_key: missing; client apps need an API key issued by the operations center")
    with pool.connection() as conn:
        found = verify_api_key(conn, key)
    if found is None:
        raise Open311Error(403, "api_key: invalid or revoked")
    try:
        owner = check_key_owner(found.owner, found.name)
    except AccountRefused as exc:
        raise Open311Error(403, f"api_key: {exc}") from exc
    if found.role not in WRITER_ROLES:
        raise Open311Error(403, f"api_key: role {found.role.value!r} may not submit requests")
    principal = Principal(f"key:{found.name}", found.role, "api_key", owner.id)
    request.state.principal = principal
    return principal


def _reader(settings: Any, pool: Any, request: Request) -> None:
    if not settings.open311_public_read:
        _principal(pool, request, _key(request, None))


def _float(value: str | None, name: str, limit: float) -> float:
    if value is None or not value.strip():
        raise Open311Error(400, f"{name}: required (this endpoint locates reports by lat/long; it does not "
                                "geocode address_string)")
    try:
        x = float(value)
    except ValueError:
        raise Open311Error(400, f"{name}: {value[:50]!r} is not a number") from None
    if not math.isfinite(x) or not -limit <= x <= limit:
        raise Open311Error(400, f"{name}: {value[:50]!r} is not between -{limit:g} and {limit:g}")
    return x


def _text(value: str | None, name: str, limit: int) -> str | None:
    if value is None:
        return None
    value = value.strip()
    why = text_problem(value)
    if why is not None:
        raise Open311Error(400, f"{name}: value {shown(value, 80)} {why}")
    if len(value) > limit:
        raise Open311Error(400, f"{name}: {len(value)} characters; at most {limit}")
    return value or None


def _date(value: str | None, name: str) -> datetime | None:
    if value is None or not value.strip():
        return None
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise Open311Error(400, f"{name}: {value[:50]!r} is not a W3C/ISO 8601 date-time") from None
    if dt.tzinfo is None:
        raise Open311Error(400, f"{name}: {value[:50]!r} has no UTC offset")
    return dt


def _json_only(fmt: str) -> None:
    if fmt != "json":
        raise Open311Error(400, f"format: {fmt!r} is not served; use .json")


def _wrap(fn: Any) -> JSONResponse:
    try:
        return JSONResponse(fn())
    except Open311Error as exc:
        return _error(exc.status, exc.description)
    except IncidentError as exc:
        return _error(400 if exc.status == 422 else exc.status, exc.detail)


@router.get("/discovery.{fmt}")
def discovery(fmt: Format, request: Request) -> JSONResponse:
    def run() -> dict[str, Any]:
        _json_only(fmt)
        base = str(request.base_url).rstrip("/") + "/open311/v2/"
        return {"changeset": "2025-07-01T00:00:00+07:00", "contact": "Trung tâm Điều hành / Operations center",
                "key_service": "Ask the operations center for an API key (role integration).",
                "endpoints": [{"specification": SPEC, "url": base, "changeset": "2025-07-01T00:00:00+07:00",
                               "type": "production", "formats": ["application/json"]}]}
    return _wrap(run)


@router.get("/services.{fmt}")
def list_services(fmt: Format, request: Request, settings: SettingsDep, pool: PoolDep) -> JSONResponse:
    def run() -> list[dict[str, Any]]:
        _json_only(fmt)
        _reader(settings, pool, request)
        with pool.connection() as conn:
            return [open311.service(c) for c in categories.list_categories(conn)]
    return _wrap(run)


@router.get("/services/{code}.{fmt}")
def service_definition(code: ServiceCode, fmt: Format, request: Request, settings: SettingsDep,
                       pool: PoolDep) -> JSONResponse:
    def run() -> dict[str, Any]:
        _json_only(fmt)
        _reader(settings, pool, request)
        with pool.connection() as conn:
            cat = categories.get_category(conn, code[:64])
        if cat is None or not cat.enabled:
            raise Open311Error(404, f"service_code: {code[:64]!r} is not a service")
        return open311.service_definition(cat)
    return _wrap(run)


@router.post("/requests.{fmt}")
def create_request(
    fmt: Format, request: Request, pool: PoolDep,
    api_key: Annotated[str | None, Form()] = None,
    service_code: Annotated[str | None, Form()] = None,
    lat: Annotated[str | None, Form()] = None,
    long: Annotated[str | None, Form()] = None,
    address_string: Annotated[str | None, Form()] = None,
    description: Annotated[str | None, Form()] = None,
    email: Annotated[str | None, Form()] = None,
    first_name: Annotated[str | None, Form()] = None,
    last_name: Annotated[str | None, Form()] = None,
    phone: Annotated[str | None, Form()] = None,
    media_url: Annotated[str | None, Form()] = None,
) -> JSONResponse:
    """Submit a service request (becomes an incident with source ``citizen_app``). Answers
    ``[{service_request_id, service_notice, account_id}]``; a duplicate of an open request nearby answers with that
    request's id and a notice saying the report was linked to it."""
    def run() -> list[dict[str, Any]]:
        _json_only(fmt)
        principal = _principal(pool, request, _key(request, api_key))
        code = _text(service_code, "service_code", 64)
        if not code:
            raise Open311Error(400, "service_code: required (see services.json)")
        y, x = _float(lat, "lat", 90.0), _float(long, "long", 180.0)
        desc = _text(description, "description", 4000) or ""
        addr = _text(address_string, "address_string", 500)
        url = _text(media_url, "media_url", 2000)
        if url is not None and not url.lower().startswith(("http://", "https://")):
            raise Open311Error(400, f"media_url: {url[:50]!r} is not an http(s) URL")
        name = " ".join(p for p in (_text(first_name, "first_name", 100), _text(last_name, "last_name", 100)) if p)
        contact = Contact(name or None, _text(phone, "phone", 40), _text(email, "email", 200))
        with transaction(pool) as conn:
            cat = categories.get_category(conn, code)
            if cat is None or not cat.enabled:
                raise Open311Error(400, f"service_code: {code[:64]!r} is not a service (see services.json)")
            title = (desc.split("\n", 1)[0][:120] or cat.label_vi) if desc else f"{cat.label_vi}"
            report = NewReport(title=title, category=code, source="citizen_app", lon=x, lat=y, description=desc,
                               address=addr, reporter=contact, media_url=url)
            row, linked = service.file_report(conn, report, actor=principal.name, ward_resolver=assign_ward)
        request.state.audit_target = f"incident:{row['id']}"
        request.state.audit_detail = {"open311": True, "linked": linked, "service_code": code}
        return [open311.created(row, linked)]
    return _wrap(run)


@router.get("/requests.{fmt}")
def list_requests(
    fmt: Format, request: Request, settings: SettingsDep, pool: PoolDep,
    service_request_id: Annotated[str | None, Query(max_length=2000, pattern=r"^[0-9]{1,18}(,[0-9]{1,18})*$")] = None,
    service_code: Annotated[str | None, Query(max_length=64)] = None,
    start_date: Annotated[str | None, Query(max_length=40, pattern=W3C_DATETIME)] = None,
    end_date: Annotated[str | None, Query(max_length=40, pattern=W3C_DATETIME)] = None,
    status: Annotated[str | None, Query(pattern=r"^(open|closed)(,(open|closed))?$")] = None,
) -> JSONResponse:
    """Requests, newest first, at most 1000; by default those of the last 90 days. ``service_request_id`` (comma
    separated) overrides the other filters, as the standard says."""
    def run() -> list[dict[str, Any]]:
        _json_only(fmt)
        _reader(settings, pool, request)
        with pool.connection() as conn:
            if service_request_id:
                try:
                    ids = [int(p) for p in service_request_id.split(",") if p.strip()][:MAX_RESULTS]
                except ValueError:
                    raise Open311Error(400, f"service_request_id: {service_request_id[:50]!r} is not a comma "
                                            "separated list of ids") from None
                rows = service.list_incidents(conn, with_contact=False, ids=ids, limit=MAX_RESULTS)
                return [open311.request(r) for r in rows]
            end = _date(end_date, "end_date") or datetime.now(UTC) + timedelta(minutes=1)
            start = _date(start_date, "start_date") or end - DEFAULT_WINDOW
            wanted = {s.strip() for s in (status or "").split(",") if s.strip()}
            if not wanted <= {"open", "closed"}:
                raise Open311Error(400, f"status: {status!r} must be open, closed or both (comma separated)")
            st = None if len(wanted) != 1 else ("open" if "open" in wanted else "done")
            rows = service.list_incidents(conn, with_contact=False, status=st, category=service_code, since=start,
                                          until=end, limit=MAX_RESULTS)
            return [open311.request(r) for r in rows]
    return _wrap(run)


@router.get("/requests/{request_id}.{fmt}")
def get_request(request_id: RequestId, fmt: Format, request: Request, settings: SettingsDep, pool: PoolDep) -> JSONResponse:
    def run() -> list[dict[str, Any]]:
        _json_only(fmt)
        _reader(settings, pool, request)
        if not request_id.isdigit() or len(request_id) > 18:
            raise Open311Error(404, f"service_request_id: {request_id[:40]!r} is not a request")
        with pool.connection() as conn:
            try:
                row = service.get_incident(conn, int(request_id), with_contact=False)
            except IncidentError:
                raise Open311Error(404, f"service_request_id: no request {request_id}") from None
        return [open311.request(row)]
    return _wrap(run)
