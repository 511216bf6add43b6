"""Serving the API with uvicorn, with a limit on how long a client may take to send its request head.

uvicorn (0.54) times out idle keep-alive connections but not a client that opens a connection and then sends its
request line and headers one byte at a time (or nothing at all): such connections were held forever (an outside
probe kept 2,000 of them open). ``HeaderTimeoutProtocol`` is uvicorn's httptools protocol with one timer added:

- armed when the connection is made and when a new request starts (the parser's ``on_message_begin``),
- cancelled when the request's headers are complete (the body is the application's business; uvicorn's keep-alive
  timeout covers the idle time between requests),
- on expiry: ``408 Request Timeout`` and the connection is closed.

It also caps the size of a request head (``MAX_HEAD_BYTES``; httptools has no limit of its own): ``431``.
In the compose deployment nginx sits in front and applies its own timeouts as well (``deploy/nginx.conf``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ops_center.settings import get_settings

MAX_HEAD_BYTES = 64 * 1024
_REQUEST_TIMEOUT = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
                    b"content-length: 44\r\nconnection: close\r\n\r\nrequest line and headers not received in time")
_HEAD_TOO_LARGE = (b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n"
                   b"connection: close\r\n\r\n")


class HeaderTimeoutProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol; a request head must arrive within ``Settings.http_header_timeout_s``."""

    header_timeout_s: float | None = None  # None: read from the settings on first use

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_bytes = 0

    @classmethod
    def timeout(cls) -> float:
        if cls.header_timeout_s is None:
            cls.header_timeout_s = get_settings().http_header_timeout_s
        return cls.header_timeout_s

    def _arm(self) -> None:
        if self._head_timer is None:
            self._head_bytes = 0
            self._head_timer = self.loop.call_later(self.timeout(), self._head_timed_out)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.keep_alive = False  # a response is under way: close once it is sent
            return
        self.transport.write(_REQUEST_TIMEOUT)
        self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        # Counted after parsing: a chunk in which the head completed disarmed the timer, so a request body arriving
        # with its head (a large POST) is not taken for head bytes; only a head still incomplete is measured.
        if self._head_timer is not None and not self.transport.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES and (self.cycle is None or self.cycle.response_complete):
                self._disarm()
                self.transport.write(_HEAD_TOO_LARGE)
                self.transport.close()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()


def serve(host: str, port: int, workers: int, log_level: str) -> None:
    """uvicorn with the app factory and the protocol above; uvicorn's own proxy-header handling is off because the
    app applies ``OPS_TRUSTED_PROXIES`` itself (``api.app``), so that setting alone decides."""
    import uvicorn

    uvicorn.run("api.app:create_app", factory=True, host=host, port=port, workers=workers, log_level=log_level,
                proxy_headers=False, http=HeaderTimeoutProtocol,
                ws_per_message_deflate=False)  # small JSON events: compressing each costs more CPU than it saves
