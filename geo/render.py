"""A PNG choropleth of one summary figure: matplotlib (Agg, no pyplot state, so safe in a threaded server), DejaVu
Sans for Vietnamese diacritics, a colour bar legend, unit names, and a title naming the figure, the boundary set,
the level and the time window. Units without a value are drawn hatched grey and named in the legend."""

from __future__ import annotations

import io
import math
import threading
from datetime import datetime
from typing import Any

import matplotlib

matplotlib.use("Agg")

import numpy as np
import shapely
from matplotlib import colormaps, patheffects
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Patch, PathPatch
from matplotlib.path import Path as MplPath

from geo import shapes
from geo.summary import NUMERIC_PROPERTIES, Summary, flat_properties
from ops_center.settings import LOCAL_TZ

FONT = "DejaVu Sans"
_lock = threading.Lock()
LEVEL_VI = {"ward": "cấp xã", "district": "cấp huyện"}
CMAPS = {"dossier_on_time_rate": "RdYlGn", "salinity_ppt_max": "YlOrRd", "water_level_cm_max": "Blues",
         "rain_mm_total": "PuBu"}


def _path(geom: shapely.Geometry) -> MplPath:
    """A matplotlib path for a (multi)polygon, holes included."""
    verts: list[np.ndarray] = []
    codes: list[np.ndarray] = []
    for poly in shapely.get_parts(geom):
        for ring in [poly.exterior, *poly.interiors]:
            xy = np.asarray(ring.coords)
            if len(xy) < 3:
                continue
            c = np.full(len(xy), MplPath.LINETO, dtype=np.uint8)
            c[0] = MplPath.MOVETO
            c[-1] = MplPath.CLOSEPOLY
            verts.append(xy)
            codes.append(c)
    if not verts:
        return MplPath(np.zeros((1, 2)))
    return MplPath(np.concatenate(verts), np.concatenate(codes))


def _fmt_time(t: datetime) -> str:
    return t.astimezone(LOCAL_TZ).strftime("%d/%m/%Y %H:%M")


def render_png(summary: Summary, layer: str, *, width_px: int = 1400, dpi: int = 140,
               labels: bool = True) -> bytes:
    """Render ``layer`` (a key of ``NUMERIC_PROPERTIES``) of a summary as a PNG image."""
    if layer not in NUMERIC_PROPERTIES:
        raise ValueError(f"layer: {layer!r} is not one of {', '.join(NUMERIC_PROPERTIES)}")
    prop, label = NUMERIC_PROPERTIES[layer]
    rows = [flat_properties(p) for p in summary.properties]
    values = np.array([_num(r.get(prop)) for r in rows], dtype=float)
    geoms = shapes.simplified(summary.entry, max(summary.query.simplify_m, 0.0))
    minx, miny, maxx, maxy = shapely.total_bounds(geoms)
    aspect = 1.0 / math.cos(math.radians((miny + maxy) / 2.0))

    with _lock, matplotlib.rc_context({"font.family": FONT}):  # rcParams are process-global: one render at a time
        size_in = width_px / dpi
        fig = Figure(figsize=(size_in, size_in * 1.05), dpi=dpi)
        FigureCanvasAgg(fig)
        ax = fig.add_axes((0.03, 0.1, 0.8, 0.78))
        cax = fig.add_axes((0.86, 0.2, 0.025, 0.6))
        have = np.isfinite(values)
        lo = float(values[have].min()) if have.any() else 0.0
        hi = float(values[have].max()) if have.any() else 1.0
        if prop == "dossier_on_time_rate":
            lo, hi = 0.0, 1.0
        if hi <= lo:
            hi = lo + 1.0
        norm = Normalize(lo, hi)
        cmap = colormaps[CMAPS.get(prop, "viridis")]
        for g, v in zip(geoms, values, strict=True):
            if math.isfinite(v):
                patch = PathPatch(_path(g), facecolor=cmap(norm(v)), edgecolor="#333333", linewidth=0.4)
            else:
                patch = PathPatch(_path(g), facecolor="#dddddd", edgecolor="#666666", linewidth=0.4, hatch="///")
            ax.add_patch(patch)
        pad = 0.02 * max(maxx - minx, maxy - miny)
        ax.set_xlim(minx - pad, maxx + pad)
        ax.set_ylim(miny - pad, maxy + pad)
        ax.set_aspect(aspect)
        ax.tick_params(labelsize=7)
        ax.set_xlabel("Kinh độ (°E)", fontsize=8)
        ax.set_ylabel("Vĩ độ (°N)", fontsize=8)
        if labels:
            n = len(rows)
            size = 7.5 if n <= 20 else 4.6 if n <= 80 else 3.9
            for u, r in zip(summary.entry.units, rows, strict=True):
                ax.annotate(_short_name(r["name"]), (u.rep_lon, u.rep_lat), ha="center", va="center",
                            fontsize=size, color="#111111",
                            path_effects=[patheffects.withStroke(linewidth=1.4, foreground="white")])
        sm = matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap)
        cb = fig.colorbar(sm, cax=cax)
        cb.set_label(label, fontsize=9)
        cb.ax.tick_params(labelsize=8)
        if not have.all():
            ax.legend(handles=[Patch(facecolor="#dddddd", edgecolor="#666666", hatch="///",
                                     label=f"Không có dữ liệu ({int((~have).sum())})")],
                      loc="lower left", fontsize=8, framealpha=0.9)
        q = summary.query
        fig.suptitle(label, fontsize=15, fontweight="bold", y=0.975)
        fig.text(0.5, 0.925,
                 f"Bộ ranh giới {summary.set_info.name} · {LEVEL_VI.get(q.level, q.level)} · {len(rows)} đơn vị\n"
                 f"Thời gian: {_fmt_time(q.start)} – {_fmt_time(q.end)} (giờ Việt Nam, UTC+7)",
                 ha="center", va="center", fontsize=9.5)
        fig.text(0.99, 0.01, "ops_center · Trung tâm điều hành", ha="right", va="bottom", fontsize=7,
                 color="#777777")
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi, facecolor="white")
    return buf.getvalue()


def _num(v: Any) -> float:
    if v is None or isinstance(v, bool):
        return math.nan
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def _short_name(name: str) -> str:
    """Drop the unit-type prefix on the map (the legend has it): 'Xã Tân Thành' -> 'Tân Thành'; keep 'Phường 5'."""
    for prefix in ("Thị trấn ", "Xã ", "Huyện ", "Thành phố "):
        if name.startswith(prefix):
            return name[len(prefix):]
    return name
