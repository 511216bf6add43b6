"""The chart library the screens load is the pinned npm package, byte for byte: api/static/vendor/uplot holds the
files of uplot@<tools/web/package.json> (scripts/web-vendor.sh copies them), so a clean clone serves them offline."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.live.conftest import REPO

VENDOR = REPO / "api" / "static" / "vendor" / "uplot"


def test_vendored_uplot_is_the_pinned_package() -> None:
    out = subprocess.run(["bash", str(REPO / "scripts" / "web-deps.sh")], capture_output=True, text=True, check=True)
    modules = Path(out.stdout.strip().splitlines()[-1])
    pinned = json.loads((REPO / "tools" / "web" / "package.json").read_text())["dependencies"]["uplot"]
    installed = json.loads((modules / "uplot" / "package.json").read_text())["version"]
    assert installed == pinned == (VENDOR / "VERSION.txt").read_text().strip()
    for name in ("uPlot.iife.min.js", "uPlot.min.css"):
        assert (VENDOR / name).read_bytes() == (modules / "uplot" / "dist" / name).read_bytes(), name
    lock = json.loads((REPO / "tools" / "web" / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/uplot"]["version"] == pinned
    assert lock["packages"]["node_modules/axe-core"]["version"] == json.loads(
        (REPO / "tools" / "web" / "package.json").read_text())["dependencies"]["axe-core"]


def test_pages_load_our_own_files_only() -> None:
    """No CDN: every script and stylesheet of every page is one of ours (the center may be offline)."""
    import re

    for page in sorted((REPO / "api" / "static").glob("*.html")):
        head = page.read_text(encoding="utf-8").split("<body")[0]
        for src in re.findall(r'(?:src|href)="([^"]+)"', head):
            assert src.startswith("/static/"), f"{page.name} loads {src}"
            assert (REPO / "api" / src.lstrip("/")).is_file(), f"{page.name}: {src} is missing"
