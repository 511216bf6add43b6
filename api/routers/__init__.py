"""One router per domain. ``PUBLIC`` routers carry their own auth (or none: health, login); every router in
``PROTECTED`` is mounted behind authentication by ``api.app.create_app``."""

from __future__ import annotations

from fastapi import APIRouter

from api.live import ws as live_ws
from api.routers import auth, brief, dead_letters, devices, geo, health, readings, screens

PUBLIC: list[APIRouter] = [health.router, auth.public, live_ws.router, screens.router]
PROTECTED: list[APIRouter] = [auth.router, readings.router, live_ws.stats_router, brief.router, devices.router,
                              dead_letters.router, geo.router]
