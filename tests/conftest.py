"""Shared fixtures: a private stack per test session — its own database (migrated, postgres flavour), its own
Mosquitto with our config on a free port, its own Redis — and an API client through the real ASGI app.

A service that cannot be started fails the session (never a skip)."""

from __future__ import annotations

import os

os.environ["OPS_ENV_FILE"] = "/dev/null"  # a developer's .env from `make up` must not leak into tests

import contextlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ops_center import settings as settings_module
from ops_center.auth.users import create_user
from ops_center.db import Conn, connect
from ops_center.settings import Settings
from tests.support.services import PrivateStack, private_stack

REPO = Path(__file__).resolve().parent.parent


Stack = PrivateStack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with private_stack(tmp_path_factory.mktemp("stack")) as st:
        saved = dict(os.environ)
        os.environ.update({k: v for k, v in st.env.items() if k.startswith("OPS_")})
        settings_module.get_settings.cache_clear()
        try:
            yield st
        finally:
            os.environ.clear()
            os.environ.update(saved)
            settings_module.get_settings.cache_clear()


@pytest.fixture(scope="session")
def settings(stack: Stack) -> Settings:
    return stack.settings


@pytest.fixture
def db(settings: Settings) -> Iterator[Conn]:
    """A connection to the session's database (autocommit; tests use their own ids)."""
    with connect(settings.database_url, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="session")
def client(settings: Settings) -> Iterator[TestClient]:
    from api.app import create_app

    with TestClient(create_app(settings)) as c:
        yield c


@dataclass(frozen=True)
class Login:
    username: str
    password: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture(scope="session")
def login(client: TestClient, settings: Settings):  # type: ignore[no-untyped-def]
    """``login("operator")`` → a new user of that role, logged in through the real token endpoint."""

    def make(role: str) -> Login:
        username = f"{role}-{secrets.token_hex(4)}"
        password = secrets.token_urlsafe(16)
        with connect(settings.database_url) as conn:
            create_user(conn, username, password, role)
            conn.commit()
        r = client.post("/auth/token", data={"username": username, "password": password})
        assert r.status_code == 200, r.text
        return Login(username, password, r.json()["access_token"])

    return make


@pytest.fixture(scope="session")
def admin(login) -> Login:  # type: ignore[no-untyped-def]
    return login("admin")  # type: ignore[no-any-return]


# ---------------------------------------------------------------- browser (Debian's Chromium through Playwright)
# One Chromium per test session, for tests/live and tests/security alike (Playwright's sync API cannot run twice
# in one process).

ARTIFACTS = REPO / "test-artifacts"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import expect, sync_playwright

    # Assertions wait until the page shows what they expect; 5 s (Playwright's default) was too short for a page
    # reloading its data on a loaded 2-core CI machine (a drill-down read its previous figure). A wait, not a timing
    # check: a page that never shows it still fails.
    expect.set_options(timeout=15_000)
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} missing: run scripts/test-deps.sh (apt-get install chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, request) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    """A 1920×1080 wall-screen page; console errors are collected, a screenshot is kept in test-artifacts/."""
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="vi-VN",
                                  timezone_id="Asia/Ho_Chi_Minh", accept_downloads=True)
    pg = context.new_page()
    pg.console_errors = []  # type: ignore[attr-defined]
    pg.on("console", lambda m: m.type == "error" and pg.console_errors.append(m.text))  # type: ignore[attr-defined]
    pg.on("pageerror", lambda e: pg.console_errors.append(str(e)))  # type: ignore[attr-defined]
    yield pg
    with contextlib.suppress(Exception):
        pg.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"))
    context.close()
