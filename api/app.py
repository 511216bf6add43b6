"""The FastAPI application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from api import openapi, problems
from api.audit import AuditMiddleware
from api.deps import authenticated
from api.hosts import TrustedHosts
from api.live.feed import Hub
from api.methods import ConcretePaths
from api.parameters import refuse_control_characters
from api.routers import PROTECTED, PUBLIC
from api.routers.open311 import error_answer as open311_error
from ops_center.db import create_pool
from ops_center.readings import ReadingsStore
from ops_center.settings import Settings, get_settings

log = logging.getLogger("api")


def create_app(settings: Settings | None = None) -> FastAPI:
    """A new app; its lifespan opens the database pool (migrations are never run here)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = create_pool(settings, name="ops-api")
        app.state.pool = pool
        with pool.connection() as conn:
            app.state.readings = ReadingsStore.for_connection(conn)
        live = Hub(settings.database_url)  # the one LISTEN of this process, fanned out to /ws/live
        await live.start()
        app.state.live = live
        try:
            yield
        finally:
            await live.stop()
            pool.close()

    app = FastAPI(title="ops_center", version="0.1.0", lifespan=lifespan, description=openapi.DESCRIPTION,
                  dependencies=[Depends(refuse_control_characters)])
    app.state.settings = settings
    app.router.redirect_slashes = False  # api.problems redirects with a relative Location instead
    problems.install(app, dialects={"/open311/": open311_error})
    app.add_middleware(AuditMiddleware)
    app.add_middleware(ConcretePaths)  # /dossiers/events is not /dossiers/{dossier_id}: 405, as OpenAPI reads it
    app.add_middleware(TrustedHosts, allowed_hosts=settings.allowed_hosts)  # outermost: before anything runs
    for router in PUBLIC:
        app.include_router(router)
    for router in PROTECTED:
        app.include_router(router, dependencies=[Depends(authenticated)])
    openapi.install(app)
    return app
