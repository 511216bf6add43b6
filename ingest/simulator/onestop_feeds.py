"""The e-government feeds besides dossiers, as the province's systems send them: citizens' petitions (the PAKN
system: received, handled, rated), documents exchanged between units (the document system: sent, then received)
and online meeting sessions (started, then ended). Pure: a day's items depend only on (seed, scale, day) and the
units that exist that day; ``petition_event``, ``document_record`` and ``meeting_record`` are the one builder of
each feed's item (the shapes ``ops_center.petitions.models`` and ``ops_center.readiness.exchange`` validate).

Figures: ``data/egov.yaml`` (volumes at scale 1; meetings are per equipped unit and not scaled)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Final

from ingest.simulator.onestop import SET_2019, SET_2025, Event, rounded_at_random
from ingest.simulator.onestop_units import SimUnit
from ops_center.settings import LOCAL_TZ

PETITIONS: Final = "petitions"
DOCUMENTS: Final = "documents"
MEETINGS: Final = "meetings"
FEEDS: Final = (PETITIONS, DOCUMENTS, MEETINGS)
FeedItem = tuple[datetime, str, Event]
"""(when it is sent, feed, item)."""


@dataclass(frozen=True, slots=True)
class Petition:
    id: str
    unit: str
    ward: str | None
    ward_set: str | None
    category: str
    received_at: datetime
    handled_at: datetime | None
    rated_at: datetime | None
    rating: str | None


@dataclass(frozen=True, slots=True)
class Document:
    id: str
    from_unit: str
    to_unit: str
    sent_at: datetime
    received_at: datetime
    via_axis: bool


@dataclass(frozen=True, slots=True)
class Meeting:
    id: str
    unit: str
    started_at: datetime
    ended_at: datetime
    participants: int
    title: str


def petition_event(p: Petition, kind: str) -> Event:
    """The petition's event ``kind`` (received, handled, rated)."""
    if kind == "received":
        ev: Event = {"petition_id": p.id, "type": "received", "at": p.received_at.isoformat(), "unit": p.unit,
                     "category": p.category}
        return ev | ({"ward": p.ward, "ward_set": p.ward_set} if p.ward else {})
    if kind == "handled" and p.handled_at is not None:
        return {"petition_id": p.id, "type": "handled", "at": p.handled_at.isoformat(), "unit": p.unit}
    if kind == "rated" and p.rated_at is not None:
        return {"petition_id": p.id, "type": "rated", "at": p.rated_at.isoformat(), "unit": p.unit,
                "rating": p.rating}
    raise ValueError(f"kind: petition {p.id} has no {kind!r} event")


def document_record(d: Document, received: bool) -> Event:
    """The document as the sender's system reports it, and (``received``) once the recipient has it."""
    out: Event = {"id": d.id, "from_unit": d.from_unit, "to_unit": d.to_unit, "sent_at": d.sent_at.isoformat(),
                  "via_axis": d.via_axis}
    return out | ({"received_at": d.received_at.isoformat()} if received else {})


def meeting_record(m: Meeting, ended: bool) -> Event:
    """The session when it starts, and (``ended``) when it is over."""
    out: Event = {"id": m.id, "unit": m.unit, "started_at": m.started_at.isoformat(), "title": m.title}
    return out | ({"ended_at": m.ended_at.isoformat(), "participants": m.participants} if ended else {})


def items_of(day_items: tuple[list[Petition], list[Document], list[Meeting]]) -> list[FeedItem]:
    """Every item of a day's petitions, documents and meetings with the time it is sent."""
    petitions, documents, meetings = day_items
    out: list[FeedItem] = []
    for p in petitions:
        out.append((p.received_at, PETITIONS, petition_event(p, "received")))
        if p.handled_at is not None:
            out.append((p.handled_at, PETITIONS, petition_event(p, "handled")))
        if p.rated_at is not None:
            out.append((p.rated_at, PETITIONS, petition_event(p, "rated")))
    for d in documents:
        out += [(d.sent_at, DOCUMENTS, document_record(d, False)), (d.received_at, DOCUMENTS, document_record(d, True))]
    for m in meetings:
        out += [(m.started_at, MEETINGS, meeting_record(m, False)), (m.ended_at, MEETINGS, meeting_record(m, True))]
    return out


@dataclass
class FeedPlanner:
    """The feeds of a day. ``has_room(unit, day)`` says whether a unit holds online meetings that day (its
    ``meeting_room`` fact); business days come from the calendar."""

    egov: dict[str, Any]
    units: tuple[SimUnit, ...]
    has_room: Callable[[str, date], bool]
    is_business_day: Callable[[date], bool]
    add_business_days: Callable[[date, int], date]
    scale: float = 0.1
    seed: int = 2025

    @property
    def tag(self) -> str:
        return f"{self.seed}x{round(self.scale * 1000)}"

    def day(self, d: date) -> tuple[list[Petition], list[Document], list[Meeting]]:
        if not self.is_business_day(d):
            return [], [], []
        rng = random.Random(f"{self.seed}|{self.scale}|{d.isoformat()}|feeds")
        alive = [u for u in self.units if u.exists_on(d)]
        return self._petitions(rng, d, alive), self._documents(rng, d, alive), self._meetings(rng, d, alive)

    def _petitions(self, rng: random.Random, d: date, alive: list[SimUnit]) -> list[Petition]:
        spec = self.egov["petitions"]
        communes = [u for u in alive if u.level == "commune"]
        departments = [u for u in alive if u.level == "department"]
        out = []
        for i in range(rounded_at_random(spec["per_business_day"] * self.scale, rng)):
            unit = rng.choice(communes if communes and rng.random() < spec["commune_share"] else departments)
            received = _moment(rng, d, 7.5, 17.0)
            days = rng.randint(2, 15) if rng.random() < spec["handled_in_time"] else rng.randint(16, 30)
            handled = _moment(rng, self.add_business_days(d, days), 8.0, 16.5)
            rated_at, rating = None, None
            if rng.random() < spec["rated"]:
                rated_at = handled + timedelta(hours=rng.uniform(2, 120))
                rating = "satisfied" if rng.random() < spec["satisfied"] else "unsatisfied"
            category = rng.choices(list(spec["categories"]), list(spec["categories"].values()))[0]
            ward_set = SET_2019 if unit.group == "communes_2019" else SET_2025
            out.append(Petition(f"PAKN{self.tag}-{d:%Y%m%d}-{i:04d}", unit.code, unit.ward,
                                ward_set if unit.ward else None, category, received, handled, rated_at, rating))
        return out

    def _documents(self, rng: random.Random, d: date, alive: list[SimUnit]) -> list[Document]:
        spec = self.egov["documents"]
        by_level: dict[str, list[SimUnit]] = {}
        for u in alive:
            by_level.setdefault(u.level, []).append(u)
        senders = {k: w for k, w in spec["senders"].items() if by_level.get(k)}
        receivers = {k: w for k, w in spec["receivers"].items() if by_level.get(k)}
        out = []
        for i in range(rounded_at_random(spec["per_business_day"] * self.scale, rng)):
            src = rng.choice(by_level[rng.choices(list(senders), list(senders.values()))[0]])
            dst = rng.choice(by_level[rng.choices(list(receivers), list(receivers.values()))[0]])
            if dst.code == src.code:
                continue
            sent = _moment(rng, d, 7.0, 17.5)
            if rng.random() < spec["received_next_day"]:
                received = _moment(rng, self.add_business_days(d, 1), 7.0, 11.0)
            else:
                received = sent + timedelta(minutes=rng.uniform(1, 180))
            out.append(Document(f"VB{self.tag}-{d:%Y%m%d}-{i:05d}", src.code, dst.code, sent, received,
                                rng.random() < spec["via_axis"]))
        return out

    def _meetings(self, rng: random.Random, d: date, alive: list[SimUnit]) -> list[Meeting]:
        spec = self.egov["meetings"]
        lo, hi = spec["participants"]
        h_lo, h_hi = spec["hours"]
        out = []
        for u in alive:
            if rng.random() >= spec["per_unit_per_day"].get(u.level, 0.0) or not self.has_room(u.code, d):
                continue
            start = _moment(rng, d, 7.5, 15.0)
            out.append(Meeting(f"HOP{self.tag}-{d:%Y%m%d}-{u.code}", u.code, start,
                               start + timedelta(hours=rng.uniform(h_lo, h_hi)), rng.randint(lo, hi),
                               rng.choice(spec["titles"])))
        return out


def _moment(rng: random.Random, d: date, first_hour: float, last_hour: float) -> datetime:
    return datetime.combine(d, time(0), LOCAL_TZ) + timedelta(hours=rng.uniform(first_hour, last_hour))


def rooms(facts: list[dict[str, Any]]) -> Callable[[str, date], bool]:
    """``has_room(unit, day)`` from the ``meeting_room`` fact changes (the newest on or before the day)."""
    changes: dict[str, list[tuple[date, bool]]] = {}
    for f in facts:
        if f["fact"] == "meeting_room":
            changes.setdefault(f["unit"], []).append((date.fromisoformat(f["since"]), bool(f.get("value", True))))
    for c in changes.values():
        c.sort()

    def has_room(unit: str, day: date) -> bool:
        state = False
        for since, value in changes.get(unit, ()):
            if since > day:
                break
            state = value
        return state

    return has_room
