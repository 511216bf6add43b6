"""The public face of warnings: no authentication, rate-limited per client address (``OPS_CAP_FEED_RATE``),
cached. Only published messages are reachable here — drafts and approved-but-unsent messages have no public
identifier and never appear.

- ``GET /cap/feed.atom``: Atom index of the warnings in force (``Cache-Control`` max-age ``OPS_CAP_FEED_CACHE_S``,
  ETag, 304 on ``If-None-Match``);
- ``GET /cap/messages/{identifier}.xml``: one signed CAP 1.2 document, byte for byte as published (immutable);
- ``GET /cap/certificate.pem``: the certificate that verifies the signatures."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response

from alerts.warnings.config import get_config
from alerts.warnings.feed import cache, document
from api.deps import PoolDep, SettingsDep
from api.public_limits import check_public_limit
from ops_center.signing_keys import SigningKeyMissing, load_pair

ATOM = "application/atom+xml; charset=utf-8"
CAP = "application/cap+xml; charset=utf-8"
Identifier = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,159}$")]


def rate_limited(request: Request) -> None:
    check_public_limit(request, "cap", get_config().feed_rate)


router = APIRouter(prefix="/cap", tags=["public warnings"], dependencies=[Depends(rate_limited)])


def _conditional(request: Request, body: bytes, etag: str, media_type: str, cache_control: str) -> Response:
    headers = {"ETag": etag, "Cache-Control": cache_control, "X-Content-Type-Options": "nosniff"}
    if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


@router.get("/feed.atom", response_class=Response, responses={200: {"content": {"application/atom+xml": {}}}})
def feed(request: Request, pool: PoolDep) -> Response:
    config = get_config()
    with pool.connection() as conn:
        rendered = cache.get(conn, config, datetime.now(UTC))
    return _conditional(request, rendered.body, rendered.etag, ATOM,
                        f"public, max-age={int(config.feed_cache_s)}")


@router.get("/messages/{identifier}.xml", response_class=Response,
            responses={200: {"content": {"application/cap+xml": {}}}, 404: {"description": "no such message"}})
def message(identifier: Identifier, request: Request, pool: PoolDep) -> Response:
    with pool.connection() as conn:
        doc = document(conn, identifier)
    if doc is None:
        raise HTTPException(404, f"identifier: no published message {identifier!r}")
    return _conditional(request, doc.xml, f'"{doc.sha256}"', CAP, "public, max-age=86400, immutable")


@router.get("/certificate.pem", response_class=Response)
def certificate(request: Request, settings: SettingsDep) -> Response:
    try:
        pem = load_pair(settings).cert_pem
    except SigningKeyMissing as exc:
        raise HTTPException(503, "the center's certificate is not configured") from exc
    return Response(pem, media_type="application/x-pem-file", headers={"Cache-Control": "public, max-age=3600"})
