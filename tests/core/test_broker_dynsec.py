"""The broker's rights as dynamic-security state, and the command plan that brings a broker to it (pure parts;
tests/security/test_device_subscribe_acl.py proves the result against the real broker)."""

from __future__ import annotations

from typing import Any

from ops_center.broker.accounts import Account
from ops_center.broker.dynsec import (
    RECEIVE,
    SEND,
    SUBSCRIBE,
    Acl,
    State,
    acls_of,
    desired_state,
    parse_state,
    plan,
    render_config,
    unshared,
)

SERVICE = Account("ops-ingest", "$7$h", publish=("ops/v1/#",), subscribe=("ops/v1/#", "$share/+/ops/v1/#"))
DEVICE = Account("sal-01", "$7$d", publish=("ops/v1/devices/sal-01/telemetry",),
                 subscribe=("ops/v1/devices/sal-01/commands/#",))
OTHER = Account("sal-02", "$7$e", publish=("ops/v1/devices/sal-02/telemetry",),
                subscribe=("ops/v1/devices/sal-02/commands/#",))


def run(state: State, commands: list[dict[str, Any]]) -> State:
    """What the plugin does with the commands (the subset ``plan`` emits), strictly: an unknown name fails."""
    clients = {k: set(v) for k, v in state.clients.items()}
    roles = {k: set(v) for k, v in state.roles.items()}
    for c in commands:
        match c["command"]:
            case "createRole":
                assert c["rolename"] not in roles
                roles[c["rolename"]] = {Acl(a["acltype"], a["topic"], a["allow"]) for a in c["acls"]}
            case "addRoleACL":
                roles[c["rolename"]].add(Acl(c["acltype"], c["topic"], c["allow"]))
            case "removeRoleACL":
                roles[c["rolename"]] = {a for a in roles[c["rolename"]]
                                        if (a.acltype, a.topic) != (c["acltype"], c["topic"])}
            case "createClient":
                assert c["username"] not in clients and all(r["rolename"] in roles for r in c["roles"])
                clients[c["username"]] = {r["rolename"] for r in c["roles"]}
            case "addClientRole":
                assert c["rolename"] in roles
                clients[c["username"]].add(c["rolename"])
            case "removeClientRole":
                clients[c["username"]].discard(c["rolename"])
            case "deleteClient":
                del clients[c["username"]]
            case "deleteRole":
                assert not any(c["rolename"] in rs for rs in clients.values()), "role still in use"
                del roles[c["rolename"]]
            case other:
                raise AssertionError(other)
    return State({k: frozenset(v) for k, v in clients.items()}, {k: frozenset(v) for k, v in roles.items()})


def test_a_device_may_subscribe_only_to_its_commands_and_the_service_to_its_share_groups() -> None:
    assert acls_of(DEVICE) == {Acl(SEND, "ops/v1/devices/sal-01/telemetry"),
                               Acl(SUBSCRIBE, "ops/v1/devices/sal-01/commands/#"),
                               Acl(RECEIVE, "ops/v1/devices/sal-01/commands/#")}
    assert acls_of(SERVICE) == {Acl(SEND, "ops/v1/#"), Acl(SUBSCRIBE, "ops/v1/#"),
                                Acl(SUBSCRIBE, "$share/+/ops/v1/#"), Acl(RECEIVE, "ops/v1/#")}
    assert unshared("$share/ingest/ops/v1/devices/+/telemetry") == "ops/v1/devices/+/telemetry"
    assert unshared("$share/ingest") == "" and unshared("ops/v1/#") == "ops/v1/#"


def test_the_state_file_says_what_the_plan_builds() -> None:
    config = render_config([SERVICE, DEVICE])
    assert config["defaultACLAccess"] == {"publishClientSend": False, "publishClientReceive": False,
                                          "subscribe": False, "unsubscribe": True}
    assert all("password" not in c for c in config["clients"])  # the password file authenticates
    built = parse_state(config["clients"], config["roles"])
    assert built == desired_state([SERVICE, DEVICE]) == run(State({}, {}), plan(State({}, {}), built))


def test_plan_from_nothing_then_nothing_more() -> None:
    want = desired_state([SERVICE, DEVICE, OTHER])
    commands = plan(State({}, {}), want)
    assert [c["command"] for c in commands] == ["createRole"] * 3 + ["createClient"] * 3
    assert run(State({}, {}), commands) == want
    assert plan(want, want) == []


def test_plan_revokes_what_is_no_longer_granted() -> None:
    before = desired_state([SERVICE, DEVICE, OTHER])
    widened = Account(DEVICE.username, "$7$d", DEVICE.publish, (*DEVICE.subscribe, "ops/v1/devices/+/status"))
    stray = State({**before.clients, "intruder": frozenset({"account:sal-02", "admin"})},
                  {**before.roles, "admin": frozenset({Acl(SUBSCRIBE, "#")})})
    after = desired_state([SERVICE, widened])
    commands = plan(stray, after)
    assert run(stray, commands) == after
    names = [c["command"] for c in commands]
    assert names.index("deleteClient") < names.index("deleteRole")  # a client goes before the role it uses
    assert {c.get("username") for c in commands if c["command"] == "deleteClient"} == {"sal-02", "intruder"}
    assert {c["rolename"] for c in commands if c["command"] == "deleteRole"} == {"account:sal-02", "admin"}
    assert {(c["command"], c["topic"]) for c in commands if "ACL" in c["command"]} == {
        ("addRoleACL", "ops/v1/devices/+/status")}
