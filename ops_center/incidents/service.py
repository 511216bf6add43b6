"""Incidents: file a report (new incident or linked duplicate), move it through its statuses, comment, read it.

The ward comes from a ``ward_resolver`` argument (``geo.service.assign_ward``, passed by the API layer: ops_center
never imports geo). Overdue is derived from timestamps (open and now past ``due_at``), never stored. Every change
writes the timeline and emits one ``incident`` event for the live feed, in the caller's transaction. Reporter
contacts are returned only when the caller asks for them (``with_contact``: the API does for admin and operator).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg.types.json import Jsonb

from ops_center import events as live
from ops_center import wards
from ops_center.db import Conn, fetch_all, fetch_one
from ops_center.devices import lookups as device_lookups
from ops_center.incidents import categories, linking, states
from ops_center.incidents.models import (
    ADDRESS_MAX,
    CONTACT_MAX,
    DESCRIPTION_MAX,
    NOTE_MAX,
    OPEN_STATUSES,
    SEVERITIES,
    SOURCES,
    STATUSES,
    TITLE_MAX,
    Contact,
    IncidentError,
    NewReport,
    NotFound,
    WardLike,
    WardResolver,
)
from ops_center.storable import datetime_problem, shown, text_problem

log = logging.getLogger("ops_center.incidents")

DEVICE_SEVERITY = {"critical": "critical", "warning": "major"}  # device "info" → the category's default

_PUBLIC_COLS = (
    "i.id, i.title, i.description, i.category, c.label_vi AS category_label_vi, c.label_en AS category_label_en, "
    "i.severity, i.status, i.source, i.lon, i.lat, i.address, i.media_url, i.ward_set, i.ward_code, i.ward_name, "
    "i.ward_status, i.district_code, i.reported_at, i.due_at, i.resolved_at, i.closed_at, i.report_count, "
    "i.last_reported_at, i.assigned_unit, i.created_by, i.created_at, i.updated_at, "
    "i.reporter_name, i.reporter_phone, i.reporter_email"
)
_FROM = " FROM incidents i JOIN incident_categories c ON c.code = i.category"


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def to_json(row: dict[str, Any], *, with_contact: bool, now: datetime | None = None) -> dict[str, Any]:
    """The API shape of an incident row; ``overdue`` derived now; ``reporter`` only ``with_contact``."""
    out = {k: v for k, v in row.items() if not k.startswith("reporter_")}
    out["overdue"] = row["status"] in OPEN_STATUSES and _now(now) > row["due_at"]
    if with_contact:
        out["reporter"] = {"name": row.get("reporter_name"), "phone": row.get("reporter_phone"),
                           "email": row.get("reporter_email")}
    return out


def _event_payload(row: dict[str, Any], transition: str, **extra: Any) -> dict[str, Any]:
    body = to_json(row, with_contact=False)
    for k in ("reported_at", "due_at", "resolved_at", "closed_at", "last_reported_at", "created_at", "updated_at"):
        if body.get(k) is not None:
            body[k] = body[k].isoformat()
    return {**body, "transition": transition, **extra}


def _load(conn: Conn, incident_id: int, *, lock: bool = False) -> dict[str, Any]:
    row = fetch_one(conn, f"SELECT {_PUBLIC_COLS}{_FROM} WHERE i.id = %s" + (" FOR UPDATE OF i" if lock else ""),
                    (incident_id,))
    if row is None:
        raise NotFound(f"incident_id: no incident {incident_id}")
    return row


def _text(value: str | None, name: str, limit: int, *, required: bool = False) -> str | None:
    if value is None:
        if required:
            raise IncidentError(f"{name}: required")
        return None
    if not isinstance(value, str):
        raise IncidentError(f"{name}: expected a text, got {type(value).__name__}")
    value = value.strip()
    why = text_problem(value)
    if why is not None:
        raise IncidentError(f"{name}: value {shown(value)} {why}")
    if required and not value:
        raise IncidentError(f"{name}: must not be empty")
    if len(value) > limit:
        raise IncidentError(f"{name}: {len(value)} characters; at most {limit}")
    return value


def _check_report(r: NewReport) -> None:
    _text(r.title, "title", TITLE_MAX, required=True)
    _text(r.description, "description", DESCRIPTION_MAX)
    _text(r.address, "address", ADDRESS_MAX)
    for part in ("name", "phone", "email"):
        _text(getattr(r.reporter, part), f"reporter.{part}", CONTACT_MAX)
    if r.source not in SOURCES:
        raise IncidentError(f"source: {r.source!r} is not one of {', '.join(SOURCES)}")
    if r.severity is not None and r.severity not in SEVERITIES:
        raise IncidentError(f"severity: {r.severity!r} is not one of {', '.join(SEVERITIES)}")
    if (r.lon is None) != (r.lat is None):
        raise IncidentError("lon, lat: give both or neither")
    if r.lon is not None and r.lat is not None:
        for name, v, lim in (("lon", r.lon, 180.0), ("lat", r.lat, 90.0)):
            if not isinstance(v, int | float) or v != v or not -lim <= float(v) <= lim:
                raise IncidentError(f"{name}: {v!r} is not a number between -{lim:g} and {lim:g}")
    if r.reported_at is not None and r.reported_at.tzinfo is None:
        raise IncidentError(f"reported_at: {r.reported_at.isoformat()} has no timezone offset")
    if r.reported_at is not None and (why := datetime_problem(r.reported_at)) is not None:
        raise IncidentError(f"reported_at: value {r.reported_at.isoformat()!r} {why}")


def _ward(conn: Conn, resolver: WardResolver | None, lon: float | None, lat: float | None,
          at: datetime) -> WardLike | None:
    if resolver is None or lon is None or lat is None:
        return None
    return resolver(conn, float(lon), float(lat), at)


def file_report(conn: Conn, report: NewReport, *, actor: str, ward_resolver: WardResolver | None = None,
                now: datetime | None = None) -> tuple[dict[str, Any], bool]:
    """File a report: a new incident, or a duplicate linked to an open one (same category, ≤ 200 m, ≤ 2 h).
    Returns ``(incident row, linked)``. A report whose ``(source, source_ref)`` was already filed returns that
    incident again (``linked`` False) without counting twice."""
    _check_report(report)
    now = _now(now)
    reported_at = report.reported_at or now
    if reported_at > now + timedelta(minutes=10):
        raise IncidentError(f"reported_at: {reported_at.isoformat()} is in the future")
    with conn.transaction():
        if report.source_ref is not None:
            seen = conn.execute("SELECT incident_id FROM incident_reports WHERE source = %s AND source_ref = %s",
                                (report.source, report.source_ref)).fetchone()
            if seen:
                return _load(conn, int(seen[0])), False
        cat = categories.get_category(conn, report.category)
        if cat is None or not cat.enabled:
            raise IncidentError(f"category: {report.category!r} is not an enabled incident category")
        if report.assigned_unit is not None and not device_lookups.unit_exists(conn, report.assigned_unit):
            raise IncidentError(f"assigned_unit: {report.assigned_unit!r} is not a known unit")
        dup = None
        if report.lon is not None and report.lat is not None:
            linking.lock_category(conn, cat.code)
            dup = linking.find_duplicate(conn, cat.code, float(report.lon), float(report.lat), reported_at)
        if dup is not None:
            incident_id, distance = dup
            row = _link(conn, incident_id, report, reported_at, distance, actor)
            return row, True
        ward = _ward(conn, ward_resolver, report.lon, report.lat, reported_at)
        severity = report.severity or cat.default_severity
        due_at = reported_at + timedelta(hours=cat.sla_hours)
        c = report.reporter
        status = "assigned" if report.assigned_unit else "new"
        new_id = conn.execute(
            "INSERT INTO incidents (title, description, category, severity, status, source, lon, lat, address, "
            "media_url, ward_set, ward_code, ward_name, ward_status, district_code, reporter_name, reporter_phone, "
            "reporter_email, assigned_unit, reported_at, due_at, last_reported_at, created_by) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "RETURNING id",
            (report.title.strip(), (report.description or "").strip(), cat.code, severity, status, report.source,
             report.lon, report.lat, report.address, report.media_url,
             ward.set_name if ward else None, ward.code if ward else None, ward.name if ward else None,
             ward.status if ward else None, ward.district_code if ward else None,
             c.name, c.phone, c.email, report.assigned_unit, reported_at, due_at, reported_at, actor),
        ).fetchone()
        assert new_id is not None
        incident_id = int(new_id[0])
        _insert_report(conn, incident_id, report, reported_at, 0.0, actor)
        _timeline(conn, incident_id, actor, "created", None, status, "",
                  {"source": report.source, "category": cat.code, "severity": severity})
        if report.assigned_unit:
            _timeline(conn, incident_id, actor, "assigned", None, status, "", {"unit": report.assigned_unit})
        row = _load(conn, incident_id)
        live.emit(conn, "incident", _event_payload(row, "created"), subject=f"incident:{incident_id}",
                  ward_code=row["ward_code"])
        return row, False


def _insert_report(conn: Conn, incident_id: int, r: NewReport, at: datetime, distance: float, actor: str) -> None:
    conn.execute(
        "INSERT INTO incident_reports (incident_id, reported_at, source, source_ref, actor, title, description, "
        "lon, lat, address, reporter_name, reporter_phone, reporter_email, distance_m) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (incident_id, at, r.source, r.source_ref, actor, r.title.strip(), (r.description or "").strip(), r.lon, r.lat,
         r.address, r.reporter.name, r.reporter.phone, r.reporter.email, distance),
    )


def _link(conn: Conn, incident_id: int, r: NewReport, at: datetime, distance: float, actor: str) -> dict[str, Any]:
    _insert_report(conn, incident_id, r, at, distance, actor)
    conn.execute("UPDATE incidents SET report_count = report_count + 1, "
                 "last_reported_at = greatest(last_reported_at, %s), updated_at = now() WHERE id = %s",
                 (at, incident_id))
    row = _load(conn, incident_id)
    _timeline(conn, incident_id, actor, "linked", row["status"], row["status"],
              f"báo cáo trùng / duplicate report: {r.title.strip()[:200]}",
              {"source": r.source, "distance_m": round(distance, 1), "report_count": row["report_count"]})
    live.emit(conn, "incident", _event_payload(row, "linked", distance_m=round(distance, 1)),
              subject=f"incident:{incident_id}", ward_code=row["ward_code"])
    return row


def _timeline(conn: Conn, incident_id: int, actor: str, kind: str, from_status: str | None, to_status: str | None,
              note: str, detail: dict[str, Any] | None = None) -> None:
    conn.execute("INSERT INTO incident_timeline (incident_id, actor, kind, from_status, to_status, note, detail) "
                 "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                 (incident_id, actor, kind, from_status, to_status, note, Jsonb(detail or {})))


def transition(conn: Conn, incident_id: int, to: str, *, actor: str, note: str = "", unit: str | None = None,
               now: datetime | None = None) -> dict[str, Any]:
    """Move an incident to ``to`` (see ``states``). ``assigned`` needs a unit (given here or already set)."""
    note = _text(note, "note", NOTE_MAX) or ""
    now = _now(now)
    with conn.transaction():
        row = _load(conn, incident_id, lock=True)
        current = row["status"]
        states.check(current, to)
        target_unit = unit or row["assigned_unit"]
        if to == "assigned":
            if target_unit is None:
                raise IncidentError("unit: required to assign an incident (no unit is assigned yet)")
            if not device_lookups.unit_exists(conn, target_unit):
                raise IncidentError(f"unit: {target_unit!r} is not a known unit")
        elif unit is not None:
            raise IncidentError(f"unit: only a transition to 'assigned' takes a unit (to is {to!r})")
        sets = ["status = %s", "updated_at = %s"]
        params: list[Any] = [to, now]
        if to == "assigned":
            sets.append("assigned_unit = %s")
            params.append(target_unit)
        if to == "resolved":
            sets.append("resolved_at = %s")
            params.append(now)
        if to == "closed":
            sets.append("closed_at = %s")
            params.append(now)
        if states.is_reopen(current, to):
            sets += ["resolved_at = NULL", "closed_at = NULL"]
        conn.execute(f"UPDATE incidents SET {', '.join(sets)} WHERE id = %s", [*params, incident_id])
        kind = "assigned" if to == "assigned" else "status"
        detail: dict[str, Any] = {"reopen": states.is_reopen(current, to)}
        if to == "assigned":
            detail["unit"] = target_unit
        _timeline(conn, incident_id, actor, kind, current, to, note, detail)
        row = _load(conn, incident_id)
        name = "reopened" if detail["reopen"] else to
        live.emit(conn, "incident", _event_payload(row, name, from_status=current, note=note),
                  subject=f"incident:{incident_id}", ward_code=row["ward_code"])
        return row


def add_comment(conn: Conn, incident_id: int, text: str, *, actor: str) -> dict[str, Any]:
    body = _text(text, "text", NOTE_MAX, required=True) or ""
    with conn.transaction():
        row = _load(conn, incident_id)
        _timeline(conn, incident_id, actor, "comment", None, None, body)
        conn.execute("UPDATE incidents SET updated_at = now() WHERE id = %s", (incident_id,))
        entry = fetch_one(conn, "SELECT id, at, actor, kind, from_status, to_status, note, detail "
                                "FROM incident_timeline WHERE incident_id = %s ORDER BY id DESC LIMIT 1",
                          (incident_id,))
        assert entry is not None
        live.emit(conn, "incident", _event_payload(row, "comment", note=body[:500], actor=actor),
                  subject=f"incident:{incident_id}", ward_code=row["ward_code"])
        return entry


def get_incident(conn: Conn, incident_id: int, *, with_contact: bool, now: datetime | None = None
                 ) -> dict[str, Any]:
    return to_json(_load(conn, incident_id), with_contact=with_contact, now=now)


def timeline(conn: Conn, incident_id: int) -> list[dict[str, Any]]:
    _load(conn, incident_id)
    return fetch_all(conn, "SELECT id, at, actor, kind, from_status, to_status, note, detail FROM incident_timeline "
                           "WHERE incident_id = %s ORDER BY id", (incident_id,))


def reports(conn: Conn, incident_id: int, *, with_contact: bool) -> list[dict[str, Any]]:
    _load(conn, incident_id)
    rows = fetch_all(conn, "SELECT id, reported_at, received_at, source, actor, title, description, lon, lat, "
                           "address, distance_m, reporter_name, reporter_phone, reporter_email "
                           "FROM incident_reports WHERE incident_id = %s ORDER BY id", (incident_id,))
    out = []
    for r in rows:
        item = {k: v for k, v in r.items() if not k.startswith("reporter_")}
        if with_contact:
            item["reporter"] = {"name": r["reporter_name"], "phone": r["reporter_phone"],
                                "email": r["reporter_email"]}
        out.append(item)
    return out


def list_incidents(conn: Conn, *, with_contact: bool, status: str | None = None, category: str | None = None,
                   ward: str | None = None, source: str | None = None, before_id: int | None = None,
                   limit: int = 50, since: datetime | None = None, until: datetime | None = None,
                   ids: list[int] | None = None, now: datetime | None = None, ward_set: str | None = None,
                   device: str | None = None) -> list[dict[str, Any]]:
    """Newest first (by id). ``status`` is a status, ``open`` (new, assigned, in_progress) or ``done`` (resolved,
    closed); ``ward_set`` the boundary set the incident was assigned in; ``device`` a device whose events filed a
    report of the incident."""
    where: list[str] = ["TRUE"]
    params: list[Any] = []
    if status == "done":
        where.append("i.status IN ('resolved', 'closed')")
    elif status == "open":
        where.append("i.status = ANY(%s)")
        params.append(list(OPEN_STATUSES))
    elif status is not None:
        if status not in STATUSES:
            raise IncidentError(f"status: {status!r} is not one of open, done, {', '.join(STATUSES)}")
        where.append("i.status = %s")
        params.append(status)
    if device is not None:
        where.append("EXISTS (SELECT 1 FROM incident_reports r WHERE r.source = 'device_event' "
                     "AND r.actor = %s AND r.incident_id = i.id)")
        params.append(f"device:{device}")
    for col, value in (("i.category", category), ("i.ward_code", ward), ("i.source", source),
                       ("i.ward_set", ward_set)):
        if value is not None:
            where.append(f"{col} = %s")
            params.append(value)
    if before_id is not None:
        where.append("i.id < %s")
        params.append(before_id)
    if since is not None:
        where.append("i.reported_at >= %s")
        params.append(since)
    if until is not None:
        where.append("i.reported_at < %s")
        params.append(until)
    if ids is not None:
        where.append("i.id = ANY(%s)")
        params.append(ids)
    rows = fetch_all(conn, f"SELECT {_PUBLIC_COLS}{_FROM} WHERE {' AND '.join(where)} ORDER BY i.id DESC LIMIT %s",
                     [*params, limit])
    return [to_json(r, with_contact=with_contact, now=now) for r in rows]


def from_device_event(conn: Conn, device_id: str, kind: str, severity: str, message: str | None,
                      ts: datetime | float, lon: float | None, lat: float | None, *,
                      ward_resolver: WardResolver | None = None) -> int | None:
    """An incident from a device event (``ops/v1/devices/{id}/events``) whose kind maps to a category (see
    ``categories.for_device_kind``); None when it maps to none. Located at ``lon/lat`` or else the device's
    position; the ward from ``ward_resolver`` or else the device's stored ward. Idempotent per (device, kind, ts):
    a redelivered event returns the same incident; a repeat within 200 m and 2 h is linked to the open one."""
    cat = categories.for_device_kind(conn, kind)
    if cat is None:
        return None
    at = ts if isinstance(ts, datetime) else datetime.fromtimestamp(float(ts), UTC)
    device = device_lookups.located(conn, device_id)
    if lon is None or lat is None:
        lon, lat = (device["lon"], device["lat"]) if device else (None, None)
    resolver = ward_resolver
    if resolver is None and device is not None and device["ward_code"] is not None:
        resolver = _stored_ward(device)
    name = device["name"] if device else device_id
    msg = (message or "").strip()
    report = NewReport(
        title=f"{cat.label_vi}: {name}"[:TITLE_MAX],
        category=cat.code,
        source="device_event",
        lon=lon,
        lat=lat,
        description=(f"[{kind}] {msg}" if msg else f"[{kind}]")[:DESCRIPTION_MAX],
        severity=DEVICE_SEVERITY.get(severity, cat.default_severity),
        reported_at=at,
        source_ref=f"{device_id}|{kind}|{at.isoformat()}",
    )
    row, _ = file_report(conn, report, actor=f"device:{device_id}", ward_resolver=resolver)
    return int(row["id"])


def _stored_ward(device: dict[str, Any]) -> WardResolver:
    """A resolver answering the ward already stored on the device (set by geo when the device was registered)."""

    class _Ref:
        set_name = device["ward_set"]
        code = device["ward_code"]
        name: str | None = None
        status = device["ward_status"] or "inside"
        district_code: str | None = None

    def resolve(conn: Conn, lon: float, lat: float, at: datetime | None = None) -> WardLike:
        ref = _Ref()
        if wards.has_geo(conn):
            unit = wards.ward_name_and_district(conn, ref.set_name, ref.code)
            if unit:
                ref.name, ref.district_code = unit
        return ref

    return resolve


def open_by_ward(conn: Conn, set_name: str, level: str = "ward") -> dict[str, int]:
    """Map layer: open incidents (new, assigned, in_progress) per ward (or district) code of ``set_name``; an
    incident counts under the set it was assigned in at report time."""
    if level not in ("ward", "district"):
        raise IncidentError(f"level: {level!r} is not one of ward, district")
    col = "ward_code" if level == "ward" else "district_code"
    rows = conn.execute(f"SELECT {col}, count(*) FROM incidents WHERE ward_set = %s AND status = ANY(%s) "
                        f"AND {col} IS NOT NULL GROUP BY 1", (set_name, list(OPEN_STATUSES))).fetchall()
    return {str(code): int(n) for code, n in rows}


__all__ = [
    "Contact",
    "NewReport",
    "add_comment",
    "file_report",
    "from_device_event",
    "get_incident",
    "list_incidents",
    "open_by_ward",
    "reports",
    "timeline",
    "to_json",
    "transition",
]
