"""Many MQTT v5 connections driven by one thread: paho clients on a ``selectors`` event loop.

Every simulated device (or gateway) is its own broker principal with its own connection, so a fleet of 300 is 300
TCP connections. Instead of 300 network threads (``loop_start``) or polling each client, the clients hand their
sockets to one selector (paho's ``on_socket_open``/``on_socket_close`` hooks for external event loops),
so the thread sleeps until a socket is readable or writable or a timer is due. All paho calls happen on that one
thread (timers included), so no locking is needed.

A ``Link`` sets its last will (``offline``, QoS 1, retained, on its status topic) and publishes ``online`` (retained)
whenever it connects; when the connection drops it reconnects with exponential backoff and jitter.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import random
import selectors
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

log = logging.getLogger("ingest.simulator")

KEEPALIVE_S: Final = 60
MISC_EVERY_S: Final = 1.0
MAX_BACKOFF_S: Final = 30.0
PAHO_INFLIGHT: Final = 20
"""paho's in-flight window per connection (about 20 is fastest, see the design notes)."""
DISCONNECT_WITH_WILL: Final = 4
"""MQTT v5 DISCONNECT reason code 0x04: the broker publishes the will anyway."""


@dataclass
class LinkStats:
    published: int = 0
    acked: int = 0
    refused: int = 0
    """PUBACKs with a failure reason code (for example 0x87 Not authorized)."""
    connects: int = 0
    connect_refused: int = 0
    drops: int = 0
    last_refusal: str | None = None


class EventLoop:
    """Timers plus a selector over every link's socket; ``run`` until ``stop`` (or a deadline)."""

    def __init__(self) -> None:
        self.selector = selectors.DefaultSelector()
        self._timers: list[tuple[float, int, Callable[[], Any]]] = []
        self._seq = itertools.count()
        self.links: list[Link] = []
        self._stopping = False
        self._next_misc = 0.0

    # timers ------------------------------------------------------------------------------------------------------
    def call_at(self, when: float, fn: Callable[[], Any]) -> None:
        """Run ``fn`` on the loop thread at ``time.monotonic()`` == ``when``."""
        heapq.heappush(self._timers, (when, next(self._seq), fn))

    def call_later(self, delay: float, fn: Callable[[], Any]) -> None:
        self.call_at(time.monotonic() + delay, fn)

    # sockets (paho's external-loop hooks) ------------------------------------------------------------------------
    def _open(self, client: mqtt.Client, link: Any, sock: Any) -> None:
        link.write_armed = False
        self.selector.register(sock, selectors.EVENT_READ, link)

    def _close(self, client: mqtt.Client, link: Any, sock: Any) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(sock)

    def arm_write(self, link: Link) -> None:
        """Watch ``link``'s socket for writability while paho holds unsent data (rare: paho writes at once unless
        the socket buffer is full or the publish came from inside a paho callback)."""
        sock = link.client.socket()
        if sock is None or link.write_armed or not link.client.want_write():
            return
        with contextlib.suppress(KeyError, ValueError):
            self.selector.modify(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, link)
            link.write_armed = True

    def _writable(self, link: Link) -> None:
        link.client.loop_write()
        sock = link.client.socket()
        if sock is not None and not link.client.want_write():
            with contextlib.suppress(KeyError, ValueError):
                self.selector.modify(sock, selectors.EVENT_READ, link)
            link.write_armed = False

    # running -----------------------------------------------------------------------------------------------------
    def stop(self) -> None:
        self._stopping = True

    @property
    def stopping(self) -> bool:
        return self._stopping

    def run_once(self, max_wait: float = 0.5) -> None:
        now = time.monotonic()
        wait = max_wait
        if self._timers:
            wait = min(wait, max(0.0, self._timers[0][0] - now))
        wait = min(wait, max(0.0, self._next_misc - now))
        if self.selector.get_map():
            events = self.selector.select(wait)
        else:
            time.sleep(wait)
            events = []
        for key, mask in events:
            link: Link = key.data
            if mask & selectors.EVENT_READ:
                link.client.loop_read()
                self.arm_write(link)  # a publish made in a paho callback (on_connect) is still queued
            if mask & selectors.EVENT_WRITE and link.client.socket() is not None:
                self._writable(link)
        now = time.monotonic()
        while self._timers and self._timers[0][0] <= now:
            _, _, fn = heapq.heappop(self._timers)
            fn()
        if now >= self._next_misc:
            self._next_misc = now + MISC_EVERY_S
            for link in self.links:
                if link.client.socket() is not None:
                    link.client.loop_misc()
                    self.arm_write(link)

    def run(self, until: Callable[[], bool]) -> None:
        """Run until ``until()`` is true or ``stop()`` was called."""
        while not self._stopping and not until():
            self.run_once()

    def pump(self, done: Callable[[], bool], timeout: float) -> bool:
        """Keep sockets and timers going until ``done()`` or ``timeout`` seconds pass (also while stopping: used to
        flush at shutdown); returns ``done()``."""
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() >= deadline:
                return False
            self.run_once(max_wait=0.05)
        return True


@dataclass
class Link:
    """One principal's MQTT v5 connection (a device or a gateway) on an ``EventLoop``."""

    loop: EventLoop
    username: str
    password: str
    status_topic: str
    host: str
    port: int
    rng: random.Random
    on_up: Callable[[Link], None] | None = None
    stats: LinkStats = field(default_factory=LinkStats)
    connected: bool = False
    inflight: int = 0
    offline: bool = False
    """Deliberately off the broker (a silence anomaly, or shutting down): no reconnects."""
    write_armed: bool = False
    _backoff: float = 0.5

    def __post_init__(self) -> None:
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.username, protocol=mqtt.MQTTv5,
                        userdata=self)
        c.username_pw_set(self.username, self.password)
        c.will_set(self.status_topic, "offline", qos=1, retain=True)
        c.max_inflight_messages_set(PAHO_INFLIGHT)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_publish = self._on_publish
        c.on_socket_open = self.loop._open
        c.on_socket_close = self.loop._close
        # no on_socket_register_write hook: paho then writes each packet at once (one send, no epoll round trip)
        self.client = c
        self.loop.links.append(self)

    # connection --------------------------------------------------------------------------------------------------
    def connect(self) -> None:
        """Open the connection (the CONNACK arrives on the loop); retried with backoff on failure."""
        self.offline = False
        try:
            self.client.connect(self.host, self.port, keepalive=KEEPALIVE_S, clean_start=True)
            self.loop.arm_write(self)
        except OSError as exc:
            log.debug("%s: connect failed (%s)", self.username, exc)
            self._retry()

    def _retry(self) -> None:
        if self.loop.stopping or self.offline:
            return
        delay = self._backoff * self.rng.uniform(0.7, 1.3)
        self._backoff = min(self._backoff * 2.0, MAX_BACKOFF_S)
        self.loop.call_later(delay, self._reconnect)

    def _reconnect(self) -> None:
        if self.connected or self.loop.stopping or self.offline:
            return
        self.connect()

    def _on_connect(self, client: mqtt.Client, link: Link, flags: Any, reason: ReasonCode, props: Any) -> None:
        if reason.is_failure:
            self.stats.connect_refused += 1
            log.debug("%s: broker refused the connection: %s", self.username, reason)
            return  # paho closes the socket and calls _on_disconnect, which retries
        self.connected = True
        self.inflight = 0
        self._backoff = 0.5
        self.stats.connects += 1
        self.publish(self.status_topic, b"online", retain=True)
        if self.on_up is not None:
            self.on_up(self)

    def _on_disconnect(self, client: mqtt.Client, link: Link, flags: Any, reason: ReasonCode, props: Any) -> None:
        was = self.connected
        self.connected = False
        self.inflight = 0
        if was and not self.offline:  # not a disconnect we asked for
            self.stats.drops += 1
        self._retry()

    def _on_publish(self, client: mqtt.Client, link: Link, mid: int, reason: ReasonCode, props: Any) -> None:
        self.inflight = max(0, self.inflight - 1)
        if reason.is_failure:
            self.stats.refused += 1
            self.stats.last_refusal = str(reason)
        else:
            self.stats.acked += 1

    # publishing --------------------------------------------------------------------------------------------------
    def publish(self, topic: str, payload: bytes, retain: bool = False) -> bool:
        """Publish at QoS 1; False (nothing sent) when not connected."""
        if not self.connected:
            return False
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            return False
        if self.write_armed is False and self.client.want_write():
            self.loop.arm_write(self)
        self.inflight += 1
        self.stats.published += 1
        return True

    def go_offline(self, *, with_will: bool) -> None:
        """Leave the broker: with the will (status turns ``offline`` through the last will) or after publishing
        ``offline`` ourselves (a clean shutdown)."""
        self.offline = True
        if not self.connected:
            return
        if with_will:
            self.client.disconnect(reasoncode=ReasonCode(PacketTypes.DISCONNECT, identifier=DISCONNECT_WITH_WILL))
        else:
            self.publish(self.status_topic, b"offline", retain=True)
            self.client.disconnect()
        self.loop.arm_write(self)
