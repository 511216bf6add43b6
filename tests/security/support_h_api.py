"""Helpers shared by h-api's security tests: a real API server (``ops-center api``: uvicorn in a subprocess)."""

from __future__ import annotations

import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.services import free_port

REPO = Path(__file__).resolve().parents[2]
OPS = str(REPO / ".venv" / "bin" / "ops-center")


@dataclass
class ApiServer:
    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def get_status(url: str, headers: dict[str, str] | None = None, timeout: float = 10.0) -> int:
    """The status of a GET (an HTTP error status too); raises on a connection failure."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            r.read()
            return int(r.status)
    except urllib.error.HTTPError as exc:
        exc.read()
        return int(exc.code)


@contextmanager
def api_server(env: dict[str, str], log: Path, workers: int = 1) -> Iterator[ApiServer]:
    """``ops-center api`` on a free port with ``env``; stopped (SIGTERM, then SIGKILL) afterwards."""
    port = free_port()
    fh = open(log, "ab")  # noqa: SIM115 - owned by the process
    proc = subprocess.Popen([OPS, "api", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
                             "--log-level", "warning"], env=env, stdout=fh, stderr=fh)
    server = ApiServer(f"http://127.0.0.1:{port}", proc, log)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"api exited with {proc.returncode}: {server.log_text()[-3000:]}")
            try:
                if get_status(server.url + "/healthz", timeout=2) == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"api did not answer /healthz: {server.log_text()[-3000:]}")
            time.sleep(0.1)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        fh.close()
