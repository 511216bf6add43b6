"""The ingest service: MQTT v5 in, batches committed to PostgreSQL, acks only after commit.

Three threads (docs/ingest-performance.md):

- paho's network thread receives messages (QoS 1, ``manual_ack=True``, persistent session, shared subscription)
  through ``ingest.mqtt_client.ConsumerClient`` and only hands (packet id, connection generation, topic, payload) to
  ``ingest.intake.Intake``;
- the decoding thread takes a batch when it is full (``ingest_batch_max`` messages or ``ingest_batch_max_bytes`` of
  payload) or its oldest message is ``ingest_flush_ms`` old, decodes and validates it (``ingest.decoding``: the
  registry, and the look-up of ids it did not know, so a device provisioned a moment ago is accepted at once) and
  passes it on; it stays at most one batch ahead of the writer;
- the writer thread writes each decoded batch in one transaction (``ingest.sink``) and then acks all of its messages
  in one write. While it waits for the database (the GIL released) the next batch is being decoded.

A database outage stops the acks: the writer retries with backoff while the broker holds the unacked messages (up to
our Receive Maximum) and queues the rest in the persistent session. Nothing is acked that is not committed;
redelivered duplicates are harmless because writes are idempotent.

Only connection-class and transient failures are retried (``ops_center.db_errors.is_retryable``). A batch the
database refuses because of its data is split until the refusing messages stand alone (``ingest.isolation``); those
are dead-lettered with the database's error, the rest commits, and every message is acked: one poison message never
stalls the stream.

Acks carry the connection generation they were received on: after a reconnect the broker redelivers what was not
acked (same packet ids), so acks for an older connection are dropped rather than sent on the new one.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import queue
import signal
import socket
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions
from prometheus_client import start_http_server

from ingest import isolation, metrics
from ingest.decoding import EGOV_PREFIX, Decoder
from ingest.hooks import EGOV_FEEDS, device_event_hook, dossier_hook, stream_hooks
from ingest.intake import Intake, Pending
from ingest.mqtt_client import ConsumerClient
from ingest.sink import BatchWriter, PreparedWrite
from ingest.topics import subscription_filters
from ops_center.db import connect
from ops_center.db_errors import is_conflict, is_retryable
from ops_center.devices.dead_letter_quota import Cap
from ops_center.readings import ReadingsStore
from ops_center.settings import Settings, get_settings

log = logging.getLogger("ingest")
RECEIVE_MAXIMUM = 65535
SESSION_EXPIRY_S = 7 * 86400
GC_YOUNG_THRESHOLD = 50_000
DECODED_AHEAD = 4
"""Decoded batches waiting for the writer at most; the writer commits whatever waits as one batch."""

Decoded = tuple[list[Pending], list[isolation.Item], PreparedWrite | None, float]
"""A batch handed from the decoding thread to the writer: the received messages, their decodings and, once the
writer exists, the Python share of its write done ahead (``BatchWriter.prepare``); when it was taken (monotonic)."""


class IngestService:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.client_id = settings.ingest_client_id or f"ops-ingest-{socket.gethostname()}"
        self.intake = Intake(settings.ingest_batch_max, settings.ingest_batch_max_bytes,
                             settings.ingest_flush_ms / 1000.0)
        self.decoded: queue.Queue[Decoded | None] = queue.Queue(maxsize=DECODED_AHEAD)
        self.generation = 0
        self.max_depth = 0
        self.stopping = threading.Event()
        self.writer_done = threading.Event()
        self._stop_deadline = float("inf")
        self.decoder = Decoder(settings, self.client_id, self.stopping, self._give_up)
        self.conn: psycopg.Connection[Any] | None = None
        self.writer: BatchWriter | None = None
        self.client = self._make_client()

    # -- MQTT ----------------------------------------------------------------------------------------------------
    def _make_client(self) -> ConsumerClient:
        c = ConsumerClient(CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=mqtt.MQTTv5,
                           manual_ack=True)
        c.username_pw_set(self.settings.mqtt_username, self.settings.mqtt_password.get_secret_value())
        c.max_inflight_messages_set(1000)
        c.reconnect_delay_set(min_delay=0.1, max_delay=5)  # type: ignore[arg-type]  # back before devices
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        c.on_raw_message = self._on_raw_message
        return c

    def _connect_properties(self) -> Properties:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = SESSION_EXPIRY_S
        props.ReceiveMaximum = RECEIVE_MAXIMUM
        return props

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            log.error("broker refused the connection: %s", reason)
            return
        self.generation += 1
        metrics.CONNECTED.set(1)
        group = self.settings.ingest_share_group or None
        filters = subscription_filters(group)
        for feed in EGOV_FEEDS:
            egov = f"{EGOV_PREFIX}+/{feed}"
            filters.append(f"$share/{group}/{egov}" if group else egov)
        client.subscribe([(f, SubscribeOptions(qos=1)) for f in filters])
        log.info("connected to %s:%s as %s (session present: %s), subscribed to %d filters",
                 self.settings.mqtt_host, self.settings.mqtt_port, self.client_id,
                 getattr(flags, "session_present", "?"), len(filters))

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        metrics.CONNECTED.set(0)
        if not self.stopping.is_set():
            log.warning("disconnected from the broker (%s); reconnecting", reason)

    def _on_raw_message(self, mid: int, topic: bytes, payload: bytes) -> None:
        """The network thread's whole share of the work."""
        if self.stopping.is_set():
            return  # not acked: the broker redelivers it to this session (or the group) later
        self.intake.put((mid, self.generation, topic, payload))

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        """What the short path leaves to paho: QoS 0, or a PUBLISH with MQTT 5 properties."""
        self._on_raw_message(msg.mid if msg.qos else 0, msg._topic, bytes(msg.payload))

    # -- database ------------------------------------------------------------------------------------------------
    def _db(self) -> psycopg.Connection[Any]:
        if self.conn is None or self.conn.closed:
            self.conn = connect(self.settings.database_url, autocommit=True, connect_timeout=5,
                                application_name=f"ops-ingest:{self.client_id}")
            if self.writer is None:  # once: the hooks hold state (the stream evaluator has its own thread)
                store = ReadingsStore.for_connection(self.conn)
                s = self.settings
                self.writer = BatchWriter(store, dead_letter_cap=s.dead_letter_payload_cap,
                                          rate_cap=Cap(s.dead_letter_device_cap, s.dead_letter_device_window_s),
                                          hooks=stream_hooks(), on_device_event=device_event_hook(),
                                          on_dossier_events=dossier_hook())
        return self.conn

    def _drop_db(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):  # the connection is broken anyway
                self.conn.close()
        self.conn = None
        if self.writer is not None:
            self.writer.store.forget_partitions()

    # -- the decoding thread --------------------------------------------------------------------------------------
    def _decoder_loop(self) -> None:
        """Batches from the intake, decoded, to the writer (one ahead at most); None to the writer at the end."""
        try:
            while not self.writer_done.is_set():
                batch = self.intake.next_batch(self.stopping)
                if batch is None:
                    break
                taken = time.monotonic()
                metrics.RECEIVED.inc(len(batch))
                metrics.QUEUE_DEPTH.set(len(self.intake))
                items = self.decoder.decode(batch)
                writer = self.writer
                self._hand_over((batch, items, writer.prepare(items) if writer is not None else None, taken))
        except Exception:
            log.exception("the decoding thread stopped; the broker redelivers what was not committed")
        finally:
            self._hand_over(None)

    def _hand_over(self, item: Decoded | None) -> None:
        while not self.writer_done.is_set():
            try:
                self.decoded.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    # -- the writer ----------------------------------------------------------------------------------------------
    def _commit(self, batch: list[Pending], items: list[isolation.Item], prepared: PreparedWrite | None) -> None:
        """Commit a decoded batch: connection-class failures are retried with backoff (nothing acked meanwhile,
        the parts already committed are not written again); data the database refuses is isolated."""
        delay = 0.2
        job = isolation.BatchJob.of(items, prepared)
        while not job.done:
            try:
                conn = self._db()
                assert self.writer is not None
                started = time.perf_counter()
                attempts = job.attempts
                try:
                    isolation.run(job, conn, self.writer, self.writer.store.forget_partitions)
                finally:
                    metrics.WRITE_ATTEMPTS.inc(job.attempts - attempts)
                metrics.BATCH_SECONDS.observe(time.perf_counter() - started)
            except Exception as exc:
                metrics.RETRIES.inc()
                if is_conflict(exc):
                    log.warning("%s on a batch of %d; retrying", type(exc).__name__, len(batch))
                    continue
                metrics.DB_ERRORS.inc()
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                held = job.size
                if is_retryable(exc):
                    log.warning("database unavailable (%s); %d messages held, retry in %.1fs", first, held, delay)
                else:  # not a write (those are isolated): the connection; a bug
                    log.exception("unexpected failure outside the write; %d messages held, retry in %.1fs", held,
                                  delay)
                self._drop_db()
                if self.stopping.wait(delay) and self._give_up():
                    raise
                delay = min(delay * 2, 5.0)
        self._account(job, len(batch))

    def _account(self, job: isolation.BatchJob, size: int) -> None:
        result = job.result
        metrics.BATCHES.inc()
        metrics.BATCH_SIZE.observe(size)
        metrics.STORED.inc(result.stored)
        metrics.DUPLICATES.inc(result.readings - result.stored)
        metrics.DEAD_LETTERS.inc(result.letters)
        metrics.DEAD_LETTERS_DROPPED.inc(result.letters_dropped)
        metrics.BISECT_SPLITS.inc(job.splits)
        metrics.ISOLATED.inc(len(job.isolated))
        if job.depth > self.max_depth:  # a max over the process's life
            self.max_depth = job.depth
            metrics.BISECT_DEPTH.set(job.depth)
        for reason, n in result.rejects.items():
            metrics.REJECTED.labels(reason).inc(n)

    def _give_up(self) -> bool:
        """On SIGTERM during an outage we stop retrying after a grace period: unacked messages stay with the
        broker, so nothing is lost."""
        return time.monotonic() > self._stop_deadline

    def _ack(self, batch: list[Pending]) -> None:
        """One write of every PUBACK of the batch; QoS 0 messages (id 0) and messages of a previous connection
        (the broker redelivers those) are not acked."""
        gen = self.generation
        acked = self.client.ack_many([mid for mid, g, _t, _p in batch if g == gen and mid])
        metrics.ACKED.inc(acked)

    def _writer_loop(self) -> None:
        try:
            while True:
                item, last = self._next_for_writer()
                if item is not None:
                    batch, items, prepared, taken = item
                    try:
                        self._commit(batch, items, prepared)
                    except Exception:
                        log.error("stopping with %d messages not committed; the broker redelivers them", len(batch))
                        return
                    metrics.TAKEN_TO_COMMIT.observe(time.monotonic() - taken)
                    self._ack(batch)
                if last:
                    return
        finally:
            self.writer_done.set()

    def _next_for_writer(self) -> tuple[Decoded | None, bool]:
        """The next decoded batch, merged with every other one already waiting (up to ``ingest_batch_max``
        messages): when commits are slower than the batch age (small batches, a busy database) one commit takes
        what piled up instead of each small batch queueing behind the last — a group commit. Returns it and
        whether the decoder has finished."""
        first = self.decoded.get()
        if first is None:
            return None, True
        waiting = [first]
        size = len(first[0])
        while size < self.intake.max_messages:
            try:
                nxt = self.decoded.get_nowait()
            except queue.Empty:
                break
            if nxt is None:
                return _merged(waiting, self.writer), True
            waiting.append(nxt)
            size += len(nxt[0])
        return _merged(waiting, self.writer), False

    # -- running -------------------------------------------------------------------------------------------------
    def run(self) -> None:
        if self.settings.ingest_metrics_port:
            start_http_server(self.settings.ingest_metrics_port, addr="0.0.0.0", registry=metrics.REGISTRY)
        signal.signal(signal.SIGTERM, self._request_stop)
        signal.signal(signal.SIGINT, self._request_stop)
        tune_gc()
        self.client.connect_async(self.settings.mqtt_host, self.settings.mqtt_port, keepalive=30,
                                  clean_start=False, properties=self._connect_properties())
        self.client.loop_start()
        decoder = threading.Thread(target=self._decoder_loop, name="ingest-decoder", daemon=True)
        writer = threading.Thread(target=self._writer_loop, name="ingest-writer", daemon=True)
        decoder.start()
        writer.start()
        while writer.is_alive():
            writer.join(0.5)
        time.sleep(0.2)  # let the network thread send the last acks
        self.client.disconnect()
        self.client.loop_stop()
        if self.writer is not None:
            for hook in self.writer.hooks:
                close = getattr(hook, "close", None)
                if close is not None:
                    close()
        if self.conn is not None:
            self.conn.close()
        self.decoder.close()
        log.info("ingest stopped cleanly")

    def _request_stop(self, signum: int, frame: Any) -> None:
        log.info("signal %d: flushing, acking and stopping", signum)
        self._stop_deadline = time.monotonic() + 10.0
        self.stopping.set()
        self.intake.wake.set()


def _merged(waiting: list[Decoded], writer: BatchWriter | None) -> Decoded:
    """One batch of several decoded ones (the Python share of its write done again, for all of it)."""
    if len(waiting) == 1:
        return waiting[0]
    batch = [m for w in waiting for m in w[0]]
    items = [i for w in waiting for i in w[1]]
    return batch, items, writer.prepare(items) if writer is not None else None, min(w[3] for w in waiting)


def tune_gc() -> None:
    """Keep the cyclic garbage collector off the hot path: everything alive after start-up (modules, settings,
    the catalogue) is frozen out of its scans, and young collections run every 50,000 allocations instead of
    700. A batch allocates a few objects per message and frees them together; with the defaults the collector
    rescanned the long-lived heap so often that decoding cost 2-3 times more (docs/ingest-performance.md)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 100)


def main() -> int:
    logging.basicConfig(level=os.environ.get("OPS_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    IngestService(get_settings()).run()
    return 0


