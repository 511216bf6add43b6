"""Issue #11 item 4: after signing in, the login page goes only to a page of its own origin.

Chromium (Debian's, through Playwright) signs in on ``/login?next=…`` of a real uvicorn process; an "elsewhere"
server listens on another local port so that a wrong redirect would really land there. The server builds no
redirect from ``next`` (only the login page reads it)."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from urllib.parse import quote, urlsplit

import pytest

from tests.live.conftest import Server
from tests.security.support_hauth import api_process, new_account

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def api_server(stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:  # type: ignore[no-untyped-def]
    with api_process(stack, tmp_path_factory.mktemp("redirect") / "uvicorn.log") as server:
        yield server


@pytest.fixture(scope="module")
def elsewhere() -> Iterator[int]:
    """Another origin on this machine (a plain HTTP server): the place an open redirect would send the browser."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()


HOSTILE = ["/%5C127.0.0.1:{port}/x", "/%09/127.0.0.1:{port}/x", "//127.0.0.1:{port}/x", "/%5C%5C127.0.0.1:{port}",
           "http://127.0.0.1:{port}/x", "%2F%2F127.0.0.1:{port}/x", "/%0A/127.0.0.1:{port}/x", "javascript:alert(1)",
           "/\\/127.0.0.1:{port}/x", "https:127.0.0.1:{port}"]


def sign_in(page, server: Server, db, next_param: str, role: str = "operator") -> str:  # type: ignore[no-untyped-def]
    """Sign in on /login?next=<next_param> (already URL-encoded); the URL the browser ends up on."""
    account = new_account(db, role, "redir")
    response = page.goto(f"{server.url}/login?next={next_param}")
    if response is not None and response.status == 422:  # a control character: refused before any page runs
        return str(page.url)
    page.fill("#username", account.username)
    page.fill("#password", account.password)
    page.click("#submit")
    page.wait_for_url(lambda url: "/login" not in url, timeout=15000)
    page.wait_for_load_state()
    return str(page.url)


@pytest.mark.parametrize("template", HOSTILE)
def test_next_pointing_elsewhere_stays_on_this_origin(page, api_server: Server, db, elsewhere: int,  # type: ignore[no-untyped-def]
                                                       template: str) -> None:
    landed = sign_in(page, api_server, db, template.format(port=elsewhere))
    assert urlsplit(landed).netloc == f"127.0.0.1:{api_server.port}", landed
    # the operator's own screen, or (a tab or line break in `next`) the login URL refused by the server (422)
    assert urlsplit(landed).path in ("/", "/login"), landed


def test_next_on_this_origin_is_followed(page, api_server: Server, db) -> None:  # type: ignore[no-untyped-def]
    landed = sign_in(page, api_server, db, quote("/summary?level=district#top", safe=""), "leader")
    assert landed == f"{api_server.url}/summary?level=district#top"
