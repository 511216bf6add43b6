"""Devices, gateways, owning units and device kinds: admins and operators manage them, leaders read them.

Creating a device or a gateway issues its MQTT credentials: the secret is in that answer only (and in the answer of
``rotate-credentials``), stored as a Mosquitto hash. Disabling or deleting revokes. Each credential change is
written to the broker's files and the broker reloaded after the transaction has committed (``broker_synced`` in the
answer says whether that worked; ``ops-center broker sync`` repairs).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.deps import Operators, PoolDep, SettingsDep, Staff
from api.json_types import JSON_INT
from api.openapi import errors
from api.problems import ProblemError
from ops_center.db import Conn, transaction
from ops_center.devices import credentials, provisioning, service
from ops_center.devices.models import (
    Device,
    DeviceFilter,
    DeviceState,
    Gateway,
    GatewayFilter,
    PrincipalKind,
    RegistryError,
    WardAssignment,
)
from ops_center.devices.validate import INTERVAL_MAX_S, NAME_MAX, SEARCH_MAX
from ops_center.pagination import DEFAULT_LIMIT, MAX_LIMIT, BadCursor, decode_cursor, encode_cursor
from ops_center.settings import Settings

log = logging.getLogger("api.devices")
router = APIRouter(tags=["devices"])
CONFLICT = errors(409)  # a duplicate id, devices behind a gateway, a unit still referenced

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
UNIT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
DeviceId = Annotated[str, Path(pattern=ID_PATTERN, description="device id")]
GatewayId = Annotated[str, Path(pattern=ID_PATTERN, description="gateway id")]
UnitCode = Annotated[str, Path(pattern=UNIT_PATTERN, description="unit code")]
Lon = Annotated[float, Field(strict=True, ge=-180, le=180, allow_inf_nan=False)]  # strict: no "105", no true
Lat = Annotated[float, Field(strict=True, ge=-90, le=90, allow_inf_nan=False)]
Interval = Annotated[int, Field(ge=1, le=INTERVAL_MAX_S), JSON_INT]  # 60 and 60.0, not "60" or true
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
_TEXT = "\\x00-\\x1f\\x7f-\\x9f\u2028\u2029"
_SPACE = " \xa0\u1680\u2000-\u200a\u202f\u205f\u3000"  # what str.strip() takes off, besides controls; no \s (regex engines differ)
DISPLAY_NAME = f"^[^{_TEXT}]*[^{_SPACE}{_TEXT}][^{_TEXT}]*$"
"""What ``validate.check_name`` accepts: no control characters, not only spaces."""
NAME_RULE: dict[str, Any] = {"pattern": DISPLAY_NAME}  # documented; check_name refuses with a clearer message
UnitLevel = Literal["province", "department", "district", "commune", "other"]  # service.UNIT_LEVELS


# ---------------------------------------------------------------------------------------------------------- helpers


@contextmanager
def registry_errors() -> Iterator[None]:
    """Registry refusals as problems naming the field and the value."""
    try:
        yield
    except RegistryError as exc:
        value = exc.value if isinstance(exc.value, str | int | float | bool) or exc.value is None else repr(exc.value)
        if isinstance(value, float) and not math.isfinite(value):
            value = repr(value)
        if isinstance(value, str):
            value = value.encode("utf-8", "backslashreplace").decode("utf-8")  # lone surrogates as text
            value = value if len(value) <= 200 else value[:200] + "…"
        raise ProblemError(exc.status, exc.title, exc.message, field=exc.field, value=value) from None


def assign_ward(conn: Conn, lon: float | None, lat: float | None) -> WardAssignment | None:
    """Where geo places ``(lon, lat)`` — THE single call site of ``geo.service.assign_ward`` for the registry.

    Failures are logged and leave the ward empty (``geo.service.assign_devices`` fills it in bulk later); they never
    refuse a device.
    """
    if lon is None or lat is None:
        return None
    try:
        from geo.service import assign_ward as geo_assign_ward
    except ImportError:
        log.warning("geo.service.assign_ward is not available: ward left empty")
        return None
    try:
        with conn.transaction():  # a savepoint: a failing geo query must not abort the registry's transaction
            ref = geo_assign_ward(conn, lon, lat)
    except Exception:
        log.exception("ward assignment failed for (%s, %s): ward left empty", lon, lat)
        return None
    if ref.set_name is None:  # no boundary set in force
        return None
    return WardAssignment(ref.set_name, ref.code, ref.status)


def sync_broker(settings: Settings, pool: PoolDep) -> bool:
    """After the commit: re-render the broker's files and reload it."""
    with pool.connection() as conn:
        return credentials.sync_broker(settings, conn)


def after_from(cursor: str | None) -> str | None:
    key = decode_cursor(cursor)
    if key is None:
        return None
    after = key.get("id")
    if not isinstance(after, str):
        raise BadCursor(f"cursor: {cursor[:40]!r} is not a cursor returned by this API")  # type: ignore[index]
    return after


def new_location(changes: Mapping[str, Any], lon: float | None, lat: float | None) -> tuple[Any, Any] | None:
    """The location after a PATCH, or None when the PATCH does not touch it."""
    if "lon" not in changes and "lat" not in changes:
        return None
    return changes.get("lon", lon), changes.get("lat", lat)


# ------------------------------------------------------------------------------------------------------- schemas


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DeviceIn(Strict):
    id: str = Field(pattern=ID_PATTERN, description="also the MQTT username and the topic level")
    kind: str = Field(max_length=32, description="a code of GET /device-kinds")
    name: str = Field(min_length=1, max_length=NAME_MAX, json_schema_extra=NAME_RULE)
    lon: Lon | None = None
    lat: Lat | None = None
    unit_code: str | None = Field(default=None, pattern=UNIT_PATTERN)
    gateway_id: str | None = Field(default=None, pattern=ID_PATTERN)
    expected_interval_s: Interval | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    enabled: bool = Field(default=True, strict=True)


class DevicePatch(Strict):
    kind: str | None = Field(default=None, max_length=32)
    name: str | None = Field(default=None, min_length=1, max_length=NAME_MAX, json_schema_extra=NAME_RULE)
    lon: Lon | None = None
    lat: Lat | None = None
    unit_code: str | None = Field(default=None, pattern=UNIT_PATTERN)
    gateway_id: str | None = Field(default=None, pattern=ID_PATTERN)
    expected_interval_s: Interval | None = None
    metadata: dict[str, Any] | None = Field(default=None, description="null clears it")

    @field_validator("metadata")
    @classmethod
    def _null_clears(cls, value: dict[str, Any] | None) -> dict[str, Any]:
        return {} if value is None else value


class DeviceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    kind: str
    name: str
    lon: float | None
    lat: float | None
    ward_set: str | None
    ward_code: str | None
    ward_status: str | None
    unit_code: str | None
    gateway_id: str | None
    enabled: bool
    last_seen: datetime | None
    expected_interval_s: int
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    status: str | None = Field(description="last online/offline the device said (retained status or last will)")
    status_at: datetime | None
    stale: bool = Field(description="nothing received within twice the expected interval (or ever)")


class CredentialsOut(BaseModel):
    username: str
    password: str = Field(description="shown in this answer only; stored as a hash")
    publish: list[str]
    subscribe: list[str]
    broker_synced: bool


class DeviceCreated(DeviceOut):
    credentials: CredentialsOut


class DevicePage(BaseModel):
    items: list[DeviceOut]
    next_cursor: str | None


class GatewayIn(Strict):
    id: str = Field(pattern=ID_PATTERN, description="also the MQTT username; may not be a device id")
    name: str = Field(min_length=1, max_length=NAME_MAX, json_schema_extra=NAME_RULE)
    lon: Lon | None = None
    lat: Lat | None = None
    unit_code: str | None = Field(default=None, pattern=UNIT_PATTERN)
    metadata: dict[str, Any] = Field(default_factory=dict)
    enabled: bool = Field(default=True, strict=True)


class GatewayPatch(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=NAME_MAX, json_schema_extra=NAME_RULE)
    lon: Lon | None = None
    lat: Lat | None = None
    unit_code: str | None = Field(default=None, pattern=UNIT_PATTERN)
    metadata: dict[str, Any] | None = Field(default=None, description="null clears it")

    @field_validator("metadata")
    @classmethod
    def _null_clears(cls, value: dict[str, Any] | None) -> dict[str, Any]:
        return {} if value is None else value


class GatewayOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    lon: float | None
    lat: float | None
    ward_set: str | None
    ward_code: str | None
    ward_status: str | None
    unit_code: str | None
    enabled: bool
    last_seen: datetime | None
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    device_count: int
    status: str | None
    status_at: datetime | None


class GatewayCreated(GatewayOut):
    credentials: CredentialsOut


class GatewayPage(BaseModel):
    items: list[GatewayOut]
    next_cursor: str | None


class UnitIn(Strict):
    code: str = Field(pattern=UNIT_PATTERN)
    name: str = Field(min_length=1, max_length=NAME_MAX, json_schema_extra=NAME_RULE)
    level: UnitLevel
    parent_code: str | None = Field(default=None, pattern=UNIT_PATTERN)
    ward_code: str | None = Field(default=None, pattern=UNIT_PATTERN)


class UnitPatch(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=NAME_MAX, json_schema_extra=NAME_RULE)
    level: UnitLevel | None = None
    parent_code: str | None = Field(default=None, pattern=UNIT_PATTERN)
    ward_code: str | None = Field(default=None, pattern=UNIT_PATTERN)


class UnitOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    code: str
    name: str
    level: str
    parent_code: str | None
    ward_code: str | None


class UnitPage(BaseModel):
    items: list[UnitOut]
    next_cursor: str | None


class KindOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    code: str
    label_vi: str
    label_en: str
    default_interval_s: int
    metrics: list[str]


def _credentials(creds: credentials.Credentials, synced: bool) -> CredentialsOut:
    return CredentialsOut(username=creds.username, password=creds.password, publish=list(creds.publish),
                          subscribe=list(creds.subscribe), broker_synced=synced)


def _device_out(device: Device) -> DeviceOut:
    return DeviceOut.model_validate(device)


def _gateway_out(gateway: Gateway) -> GatewayOut:
    return GatewayOut.model_validate(gateway)


# ---------------------------------------------------------------------------------------------------------- devices


@router.get("/device-kinds", response_model=list[KindOut])
def list_kinds(pool: PoolDep, _: Staff) -> list[KindOut]:
    with transaction(pool) as conn:
        return [KindOut.model_validate(k) for k in service.list_kinds(conn)]


@router.post("/devices", response_model=DeviceCreated, status_code=201, responses=CONFLICT)
def create_device(body: DeviceIn, pool: PoolDep, settings: SettingsDep, request: Request,
                  _: Operators) -> DeviceCreated:
    """Register a device and issue its MQTT credentials (the password is in this answer only)."""
    request.state.audit_target = f"device:{body.id}"
    with registry_errors(), transaction(pool) as conn:
        device, creds = provisioning.provision_device(
            conn, settings, body.id, kind=body.kind, name=body.name, lon=body.lon, lat=body.lat,
            unit_code=body.unit_code, gateway_id=body.gateway_id, expected_interval_s=body.expected_interval_s,
            metadata=body.metadata, enabled=body.enabled, ward=assign_ward(conn, body.lon, body.lat))
    synced = sync_broker(settings, pool)
    return DeviceCreated(**_device_out(device).model_dump(), credentials=_credentials(creds, synced))


@router.get("/devices", response_model=DevicePage)
def list_devices(
    pool: PoolDep,
    _: Staff,
    kind: Annotated[str | None, Query(max_length=32)] = None,
    ward: Annotated[str | None, Query(max_length=64, description="ward code")] = None,
    unit: Annotated[str | None, Query(max_length=64, description="owning unit code")] = None,
    gateway: Annotated[str | None, Query(max_length=64, description="gateway id")] = None,
    enabled: bool | None = None,
    q: Annotated[str | None, Query(max_length=SEARCH_MAX, description="id or name; accents optional")] = None,
    state: Annotated[DeviceState | None, Query(description="disabled, else stale, else the last status said")] = None,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
    limit: Limit = DEFAULT_LIMIT,
) -> DevicePage:
    filters = DeviceFilter(kind=kind, ward_code=ward, unit_code=unit, gateway_id=gateway, enabled=enabled, q=q,
                           state=state)
    with registry_errors(), transaction(pool) as conn:
        page = service.list_devices(conn, filters, after=after_from(cursor), limit=limit)
    return DevicePage(items=[_device_out(d) for d in page.items],
                      next_cursor=encode_cursor({"id": page.next_after}) if page.next_after else None)


@router.get("/devices/{device_id}", response_model=DeviceOut)
def get_device(device_id: DeviceId, pool: PoolDep, _: Staff) -> DeviceOut:
    with registry_errors(), transaction(pool) as conn:
        return _device_out(service.require_device(conn, device_id))


@router.patch("/devices/{device_id}", response_model=DeviceOut, responses=CONFLICT)
def update_device(device_id: DeviceId, body: DevicePatch, pool: PoolDep, request: Request,
                  _: Operators) -> DeviceOut:
    """Change the fields given; ``null`` clears ``lon`` and ``lat`` (together), ``unit_code`` and ``gateway_id``.
    A new location gets its ward from geo."""
    request.state.audit_target = f"device:{device_id}"
    changes = body.model_dump(exclude_unset=True)
    request.state.audit_detail = {"fields": sorted(changes)}
    with registry_errors(), transaction(pool) as conn:
        current = service.require_device(conn, device_id)
        location = new_location(changes, current.lon, current.lat)
        ward = assign_ward(conn, *location) if location else None
        return _device_out(service.update_device(conn, device_id, changes, ward=ward))


def _set_enabled(kind: PrincipalKind, principal_id: str, enabled: bool, pool: PoolDep,
                 settings: Settings) -> Device | Gateway:
    with registry_errors(), transaction(pool) as conn:
        result = provisioning.set_enabled(conn, kind, principal_id, enabled)
    sync_broker(settings, pool)
    return result


@router.post("/devices/{device_id}/disable", response_model=DeviceOut, responses=CONFLICT)
def disable_device(device_id: DeviceId, pool: PoolDep, settings: SettingsDep, request: Request,
                   _: Operators) -> DeviceOut:
    """Ingest refuses its messages (``disabled_device``) and the broker refuses its connections."""
    request.state.audit_target = f"device:{device_id}"
    return _device_out(_set_enabled("device", device_id, False, pool, settings))  # type: ignore[arg-type]


@router.post("/devices/{device_id}/enable", response_model=DeviceOut, responses=CONFLICT)
def enable_device(device_id: DeviceId, pool: PoolDep, settings: SettingsDep, request: Request,
                  _: Operators) -> DeviceOut:
    """Restores the device's account with its current secret (rotate if it may have leaked)."""
    request.state.audit_target = f"device:{device_id}"
    return _device_out(_set_enabled("device", device_id, True, pool, settings))  # type: ignore[arg-type]


@router.post("/devices/{device_id}/rotate-credentials", response_model=CredentialsOut, responses=CONFLICT)
def rotate_device(device_id: DeviceId, pool: PoolDep, settings: SettingsDep, request: Request,
                  _: Operators) -> CredentialsOut:
    """A new secret (in this answer only); the old one stops working once the broker has reloaded."""
    request.state.audit_target = f"device:{device_id}"
    with registry_errors(), transaction(pool) as conn:
        creds = provisioning.rotate(conn, settings, "device", device_id)
    return _credentials(creds, sync_broker(settings, pool))


@router.delete("/devices/{device_id}", status_code=204, responses=CONFLICT)
def delete_device(device_id: DeviceId, pool: PoolDep, settings: SettingsDep, request: Request,
                  _: Operators) -> Response:
    """Removes the device and its MQTT account; its readings and dead letters stay."""
    request.state.audit_target = f"device:{device_id}"
    with registry_errors(), transaction(pool) as conn:
        provisioning.delete(conn, "device", device_id)
    sync_broker(settings, pool)
    return Response(status_code=204)


# --------------------------------------------------------------------------------------------------------- gateways


@router.post("/gateways", response_model=GatewayCreated, status_code=201, responses=CONFLICT)
def create_gateway(body: GatewayIn, pool: PoolDep, settings: SettingsDep, request: Request,
                   _: Operators) -> GatewayCreated:
    """Register a gateway and issue its MQTT credentials (the password is in this answer only)."""
    request.state.audit_target = f"gateway:{body.id}"
    with registry_errors(), transaction(pool) as conn:
        gateway, creds = provisioning.provision_gateway(
            conn, settings, body.id, name=body.name, lon=body.lon, lat=body.lat, unit_code=body.unit_code,
            metadata=body.metadata, enabled=body.enabled, ward=assign_ward(conn, body.lon, body.lat))
    synced = sync_broker(settings, pool)
    return GatewayCreated(**_gateway_out(gateway).model_dump(), credentials=_credentials(creds, synced))


@router.get("/gateways", response_model=GatewayPage)
def list_gateways(
    pool: PoolDep,
    _: Staff,
    unit: Annotated[str | None, Query(max_length=64)] = None,
    ward: Annotated[str | None, Query(max_length=64)] = None,
    enabled: bool | None = None,
    q: Annotated[str | None, Query(max_length=SEARCH_MAX)] = None,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
    limit: Limit = DEFAULT_LIMIT,
) -> GatewayPage:
    filters = GatewayFilter(unit_code=unit, ward_code=ward, enabled=enabled, q=q)
    with registry_errors(), transaction(pool) as conn:
        page = service.list_gateways(conn, filters, after=after_from(cursor), limit=limit)
    return GatewayPage(items=[_gateway_out(g) for g in page.items],
                       next_cursor=encode_cursor({"id": page.next_after}) if page.next_after else None)


@router.get("/gateways/{gateway_id}", response_model=GatewayOut)
def get_gateway(gateway_id: GatewayId, pool: PoolDep, _: Staff) -> GatewayOut:
    with registry_errors(), transaction(pool) as conn:
        return _gateway_out(service.require_gateway(conn, gateway_id))


@router.patch("/gateways/{gateway_id}", response_model=GatewayOut, responses=CONFLICT)
def update_gateway(gateway_id: GatewayId, body: GatewayPatch, pool: PoolDep, request: Request,
                   _: Operators) -> GatewayOut:
    request.state.audit_target = f"gateway:{gateway_id}"
    changes = body.model_dump(exclude_unset=True)
    request.state.audit_detail = {"fields": sorted(changes)}
    with registry_errors(), transaction(pool) as conn:
        current = service.require_gateway(conn, gateway_id)
        location = new_location(changes, current.lon, current.lat)
        ward = assign_ward(conn, *location) if location else None
        return _gateway_out(service.update_gateway(conn, gateway_id, changes, ward=ward))


@router.post("/gateways/{gateway_id}/disable", response_model=GatewayOut, responses=CONFLICT)
def disable_gateway(gateway_id: GatewayId, pool: PoolDep, settings: SettingsDep, request: Request,
                    _: Operators) -> GatewayOut:
    request.state.audit_target = f"gateway:{gateway_id}"
    return _gateway_out(_set_enabled("gateway", gateway_id, False, pool, settings))  # type: ignore[arg-type]


@router.post("/gateways/{gateway_id}/enable", response_model=GatewayOut, responses=CONFLICT)
def enable_gateway(gateway_id: GatewayId, pool: PoolDep, settings: SettingsDep, request: Request,
                   _: Operators) -> GatewayOut:
    request.state.audit_target = f"gateway:{gateway_id}"
    return _gateway_out(_set_enabled("gateway", gateway_id, True, pool, settings))  # type: ignore[arg-type]


@router.post("/gateways/{gateway_id}/rotate-credentials", response_model=CredentialsOut, responses=CONFLICT)
def rotate_gateway(gateway_id: GatewayId, pool: PoolDep, settings: SettingsDep, request: Request,
                   _: Operators) -> CredentialsOut:
    request.state.audit_target = f"gateway:{gateway_id}"
    with registry_errors(), transaction(pool) as conn:
        creds = provisioning.rotate(conn, settings, "gateway", gateway_id)
    return _credentials(creds, sync_broker(settings, pool))


@router.delete("/gateways/{gateway_id}", status_code=204, responses=CONFLICT)
def delete_gateway(gateway_id: GatewayId, pool: PoolDep, settings: SettingsDep, request: Request,
                   _: Operators) -> Response:
    """Refused (409) while devices are registered behind the gateway."""
    request.state.audit_target = f"gateway:{gateway_id}"
    with registry_errors(), transaction(pool) as conn:
        provisioning.delete(conn, "gateway", gateway_id)
    sync_broker(settings, pool)
    return Response(status_code=204)


# ------------------------------------------------------------------------------------------------------------ units


@router.post("/units", response_model=UnitOut, status_code=201, responses=CONFLICT)
def create_unit(body: UnitIn, pool: PoolDep, request: Request, _: Operators) -> UnitOut:
    request.state.audit_target = f"unit:{body.code}"
    with registry_errors(), transaction(pool) as conn:
        return UnitOut.model_validate(service.create_unit(conn, body.code, body.name, body.level, body.parent_code,
                                                          body.ward_code))


@router.get("/units", response_model=UnitPage)
def list_units(pool: PoolDep, _: Staff, cursor: Annotated[str | None, Query(max_length=1024)] = None,
               limit: Limit = DEFAULT_LIMIT) -> UnitPage:
    with registry_errors(), transaction(pool) as conn:
        page = service.list_units(conn, after=after_from(cursor), limit=limit)
    return UnitPage(items=[UnitOut.model_validate(u) for u in page.items],
                    next_cursor=encode_cursor({"id": page.next_after}) if page.next_after else None)


@router.get("/units/{code}", response_model=UnitOut)
def get_unit(code: UnitCode, pool: PoolDep, _: Staff) -> UnitOut:
    with registry_errors(), transaction(pool) as conn:
        unit = service.get_unit(conn, code)
    if unit is None:
        raise ProblemError(404, "Not Found", f"code: no unit {code!r}", field="code", value=code)
    return UnitOut.model_validate(unit)


@router.patch("/units/{code}", response_model=UnitOut, responses=CONFLICT)
def update_unit(code: UnitCode, body: UnitPatch, pool: PoolDep, request: Request, _: Operators) -> UnitOut:
    request.state.audit_target = f"unit:{code}"
    with registry_errors(), transaction(pool) as conn:
        return UnitOut.model_validate(service.update_unit(conn, code, body.model_dump(exclude_unset=True)))
