"""The live-feed hub: ONE ``LISTEN ops_events`` per app process, new events fetched by id in batches and fanned
out to every connected screen.

How an event travels: a producer calls ``ops_center.events.emit`` (row in ``events`` + ``pg_notify`` at commit) →
the listener connection wakes the fetcher → the fetcher reads ``events WHERE id > last_id`` in batches (several
NOTIFYs arriving together cost one query; a lost NOTIFY costs at most ``poll_interval_s``) → each event is encoded
to JSON once → every client whose subscription matches gets it appended to its bounded outbox → the client's single
writer task sends what has accumulated as one frame.

- Telemetry is coalesced: ingest emits one event per batch with ``readings: [[device, metric, t, value], ...]``;
  the hub splits it per device and sends each device at most once per ``coalesce_s`` (the newest value of each
  metric wins), so a fast-reporting gauge cannot flood a screen.
- Slow clients are dropped, never waited for: an outbox over ``queue_limit`` events, or a frame not written within
  ``send_timeout_s``, closes that socket with ``CLOSE_SLOW`` (4408); the others are not affected because the hub
  never awaits a client.
- Id gaps: identity ids are handed out at insert but become visible at commit, so a long transaction can commit
  id 10 after id 11 was fetched. Missing ids are remembered and looked up again on each fetch for
  ``gap_timeout_s`` (a rolled-back id simply expires), so late commits are still delivered.
- Reconnect: a client sends ``last_event_id`` and gets what it missed from the table (bounded by ``catchup_limit``
  and ``catchup_max_age_s``; beyond that it is told to reload). Delivery is at least once: clients dedupe by id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import psycopg

from api.live.config import LiveSettings
from ops_center import events as event_log
from ops_center.auth.roles import Role
from ops_center.db_errors import is_retryable
from ops_center.devices import directory as device_directory
from ops_center.events import CHANNEL, TOPICS

log = logging.getLogger("api.live")

CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_SLOW = 4408
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_TRY_AGAIN = 1013
CLOSE_GOING_AWAY = 1001

FILTERED_TOPICS = frozenset({"telemetry", "device_status"})
"""Topics narrowed by a subscription's ``devices`` / ``wards`` (when it names any)."""

Row = tuple[int, datetime, str, str | None, str | None, str]
Item = tuple[int, str]  # (event id, the event as JSON text)



@dataclass(frozen=True)
class Subscription:
    """What a screen wants. ``devices``/``wards`` narrow telemetry and device status; empty means all."""

    topics: frozenset[str] = frozenset()
    devices: frozenset[str] = frozenset()
    wards: frozenset[str] = frozenset()

    def wants(self, topic: str, subject: str | None, ward: str | None) -> bool:
        if topic not in self.topics:
            return False
        if topic in FILTERED_TOPICS and (self.devices or self.wards):
            return (subject is not None and subject in self.devices) or (ward is not None and ward in self.wards)
        return True


def encode_event(event_id: int, at: datetime, topic: str, subject: str | None, ward: str | None,
                 payload_json: str) -> str:
    """The wire form of one event; ``payload_json`` is spliced in as it came from PostgreSQL (no re-parse)."""
    return (f'{{"id":{event_id},"at":{orjson.dumps(at).decode()},"topic":{orjson.dumps(topic).decode()},'
            f'"subject":{orjson.dumps(subject).decode()},"ward_code":{orjson.dumps(ward).decode()},'
            f'"payload":{payload_json}}}')


def events_frame(items: Iterable[Item]) -> str:
    return '{"type":"events","items":[' + ",".join(text for _, text in items) + "]}"


class Client:
    """One connected screen: its subscription and a bounded outbox drained by one writer, the only sender."""

    def __init__(self, name: str, send: Callable[[str], Awaitable[None]], config: LiveSettings, *,
                 principal: str = "", user_id: int | None = None, role: Role | None = None,
                 expires_at: float = float("inf")) -> None:
        self.name = name
        self.principal = principal  # the account's username: its current state is re-checked while connected
        self.user_id = user_id
        self.role = role
        self.expires_at = expires_at  # the token's expiry; a renewed token (an ``auth`` message) moves it
        self._send = send
        self._config = config
        self.sub = Subscription()
        self._items: deque[Item] = deque()
        self._control: deque[str] = deque()
        self._ready = asyncio.Event()
        self.closed = asyncio.Event()
        self.close_code: int | None = None
        self.close_reason = ""
        self.catchup_from: int | None = None
        self.gone = False  # the peer closed or vanished: nothing more can be sent
        self.delivered = 0
        self.last_sent_id = 0

    @property
    def queued(self) -> int:
        return len(self._items)

    def offer(self, items: list[Item]) -> None:
        """Queue events for this client; past the limit the client is closed as too slow (never awaited)."""
        if self.closed.is_set():
            return
        if len(self._items) + len(items) > self._config.queue_limit:
            self.close(CLOSE_SLOW, f"too slow: more than {self._config.queue_limit} events queued")
            return
        self._items.extend(items)
        self._ready.set()

    def control(self, message: dict[str, Any]) -> None:
        """Queue a control message (hello, subscribed, error, pong, reload); sent before pending events."""
        if not self.closed.is_set():
            self._control.append(orjson.dumps(message).decode())
            self._ready.set()

    def close(self, code: int, reason: str) -> None:
        """Ask the connection to close with ``code``; the route does the closing."""
        if not self.closed.is_set():
            self.close_code, self.close_reason = code, reason[:120]
            self._items.clear()
            self.closed.set()
            self._ready.set()

    async def _write(self, text: str) -> None:
        try:
            await asyncio.wait_for(self._send(text), self._config.send_timeout_s)
        except TimeoutError:
            self.close(CLOSE_SLOW, f"too slow: a frame was not taken within {self._config.send_timeout_s:g} s")

    async def run_writer(self, hub: Hub) -> None:
        """Send control messages, then a catch-up if asked, then queued events as frames; until closed."""
        while not self.closed.is_set():
            await self._ready.wait()
            self._ready.clear()
            while self._control and not self.closed.is_set():
                await self._write(self._control.popleft())
            if self.catchup_from is not None and not self.closed.is_set():
                await self._catch_up(hub)
            while self._items and not self.closed.is_set():
                n = min(len(self._items), self._config.frame_items)
                batch = [self._items.popleft() for _ in range(n)]
                await self._write(events_frame(batch))
                self.delivered += n
                self.last_sent_id = max(self.last_sent_id, batch[-1][0])
                while self._control and not self.closed.is_set():
                    await self._write(self._control.popleft())

    async def _catch_up(self, hub: Hub) -> None:
        after, self.catchup_from = self.catchup_from, None
        assert after is not None
        result = await hub.catch_up(after, self.sub)
        if result.reload is not None:
            await self._write(orjson.dumps({"type": "reload", "reason": result.reload}).decode())
            return
        sent: set[int] = set()
        for i in range(0, len(result.items), self._config.frame_items):
            chunk = result.items[i:i + self._config.frame_items]
            await self._write(events_frame(chunk))
            sent.update(event_id for event_id, _ in chunk)
        await self._write(orjson.dumps({"type": "caught_up", "after": after, "count": len(sent)}).decode())
        if sent:  # events dispatched live while the catch-up ran are not sent twice
            self._items = deque(item for item in self._items if item[0] not in sent)


@dataclass
class CatchUp:
    items: list[Item] = field(default_factory=list)
    reload: str | None = None


@dataclass
class _Telemetry:
    """Newest values of one device waiting for its coalescing window."""

    event_id: int
    at: datetime
    values: dict[str, list[Any]] = field(default_factory=dict)


@dataclass
class HubStats:
    fetches: int = 0
    events: int = 0
    telemetry_in: int = 0
    telemetry_out: int = 0
    gap_filled: int = 0
    gap_expired: int = 0
    dropped_slow: int = 0
    connected_total: int = 0
    listener_reconnects: int = 0


class Hub:
    """One per app process (``app.state.live``); ``start``/``stop`` from the app's lifespan."""

    def __init__(self, database_url: str, config: LiveSettings | None = None) -> None:
        self.url = database_url
        self.config = config or LiveSettings()
        self.clients: set[Client] = set()
        self.pending = 0  # sockets accepted but not yet authenticated
        self.channels: dict[str, Callable[[str], None]] = {}  # more NOTIFY channels → handler of the payload
        self.last_id = 0
        self.stats = HubStats()
        self.running = False
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._lock = asyncio.Lock()
        self._gaps: dict[int, float] = {}
        self._ward_of: dict[str, str | None] = {}
        self.directory = device_directory.shared()
        self._tele: dict[str, _Telemetry] = {}
        self._tele_sent: dict[str, float] = {}
        self._tele_wake = asyncio.Event()
        self._fetch_started = 0
        self._fetch_done = 0
        self._fetched = asyncio.Event()

    # -- lifecycle -------------------------------------------------------------------------------------------
    async def start(self) -> None:
        row = await self._query_one(event_log.NEWEST_ID)
        self.last_id = int(row[0]) if row else 0
        await self._load_devices()
        self.running = True
        for coro in (self._listen(), self._fetch_loop(), self._flush_loop(), self._device_loop()):
            self._tasks.append(asyncio.create_task(coro))
        log.info("live hub started at event id %d", self.last_id)

    async def stop(self) -> None:
        self.running = False
        for client in list(self.clients):
            client.close(CLOSE_GOING_AWAY, "server shutting down")
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    def add(self, client: Client) -> None:
        self.clients.add(client)
        self.stats.connected_total += 1

    def remove(self, client: Client) -> None:
        self.clients.discard(client)
        if client.close_code == CLOSE_SLOW:
            self.stats.dropped_slow += 1

    def snapshot(self) -> dict[str, Any]:
        return {"running": self.running, "last_event_id": self.last_id, "clients": len(self.clients),
                "pending_gaps": len(self._gaps), "queued_max": max((c.queued for c in self.clients), default=0),
                **self.stats.__dict__}

    # -- database --------------------------------------------------------------------------------------------
    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        return await psycopg.AsyncConnection.connect(self.url, autocommit=True, prepare_threshold=None,
                                                     application_name="ops-live")

    async def _query(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        """One query on the hub's own connection (serialised; reconnects once if the connection broke)."""
        async with self._lock:
            for attempt in (1, 2):
                if self._conn is None or self._conn.closed:
                    self._conn = await self._connect()
                try:
                    cur = await self._conn.execute(sql, params)
                    return await cur.fetchall()
                except psycopg.OperationalError:
                    with contextlib.suppress(Exception):
                        await self._conn.close()
                    self._conn = None
                    if attempt == 2:
                        raise
        raise AssertionError("unreachable")

    async def query(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        """A read on the hub's connection, for the live feed's helpers (admission, principal checks)."""
        return await self._query(sql, params)

    async def _query_one(self, sql: str, params: Any = None) -> tuple[Any, ...] | None:
        rows = await self._query(sql, params)
        return rows[0] if rows else None

    async def _listen(self) -> None:
        """Hold ``LISTEN ops_events`` (and the ``channels``); every NOTIFY of ours (and every ``poll_interval_s``
        of silence) wakes the fetcher, a NOTIFY on another channel goes to its handler."""
        delay = 0.5
        while True:
            try:
                async with await self._connect() as conn:
                    for channel in (CHANNEL, *self.channels):
                        await conn.execute(f"LISTEN {channel}")
                    self._wake.set()  # whatever was committed while we were not listening
                    delay = 0.5
                    while True:
                        async for note in conn.notifies(timeout=self.config.poll_interval_s):
                            handler = self.channels.get(note.channel)
                            if handler is not None:
                                handler(note.payload)
                            else:
                                self._wake.set()
                        self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.stats.listener_reconnects += 1
                log.warning("live listener lost its connection (%s); reconnecting in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)  # a restarted database gets its LISTEN back within 2 s

    async def _fetch_loop(self) -> None:
        last = 0.0
        while True:
            await self._wake.wait()
            pause = self.config.fetch_interval_s - (time.monotonic() - last)
            if pause > 0:
                await asyncio.sleep(pause)  # lets a burst of NOTIFYs become one query
            self._wake.clear()
            last = time.monotonic()
            self._fetch_started += 1
            try:
                rows = await self._fetch_new()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if is_retryable(exc):  # the database is away (restart, failover): expected, no traceback
                    log.warning("live hub could not fetch events (%s); retrying", exc)
                else:
                    log.exception("live hub could not fetch events; retrying")
                await asyncio.sleep(1.0)
                self._wake.set()
                continue
            if rows:
                self._dispatch(rows)
            self._fetch_done = self._fetch_started
            self._fetched.set()

    async def sync(self, timeout: float = 2.0) -> None:
        """Wait until a fetch that started after this call has been dispatched: everything committed before the
        call is then at or below ``last_id``."""
        target = self._fetch_started + 1
        self._wake.set()
        deadline = time.monotonic() + timeout
        while self._fetch_done < target and self.running:
            self._fetched.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._fetched.wait(), left)

    async def _fetch_new(self) -> list[Row]:
        self.stats.fetches += 1
        rows: list[Row] = []
        while True:
            batch = await self._query(event_log.LIVE_AFTER, (self.last_id, self.config.batch_size))
            now = time.monotonic()
            for r in batch:
                event_id = int(r[0])
                if event_id > self.last_id + 1 and self.config.gap_timeout_s > 0:
                    for missing in range(self.last_id + 1, min(event_id, self.last_id + 1 + 10_000)):
                        self._gaps[missing] = now
                self.last_id = event_id
                rows.append(r)
            if len(batch) < self.config.batch_size:
                break
        if self._gaps:
            rows.extend(await self._fill_gaps())
            rows.sort(key=lambda r: r[0])
        return rows

    async def _fill_gaps(self) -> list[Row]:
        found = await self._query(event_log.LIVE_BY_IDS, (list(self._gaps),))
        for r in found:
            self._gaps.pop(int(r[0]), None)
        self.stats.gap_filled += len(found)
        expire = time.monotonic() - self.config.gap_timeout_s
        for event_id in [i for i, seen in self._gaps.items() if seen < expire]:
            del self._gaps[event_id]
            self.stats.gap_expired += 1
        if len(self._gaps) > 10_000:
            for event_id in sorted(self._gaps)[: len(self._gaps) - 10_000]:
                del self._gaps[event_id]
        return found

    async def _load_devices(self) -> None:
        try:
            await self.directory.refresh_async(self._query, max_age_s=self.config.device_refresh_s)
        except psycopg.Error as exc:
            log.warning("live hub could not read devices (%s); telemetry goes without wards", exc)
            return
        self._ward_of = {k: e.ward_code for k, e in self.directory.devices().items()}

    async def _device_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.device_refresh_s)
            with contextlib.suppress(Exception):
                await self._load_devices()

    # -- fan-out ---------------------------------------------------------------------------------------------
    def _dispatch(self, rows: list[Row]) -> None:
        clients = [c for c in self.clients if not c.closed.is_set()]
        out: dict[Client, list[Item]] = {}
        for event_id, at, topic, subject, ward, payload in rows:
            self.stats.events += 1
            if topic == "telemetry":
                self._absorb_telemetry(event_id, at, subject, payload)
                continue
            text: str | None = None
            for c in clients:
                if c.sub.wants(topic, subject, ward):
                    if text is None:
                        text = encode_event(event_id, at, topic, subject, ward, payload)
                    out.setdefault(c, []).append((event_id, text))
        for c, items in out.items():
            c.offer(items)
        if self._tele:
            self._flush_telemetry()

    def _absorb_telemetry(self, event_id: int, at: datetime, subject: str | None, payload: str) -> None:
        try:
            data = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return
        readings = data.get("readings") if isinstance(data, dict) else None
        if readings is None and subject is not None and isinstance(data, dict):  # a per-device event
            readings = [[subject, k, None, v] for k, v in data.items()]
        if not isinstance(readings, list):
            return
        for entry in readings:
            if not (isinstance(entry, list) and len(entry) == 4 and isinstance(entry[0], str)
                    and isinstance(entry[1], str)):
                continue
            device, metric, t, value = entry
            self.stats.telemetry_in += 1
            pending = self._tele.get(device)
            if pending is None:
                pending = self._tele[device] = _Telemetry(event_id, at)
            pending.event_id, pending.at = event_id, at
            old = pending.values.get(metric)
            if old is None or t is None or old[0] is None or t >= old[0]:
                pending.values[metric] = [t, value]
        self._tele_wake.set()

    def _flush_telemetry(self) -> None:
        now = time.monotonic()
        window = self.config.coalesce_s
        due = [d for d in self._tele if now - self._tele_sent.get(d, -1e9) >= window]
        if not due:
            return
        clients = [c for c in self.clients if not c.closed.is_set() and "telemetry" in c.sub.topics]
        out: dict[Client, list[Item]] = {}
        for device in due:
            pending = self._tele.pop(device)
            self._tele_sent[device] = now
            ward = self._ward_of.get(device)
            text: str | None = None
            for c in clients:
                if c.sub.wants("telemetry", device, ward):
                    if text is None:
                        payload = orjson.dumps({"device_id": device, "values": pending.values}).decode()
                        text = encode_event(pending.event_id, pending.at, "telemetry", device, ward, payload)
                        self.stats.telemetry_out += 1
                    out.setdefault(c, []).append((pending.event_id, text))
        for c, items in out.items():
            c.offer(items)
        if len(self._tele_sent) > 50_000:  # forget devices quiet for a while
            self._tele_sent = {d: t for d, t in self._tele_sent.items() if now - t < 10 * window + 1}

    async def _flush_loop(self) -> None:
        """Sends coalesced telemetry whose window has passed."""
        tick = max(self.config.coalesce_s / 5, 0.01)
        while True:
            if not self._tele:
                self._tele_wake.clear()
                await self._tele_wake.wait()
            await asyncio.sleep(tick)
            self._flush_telemetry()

    # -- catch-up --------------------------------------------------------------------------------------------
    async def catch_up(self, after: int, sub: Subscription) -> CatchUp:
        """The events after ``after`` that ``sub`` wants (telemetry excluded: screens reload latest values), up
        to the hub's position; or a reason to reload when that is too many, too old, pruned or from the future."""
        topics = sorted(t for t in sub.topics if t != "telemetry" and t in TOPICS)
        await self.sync()
        upto = self.last_id
        if after > upto:
            return CatchUp(reload=f"last_event_id {after} is ahead of the newest event {upto}")
        if after == upto or not topics:
            return CatchUp()
        oldest = await self._query_one(event_log.OLDEST_ID)
        if oldest and oldest[0] is not None and after < int(oldest[0]) - 1:
            return CatchUp(reload=f"events after {after} are no longer kept (oldest is {oldest[0]})")
        first = await self._query_one(event_log.FIRST_AT_AFTER, (after,))
        max_age = timedelta(seconds=self.config.catchup_max_age_s)
        if first and first[0] < datetime.now(UTC) - max_age:
            return CatchUp(reload=f"missed events are older than {self.config.catchup_max_age_s:g} s")
        rows = await self._query(
            event_log.LIVE_CATCH_UP,
            (after, upto, topics, self.config.catchup_limit + 1),
        )
        items = [(int(r[0]), encode_event(int(r[0]), r[1], r[2], r[3], r[4], r[5]))
                 for r in rows if sub.wants(r[2], r[3], r[4])]
        if len(rows) > self.config.catchup_limit:
            return CatchUp(reload=f"more than {self.config.catchup_limit} events missed")
        return CatchUp(items=items)
