"""Fixtures of the drill-down API tests: the Cà Mau boundary sets (as ``make up`` loads them)."""

from __future__ import annotations

from tests.live.conftest import camau  # noqa: F401 - the fixture, shared
