"""#11 item 9: the Host header never reaches a redirect. Hosts the API does not serve (``OPS_ALLOWED_HOSTS``) are
refused with a 400 problem before any route runs; the trailing-slash redirect is relative."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Login

EVIL = "evil.example"


@pytest.mark.parametrize("path", ["/devices/", "/healthz/", "/open311/v2/discovery.json", "/devices", "/"])
def test_an_untrusted_host_is_refused(client: TestClient, admin: Login, path: str) -> None:
    r = client.get(path, headers={**admin.headers, "Host": EVIL}, follow_redirects=False)
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["field"] == "host" and EVIL in r.json()["detail"]
    assert "location" not in r.headers


@pytest.mark.parametrize("host", [f"{EVIL}:8000", f"127.0.0.1.{EVIL}", f"localhost@{EVIL}", "", "[::2]:80"])
def test_lookalike_hosts_are_refused(client: TestClient, host: str) -> None:
    assert client.get("/healthz", headers={"Host": host}).status_code == 400


@pytest.mark.parametrize("host", ["127.0.0.1:8000", "localhost", "LOCALHOST:80", "testserver"])
def test_trusted_hosts_are_served(client: TestClient, host: str) -> None:
    assert client.get("/healthz", headers={"Host": host}).status_code == 200


def test_trailing_slash_redirect_is_relative(client: TestClient, admin: Login) -> None:
    r = client.get("/devices/?limit=2&q=%C4%91", headers=admin.headers, follow_redirects=False)
    assert r.status_code == 307
    assert r.headers["location"] == "/devices?limit=2&q=%C4%91"
    followed = client.get("/devices/?limit=2", headers=admin.headers)
    assert followed.status_code == 200 and len(followed.json()["items"]) <= 2
    r = client.get("/healthz/", follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (307, "/healthz")


def test_no_protocol_relative_redirect(client: TestClient) -> None:
    for path in ("//evil.example/healthz/", "//evil.example/healthz", "/\\evil.example/healthz/"):
        r = client.get("http://testserver" + path, follow_redirects=False)  # the path as given, not a netloc
        assert r.request.url.path == path
        assert r.status_code == 404, (path, r.status_code, r.headers.get("location"))


def test_open311_discovery_names_a_served_host(client: TestClient) -> None:
    url = client.get("/open311/v2/discovery.json", headers={"Host": "localhost:8000"}).json()["endpoints"][0]["url"]
    assert url == "http://localhost:8000/open311/v2/"
