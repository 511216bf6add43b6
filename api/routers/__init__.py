"""One router per domain. ``PUBLIC`` routers carry their own auth (or none: health, login); every router in
``PROTECTED`` is mounted behind authentication by ``api.app.create_app``."""

from __future__ import annotations

from fastapi import APIRouter

from api.live import ws as live_ws
from api.routers import (
    auth,
    brief,
    dead_letters,
    device_detail,
    devices,
    geo,
    health,
    readings,
    screens,
    trends,
    wards,
)
from api.routers.alert_config import router as alert_config_router
from api.routers.alerts import router as alerts_router
from api.routers.cap import router as cap_router
from api.routers.dossiers import router as dossiers_router
from api.routers.egov import router as egov_router
from api.routers.federation import admin_router as federation_admin_router
from api.routers.federation import router as federation_router
from api.routers.incidents import router as incidents_router
from api.routers.national import router as national_router
from api.routers.national import screen as national_screen
from api.routers.open311 import router as open311_router
from api.routers.scorecard import router as scorecard_router
from api.routers.warnings import router as warnings_router

PUBLIC: list[APIRouter] = [health.router, auth.public, live_ws.router, screens.router]
PUBLIC.append(open311_router)
PUBLIC += [federation_router, national_screen]
PUBLIC.append(cap_router)
PROTECTED: list[APIRouter] = [auth.router, readings.router, live_ws.stats_router, brief.router, devices.router,
                              dead_letters.router, geo.router]
PROTECTED += [incidents_router, dossiers_router]
PROTECTED += [alerts_router, alert_config_router]
PROTECTED += [federation_admin_router, national_router]
PROTECTED += [scorecard_router, egov_router]
PROTECTED += [device_detail.router, wards.router, trends.router]
PROTECTED += [warnings_router]
