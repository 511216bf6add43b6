"""Dependencies of the federation routes: the federation config of this app, the national-mode gate and the
province principal (a per-province credential, re-checked on every request)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from api.deps import PoolDep, Principal
from api.openapi import declares
from ops_center.auth.roles import Role
from ops_center.federation.config import FederationConfig, get_config
from ops_center.federation.national.credentials import ProvinceCredential, verify

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="federation"'}


def federation_config(request: Request) -> FederationConfig:
    """``app.state.federation`` when the app was given one (tests run several instances), else the environment's."""
    cfg = getattr(request.app.state, "federation", None)
    return cfg if isinstance(cfg, FederationConfig) else get_config()


FederationDep = Annotated[FederationConfig, Depends(federation_config)]


@declares(404)
def national_mode(cfg: FederationDep) -> FederationConfig:
    if cfg.mode != "national":
        raise HTTPException(404, f"not a national instance (OPS_FEDERATION_MODE is {cfg.mode!r})")
    return cfg


@declares(404)
def province_mode(cfg: FederationDep) -> FederationConfig:
    if cfg.mode != "province":
        raise HTTPException(404, f"not a publishing province (OPS_FEDERATION_MODE is {cfg.mode!r})")
    return cfg


NationalDep = Annotated[FederationConfig, Depends(national_mode)]
ProvinceModeDep = Annotated[FederationConfig, Depends(province_mode)]


@declares(401)
def province_principal(request: Request, pool: PoolDep, national: NationalDep) -> ProvinceCredential:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(401, "not authenticated: send the province's federation credential as a bearer token",
                            headers=_CHALLENGE)
    with pool.connection() as conn:
        found = verify(conn, token.strip())
    if found is None:
        raise HTTPException(401, "federation credential invalid, revoked, or its province disabled",
                            headers=_CHALLENGE)
    request.state.principal = Principal(f"province:{found.code}", Role.integration, "province")
    return found


ProvinceDep = Annotated[ProvinceCredential, Depends(province_principal)]
