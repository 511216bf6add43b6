"""The decoding stage of ingest: a batch of received messages becomes (raw message, decoding) pairs.

It runs on its own thread, ahead of the writer: while the writer waits for the database to commit one batch (the
GIL released), the next one is decoded. The registry lives here, with its own database connection for its
refreshes and for looking up ids it did not know (a device provisioned a moment ago is accepted at once); when the
database is unreachable the stage waits with backoff, as the writer does, and never refuses a message for it.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable

from ingest import metrics
from ingest.catalogue import load_catalogue
from ingest.decode import Decoded, NameMemo, decode_message
from ingest.intake import Pending
from ingest.isolation import Item
from ingest.registry import Registry
from ingest.sink import RawMessage
from ingest.topics import parse_topic
from ingest.validate import UNKNOWN_DEVICE, Reject
from ops_center.db import Conn, connect
from ops_center.db_errors import is_retryable
from ops_center.settings import Settings

log = logging.getLogger("ingest.decoding")
EGOV_PREFIX = "ops/v1/egov/"


class Decoder:
    def __init__(self, settings: Settings, client_id: str, stopping: threading.Event,
                 give_up: Callable[[], bool]) -> None:
        """``give_up``: asked after a failed attempt once ``stopping`` is set; True ends the retries (raises)."""
        self.settings = settings
        self.client_id = client_id
        self.stopping = stopping
        self.give_up = give_up
        self.catalogue = load_catalogue(settings.ingest_catalogue_file)
        self.registry = Registry(settings.ingest_registry_refresh_s, settings.ingest_registry_negative_s)
        self.conn: Conn | None = None

    def _db(self) -> Conn:
        if self.conn is None or self.conn.closed:
            self.conn = connect(self.settings.database_url, autocommit=True, connect_timeout=5,
                                application_name=f"ops-ingest-registry:{self.client_id}")
            self.registry.force_refresh(self.conn)
        return self.conn

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):  # closing a broken connection
                self.conn.close()
        self.conn = None

    def decode(self, batch: list[Pending]) -> list[Item]:
        """Decode every message of ``batch``; a failure to reach the registry's database is retried with backoff."""
        delay = 0.2
        while True:
            try:
                conn = self._db()
                self.registry.refresh_if_due(conn)
                return self._decode(batch, conn)
            except Exception as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                if is_retryable(exc):
                    log.warning("registry unavailable (%s); %d messages held, retry in %.1fs", first, len(batch),
                                delay)
                else:
                    log.exception("unexpected failure decoding a batch of %d; retry in %.1fs", len(batch), delay)
                self.close()
                if self.stopping.wait(delay) and self.give_up():
                    raise
                delay = min(delay * 2, 5.0)

    def _decode(self, batch: list[Pending], conn: Conn) -> list[Item]:
        """Ids the registry did not know are looked up in the database before a message naming them is refused
        (and its decoding repeated when one was found)."""
        now = time.time()
        raws = [RawMessage(topic.decode("utf-8", "replace"), payload) for _mid, _gen, topic, payload in batch]
        names: NameMemo = {}
        out = [(raw, self.decode_one(raw, now, names)) for raw in raws]
        if self.registry.missed:
            found = self.registry.look_up_missed(conn)
            metrics.REGISTRY_LOOKUPS.labels("found" if found else "absent").inc()
            if found:  # the registry changed: names resolved before are not reused
                names = {}
                out = [(raw, self.decode_one(raw, now, names)) if _unknown_device(dec) else (raw, dec)
                       for raw, dec in out]
            self.registry.missed.clear()
        return out

    def decode_one(self, msg: RawMessage, now: float, names: NameMemo | None = None) -> Decoded | None:
        if msg.topic.startswith(EGOV_PREFIX):
            return None
        s = self.settings
        try:
            return decode_message(msg.topic, msg.payload, now, self.registry, self.catalogue, s.ingest_max_payload,
                                  s.ingest_max_age_s, names)
        except Exception as exc:  # a decoder bug must cost this message, not the stream
            log.exception("decoding a message on %r failed", msg.topic)
            ref = parse_topic(msg.topic)
            topic = ref if not isinstance(ref, Reject) else None
            return Decoded(topic, [], [Reject("decode_failed", f"payload: the decoder failed: {type(exc).__name__}: "
                                                                f"{exc}"[:1000], topic.entity_id if topic else None,
                                              "payload", None)], None, [])


def _unknown_device(dec: Decoded | None) -> bool:
    return dec is not None and any(r.reason_code == UNKNOWN_DEVICE for r in dec.rejects)
