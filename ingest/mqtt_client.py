"""paho-mqtt's client with a cheaper receive and ack path for one QoS 1 consumer (the ingest service).

paho-mqtt 2.2's receive path costs more per message than anything ingest does with it (docs/ingest-performance.md):
for every PUBLISH it makes three ``recv`` calls (the command byte, each byte of the remaining length, then the
body) and one ``select``; it builds an ``MQTTMessage`` with an ``MQTTMessageInfo`` (a ``threading.Condition``) and,
over MQTT 5, a ``Properties`` object (a dozen dicts and lists built per message) even when the message carries no
properties; and every ack is its own queued packet, a wake-up byte on a socket pair and its own ``send``.

``ConsumerClient`` keeps paho for everything (connection, session, keep-alive, subscriptions, reconnects, TLS) and
changes four things:

- reads are buffered: one ``recv`` of up to 256 KiB serves many packets, and ``loop_read`` handles every complete
  packet in the buffer before returning (so ``select`` never waits while data sits in the buffer);
- a QoS 1 PUBLISH without properties (MQTT 5) or any QoS 1 PUBLISH (3.1.1) is decoded in a few slices and handed
  to ``on_raw_message(mid, topic, payload)``: no message object; anything else (QoS 0/2, a PUBLISH with properties)
  goes through paho's own path and ``on_message``;
- ``ack_many(mids)`` queues the PUBACKs of a whole batch as one write.

It relies on private methods of paho-mqtt (``_sock_recv``, ``_sock_close``, ``_handle_publish``, ``_packet_queue``),
so paho-mqtt is pinned; ``tests/ingest/test_mqtt_client.py`` checks the behaviour against a real broker.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode

PAHO_VERSION = "2.2.0"
"""The paho-mqtt release these overrides were written against (pyproject.toml pins it)."""
RECV_CHUNK = 256 * 1024
PUBACK = 0x40
_PUBACK = struct.Struct("!BBH")
RawCallback = Callable[[int, bytes, bytes], None]


class ConsumerClient(mqtt.Client):
    """A paho ``Client`` for a QoS 1 consumer: set ``on_raw_message`` and ack with ``ack_many``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.on_raw_message: RawCallback | None = None
        self._rbuf = b""
        self._rpos = 0

    # -- reading ---------------------------------------------------------------------------------------------------
    def _sock_recv(self, bufsize: int) -> bytes:
        pos, buf = self._rpos, self._rbuf
        if pos >= len(buf):
            buf = super()._sock_recv(RECV_CHUNK)  # BlockingIOError when nothing is there: paho's "again"
            if not buf:
                return b""  # the connection closed
            self._rbuf, pos = buf, 0
            with self._msgtime_mutex:  # what paho's keep-alive reads; once per chunk, not per packet
                self._last_bytes_received = mqtt.time_func()
        end = pos + bufsize
        self._rpos = end
        return buf[pos:end]

    def _sock_close(self) -> None:
        self._rbuf, self._rpos = b"", 0
        super()._sock_close()

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        """Handle packets until the buffer is used up: ``select`` sees only the socket, never this buffer, so
        nothing may be left in it when the loop goes back to waiting (and returning then lets acks go out)."""
        while True:
            if self._sock is None:
                return MQTTErrorCode.MQTT_ERR_NO_CONN
            rc = self._packet_read()
            if rc > 0:
                return self._loop_rc_handle(rc)
            if rc == MQTTErrorCode.MQTT_ERR_AGAIN or self._rpos >= len(self._rbuf):
                return MQTTErrorCode.MQTT_ERR_SUCCESS

    def _packet_read(self) -> MQTTErrorCode:
        """A QoS 1 PUBLISH lying whole in the buffer goes straight to ``on_raw_message``; everything else (other
        packets, a packet split across reads) through paho's reader, which reads from the same buffer."""
        callback = self.on_raw_message
        buf, pos = self._rbuf, self._rpos
        if callback is None or self._in_packet["command"] or len(buf) - pos < 5 or buf[pos] & 0xF6 != 0x32:
            return super()._packet_read()
        length, mult, i, n = 0, 1, pos + 1, len(buf)
        for _ in range(4):  # the remaining length: a variable byte integer of at most four bytes
            if i >= n:
                return super()._packet_read()  # split across reads: paho's reader keeps the state
            byte = buf[i]
            i += 1
            length += (byte & 0x7F) * mult
            if byte < 0x80:
                break
            mult <<= 7
        else:
            return super()._packet_read()  # malformed: paho's reader decides
        end = i + length
        if end > n:
            return super()._packet_read()
        body = self._raw_publish(callback, buf, i, end)
        if body is None:  # not one for the short path after all: paho handles the same bytes
            return super()._packet_read()
        self._rpos = end
        return MQTTErrorCode.MQTT_ERR_SUCCESS if self._manual_ack else self._send_puback(body)

    def _raw_publish(self, callback: RawCallback, buf: bytes, start: int, end: int) -> int | None:
        """Hand the QoS 1 PUBLISH in ``buf[start:end]`` to ``callback``; returns its packet id, or None (and
        does nothing) when it needs paho's decoder: MQTT 5 properties, an empty topic (a topic alias)."""
        tlen = (buf[start] << 8) | buf[start + 1]
        tend = start + 2 + tlen
        body = tend + 2
        if self._protocol == mqtt.MQTTv5:
            if body >= end or buf[body] != 0:
                return None
            body += 1
        if tlen == 0 or body > end:
            return None
        mid = (buf[tend] << 8) | buf[tend + 1]
        callback(mid, buf[start + 2:tend], buf[body:end])
        return mid

    def _handle_publish(self) -> MQTTErrorCode:
        """A QoS 1 PUBLISH that came through paho's reader (split across reads): the same short path when it
        can take it."""
        callback = self.on_raw_message
        if callback is None or self._in_packet["command"] & 0x06 != 0x02 or len(self._in_packet["packet"]) < 3:
            return super()._handle_publish()
        packet = bytes(self._in_packet["packet"])
        mid = self._raw_publish(callback, packet, 0, len(packet))
        if mid is None:
            return super()._handle_publish()
        return MQTTErrorCode.MQTT_ERR_SUCCESS if self._manual_ack else self._send_puback(mid)

    # -- acking ----------------------------------------------------------------------------------------------------
    def ack_many(self, mids: Iterable[int]) -> int:
        """Queue the PUBACKs (success, no properties: valid in 3.1.1 and 5) of ``mids`` as one write; returns how
        many. Like ``ack``, callable from any thread."""
        pack = _PUBACK.pack
        blob = b"".join([pack(PUBACK, 2, mid) for mid in mids])
        if blob:
            self._packet_queue(PUBACK, blob, 0, 0)
        return len(blob) // 4
