"""One router per domain. ``PUBLIC`` routers carry their own auth (or none: health, login); every router in
``PROTECTED`` is mounted behind authentication by ``api.app.create_app``."""

from __future__ import annotations

from fastapi import APIRouter

from api.routers import auth, health, readings

PUBLIC: list[APIRouter] = [health.router, auth.public]
PROTECTED: list[APIRouter] = [auth.router, readings.router]
