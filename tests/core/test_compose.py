"""docker-compose.yml: every service that runs our code runs a real `ops-center` subcommand, with health checks and
volumes where a real deployment needs them."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import yaml

from app.cli import build_parser

COMPOSE = yaml.safe_load((Path(__file__).resolve().parents[2] / "docker-compose.yml").read_text())


def _commands(service: dict) -> list[list[str]]:  # type: ignore[type-arg]
    cmd = service.get("command")
    if cmd is None:
        return []
    if isinstance(cmd, str):
        cmd = shlex.split(cmd)
    if cmd[:2] == ["sh", "-c"]:
        return [shlex.split(part) for part in cmd[2].split("&&")]
    return [cmd]


APP_SERVICES = [name for name, svc in COMPOSE["services"].items() if "ops-center" in str(svc.get("command", ""))]


def test_expected_services_exist() -> None:
    assert {"db", "broker", "redis", "migrate", "api", "ingest", "worker", "beat", "simulator"} <= set(
        COMPOSE["services"])
    assert "timescaledb" in COMPOSE["services"]["db"]["image"]
    assert COMPOSE["services"]["broker"]["image"].startswith("eclipse-mosquitto:2")
    assert COMPOSE["services"]["redis"]["image"].startswith("redis:7")
    assert COMPOSE["services"]["simulator"]["profiles"] == ["demo"]
    for name in ("db", "broker", "redis", "api"):
        assert "healthcheck" in COMPOSE["services"][name], name
    assert {"db-data", "broker-data", "broker-auth"} <= set(COMPOSE["volumes"])


@pytest.mark.parametrize("name", APP_SERVICES)
def test_service_command_is_a_real_subcommand(name: str) -> None:
    parser = build_parser()
    commands = _commands(COMPOSE["services"][name])
    assert commands, name
    for argv in commands:
        assert argv[0] == "ops-center", argv
        args = parser.parse_args(argv[1:])  # SystemExit (a failure) on an unknown subcommand or option
        assert callable(args.func)


def test_broker_config_mounted_is_ours() -> None:
    mounts = COMPOSE["services"]["broker"]["volumes"]
    conf = next(m for m in mounts if m.endswith("/mosquitto/config/mosquitto.conf:ro"))
    text = (Path(__file__).resolve().parents[2] / conf.split(":")[0]).read_text()
    assert "allow_anonymous false" in text and "persistence true" in text and "password_file" in text
    # rights by the dynamic-security plugin, never an acl_file (it lets every SUBSCRIBE through)
    lines = [line.split() for line in text.splitlines() if line and not line.startswith("#")]
    assert not [line for line in lines if line[0] == "acl_file"]
    assert ["plugin", "/usr/lib/mosquitto_dynamic_security.so"] in lines
    state = next(line[1] for line in lines if line[0] == "plugin_opt_config_file")
    # the state file is the one the app writes, through the shared broker-auth volume, before the broker starts
    auth = next(m.split(":")[1] for m in mounts if m.startswith("broker-auth:"))
    app_auth = next(m.split(":")[1] for m in COMPOSE["x-app"]["volumes"] if m.startswith("broker-auth:"))
    assert state.startswith(auth + "/")
    assert COMPOSE["x-app"]["environment"]["OPS_MQTT_DYNSEC_FILE"] == app_auth + state[len(auth):]
    assert COMPOSE["services"]["broker"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
