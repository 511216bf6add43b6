"""Schemathesis over the whole OpenAPI document, through the ASGI app, as three principals (admin, leader,
integration): every phase (examples, coverage, fuzzing, stateful) and every check, at least 1,000 cases, zero
failures. Exceptions to a check live in ``schemathesis.toml`` beside this file, each with its reason.

The run is reproducible: the seed is fixed (``OPS_SCHEMATHESIS_SEED``, default below) and printed with every
failure together with a curl command; docs/security.md says how to replay one. The run uses a private stack of its
own (database, broker, Redis): it creates, changes and deletes whatever the API lets these principals touch."""

from __future__ import annotations

import os
import secrets
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from schemathesis.checks import load_all_checks
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events, from_schema

from ops_center import settings as settings_module
from ops_center.auth.apikeys import create_api_key
from ops_center.auth.roles import Role
from ops_center.auth.tokens import issue_token
from ops_center.auth.users import create_user
from ops_center.db import connect
from ops_center.settings import Settings
from tests.support.services import private_stack

SEED = int(os.environ.get("OPS_SCHEMATHESIS_SEED", "11072026"))
MAX_EXAMPLES = os.environ.get("OPS_SCHEMATHESIS_MAX_EXAMPLES")  # default: schemathesis.toml
CONFIG = Path(__file__).with_name("schemathesis.toml")
MIN_CASES = 1000
PRINCIPALS = tuple(os.environ.get("OPS_SCHEMATHESIS_PRINCIPALS", "admin,leader,integration").split(","))
ALL_PHASES = ("examples", "coverage", "fuzzing", "stateful")
PHASES = {"admin": ALL_PHASES, "leader": ("examples", "fuzzing", "stateful"),
          "integration": ("examples", "fuzzing", "stateful")}
"""The coverage phase (deterministic boundary and negative cases, ~9,000 for this API) runs once, as admin, who
reaches every operation; for the leader and the integration, whose answers differ from admin's mostly by 403, the
random phases keep the run within a couple of minutes. OPS_SCHEMATHESIS_ALL_PHASES=1 runs every phase for all."""
if os.environ.get("OPS_SCHEMATHESIS_ALL_PHASES"):
    PHASES = dict.fromkeys(PHASES, ALL_PHASES)
REPORT = os.environ.get("OPS_SCHEMATHESIS_REPORT")  # a file to write every finding to


@dataclass
class Finding:
    principal: str
    where: str
    check: str
    title: str
    message: str
    reproduce: str

    def __str__(self) -> str:
        return (f"[{self.principal}] {self.where}: {self.check}: {self.title}\n    {self.message[:600]}\n"
                f"    {self.reproduce[:1500]}")


@dataclass
class Run:
    principal: str
    cases: int = 0
    by_phase: dict[str, int] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)


@pytest.fixture(scope="module")
def st_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A private stack for this run alone, and the process environment pointing at it while the run lasts."""
    with private_stack(tmp_path_factory.mktemp("schemathesis"), db_prefix="ops_st") as stack:
        saved = dict(os.environ)
        os.environ.update({k: v for k, v in stack.env.items() if k.startswith("OPS_")})
        settings_module.get_settings.cache_clear()
        try:
            yield stack.settings
        finally:
            os.environ.clear()
            os.environ.update(saved)
            settings_module.get_settings.cache_clear()


@pytest.fixture(scope="module")
def credentials(st_settings: Settings) -> dict[str, dict[str, str]]:
    """Request headers of each principal: admin and leader users with a bearer JWT, an integration API key."""
    secret = st_settings.jwt_secret.get_secret_value()
    headers: dict[str, dict[str, str]] = {}
    with connect(st_settings.database_url) as conn:
        users = {}
        for role in ("admin", "leader"):
            users[role] = create_user(conn, f"st-{role}", secrets.token_urlsafe(16), role)
            token, _ = issue_token(secret, f"st-{role}", role, 3600, user_id=users[role].id)
            headers[role] = {"Authorization": f"Bearer {token}"}
        _, key = create_api_key(conn, "st-integration", Role.integration, users["admin"])  # a key has an admin owner
        headers["integration"] = {"X-API-Key": key}
        conn.commit()
    return headers


def _config(principal: str, headers: dict[str, str]) -> SchemathesisConfig:
    data: dict[str, Any] = tomllib.loads(CONFIG.read_text())
    data["seed"] = SEED
    data["headers"] = headers
    data["phases"] = {phase: {"enabled": phase in PHASES[principal]} for phase in ALL_PHASES}
    if MAX_EXAMPLES:
        data.setdefault("generation", {})["max-examples"] = int(MAX_EXAMPLES)
    return SchemathesisConfig.from_dict(data, base_dir=str(CONFIG.parent))


def _findings(principal: str, recorder: Any) -> Iterator[Finding]:
    for case_id, checks in recorder.checks.items():
        for check in checks:
            if check.status != Status.FAILURE or check.failure_info is None:
                continue
            failure = check.failure_info.failure
            interaction = recorder.interactions.get(case_id)
            response = interaction.response if interaction is not None else None
            answer = f" -> {response.status_code} {response.content[:300]!r}" if response is not None else ""
            yield Finding(principal, recorder.label, check.name, failure.title,
                          str(getattr(failure, "message", "")) + answer, check.failure_info.code_sample)


def run_as(app: Any, principal: str, headers: dict[str, str]) -> Run:
    load_all_checks()
    run = Run(principal)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=_config(principal, headers))
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            run.cases += len(event.recorder.cases)
            phase = str(event.phase.value)
            run.by_phase[phase] = run.by_phase.get(phase, 0) + len(event.recorder.cases)
            run.findings.extend(_findings(principal, event.recorder))
        elif isinstance(event, events.NonFatalError):
            run.findings.append(Finding(principal, event.label, "error", event.info.title, event.info.message, ""))
        elif isinstance(event, events.FatalError):
            run.findings.append(Finding(principal, "run", "fatal", type(event.exception).__name__,
                                        str(event.exception), ""))
        elif isinstance(event, events.EngineFinished):
            for failure in event.failures:
                run.findings.append(Finding(principal, "run", "after_run", failure.title, failure.message, ""))
    return run


def _unique(findings: list[Finding]) -> list[Finding]:
    seen: dict[tuple[str, str, str, str], Finding] = {}
    for f in findings:
        seen.setdefault((f.principal, f.where, f.check, f.title), f)
    return list(seen.values())


@pytest.mark.timeout(900)  # about two minutes here; generous for a busy CI machine
def test_schemathesis_finds_nothing(st_settings: Settings, credentials: dict[str, dict[str, str]]) -> None:
    from api.app import create_app

    app = create_app(st_settings)
    runs = [run_as(app, principal, credentials[principal]) for principal in PRINCIPALS]
    findings = _unique([f for r in runs for f in r.findings])
    if REPORT:
        Path(REPORT).write_text("\n".join(str(f) for f in findings))
    counts = ", ".join(f"{r.principal} {r.cases} {r.by_phase}" for r in runs)
    replay = (f"replay: OPS_SCHEMATHESIS_SEED={SEED} .venv/bin/pytest tests/security/test_schemathesis.py "
              "(docs/security.md)")
    assert not findings, f"{len(findings)} distinct failures (cases: {counts}; {replay}):\n" + "\n".join(
        str(f) for f in findings[:40])
    assert sum(r.cases for r in runs) >= MIN_CASES, counts
    print(f"schemathesis seed {SEED}: {counts} cases, no failure")
