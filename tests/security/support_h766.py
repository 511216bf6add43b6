"""Helpers of the scorecard security tests (h-766): the new routes with the roles that may use them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

READERS = ("admin", "operator", "leader")
WRITERS = ("admin", "integration")
ADMINS = ("admin",)
ROLES = ("admin", "operator", "leader", "integration")


@dataclass(frozen=True)
class RouteCase:
    method: str
    path: str
    allowed: tuple[str, ...]
    params: dict[str, Any] | None = None
    body: Any = None

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"


ROUTES = [
    RouteCase("GET", "/scorecard", READERS, {"level": "unit"}),
    RouteCase("GET", "/scorecard/definition", READERS),
    RouteCase("GET", "/scorecard/ranking", READERS),
    RouteCase("GET", "/scorecard/compare", READERS),
    RouteCase("GET", "/scorecard/trend", READERS),
    RouteCase("GET", "/scorecard/indicators/2.1/items", READERS),
    RouteCase("GET", "/scorecard/export.csv", READERS),
    RouteCase("GET", "/scorecard/export.xlsx", READERS),
    RouteCase("GET", "/readiness", READERS),
    RouteCase("GET", "/readiness/facts", READERS),
    RouteCase("POST", "/petitions/events", WRITERS, body=[]),
    RouteCase("POST", "/egov/documents", WRITERS, body=[]),
    RouteCase("POST", "/egov/meetings", WRITERS, body=[]),
    RouteCase("POST", "/readiness/facts", WRITERS, body=[]),
    RouteCase("POST", "/egov/units/{unit}/mqtt-credentials", ADMINS),
    RouteCase("POST", "/egov/dead-letters/replay", ADMINS, body={"feed": "facts", "ids": [1]}),
    RouteCase("DELETE", "/egov/units/{unit}/mqtt-credentials", ADMINS),
]
