"""Dead letters: operators list the messages ingest rejected (one per message: every reason, and the raw bytes) and
the letters the per-device rate cap counted instead of storing; admins replay them after a fix (the replay itself is
``ingest.replay``)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field, model_validator

from api.deps import AdminOnly, Operators, PoolDep, SettingsDep, StoreDep
from api.json_types import JSON_INT, IsoDateTime, JsonBool
from api.problems import ProblemError
from api.routers.devices import Strict, registry_errors
from ingest.catalogue import CatalogueError, load_catalogue
from ingest.hooks import device_event_hook
from ingest.replay import replay_dead_letters
from ops_center.db import transaction
from ops_center.devices import dead_letter_quota, dead_letters
from ops_center.devices.dead_letters import DeadLetter, DeadLetterFilter
from ops_center.pagination import DEFAULT_LIMIT, MAX_LIMIT, BadCursor, decode_cursor, encode_cursor

router = APIRouter(tags=["dead letters"])
REASON_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
MAX_ID = 2**53 - 1  # exact in every JSON parser (a double); ids never get near it


class ReasonOut(BaseModel):
    reason: str
    detail: str = Field(description="names the field and the value")
    field: str | None
    value: str | None
    device_id: str | None = Field(description="the device this part names (may differ from the letter's publisher)")


class DeadLetterOut(BaseModel):
    id: int
    received_at: datetime
    topic: str
    device_id: str | None = Field(description="the publisher: the device or gateway of the topic")
    reason: str = Field(description="the first reason's code")
    detail: str = Field(description="names the field and the value (of up to three reasons)")
    field: str | None
    value: str | None
    reasons: list[ReasonOut] = Field(description=f"every reason, at most {dead_letters.REASONS_LISTED} listed")
    reason_count: int = Field(description="how many reasons the message had")
    reason_codes: list[str] = Field(description="every distinct reason code")
    payload_size: int = Field(description="bytes of the message as received")
    payload_stored: int = Field(description="bytes kept (the rest was cut off when the message was too large)")
    truncated: bool
    payload_text: str = Field(description="the stored bytes as UTF-8, invalid bytes as U+FFFD")
    payload_base64: str = Field(description="the stored bytes, exactly")
    replayed_at: datetime | None
    replay_ok: bool | None
    replay_result: str | None


class DeadLetterPage(BaseModel):
    items: list[DeadLetterOut]
    next_cursor: str | None


def _out(letter: DeadLetter) -> DeadLetterOut:
    return DeadLetterOut(
        id=letter.id, received_at=letter.received_at, topic=letter.topic, device_id=letter.device_id,
        reason=letter.reason, detail=letter.detail, field=letter.field, value=letter.value,
        reasons=[ReasonOut(reason=r.reason, detail=r.detail, field=r.field, value=r.value, device_id=r.device_id)
                 for r in letter.reasons],
        reason_count=letter.reason_count, reason_codes=list(letter.reason_codes),
        payload_size=letter.payload_size, payload_stored=len(letter.payload), truncated=letter.truncated,
        payload_text=letter.payload.decode("utf-8", "replace"),
        payload_base64=base64.b64encode(letter.payload).decode("ascii"),
        replayed_at=letter.replayed_at, replay_ok=letter.replay_ok, replay_result=letter.replay_result,
    )


@router.get("/dead-letters", response_model=DeadLetterPage)
def list_dead_letters(
    pool: PoolDep,
    _: Operators,
    reason: Annotated[str | None, Query(pattern=REASON_PATTERN)] = None,
    device: Annotated[str | None, Query(max_length=200)] = None,
    topic_prefix: Annotated[str | None, Query(max_length=512)] = None,
    since: Annotated[IsoDateTime | None, Query(description="received at or after (with a UTC offset)")] = None,
    until: Annotated[IsoDateTime | None, Query(description="received before (with a UTC offset)")] = None,
    replayed: bool | None = None,
    replay_ok: bool | None = None,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> DeadLetterPage:
    """Newest first."""
    key = decode_cursor(cursor)
    before = key.get("id") if key else None
    if key is not None and (type(before) is not int):
        raise BadCursor(f"cursor: {cursor[:40]!r} is not a cursor returned by this API")  # type: ignore[index]
    f = DeadLetterFilter(reason=reason, device_id=device, topic_prefix=topic_prefix, since=since, until=until,
                         replayed=replayed, replay_ok=replay_ok)
    with registry_errors(), transaction(pool) as conn:
        items, next_before = dead_letters.list_dead_letters(conn, f, before_id=before, limit=limit)
    return DeadLetterPage(items=[_out(d) for d in items],
                          next_cursor=encode_cursor({"id": next_before}) if next_before is not None else None)


class DroppedOut(BaseModel):
    device_id: str | None = Field(description="the publishing device (null: messages that named none)")
    stored: int = Field(description="letters stored in the period")
    dropped: int = Field(description="letters over the rate cap: counted, not stored")
    windows_capped: int
    last_dropped_at: datetime | None
    last_dropped_reason: str | None


class DroppedPage(BaseModel):
    cap: int = Field(description="letters stored per device and window")
    window_s: int
    since: datetime
    items: list[DroppedOut]
    next_cursor: str | None


@router.get("/dead-letters/dropped", response_model=DroppedPage)
def dropped(
    pool: PoolDep,
    settings: SettingsDep,
    _: Operators,
    device: Annotated[str | None, Query(max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")] = None,
    since: Annotated[IsoDateTime | None, Query(description="windows starting at or after (default: 24 h ago)")] = None,
    include_uncapped: Annotated[bool, Query(description="also devices that never hit the cap")] = False,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> DroppedPage:
    """Per device: dead letters stored and dead letters the per-device rate cap counted instead of storing."""
    if since is not None and since.tzinfo is None:
        raise ProblemError(422, "Invalid request", f"since: {since.isoformat()!r} has no UTC offset", field="since",
                           value=since.isoformat())
    start = since or datetime.now(UTC) - timedelta(days=1)
    key = decode_cursor(cursor)
    after = key.get("k") if key else None
    if key is not None and type(after) is not str:
        raise BadCursor(f"cursor: {cursor[:40]!r} is not a cursor returned by this API")  # type: ignore[index]
    with transaction(pool) as conn:
        rows = dead_letter_quota.drop_counts(conn, start, device_id=device, only_dropped=not include_uncapped,
                                             after=after, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return DroppedPage(
        cap=settings.dead_letter_device_cap, window_s=settings.dead_letter_device_window_s, since=start,
        items=[DroppedOut(device_id=r.device_id, stored=r.stored, dropped=r.dropped, windows_capped=r.windows_capped,
                          last_dropped_at=r.last_dropped_at, last_dropped_reason=r.last_dropped_reason)
               for r in rows],
        next_cursor=encode_cursor({"k": rows[-1].device_id or ""}) if more and rows else None)


@router.get("/dead-letters/{letter_id}", response_model=DeadLetterOut)
def get_dead_letter(letter_id: Annotated[int, Path(ge=1, le=MAX_ID)], pool: PoolDep, _: Operators) -> DeadLetterOut:
    with transaction(pool) as conn:
        letter = dead_letters.get_dead_letter(conn, letter_id)
    if letter is None:
        raise ProblemError(404, "Not Found", f"letter_id: no dead letter {letter_id}", field="letter_id",
                           value=letter_id)
    return _out(letter)


class ReplayFilter(Strict):
    reason: str | None = Field(default=None, pattern=REASON_PATTERN)
    device: str | None = Field(default=None, max_length=200)
    topic_prefix: str | None = Field(default=None, max_length=512)
    since: IsoDateTime | None = None
    until: IsoDateTime | None = None
    replayed: JsonBool | None = Field(default=None, description="false: only letters never replayed")


class ReplayIn(Strict):
    ids: list[Annotated[int, Field(ge=1, le=MAX_ID), JSON_INT]] | None = Field(
        default=None, min_length=1, max_length=dead_letters.REPLAY_MAX)
    filter: ReplayFilter | None = None
    limit: Annotated[int, Field(ge=1, le=dead_letters.REPLAY_MAX,
                                description="filter mode: at most this many letters, oldest first"),
                     JSON_INT] = dead_letters.REPLAY_MAX

    @model_validator(mode="after")
    def _one(self) -> ReplayIn:
        if (self.ids is None) == (self.filter is None):
            raise ValueError("give exactly one of 'ids' and 'filter'")
        return self


class ReplayItem(BaseModel):
    id: int
    ok: bool
    skipped: bool
    result: str
    readings: int
    stored: int


class ReplayOut(BaseModel):
    replayed: int = Field(description="letters decoded again in this call")
    ok: int
    failed: int
    skipped: int
    readings: int
    stored: int = Field(description="readings that were new")
    remaining: int = Field(description="filter mode: matching letters still not replayed successfully")
    items: list[ReplayItem]


@router.post("/dead-letters/replay", response_model=ReplayOut)
def replay(body: ReplayIn, pool: PoolDep, settings: SettingsDep, store: StoreDep, request: Request,
           _: AdminOnly) -> ReplayOut:
    """Decode stored payloads again against the current registry and catalogue; store the good readings and mark
    each letter with the outcome. ``{"ids": [...]}`` or ``{"filter": {...}}``."""
    request.state.audit_target = "dead_letters:" + (",".join(map(str, body.ids[:20])) if body.ids else "filter")
    try:
        catalogue = load_catalogue(settings.ingest_catalogue_file)
    except CatalogueError as exc:
        raise ProblemError(503, "Service Unavailable", f"metric catalogue: {exc}") from exc
    f = None
    if body.filter is not None:
        b = body.filter
        f = DeadLetterFilter(reason=b.reason, device_id=b.device, topic_prefix=b.topic_prefix, since=b.since,
                             until=b.until, replayed=b.replayed)
    try:
        with registry_errors(), transaction(pool) as conn:
            summary = replay_dead_letters(
                conn, store, catalogue=catalogue, max_payload=settings.ingest_max_payload,
                max_age_s=settings.ingest_max_age_s, ids=body.ids, filter=f, limit=body.limit,
                on_event=device_event_hook())
    except BaseException:
        store.forget_partitions()  # partitions created in the rolled-back transaction are gone
        raise
    request.state.audit_detail = {"ok": summary.ok, "failed": summary.failed, "stored": summary.stored}
    return ReplayOut(
        replayed=len(summary.outcomes) - summary.skipped, ok=summary.ok, failed=summary.failed,
        skipped=summary.skipped, readings=summary.readings, stored=summary.stored, remaining=summary.remaining,
        items=[ReplayItem(id=o.id, ok=o.ok, skipped=o.skipped, result=o.result, readings=o.readings,
                          stored=o.stored) for o in summary.outcomes],
    )
