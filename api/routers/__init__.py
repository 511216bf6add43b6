"""One router per domain. ``PUBLIC`` routers carry their own auth (or none: health, login); every router in
``PROTECTED`` is mounted behind authentication by ``api.app.create_app``."""

from __future__ import annotations

from fastapi import APIRouter

from api.live import ws as live_ws
from api.routers import auth, brief, dead_letters, devices, geo, health, readings, screens
from api.routers.alert_config import router as alert_config_router
from api.routers.alerts import router as alerts_router
from api.routers.cap import router as cap_router
from api.routers.dossiers import router as dossiers_router
from api.routers.incidents import router as incidents_router
from api.routers.open311 import router as open311_router
from api.routers.warnings import router as warnings_router

PUBLIC: list[APIRouter] = [health.router, auth.public, live_ws.router, screens.router]
PUBLIC.append(open311_router)
PUBLIC.append(cap_router)
PROTECTED: list[APIRouter] = [auth.router, readings.router, live_ws.stats_router, brief.router, devices.router,
                              dead_letters.router, geo.router]
PROTECTED += [incidents_router, dossiers_router]
PROTECTED += [alerts_router, alert_config_router]
PROTECTED += [warnings_router]
