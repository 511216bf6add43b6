"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from api import openapi, problems
from api.audit import AuditMiddleware
from api.deps import authenticated
from api.hosts import TrustedHosts
from api.live.feed import Hub
from api.live.principals import PrincipalWatcher, stop_task
from api.methods import ConcretePaths
from api.parameters import refuse_control_characters
from api.replica_reads import ReadAfterWrite
from api.routers import PROTECTED, PUBLIC
from api.routers.open311 import error_answer as open311_error
from ops_center.auth.accounts import AccountCache
from ops_center.auth.throttle import LoginLimits, LoginThrottle
from ops_center.db import create_pool
from ops_center.db_replicas import ReplicaSet
from ops_center.rate_limits import RateLimiter
from ops_center.readings import ReadingsStore
from ops_center.redact import install_log_redaction
from ops_center.settings import Settings, get_settings

log = logging.getLogger("api")


def create_app(settings: Settings | None = None) -> FastAPI:
    """A new app; its lifespan opens the database pool (migrations are never run here)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = create_pool(settings, name="ops-api")
        app.state.pool = pool
        app.state.replicas = ReplicaSet.open(settings, pool, name="ops-api-read")  # none configured: all on pool
        with pool.connection() as conn:
            app.state.readings = ReadingsStore.for_connection(conn)
        live = Hub(settings.database_url)  # the one LISTEN of this process, fanned out to /ws/live
        principals = PrincipalWatcher(live, on_change=accounts.forget)  # also LISTENs for changes of users
        await live.start()
        app.state.live, app.state.principals = live, principals
        watching = asyncio.create_task(principals.run())
        try:
            yield
        finally:
            await stop_task(watching)
            await live.stop()
            app.state.replicas.close()
            pool.close()

    app = FastAPI(title="ops_center", version="0.1.0", lifespan=lifespan, description=openapi.DESCRIPTION,
                  dependencies=[Depends(refuse_control_characters)])
    app.state.settings = settings
    accounts = AccountCache(settings.auth_cache_s)
    app.state.accounts = accounts  # the current state of accounts, per request (api.deps)
    app.state.rate_limiter = RateLimiter(settings.redis_url)  # the one rate-limiting mechanism (login, public routes)
    app.state.login_throttle = LoginThrottle(app.state.rate_limiter, LoginLimits.parse(
        settings.login_limit_address, settings.login_limit_account_address, settings.login_limit_account))
    install_log_redaction()
    app.router.redirect_slashes = False  # api.problems redirects with a relative Location instead
    problems.install(app, dialects={"/open311/": open311_error})
    app.add_middleware(AuditMiddleware)
    app.add_middleware(ReadAfterWrite)  # with replicas: a client's reads stay on the primary after its writes
    app.add_middleware(ConcretePaths)  # /dossiers/events is not /dossiers/{dossier_id}: 405, as OpenAPI reads it
    app.add_middleware(TrustedHosts, allowed_hosts=settings.allowed_hosts)  # before anything but the proxy headers
    for router in PUBLIC:
        app.include_router(router)
    for router in PROTECTED:
        app.include_router(router, dependencies=[Depends(authenticated)])
    openapi.install(app)
    # outermost: the client address (and scheme) from X-Forwarded-* only when the peer is a trusted proxy; run
    # uvicorn with --no-proxy-headers (``ops-center api`` does) so that this setting alone decides
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    return app
