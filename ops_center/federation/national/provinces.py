"""The 34 provinces of the 2025 set, read at runtime from the shared boundary file (never copied into the repo):
codes and names here; geometry is the API's business."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import orjson

from ops_center.federation.config import FederationConfig
from ops_center.settings import Settings

FILE_NAME = Path("vietnam") / "provinces_2025.geojson"


@dataclass(frozen=True)
class Province:
    code: str
    name: str
    short_name: str
    unit_type: str
    area_km2: float


def boundaries_path(settings: Settings, cfg: FederationConfig) -> Path:
    return cfg.boundaries_file or settings.data_dir / FILE_NAME


@lru_cache(maxsize=4)
def _read(path: str, mtime: float) -> tuple[Province, ...]:
    doc = orjson.loads(Path(path).read_bytes())
    out = []
    for f in doc.get("features", []):
        p = f.get("properties") or {}
        out.append(Province(str(p["province_code"]), str(p["province_name"]), str(p.get("short_name") or ""),
                            str(p.get("unit_type") or ""), float(p.get("area_km2") or 0.0)))
    return tuple(sorted(out, key=lambda x: x.code))


def load(path: Path) -> tuple[Province, ...]:
    """The provinces in ``path`` by code (cached while the file is unchanged)."""
    try:
        mtime = path.stat().st_mtime
    except OSError as exc:
        raise FileNotFoundError(f"province boundaries not found at {path}: the national mode reads "
                                f"shared/data/{FILE_NAME} (set OPS_DATA_DIR or OPS_FEDERATION_BOUNDARIES_FILE)") from exc
    return _read(str(path), mtime)


def by_code(path: Path) -> dict[str, Province]:
    return {p.code: p for p in load(path)}
