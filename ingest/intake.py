"""What the network thread hands to the rest of ingest: a buffer of received messages and the batching policy.

``put`` runs on paho's network thread for every message and does as little as possible: one append (and, when the
buffer was empty or just became a full batch, one wake-up). ``next_batch`` runs on the decoding thread: a batch is
due when it holds ``max_messages`` messages or ``max_bytes`` of payload, or when its oldest message has waited
``flush_s``; it is cut at the same limits (a gateway pack carries 50 readings: the byte cap keeps its batches to a
size the database sorts and aggregates in memory). Messages left behind a batch that was cut are due at once: they
waited for it.
"""

from __future__ import annotations

import collections
import threading
import time

Pending = tuple[int, int, bytes, bytes]
"""A received message: (packet id, 0 for a QoS 0 message, which is never acked; connection generation; topic;
payload)."""


class Intake:
    def __init__(self, max_messages: int, max_bytes: int, flush_s: float) -> None:
        self.max_messages = max(1, max_messages)
        self.max_bytes = max(1, max_bytes)
        self.flush_s = flush_s
        self.buffer: collections.deque[Pending] = collections.deque()
        self.first_at = 0.0
        """When the oldest message now in the buffer arrived (monotonic): the batch age starts there."""
        self.wake = threading.Event()
        self.bytes_in = 0
        """Payload bytes ever put (written by the network thread only)."""
        self.bytes_out = 0
        """Payload bytes ever taken (written by the decoding thread only): the difference is what waits."""

    def __len__(self) -> int:
        return len(self.buffer)

    def put(self, message: Pending) -> None:
        buffer = self.buffer
        size = len(message[3])
        self.bytes_in += size
        if not buffer:
            self.first_at = time.monotonic()
            buffer.append(message)
            self.wake.set()  # the batch age starts: the decoder times it from here
            return
        buffer.append(message)
        waiting = self.bytes_in - self.bytes_out
        if len(buffer) == self.max_messages or waiting - size < self.max_bytes <= waiting:
            self.wake.set()  # a full batch, by count or by bytes (once, as it crosses): a waiting decoder wakes

    def next_batch(self, stopping: threading.Event) -> list[Pending] | None:
        """Block until a batch is due and return it; once ``stopping`` is set, return what is left without
        waiting, then None when nothing is."""
        while True:
            n = len(self.buffer)
            if n == 0:
                if stopping.is_set():
                    return None
                self.wake.wait(0.5)
                self.wake.clear()
                continue
            wait = self.flush_s - (time.monotonic() - self.first_at)
            full = n >= self.max_messages or self.bytes_in - self.bytes_out >= self.max_bytes
            if not full and wait > 0 and not stopping.is_set():
                self.wake.wait(wait)
                self.wake.clear()
                continue
            return self.take()

    def take(self) -> list[Pending]:
        buffer, cap = self.buffer, self.max_bytes
        batch: list[Pending] = []
        size = 0
        for _ in range(min(len(buffer), self.max_messages)):
            message = buffer.popleft()
            batch.append(message)
            size += len(message[3])
            if size >= cap:
                break
        self.bytes_out += size
        if buffer:
            self.first_at = 0.0  # what is left waited behind this batch: due at once
        return batch
