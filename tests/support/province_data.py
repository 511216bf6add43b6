"""Generated provincial data for federation tests and the four-instance demo: units, a procedure catalogue,
a year of dossier events, incidents with reporter contacts, devices — written through the owning services
(``dossiers.service.ingest_events``, ``incidents.service.file_report``, ``devices.service``), so every write
emits its event and marks its change exactly as production writes do. Deterministic for a seed.

The personal values it writes (reporter names, phones, e-mails, dossier ids) carry ``marker`` so a test can
assert that none of them leaves the province."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ops_center.db import Conn
from ops_center.devices import service as devices
from ops_center.dossiers import service as dossiers
from ops_center.federation import periods
from ops_center.incidents import service as incidents
from ops_center.incidents.models import Contact, NewReport

CHANNELS = ("online_l3", "online_l4", "counter", "postal")


@dataclass
class Generated:
    marker: str
    units: list[str] = field(default_factory=list)
    dossier_ids: list[str] = field(default_factory=list)
    personal: list[str] = field(default_factory=list)
    devices: list[str] = field(default_factory=list)
    incidents: int = 0


def _catalogue(conn: Conn, tag: str, n_units: int, out: Generated) -> list[str]:
    have = {r[0] for r in conn.execute("SELECT code FROM units WHERE code LIKE %s", (f"UB-{tag}-%",)).fetchall()}
    for i in range(n_units):
        code = f"UB-{tag}-{i:02d}"
        if code not in have:
            devices.create_unit(conn, code, f"UBND xã Số {i + 1} ({tag})", "commune")
        out.units.append(code)
    procs = [(f"TT-{tag}-{d}", d, d % 2 == 0) for d in (0, 2, 3, 5)]
    for code, days, post in procs:
        conn.execute("INSERT INTO procedures (code, name, processing_days, online_level, offered_by_post) "
                     "VALUES (%s, %s, %s, 4, %s) ON CONFLICT (code) DO NOTHING",
                     (code, f"Thủ tục {days} ngày", days, post))
    return [p[0] for p in procs]


def _dossier_events(rng: random.Random, tag: str, marker: str, units: list[str], procs: list[str], months: list[str],
                    per_month: int, out: Generated, now: datetime) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for month in months:
        first, stop = periods.bounds(month)
        span_days = (stop - first).days
        for n in range(per_month):
            received = datetime(first.year, first.month, first.day, 8, tzinfo=UTC) + timedelta(
                days=rng.randrange(span_days), minutes=rng.randrange(600))
            if received >= now:
                continue
            did = f"HS-{marker}-{month}-{n:04d}"
            out.dossier_ids.append(did)
            events.append({"dossier_id": did, "type": "received", "at": received.isoformat(),
                           "channel": rng.choice(CHANNELS), "procedure": rng.choice(procs),
                           "unit": rng.choice(units)})
            resolved = received + timedelta(days=rng.choice((0, 1, 2, 3, 4, 6, 9)), hours=rng.randrange(8))
            if resolved < now and rng.random() < 0.85:
                events.append({"dossier_id": did, "type": "resolved", "at": resolved.isoformat()})
    return events


def generate(conn: Conn, *, tag: str, marker: str, seed: int = 1, months: int = 12, units: int = 4,
             dossiers_per_month: int = 30, n_incidents: int = 6, n_devices: int = 8,
             now: datetime | None = None) -> Generated:
    """Write the data set (idempotent for dossiers; incidents and devices are added once per ``tag``)."""
    now = now or datetime.now(UTC)
    rng = random.Random(seed)
    out = Generated(marker)
    procs = _catalogue(conn, tag, units, out)
    events = _dossier_events(rng, tag, marker, out.units, procs, periods.months_back(now, months), dossiers_per_month,
                             out, now)
    for i in range(0, len(events), 5000):
        dossiers.ingest_events(conn, events[i:i + 5000], "http:/dossiers/events", now=now)
    for i in range(n_devices):
        dev_id = f"dv-{tag}-{i:02d}"
        out.devices.append(dev_id)
        if devices.get_device(conn, dev_id) is None:
            devices.create_device(conn, dev_id, kind=("salinity", "water_level", "rain")[i % 3],
                                  name=f"Trạm {i} {tag}", lon=105.1 + i / 100, lat=9.2, expected_interval_s=300)
            if i % 2 == 0:
                devices.record_seen(conn, {dev_id: now - timedelta(seconds=30)})
    categories = [r[0] for r in conn.execute("SELECT code FROM incident_categories ORDER BY code").fetchall()]
    for i in range(n_incidents):
        name, phone = f"Nguyễn Văn {marker} {i}", f"09{abs(hash((marker, i))) % 10**8:08d}"
        email = f"nguoi.dan.{marker.lower()}.{i}@example.vn"
        out.personal += [name, phone, email]
        report = NewReport(title=f"Sự cố {i} tại ấp {marker}", category=categories[i % len(categories)],
                           source="operator", lon=105.2 + i / 50, lat=9.1 + i / 50, reporter=Contact(name, phone, email),
                           reported_at=now - timedelta(hours=i + 1), source_ref=f"gen-{tag}-{i}")
        incidents.file_report(conn, report, actor="generator", now=now)
        out.incidents += 1
    return out
