"""Records of the device registry and its errors. Every error names the field and the offending value."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Generic, Literal, TypeVar

T = TypeVar("T")

PrincipalKind = Literal["device", "gateway", "unit"]
"""A broker principal: a device, a gateway, or the e-government system of a unit (its one-stop-shop, document or
meeting system publishing the unit's feeds)."""
WardStatus = Literal["inside", "approximate", "outside"]
GATEWAY_KIND = "gateway"
"""``RegistryEntry.kind`` of a gateway (never a device kind)."""

STALE_FACTOR = 2
DeviceState = Literal["online", "offline", "stale", "disabled"]
DEVICE_STATES: tuple[DeviceState, ...] = ("online", "offline", "stale", "disabled")
"""What a map marker shows: ``disabled`` (by an operator), else ``stale`` (silent), else the last ``online`` or
``offline`` the device said (a device that never said either but reports is ``online``)."""
"""A device is stale when nothing arrived for ``STALE_FACTOR`` times its expected reporting interval."""


def shown(value: object, limit: int = 120) -> str:
    """``repr(value)`` cut to ``limit`` characters, for messages."""
    try:
        text = repr(value)
    except ValueError:  # an int too long for str()
        text = "<a very long integer>"
    return text if len(text) <= limit else text[: limit - 1] + "…"


class RegistryError(Exception):
    """A request the registry refuses; ``status`` is the HTTP status the API answers with."""

    status: ClassVar[int] = 422
    title: ClassVar[str] = "Invalid request"

    def __init__(self, field_name: str, value: object, message: str) -> None:
        self.field = field_name
        self.value = value
        self.message = f"{field_name}: {message}"
        super().__init__(self.message)


class InvalidValue(RegistryError):
    """A value that is malformed or refers to nothing (an unknown kind, unit or gateway)."""


class NotFound(RegistryError):
    status = 404
    title = "Not Found"


class Conflict(RegistryError):
    status = 409
    title = "Conflict"


@dataclass(frozen=True, slots=True)
class WardAssignment:
    """Where geo placed a location: the boundary set, the ward code (None when outside) and how sure it is."""

    set_name: str | None
    code: str | None
    status: WardStatus | None


@dataclass(frozen=True, slots=True)
class DeviceKind:
    code: str
    label_vi: str
    label_en: str
    default_interval_s: int
    metrics: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Unit:
    """An owning unit (a department, a district's people's committee, a commune's)."""

    code: str
    name: str
    level: str
    parent_code: str | None
    ward_code: str | None


@dataclass(frozen=True, slots=True)
class Device:
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
    status: str | None = None
    """Last ``online``/``offline`` the device said (its retained status message or last will)."""
    status_at: datetime | None = None
    stale: bool = False
    """Derived from timestamps: nothing seen within ``STALE_FACTOR`` expected intervals (or never)."""

    @property
    def state(self) -> DeviceState:
        if not self.enabled:
            return "disabled"
        if self.stale:
            return "stale"
        return "offline" if self.status == "offline" else "online"


@dataclass(frozen=True, slots=True)
class Gateway:
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
    device_count: int = 0
    status: str | None = None
    status_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """One registered principal as the hot path sees it — the ingest decoder (is it known, enabled, behind which
    gateway) and the stream rules (scope by kind or ward; an alert's labels). The one definition.

    ``gateway_id`` names the gateway a device sits behind (``None`` when it talks to the broker itself). Gateways
    are registered principals too (they hold MQTT credentials), usually with ``kind="gateway"``; the decoder does
    not look at ``kind``. ``name``, ``ward_set`` and ``unit_code`` are filled by the readers that need them (the
    alert labels) and ``None`` otherwise.
    """

    device_id: str
    enabled: bool
    gateway_id: str | None
    kind: str
    ward_code: str | None
    name: str | None = None
    ward_set: str | None = None
    unit_code: str | None = None


@dataclass(frozen=True, slots=True)
class RegistryEntry:
    """What the device directory knows about one principal (a device, or a gateway with ``kind == "gateway"``):
    what ingest needs, the alert stream's labels (``name``, ``ward_set``, ``unit_code``) and the live feed's ward.

    Field names match ``DeviceInfo`` for the first five, so ingest converts with
    ``DeviceInfo(e.device_id, e.enabled, e.gateway_id, e.kind, e.ward_code)``.
    """

    device_id: str
    enabled: bool
    gateway_id: str | None
    kind: str
    ward_code: str | None
    lon: float | None
    lat: float | None
    expected_interval_s: int | None
    name: str | None = None
    ward_set: str | None = None
    unit_code: str | None = None


@dataclass(frozen=True, slots=True)
class DeviceFilter:
    """Filters of ``list_devices``; every given filter must match (``q`` searches id and name, accents optional)."""

    kind: str | None = None
    ward_code: str | None = None
    unit_code: str | None = None
    gateway_id: str | None = None
    enabled: bool | None = None
    q: str | None = None
    state: DeviceState | None = None
    ids: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class GatewayFilter:
    unit_code: str | None = None
    ward_code: str | None = None
    enabled: bool | None = None
    q: str | None = None


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T] = field(default_factory=list)
    next_after: str | None = None
    """The sort key to pass as ``after`` for the next page (None on the last page)."""
