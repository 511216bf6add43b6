"""Liveness and readiness (public: load balancers and ``make up`` call them)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.deps import PoolDep, SettingsDep
from api.readiness import readiness

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is alive (no dependency is touched)."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request, settings: SettingsDep, pool: PoolDep) -> JSONResponse:
    """Every dependency reachable: database, MQTT broker, Redis, each named in the answer; 503 if any is not.
    Read replicas, when configured, are listed with their lag (they never make the answer 503)."""
    ok, checks = readiness(settings, pool, getattr(request.app.state, "replicas", None))
    return JSONResponse({"status": "ready" if ok else "not ready", "checks": checks}, status_code=200 if ok else 503)
