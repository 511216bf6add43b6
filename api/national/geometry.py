"""Province outlines as GeoJSON geometry bytes, read once per file version from the shared boundary file (the
repository never holds a copy) and spliced into map answers without re-encoding."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import orjson


@lru_cache(maxsize=2)
def _geometries(path: str, mtime: float) -> dict[str, bytes]:
    doc = orjson.loads(Path(path).read_bytes())
    return {str(f["properties"]["province_code"]): orjson.dumps(f["geometry"]) for f in doc["features"]}


def geometries(path: Path) -> dict[str, bytes]:
    """Code → the geometry's JSON bytes (cached while the file is unchanged)."""
    return _geometries(str(path), path.stat().st_mtime)
