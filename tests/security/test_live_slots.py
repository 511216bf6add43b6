"""Issue #11 item 6: one account cannot take every live-feed slot, and the last slots are kept for operators.

Real uvicorn processes with small caps (``OPS_LIVE_*``), real WebSocket clients."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

import pytest
from websockets.sync.client import ClientConnection

from tests.live.conftest import Server, recv_until, ws_connect
from tests.security.support_hauth import api_process, closed_code, eventually, new_account, password_login


@pytest.fixture(scope="module")
def small_server(stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:  # type: ignore[no-untyped-def]
    """10 sockets in all, 3 per account, the last 4 only for admins and operators."""
    log = tmp_path_factory.mktemp("slots") / "uvicorn.log"
    with api_process(stack, log, OPS_LIVE_MAX_CLIENTS="10", OPS_LIVE_MAX_PER_PRINCIPAL="3",
                     OPS_LIVE_RESERVED_FOR_OPERATORS="4") as server:
        yield server


@pytest.fixture(scope="module")
def default_server(stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:  # type: ignore[no-untyped-def]
    with api_process(stack, tmp_path_factory.mktemp("slots-default") / "uvicorn.log") as server:
        yield server


def token(server: Server, db, role: str) -> str:  # type: ignore[no-untyped-def]
    account = new_account(db, role, "slots")
    return str(password_login(server.url, account.username, account.password).json()["access_token"])


def admitted(ws: ClientConnection) -> bool:
    """Whether the socket got its ``hello`` (True) or was closed instead (False)."""
    try:
        recv_until(ws, lambda m: m.get("type") == "hello", timeout=10)
        return True
    except Exception:
        return False


def open_sockets(stack: contextlib.ExitStack, server: Server, tok: str, n: int) -> list[ClientConnection]:
    return [stack.enter_context(ws_connect(server, tok)) for _ in range(n)]


def wait_empty(server: Server, db) -> None:  # type: ignore[no-untyped-def]
    """No socket of an earlier test is still counted (a closed socket leaves the hub a moment after the client)."""
    admin = token(server, db, "admin")
    eventually(lambda: server.stats(admin)["clients"] == 0, 10, "the hub counts no socket")


def test_one_account_gets_at_most_its_share(small_server: Server, db) -> None:  # type: ignore[no-untyped-def]
    wait_empty(small_server, db)
    leader = token(small_server, db, "leader")
    with contextlib.ExitStack() as sockets:
        first = open_sockets(sockets, small_server, leader, 3)
        assert all(admitted(ws) for ws in first)
        extra = sockets.enter_context(ws_connect(small_server, leader))
        assert closed_code(extra) == 1013
        assert extra.close_reason and "limit 3" in extra.close_reason
        other = sockets.enter_context(ws_connect(small_server, token(small_server, db, "operator")))
        assert admitted(other)  # someone else is not locked out


def test_leaders_cannot_take_the_slots_kept_for_operators(small_server: Server, db) -> None:  # type: ignore[no-untyped-def]
    wait_empty(small_server, db)
    with contextlib.ExitStack() as sockets:
        for _ in range(2):  # two leaders: 6 sockets = max_clients - reserved_for_operators
            assert all(admitted(ws) for ws in open_sockets(sockets, small_server, token(small_server, db, "leader"), 3))
        third_leader = sockets.enter_context(ws_connect(small_server, token(small_server, db, "leader")))
        assert closed_code(third_leader) == 1013
        assert "kept for operators" in (third_leader.close_reason or "")
        operators = open_sockets(sockets, small_server, token(small_server, db, "operator"), 3)
        operators += open_sockets(sockets, small_server, token(small_server, db, "admin"), 1)
        assert all(admitted(ws) for ws in operators)  # 10 in all: the server is full now
        late = sockets.enter_context(ws_connect(small_server, token(small_server, db, "operator")))
        assert closed_code(late) == 1013 and "server busy" in (late.close_reason or "")


def test_the_issues_600_sockets_of_one_leader_leave_room_for_an_operator(default_server: Server, db) -> None:  # type: ignore[no-untyped-def]
    """The probe's case with the default settings (scaled: 40 sockets, the default per-account cap is 20)."""
    leader = token(default_server, db, "leader")
    with contextlib.ExitStack() as sockets:
        got = [admitted(ws) for ws in open_sockets(sockets, default_server, leader, 40)]
        assert got.count(True) == 20 and got.count(False) == 20
        op = sockets.enter_context(ws_connect(default_server, token(default_server, db, "operator")))
        assert admitted(op)
        op.send(json.dumps({"type": "ping", "t": 1}))
        assert recv_until(op, lambda m: m.get("type") == "pong")["t"] == 1
