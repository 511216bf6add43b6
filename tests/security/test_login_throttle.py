"""Issue #11 item 8: failed sign-ins are throttled per client address, per account and address, and per account
(for browsers that never signed in to it), with ``Retry-After``; two API processes share the count through the
test stack's Redis (the ``limits`` library's Redis storage).

Client addresses are told by a trusted reverse proxy's ``X-Forwarded-For`` (``OPS_TRUSTED_PROXIES`` names the
loopback peer); addresses are from the documentation ranges and only ever appear in that header."""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Iterator

import pytest

from ops_center.auth.throttle import is_known_client, known_client_cookie
from tests.live.conftest import Server
from tests.security.support_hauth import Answer, api_process, new_account, password_login

LIMITS = {"OPS_LOGIN_LIMIT_ACCOUNT_ADDRESS": "3 per minute", "OPS_LOGIN_LIMIT_ACCOUNT": "6 per minute",
          "OPS_LOGIN_LIMIT_ADDRESS": "10 per minute"}
_addresses = (f"198.51.100.{n}" for n in itertools.count(1))
_more = (f"203.0.113.{n}" for n in itertools.count(1))


def new_address() -> str:
    return next(_addresses)


@pytest.fixture(scope="module")
def pair(stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:  # type: ignore[no-untyped-def]
    """Two API processes behind a trusted proxy (the loopback peer), sharing the stack's Redis."""
    tmp = tmp_path_factory.mktemp("throttle")
    env = {**LIMITS, "OPS_TRUSTED_PROXIES": '["127.0.0.1"]'}
    with api_process(stack, tmp / "a.log", **env) as a, api_process(stack, tmp / "b.log", **env) as b:
        yield a, b


def attempt(server: Server, username: str, password: str, address: str, cookie: str | None = None) -> Answer:
    headers = {"X-Forwarded-For": address}
    if cookie:
        headers["Cookie"] = cookie
    return password_login(server.url, username, password, headers)


def assert_throttled(answer: Answer, window_s: int = 60) -> None:
    assert answer.status == 429, (answer.status, answer.body)
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert 1 <= int(answer.headers["retry-after"]) <= window_s
    assert "too many failed sign-ins" in answer.json()["detail"]


def test_one_address_guessing_one_account_is_throttled_by_both_processes(pair, db) -> None:  # type: ignore[no-untyped-def]
    a, b = pair
    victim, address = new_account(db, "operator", "thr"), new_address()
    for server in (a, b, a):  # three failures, counted together by two processes
        assert attempt(server, victim.username, "wrong-password!", address).status == 401
    for server in (a, b):
        assert_throttled(attempt(server, victim.username, "wrong-password!", address))
        assert_throttled(attempt(server, victim.username, victim.password, address))  # refused before the check
    assert attempt(b, victim.username, victim.password, new_address()).status == 200  # elsewhere: fine


def test_one_address_guessing_many_accounts_is_throttled(pair) -> None:  # type: ignore[no-untyped-def]
    a, b = pair
    address = new_address()
    for n in range(10):
        server = (a, b)[n % 2]
        assert attempt(server, f"nobody-{secrets.token_hex(4)}", "wrong-password!", address).status == 401
    assert_throttled(attempt(a, f"nobody-{secrets.token_hex(4)}", "wrong-password!", address))


def test_a_distributed_guess_does_not_lock_the_owner_out_of_a_browser_it_used(pair, db, stack) -> None:  # type: ignore[no-untyped-def]
    a, b = pair
    owner, home = new_account(db, "leader", "thr"), new_address()
    ok = attempt(a, owner.username, owner.password, home)
    assert ok.status == 200
    mark = ok.headers["set-cookie"].split(";", 1)[0]  # the "known client" cookie, HttpOnly, path /auth/token
    assert "HttpOnly" in ok.headers["set-cookie"] and "Path=/auth/token" in ok.headers["set-cookie"]
    for n in range(6):  # an attacker spread over six addresses, one guess each
        assert attempt((a, b)[n % 2], owner.username, f"guess-{n}-xxxxxx", next(_more)).status == 401
    assert_throttled(attempt(b, owner.username, owner.password, next(_more)))  # an unknown client waits
    assert_throttled(attempt(b, owner.username, owner.password, home))  # the same address without the mark too
    assert attempt(b, owner.username, owner.password, home, cookie=mark).status == 200  # its browser signs in
    forged = mark.rsplit(".", 1)[0] + "." + "0" * 64
    assert_throttled(attempt(a, owner.username, owner.password, home, cookie=forged))
    name, value = mark.split("=", 1)  # a mark is for one account only
    secret = stack.settings.jwt_secret.get_secret_value()
    assert name == known_client_cookie(owner.username)
    assert is_known_client(secret, owner.username, value)
    assert not is_known_client(secret, new_address(), value)


def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(stack, db, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Default settings believe the socket peer only: rotating X-Forwarded-For does not buy more guesses."""
    with api_process(stack, tmp_path / "plain.log", **LIMITS) as server:
        victim = new_account(db, "operator", "thr")
        for _ in range(3):
            assert attempt(server, victim.username, "wrong-password!", new_address()).status == 401
        assert_throttled(attempt(server, victim.username, "wrong-password!", new_address()))
