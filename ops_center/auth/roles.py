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
