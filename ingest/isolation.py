"""Commit a batch whatever its data: bisect what the database refuses, dead-letter the messages that cause it.

A batch is written in one transaction (``ingest.sink.BatchWriter.write``). When the database refuses it for a reason
that is not the connection's (``ops_center.db_errors.is_retryable`` is False: a value it cannot store, a constraint,
a bug meeting an unusual message), retrying it unchanged would fail forever and stall every device behind it. So the
batch is split in halves, each written in its own transaction, and a half that fails is split again, until the
failing messages stand alone: each of those is dead-lettered with the database's error as its reason (plus the
decoder's own rejections of that message), and everything else commits. With ``k`` poison messages in a batch of
``n`` this costs at most ``1 + 2·k·⌈log2 n⌉`` write attempts and never more than ``⌈log2 n⌉`` levels of splitting.

A connection-class or transient failure (``is_retryable``) is raised to the caller, which retries with backoff; the
job remembers which parts already committed, so a retry writes only the rest (nothing is written twice).
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ingest.decode import Decoded
from ingest.sink import BatchResult, BatchWriter, PreparedWrite, RawMessage, letter_for
from ops_center.db import Conn
from ops_center.db_errors import WriteFault, describe, is_retryable
from ops_center.devices.dead_letters import NewLetter, Reason

log = logging.getLogger("ingest.isolation")

Item = tuple[RawMessage, Decoded | None]


@dataclass(slots=True)
class _Part:
    items: list[Item]
    depth: int
    fault: WriteFault | None = None
    """Set once the part is one message the database refused: what is left is writing its dead letter."""
    bare: bool = False
    """Write the dead letter with the fault alone (its payload and the decoder's reasons left out)."""
    prepared: PreparedWrite | None = None
    """The whole batch's ``BatchWriter.prepare`` when it was done ahead (parts of a split batch prepare their own)."""


@dataclass(slots=True)
class BatchJob:
    """The state of one batch across attempts: the parts still to commit, what was committed, how it went."""

    pending: deque[_Part]
    result: BatchResult = field(default_factory=BatchResult)
    attempts: int = 0
    """Write attempts (transactions tried), including the ones that failed."""
    splits: int = 0
    depth: int = 0
    """Deepest level of splitting reached (0: the batch committed whole)."""
    isolated: list[tuple[str, WriteFault]] = field(default_factory=list)
    """(topic, fault) of each message dead-lettered because its write failed."""
    lost: int = 0
    """Messages whose dead letter could not be written at all (logged; never expected)."""

    @classmethod
    def of(cls, items: Sequence[Item], prepared: PreparedWrite | None = None) -> BatchJob:
        return cls(deque([_Part(list(items), 0, prepared=prepared)]) if items else deque())

    @property
    def done(self) -> bool:
        return not self.pending

    @property
    def size(self) -> int:
        return sum(len(p.items) for p in self.pending)


def max_attempts(n: int, poison: int) -> int:
    """The most write attempts a batch of ``n`` messages with ``poison`` refused ones may take."""
    return 1 + 2 * poison * max(1, math.ceil(math.log2(max(n, 2))))


def run(job: BatchJob, conn: Conn, writer: BatchWriter, on_rollback: Callable[[], None]) -> None:
    """Commit every pending part of ``job``; raises only what ``is_retryable`` says to retry (the job keeps its
    place). ``on_rollback`` is called after every failed transaction (e.g. to forget partitions it created)."""
    while job.pending:
        part = job.pending[0]
        job.attempts += 1
        try:
            if part.fault is not None:
                _write_fault(conn, writer, part.items[0], part.fault, part.bare, job)
            else:
                job.result.add(writer.write(conn, part.items, part.prepared))
        except Exception as exc:
            on_rollback()
            if is_retryable(exc):
                raise
            job.pending.popleft()
            _failed(job, part, exc)
            continue
        job.pending.popleft()


def _failed(job: BatchJob, part: _Part, exc: Exception) -> None:
    if part.fault is not None:
        if part.bare:  # cannot happen with a storable letter; never stall on it either: log it and move on
            log.error("the bare dead letter of a refused message on %r was refused too (%s); dropped",
                      part.items[0][0].topic, exc)
            job.lost += 1
            return
        log.error("the dead letter of a refused message on %r was refused too (%s); recording it bare",
                  part.items[0][0].topic, exc)
        job.pending.appendleft(_Part(part.items, part.depth, part.fault, bare=True))
        return
    if len(part.items) == 1:
        fault = describe(exc)
        log.warning("message on %r refused by the database, dead-lettered: %s", part.items[0][0].topic, fault.detail)
        job.pending.appendleft(_Part(part.items, part.depth, fault))
        return
    mid = len(part.items) // 2
    job.splits += 1
    job.depth = max(job.depth, part.depth + 1)
    job.pending.appendleft(_Part(part.items[mid:], part.depth + 1))
    job.pending.appendleft(_Part(part.items[:mid], part.depth + 1))


def _write_fault(conn: Conn, writer: BatchWriter, item: Item, fault: WriteFault, bare: bool, job: BatchJob) -> None:
    raw, dec = item
    reason = Reason(fault.reason, fault.detail, fault.field, fault.value, None)
    if bare:
        letter = NewLetter(raw.topic, b"", None, (reason,))
    elif dec is not None:
        letter = letter_for(raw, dec, (reason,))
    else:
        letter = NewLetter(raw.topic, raw.payload, None, (reason,))
    with conn.transaction():
        recorded = writer.write_letters(conn, [letter])
    job.result.messages += 1
    job.result.letters += recorded.stored
    job.result.letters_dropped += recorded.dropped
    job.result.rejects[fault.reason] = job.result.rejects.get(fault.reason, 0) + 1
    job.isolated.append((raw.topic, fault))
