"""Incident vocabulary: statuses, severities, sources, the ward-resolver protocol and the input of a new report."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Protocol

from ops_center.db import Conn

STATUSES: Final = ("new", "assigned", "in_progress", "resolved", "closed")
OPEN_STATUSES: Final = ("new", "assigned", "in_progress")
SEVERITIES: Final = ("critical", "major", "minor", "info")
SOURCES: Final = ("operator", "citizen_app", "device_event")

LINK_RADIUS_M: Final = 200.0
LINK_WINDOW_S: Final = 2 * 3600

TITLE_MAX: Final = 200
DESCRIPTION_MAX: Final = 5000
NOTE_MAX: Final = 5000
ADDRESS_MAX: Final = 500
CONTACT_MAX: Final = 200


class WardLike(Protocol):
    """What a ward resolver answers (``geo.service.WardRef`` has these attributes)."""

    @property
    def set_name(self) -> str | None: ...
    @property
    def code(self) -> str | None: ...
    @property
    def name(self) -> str | None: ...
    @property
    def status(self) -> str: ...
    @property
    def district_code(self) -> str | None: ...


class WardResolver(Protocol):
    """``geo.service.assign_ward``: the ward of a point in the boundary set in force at ``at``."""

    def __call__(self, conn: Conn, lon: float, lat: float, at: datetime | None = None) -> WardLike: ...


class IncidentError(ValueError):
    """A refused incident operation; ``status`` is the HTTP status the API answers with."""

    def __init__(self, detail: str, status: int = 422) -> None:
        super().__init__(detail)
        self.detail, self.status = detail, status


class NotFound(IncidentError):
    def __init__(self, detail: str) -> None:
        super().__init__(detail, 404)


class BadTransition(IncidentError):
    def __init__(self, detail: str) -> None:
        super().__init__(detail, 409)


@dataclass(frozen=True)
class Contact:
    name: str | None = None
    phone: str | None = None
    email: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "phone": self.phone, "email": self.email}

    @property
    def empty(self) -> bool:
        return not (self.name or self.phone or self.email)


@dataclass(frozen=True)
class NewReport:
    """A report to file: a new incident, or a further report linked to an open one nearby."""

    title: str
    category: str
    source: str
    lon: float | None
    lat: float | None
    description: str = ""
    severity: str | None = None  # default: the category's
    address: str | None = None
    reporter: Contact = Contact()
    reported_at: datetime | None = None  # default: now
    source_ref: str | None = None  # idempotency key per source (an Open311 client's id, a device event's key)
    assigned_unit: str | None = None
    media_url: str | None = None
