"""Accounts as Mosquitto dynamic-security state, and the commands that turn one state into another. Pure: no I/O.

Why the plugin: Mosquitto 2.0's ``acl_file`` check answers "allowed" to every SUBSCRIBE (its source says
``FIXME - implement ACL subscription strings``) and checks only on delivery, so a device could join the ingest
group ``$share/ingest/...`` and the messages the broker routed to it were dropped on the read check. The plugin has
separate subscribe ACLs, checked at SUBSCRIBE (a refused filter gets SUBACK 0x87 / 0x80 and is never added).

Layout: every account is a plugin client (no password: the password file authenticates) with one role of its own,
``account:<username>``, because 2.0's plugin does not substitute ``%u``/``%c`` in ACL topics (measured on 2.0.11).
A role has, per published topic, ``publishClientSend``; per subscribe filter, ``subscribePattern`` and
``publishClientReceive`` (on the filter without its ``$share/<group>/`` prefix). The default access denies publish,
receive and subscribe; unsubscribe is allowed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Final

from ops_center.broker.accounts import SHARE_PREFIX, Account

ROLE_PREFIX: Final = "account:"
DEFAULT_ACCESS: Final = {"publishClientSend": False, "publishClientReceive": False, "subscribe": False,
                         "unsubscribe": True}
SEND: Final = "publishClientSend"
RECEIVE: Final = "publishClientReceive"
SUBSCRIBE: Final = "subscribePattern"


@dataclass(frozen=True, slots=True, order=True)
class Acl:
    acltype: str
    topic: str
    allow: bool = True

    def as_json(self) -> dict[str, Any]:
        return {"acltype": self.acltype, "topic": self.topic, "allow": self.allow}


@dataclass(frozen=True, slots=True)
class State:
    """What the plugin holds: client -> its role names, role -> its ACLs."""

    clients: dict[str, frozenset[str]]
    roles: dict[str, frozenset[Acl]]


def role_name(username: str) -> str:
    return f"{ROLE_PREFIX}{username}"


def unshared(topic_filter: str) -> str:
    """``$share/<group>/a/b`` -> ``a/b``: what a shared subscription delivers is checked on the plain topic."""
    if topic_filter.startswith(SHARE_PREFIX):
        parts = topic_filter.split("/", 2)
        return parts[2] if len(parts) == 3 else ""
    return topic_filter


def acls_of(account: Account) -> frozenset[Acl]:
    acls = {Acl(SEND, t) for t in account.publish}
    for f in account.subscribe:
        acls.add(Acl(SUBSCRIBE, f))
        if unshared(f):
            acls.add(Acl(RECEIVE, unshared(f)))
    return frozenset(acls)


def desired_state(accounts: Iterable[Account]) -> State:
    clients: dict[str, frozenset[str]] = {}
    roles: dict[str, frozenset[Acl]] = {}
    for a in accounts:
        clients[a.username] = frozenset({role_name(a.username)})
        roles[role_name(a.username)] = acls_of(a)
    return State(clients, roles)


def render_config(accounts: Iterable[Account]) -> dict[str, Any]:
    """The plugin's JSON config file for ``accounts`` (read by the broker at start; no password in it)."""
    state = desired_state(accounts)
    return {
        "defaultACLAccess": dict(DEFAULT_ACCESS),
        "clients": [{"username": u, "roles": [{"rolename": r} for r in sorted(rs)]}
                    for u, rs in sorted(state.clients.items())],
        "roles": [{"rolename": r, "acls": [a.as_json() for a in sorted(acls)]} for r, acls in sorted(state.roles.items())],
        "groups": [],
    }


def parse_state(clients: list[dict[str, Any]], roles: list[dict[str, Any]]) -> State:
    """The state from verbose ``listClients`` and ``listRoles`` answers."""
    return State(
        {c["username"]: frozenset(r["rolename"] for r in c.get("roles", [])) for c in clients},
        {r["rolename"]: frozenset(Acl(a["acltype"], a["topic"], bool(a.get("allow", False))) for a in r.get("acls", []))
         for r in roles},
    )


def _role_commands(current: State, desired: State) -> Iterator[dict[str, Any]]:
    for name, acls in sorted(desired.roles.items()):
        have = current.roles.get(name)
        if have is None:
            yield {"command": "createRole", "rolename": name, "acls": [a.as_json() for a in sorted(acls)]}
            continue
        for a in sorted(have - acls):
            yield {"command": "removeRoleACL", "rolename": name, "acltype": a.acltype, "topic": a.topic}
        for a in sorted(acls - have):
            yield {"command": "addRoleACL", "rolename": name, **a.as_json()}


def _client_commands(current: State, desired: State) -> Iterator[dict[str, Any]]:
    for username, roles in sorted(desired.clients.items()):
        have = current.clients.get(username)
        if have is None:
            yield {"command": "createClient", "username": username, "roles": [{"rolename": r} for r in sorted(roles)]}
            continue
        for r in sorted(have - roles):
            yield {"command": "removeClientRole", "username": username, "rolename": r}
        for r in sorted(roles - have):
            yield {"command": "addClientRole", "username": username, "rolename": r}


def plan(current: State, desired: State) -> list[dict[str, Any]]:
    """The commands that make ``current`` into ``desired``: roles before the clients that use them, clients
    deleted (the plugin disconnects them at once) before their roles. Anything not desired goes."""
    commands = [*_role_commands(current, desired), *_client_commands(current, desired)]
    commands += [{"command": "deleteClient", "username": u} for u in sorted(current.clients.keys() - desired.clients.keys())]
    commands += [{"command": "deleteRole", "rolename": r} for r in sorted(current.roles.keys() - desired.roles.keys())]
    return commands
