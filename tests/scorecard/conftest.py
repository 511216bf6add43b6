"""The scorecard tests' database (postgres flavour) holding only the hand-built data set, and the pure reference
path's inputs read back from it."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import pytest
from fastapi.testclient import TestClient

from ops_center.auth.users import create_user
from ops_center.db import Conn, connect
from ops_center.dossiers.procedures import all_procedures
from ops_center.dossiers.rollup import load_states
from ops_center.levels import NA_DISTRICT, PROVINCE_CODE, UNKNOWN, merged_key
from ops_center.migrate import migrate
from ops_center.petitions import service as petitions
from ops_center.readiness.facts import facts_on
from ops_center.scorecard.direct import GroupOf, Universe
from ops_center.settings import Settings
from tests.scorecard.data import CAL, load
from tests.support.services import database


@pytest.fixture(scope="module")
def sdb_url() -> Iterator[str]:
    """A database of its own holding only the hand-built data set."""
    with database("ops_scorecard") as url:
        with connect(url, autocommit=True) as conn:
            migrate(conn, "postgres")
            load(conn)
        yield url


@pytest.fixture(scope="module")
def sdb(sdb_url: str) -> Iterator[Conn]:
    with connect(sdb_url, autocommit=True) as conn:
        yield conn


@dataclass(frozen=True)
class App:
    client: TestClient
    headers: dict[str, dict[str, str]]  # role -> Authorization header


@pytest.fixture(scope="module")
def sapp(sdb_url: str, settings: Settings) -> Iterator[App]:
    """The real app on the data set's database, with a logged-in user of each role."""
    from api.app import create_app

    with TestClient(create_app(settings.model_copy(update={"database_url": sdb_url}))) as client:
        headers = {}
        for role in ("admin", "operator", "leader", "integration"):
            password = secrets.token_urlsafe(12)
            with connect(sdb_url) as conn:
                create_user(conn, f"{role}-sc", password, role)
                conn.commit()
            r = client.post("/auth/token", data={"username": f"{role}-sc", "password": password})
            assert r.status_code == 200, r.text
            headers[role] = {"Authorization": f"Bearer {r.json()['access_token']}"}
        yield App(client, headers)


def group_of(conn: Conn, level: str) -> GroupOf:
    """How the pure path groups (written independently of ``ops_center.levels.group_sql``)."""
    parents = {(s, c): p for s, c, p in conn.execute(
        "SELECT set_name, code, parent_code FROM boundary_units WHERE level = 'ward'").fetchall()}
    with_districts = {s for (s,) in conn.execute(
        "SELECT DISTINCT set_name FROM boundary_units WHERE level = 'district'").fetchall()}

    def of(unit: str, ward_set: str, ward: str) -> tuple[str, str]:
        if level == "unit":
            return ("", unit)
        if level == "ward":
            return (ward_set, ward)
        if level == "province":
            return ("", PROVINCE_CODE)
        parent = parents.get((ward_set, ward))
        if parent:
            code = parent
        elif ward_set and ward_set not in with_districts:
            code = NA_DISTRICT
        else:
            code = UNKNOWN
        return merged_key(level, (ward_set, code))

    return of


def universe(conn: Conn, level: str) -> Universe:
    cache: dict[date, dict[str, dict[str, bool]]] = {}

    def fact_on(unit: str, fact: str, day: date) -> bool:
        if day not in cache:
            cache[day] = facts_on(conn, day)
        return cache[day].get(unit, {}).get(fact, False)

    with conn.transaction():
        states = list(load_states(conn))
    return Universe(states, petitions.load_states(conn), all_procedures(conn), fact_on, group_of(conn, level), CAL)
