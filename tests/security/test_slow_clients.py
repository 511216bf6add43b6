"""#11 item 10: clients that trickle their request head (or send nothing) are closed after the header timeout,
while normal requests keep being served. Real sockets against a real uvicorn (``ops-center api``) subprocess."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Stack
from tests.security.support_h_api import ApiServer, api_server, get_status

HEADER_TIMEOUT_S = 2.0
TRICKLERS = 150
SILENT = 50
GIVE_UP_S = 30.0  # far beyond the timeout: the old server never closed these at all


@pytest.fixture(scope="module")
def server(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    env = {**stack.env, "OPS_HTTP_HEADER_TIMEOUT_S": str(HEADER_TIMEOUT_S)}
    with api_server(env, tmp_path_factory.mktemp("slow") / "api.log") as srv:
        yield srv


def _connect(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.setblocking(False)
    return s


def _closed_by_server(s: socket.socket, seen: bytearray) -> bool:
    try:
        data = s.recv(4096)
    except BlockingIOError:
        return False
    except OSError:  # reset by the server
        return True
    seen.extend(data)
    return data == b""


class NormalTraffic(threading.Thread):
    """Ordinary requests, one after the other, while the slow clients hang on."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.statuses, self.stop = url, [], threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.statuses.append(get_status(self.url + "/healthz", timeout=10))
            time.sleep(0.05)


def test_trickling_and_silent_connections_are_closed(server: ApiServer) -> None:
    tricklers = [_connect(server.port) for _ in range(TRICKLERS)]
    for s in tricklers:
        s.send(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    silent = [_connect(server.port) for _ in range(SILENT)]
    traffic = NormalTraffic(server.url)
    traffic.start()
    open_ = {s: bytearray() for s in tricklers + silent}
    closed: dict[socket.socket, bytearray] = {}
    deadline = time.monotonic() + GIVE_UP_S
    while open_ and time.monotonic() < deadline:
        for s in list(open_):
            if _closed_by_server(s, open_[s]):
                closed[s] = open_.pop(s)
            elif s in tricklers:
                try:
                    s.send(b"a")  # one more header byte: the head never completes
                except OSError:
                    closed[s] = open_.pop(s)
        time.sleep(0.25)
    traffic.stop.set()
    traffic.join(15)
    for s in tricklers + silent:
        s.close()
    assert not open_, f"{len(open_)} of {TRICKLERS + SILENT} slow connections still open after {GIVE_UP_S} s"
    answered = [bytes(seen) for seen in closed.values() if seen]
    assert answered and all(a.startswith(b"HTTP/1.1 408 ") for a in answered), answered[:3]
    assert traffic.statuses and set(traffic.statuses) == {200}, traffic.statuses[-20:]


def test_a_slow_but_timely_client_and_keep_alive_are_served(server: ApiServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        for chunk in (b"GET /healthz HT", b"TP/1.1\r\nHost: 127.", b"0.0.1\r\n\r\n"):
            s.sendall(chunk)
            time.sleep(HEADER_TIMEOUT_S / 5)
        first = s.recv(4096)
        assert first.startswith(b"HTTP/1.1 200 "), first
        time.sleep(HEADER_TIMEOUT_S * 0.75)  # idle between requests is the keep-alive timeout's business
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert s.recv(4096).startswith(b"HTTP/1.1 200 ")


def test_an_endless_head_is_refused(server: ApiServer) -> None:
    """A head that never ends (sent fast, within the timeout) is cut off at 64 KiB, not buffered forever."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=HEADER_TIMEOUT_S / 2) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        try:
            for _ in range(200):
                s.sendall(b"X-Pad: " + b"p" * 1000 + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            return  # closed by the server while we were still sending
        try:
            answer = s.recv(4096)
        except ConnectionResetError:
            return
        except TimeoutError:
            pytest.fail("the server still waits for the rest of a 200 KB request head")
    assert answer.startswith(b"HTTP/1.1 431 ") or answer == b"", answer[:80]


def test_a_large_body_sent_with_its_head_is_no_head(server: ApiServer) -> None:
    """The 64 KiB cap is for the head alone: a 600 KB body written in one go with its head (as HTTP clients send a
    dossier batch) reaches the application, which answers it (401: no credentials), not 431."""
    body = b'{"events": [' + b",".join([b'{"dossier_id": "x"}'] * 30_000) + b"]}"
    head = (b"POST /dossiers/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n")
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(head + body)
        answer = s.recv(4096)
    assert answer.startswith(b"HTTP/1.1 401 "), answer[:120]


def test_the_log_names_no_crash(server: ApiServer) -> None:
    assert "Traceback" not in server.log_text(), server.log_text()[-3000:]


def test_the_compose_deployment_puts_a_proxy_with_timeouts_in_front() -> None:
    import re

    import yaml

    repo = Path(__file__).resolve().parents[2]
    services = yaml.safe_load((repo / "docker-compose.yml").read_text())["services"]
    proxy, api = services["proxy"], services["api"]
    assert re.fullmatch(r"nginx:\d+\.\d+\.\d+-alpine", proxy["image"]), proxy["image"]  # pinned
    assert "ports" not in api and api["expose"] == ["8000"]  # only the proxy is published
    assert float(api["environment"]["OPS_HTTP_HEADER_TIMEOUT_S"]) > 0
    mount = next(v for v in proxy["volumes"] if v.endswith(":/etc/nginx/nginx.conf:ro"))
    conf = (repo / mount.split(":")[0]).read_text()
    for directive in ("client_header_timeout", "client_body_timeout", "send_timeout", "keepalive_timeout",
                      "client_max_body_size", "proxy_read_timeout"):
        assert re.search(rf"^\s*{directive}\s+\d+[smh]?;", conf, re.M), directive
    assert "server api:8000;" in conf
