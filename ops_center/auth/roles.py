"""The roles of the system. Devices authenticate to the broker, not to the API's user tables."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    admin = "admin"
    operator = "operator"
    leader = "leader"
    integration = "integration"


ALL_ROLES: tuple[Role, ...] = tuple(Role)
STAFF: tuple[Role, ...] = (Role.admin, Role.operator, Role.leader)
KEY_ISSUERS: tuple[Role, ...] = (Role.admin,)
"""Roles that may mint API keys; a key keeps its power only while its owner still has one of them."""
OPERATORS: tuple[Role, ...] = (Role.admin, Role.operator)
"""Roles that run the operations center (live-feed slots are reserved for them)."""


class Permission(StrEnum):
    """Rights finer than a role. Public warnings (CAP) follow a two-person rule: one person drafts, another with
    ``publish_warnings`` approves; nobody approves a message they drafted or edited (checked by the warnings
    domain, and by a constraint on its table)."""

    draft_warnings = "warnings.draft"
    publish_warnings = "warnings.publish"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.admin: frozenset({Permission.draft_warnings, Permission.publish_warnings}),
    Role.operator: frozenset({Permission.draft_warnings}),
    Role.leader: frozenset({Permission.publish_warnings}),
    Role.integration: frozenset(),
}


def has_permission(role: Role, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS.get(role, frozenset())


def roles_with(permission: Permission) -> tuple[Role, ...]:
    """The roles that hold ``permission``, in the order of ``Role``."""
    return tuple(r for r in Role if has_permission(r, permission))
