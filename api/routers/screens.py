"""The screens: ``/`` operator wall screen, ``/login``, ``/summary`` leader view, the drill-down views
(``/view/devices``, ``/view/device/{id}``, ``/view/ward/{set}/{code}``, ``/view/trends``) and their static files.

Pages and scripts are public (they hold no data); every figure they show comes from authenticated API calls made
with the JWT the login page keeps in ``sessionStorage``. Plain ES modules, no CDN, no external tiles or fonts.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, Response

router = APIRouter(tags=["screens"], include_in_schema=False)

STATIC_DIR = (Path(__file__).resolve().parent.parent / "static").resolve()
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
        "connect-src 'self'; font-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
               ".html": "text/html; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png",
               ".json": "application/json"}


def _file(relative: str) -> FileResponse:
    try:
        path = (STATIC_DIR / relative).resolve()
        found = path.is_relative_to(STATIC_DIR) and path.is_file() and path.suffix in MEDIA_TYPES
    except (ValueError, OSError):  # NUL bytes, names too long
        found = False
    if not found:
        raise HTTPException(404, f"path: no static file {relative[:100]!r}")
    return FileResponse(path, media_type=MEDIA_TYPES[path.suffix], headers=SECURITY_HEADERS)


@router.get("/")
def operator_screen() -> FileResponse:
    return _file("index.html")


@router.get("/login")
def login_page() -> FileResponse:
    return _file("login.html")


@router.get("/summary")
def leader_view() -> FileResponse:
    return _file("summary.html")


@router.get("/view/devices")
def devices_view() -> FileResponse:
    return _file("devices.html")


@router.get("/view/device/{device_id}")
def device_view(device_id: str) -> FileResponse:
    return _file("device.html")


@router.get("/view/ward/{set_name}/{code}")
def ward_view(set_name: str, code: str) -> FileResponse:
    return _file("ward.html")


@router.get("/view/trends")
def trends_view() -> FileResponse:
    return _file("trends.html")


@router.get("/static/{path:path}")
def static(path: str) -> FileResponse:
    return _file(path)


@router.get("/favicon.ico")
def favicon() -> Response:
    return Response(status_code=204)


@router.get("/view/scorecard")
def scorecard_view() -> FileResponse:
    """The leaders' scorecard page (Decision 766): ``?period=&from=&to=&indicator=&level=&code=&rank=``."""
    return _file("scorecard.html")
