"""#17 B: the replica part of ``/readyz`` (public, for load balancers) names each replica by ``host:port/dbname``
and its lag, and leaks nothing secret: no password, user or whole URL of a replica — not in the answer, not in
the logs, not in the settings' repr — whether the replica is reachable (here: a server that is no standby, so it
is never used), refused or unreadable. The read-after-write cookie holds only a time."""

from __future__ import annotations

import logging
import re
import secrets

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from api.replica_reads import READ_PRIMARY_COOKIE
from ops_center.settings import Settings
from tests.conftest import Login
from tests.support.services import free_port


def test_readyz_names_replicas_without_secrets(settings: Settings, admin: Login,
                                               caplog: pytest.LogCaptureFixture) -> None:
    secret = [f"Replica-{secrets.token_hex(8)}" for _ in range(3)]
    base, db = settings.database_url.rsplit("/", 1)
    host_port = base.rsplit("@", 1)[1]
    dead = free_port()
    urls = [f"{base.replace('postgres@', f'postgres:{secret[0]}@')}/{db}",  # reachable, but not a standby
            f"postgresql://reader:{secret[1]}@127.0.0.1:{dead}/ops?connect_timeout=2",  # refused
            f"host=127.0.0.1 port={dead} dbname=ops user=reader password={secret[2]}"]  # conninfo form
    s = settings.model_copy(update={"db_replica_urls": [SecretStr(u) for u in urls], "db_replica_check_s": 0.2})
    caplog.set_level(logging.DEBUG)
    with TestClient(create_app(s)) as client:
        replicas = client.app.state.replicas  # type: ignore[attr-defined]
        replicas.refresh()
        r = client.get("/readyz")
        kpis = client.get("/kpis/dossiers", headers=admin.headers)
        write = client.post("/procedures", headers=admin.headers, json={"procedures": [
            {"code": f"TT-SEC-{secrets.token_hex(3)}", "name": "Thủ tục", "processing_days": 1}]})
    assert r.status_code == 200, r.text  # replicas never make the API unready
    text = r.text
    for value in (*secret, "reader", "password", "postgresql://"):
        assert value not in text, value
    items = r.json()["checks"]["replicas"]["items"]
    assert [i["name"] for i in items] == [f"{host_port}/{db}", f"127.0.0.1:{dead}/ops", f"127.0.0.1:{dead}/ops#3"]
    assert items[0]["reachable"] and not items[0]["usable"] and items[0]["reason"].startswith("not a standby")
    assert all(not i["reachable"] and i["reason"] == "unreachable (OperationalError)" for i in items[1:]), items
    assert kpis.status_code == 200, kpis.text  # no usable replica: the primary answers
    assert sum(i["reads"] for i in items) == 0
    logged = "\n".join(f"{rec.getMessage()} {rec.exc_text or ''}" for rec in caplog.records)
    for value in secret:
        assert value not in logged
        assert value not in repr(s) and value not in str(s.model_dump())
    assert write.status_code == 200, write.text
    cookie = write.headers["set-cookie"]
    assert re.fullmatch(rf"{READ_PRIMARY_COOKIE}=\d+\.\d{{3}}; Max-Age=\d+; Path=/; HttpOnly; SameSite=Strict",
                        cookie), cookie
