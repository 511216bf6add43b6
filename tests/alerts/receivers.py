"""Real local receivers for notification tests: an HTTP webhook server (http.server in a thread) and an SMTP server
(aiosmtpd). Both dedupe by idempotency key the way a well-behaved receiver does, and count what they got."""

from __future__ import annotations

import email
import email.policy
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from tests.support.services import free_port


@dataclass
class WebhookReceiver:
    """``script``: statuses to answer, one per request, then 200 forever; ``slow_first_s``: sleep that long before
    answering the first request (after recording it)."""

    port: int
    script: list[int] = field(default_factory=list)
    slow_first_s: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    delivered: dict[str, Any] = field(default_factory=dict)  # idempotency key -> body (JSON or bytes), first success
    got_request: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def handle(self, key: str | None, body: Any, headers: dict[str, str]) -> int:
        with self.lock:
            n = len(self.requests)
            self.requests.append({"key": key, "body": body, "headers": headers})
            status = self.script[n] if n < len(self.script) else 200
            duplicate = key in self.delivered
            if status < 300 and key is not None and not duplicate:
                self.delivered[key] = body
        self.got_request.set()
        if n == 0 and self.slow_first_s:
            time.sleep(self.slow_first_s)
        return status


@contextmanager
def webhook_receiver(script: list[int] | None = None, slow_first_s: float = 0.0) -> Iterator[WebhookReceiver]:
    rec = WebhookReceiver(free_port(), list(script or []), slow_first_s)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            is_json = self.headers.get("Content-Type", "application/json").startswith("application/json")
            status = rec.handle(self.headers.get("Idempotency-Key"), json.loads(raw) if is_json else raw,
                                {k.lower(): v for k, v in self.headers.items()})
            try:
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
            except OSError:
                pass  # the client went away (a killed worker)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", rec.port), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield rec
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class SmtpReceiver:
    port: int
    script: list[str] = field(default_factory=list)  # SMTP replies to DATA, one per message, then 250
    messages: list[EmailMessage] = field(default_factory=list)
    delivered: dict[str, EmailMessage] = field(default_factory=dict)  # Message-ID -> first accepted

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        n = len(self.messages)
        self.messages.append(msg)  # type: ignore[arg-type]
        reply = self.script[n] if n < len(self.script) else "250 Message accepted for delivery"
        if reply.startswith("250"):
            self.delivered.setdefault(str(msg["Message-ID"]), msg)  # type: ignore[arg-type]
        return reply


@contextmanager
def smtp_receiver(script: list[str] | None = None) -> Iterator[SmtpReceiver]:
    rec = SmtpReceiver(free_port(), list(script or []))
    controller = Controller(rec, hostname="127.0.0.1", port=rec.port)
    controller.start()
    try:
        yield rec
    finally:
        controller.stop()
