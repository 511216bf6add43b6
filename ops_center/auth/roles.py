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
