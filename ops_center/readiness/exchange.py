"""The document and meeting feeds: the only writer of ``documents``, ``meeting_sessions`` and ``feed_activity``
(migration 0072).

Documents exchanged electronically between units (from the document management system)::

    {"id": "VB-2019-000123", "from_unit": "SO-TP", "to_unit": "UBND-XA-TANLOC", "sent_at": "…+07:00",
     "received_at": "…+07:00", "via_axis": true}

Online meeting sessions of a unit::

    {"id": "HOP-2019-0042", "unit": "UBND-H-PHUTAN", "started_at": "…+07:00", "ended_at": "…+07:00",
     "participants": 12, "title": "Giao ban tháng 12"}

Idempotent by id: a record may arrive several times and be completed later (``received_at``, ``ended_at`` first
unknown): a field that was empty is filled, the same values again are a duplicate, a different value for a filled
field is a conflict (the first stands). On ``ops/v1/egov/{unit}/documents`` the unit must be the sender or the
recipient, on ``…/meetings`` the meeting's unit. ``feed_activity`` keeps each unit's newest record time per feed
(the feed-silence alert rule reads it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Final

from ops_center.db import Conn, fetch_all
from ops_center.devices import lookups as device_lookups
from ops_center.dossiers.models import (
    CODE_RE,
    CONFLICT,
    DOSSIER_ID_RE,
    FOREIGN_UNIT,
    INCONSISTENT,
    UNKNOWN_UNIT,
    Rejected,
    flag,
    parse_time,
    shown,
    string_field,
)
from ops_center.feeds import (
    FeedResult,
    as_object,
    check_size,
    parse_items,
    text,
    topic_unit,
    whole,
    write_dead_letters,
)


@dataclass(frozen=True)
class RecordFeed:
    name: str  # also the MQTT topic's last level
    table: str
    columns: dict[str, str]  # column -> PostgreSQL type (after id)
    required: tuple[str, ...]
    unit_columns: tuple[str, ...]
    times: tuple[str, str]  # (start, end): end may not come before start
    parse: Callable[[dict[str, Any], datetime], dict[str, Any]]

    @property
    def http_source(self) -> str:
        return f"http:/egov/{self.name}"


def _document(doc: dict[str, Any], now: datetime) -> dict[str, Any]:
    out: dict[str, Any] = {"from_unit": string_field(doc, "from_unit", CODE_RE),
                           "to_unit": string_field(doc, "to_unit", CODE_RE),
                           "sent_at": parse_time(doc["sent_at"], now, "sent_at"),
                           "via_axis": flag(doc, "via_axis") if "via_axis" in doc else None}
    out["received_at"] = parse_time(doc["received_at"], now, "received_at") if doc.get("received_at") else None
    return out


def _meeting(doc: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {"unit_code": string_field(doc, "unit", CODE_RE),
            "started_at": parse_time(doc["started_at"], now, "started_at"),
            "ended_at": parse_time(doc["ended_at"], now, "ended_at") if doc.get("ended_at") else None,
            "participants": whole(doc, "participants", 0, 100_000), "title": text(doc, "title")}


DOCUMENTS: Final = RecordFeed(
    "documents", "documents",
    {"from_unit": "text", "to_unit": "text", "sent_at": "timestamptz", "received_at": "timestamptz",
     "via_axis": "boolean"},
    ("id", "from_unit", "to_unit", "sent_at"), ("from_unit", "to_unit"), ("sent_at", "received_at"), _document)
MEETINGS: Final = RecordFeed(
    "meetings", "meeting_sessions",
    {"unit_code": "text", "started_at": "timestamptz", "ended_at": "timestamptz", "participants": "integer",
     "title": "text"},
    ("id", "unit", "started_at"), ("unit_code",), ("started_at", "ended_at"), _meeting)
FEEDS: Final = {f.name: f for f in (DOCUMENTS, MEETINGS)}
INPUT_KEYS: Final = {"documents": ("id", "from_unit", "to_unit", "sent_at", "received_at", "via_axis"),
                     "meetings": ("id", "unit", "started_at", "ended_at", "participants", "title")}


def parse_record(feed: RecordFeed, doc: Any, *, unit_from_topic: str | None, now: datetime) -> tuple[str,
                                                                                                     dict[str, Any]]:
    doc = as_object(doc, INPUT_KEYS[feed.name], feed.required, feed.name[:-1])
    rid = string_field(doc, "id", DOSSIER_ID_RE)
    assert rid is not None
    values = feed.parse(doc, now)
    if unit_from_topic is not None and unit_from_topic not in {values[c] for c in feed.unit_columns}:
        key = "unit" if feed is MEETINGS else "from_unit"
        raise Rejected(FOREIGN_UNIT, f"{key}: the record names none of its units as the topic's unit "
                                     f"{shown(unit_from_topic)}", key, values[feed.unit_columns[0]])
    start, end = (values[t] for t in feed.times)
    if end is not None and end < start:
        raise Rejected(INCONSISTENT, f"{feed.times[1]}: {end.isoformat()} is before {feed.times[0]} "
                                     f"{start.isoformat()}", feed.times[1], end.isoformat())
    return rid, values


def _merge(feed: RecordFeed, rid: str, have: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any] | None:
    """The record after ``new`` (None: nothing new); ``Rejected`` when it contradicts a filled field."""
    if have is None:
        return dict(new)
    merged, changed = dict(have), False
    for col, value in new.items():
        if value is None:
            continue
        if have[col] is None:
            merged[col], changed = value, True
        elif have[col] != value:
            raise Rejected(CONFLICT, f"{col}: record {shown(rid)} already has {shown(have[col])}, not "
                                     f"{shown(value)}; the first one stands", col, value)
    return merged if changed else None


def ingest(conn: Conn, feed: RecordFeed, items: list[Any], source: str, *, now: datetime | None = None,
           record_rejects: bool = True) -> FeedResult:
    """Apply a batch of records of ``feed`` in one transaction (see the module docstring); ``record_rejects=False``
    (replays) keeps refused items out of ``dead_letters``."""
    check_size(items)
    now = now or datetime.now(UTC)
    result = FeedResult()
    from_topic = topic_unit(source, feed.name)
    parsed, dead = parse_items(items, lambda raw: parse_record(feed, raw, unit_from_topic=from_topic, now=now))
    with conn.transaction():
        wanted = sorted({v[c] for _, (_, v) in parsed for c in feed.unit_columns})
        known = device_lookups.known_units(conn, wanted)
        cols = list(feed.columns)
        ids = sorted({rid for _, (rid, _) in parsed})
        stored = {r["id"]: r for r in fetch_all(conn, f"SELECT id, {', '.join(cols)} FROM {feed.table} "
                                                     f"WHERE id = ANY(%s) ORDER BY id FOR UPDATE", (ids,))}
        out: dict[str, dict[str, Any]] = {}
        for i, (rid, values) in parsed:
            missing = [c for c in feed.unit_columns if values[c] not in known]
            try:
                if missing:
                    c = missing[0]
                    raise Rejected(UNKNOWN_UNIT, f"{c}: {shown(values[c])} is not a known unit", c, values[c])
                have = out.get(rid) or ({c: stored[rid][c] for c in cols} if rid in stored else None)
                merged = _merge(feed, rid, have, values)
            except Rejected as r:
                dead.append((i, items[i], r))
                continue
            if merged is None:
                result.duplicates += 1
            else:
                out[rid] = merged
                result.accepted += 1
        _upsert(conn, feed, out, source)
        _activity(conn, feed, out)
        result.rejected = [(i, r.reason, r.detail) for i, _, r in sorted(dead, key=lambda d: d[0])]
        if record_rejects:
            write_dead_letters(conn, source, dead)
    return result


def _upsert(conn: Conn, feed: RecordFeed, rows: dict[str, dict[str, Any]], source: str) -> None:
    if not rows:
        return
    cols = list(feed.columns)
    ids = sorted(rows)
    arrays = ", ".join(f"%s::{t}[]" for t in feed.columns.values())
    conn.execute(
        f"INSERT INTO {feed.table} (id, {', '.join(cols)}, source) SELECT v.*, %s FROM unnest(%s::text[], {arrays}) "
        f"AS v ON CONFLICT (id) DO UPDATE SET {', '.join(f'{c} = EXCLUDED.{c}' for c in cols)}, "
        f"source = EXCLUDED.source, updated_at = now()",
        [source, ids, *[[rows[i][c] for i in ids] for c in cols]])


def _activity(conn: Conn, feed: RecordFeed, rows: dict[str, dict[str, Any]]) -> None:
    newest: dict[str, datetime] = {}
    for values in rows.values():
        t = max(values[c] for c in feed.times if values[c] is not None)
        for col in feed.unit_columns:
            unit = values[col]
            if unit not in newest or newest[unit] < t:
                newest[unit] = t
    if newest:
        units = sorted(newest)
        conn.execute("INSERT INTO feed_activity (unit_code, feed, last_at) SELECT u, %s, t FROM "
                     "unnest(%s::text[], %s::timestamptz[]) AS x(u, t) ON CONFLICT (unit_code, feed) DO UPDATE "
                     "SET last_at = greatest(feed_activity.last_at, EXCLUDED.last_at)",
                     (feed.name, units, [newest[u] for u in units]))


def last_activity(conn: Conn, feed: str) -> dict[str, datetime]:
    """The newest record time per unit of a feed (documents: sent or received; meetings: started or ended)."""
    return {str(u): t for u, t in conn.execute("SELECT unit_code, last_at FROM feed_activity WHERE feed = %s",
                                               (feed,)).fetchall()}


def documents_between(conn: Conn, first: date, stop: date) -> list[tuple[str, str, bool, int]]:
    """``(sender level, recipient level, via axis, count)`` of the documents sent on local dates ``[first, stop)``."""
    rows = conn.execute(
        "SELECT d.from_unit, d.to_unit, coalesce(d.via_axis, true), count(*) FROM documents d "
        "WHERE d.sent_at >= (%s::date::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh') "
        "AND d.sent_at < (%s::date::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh') GROUP BY 1, 2, 3",
        (first, stop)).fetchall()
    level = {code: lvl for code, lvl, _ in device_lookups.unit_tree(conn)}
    counts: dict[tuple[str, str, bool], int] = {}
    for sender, recipient, via, n in rows:  # units are referenced (foreign keys): each has its level
        key = (level[sender], level[recipient], bool(via))
        counts[key] = counts.get(key, 0) + int(n)
    return [(a, b, v, n) for (a, b, v), n in counts.items()]


def meetings_between(conn: Conn, first: date, stop: date) -> list[tuple[str, str, int]]:
    """``(unit, level, sessions)`` of the meeting sessions started on local dates ``[first, stop)``."""
    rows = conn.execute(
        "SELECT m.unit_code, count(*) FROM meeting_sessions m "
        "WHERE m.started_at >= (%s::date::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh') "
        "AND m.started_at < (%s::date::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh') GROUP BY 1",
        (first, stop)).fetchall()
    level = {code: lvl for code, lvl, _ in device_lookups.unit_tree(conn)}
    return [(str(u), level[str(u)], int(n)) for u, n in rows]
