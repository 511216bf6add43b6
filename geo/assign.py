"""Point → ward assignment for one boundary set.

`WardIndex` is built once per boundary set and answers "which ward is this point in?" in bulk (numpy arrays of
lon/lat) and one point at a time. A point inside (or on the border of) a ward polygon is `inside`; a point outside
every polygon (sea, islands missing from the set, a generalised coastline, a gap between wards) gets the nearest
ward if that ward is within `max_distance_m` metres (status `approximate`, with the distance), else `outside`.
Distances are measured in a metric CRS (by default the WGS 84 UTM zone of the set's centre: EPSG:32648 for Cà Mau).

How it is fast. At build time the set's bounding box, padded by the search radius, is cut into a grid of cells of
about `cell_size_m` (250 m) and every cell is classified once:

- *full*: no ward border passes through the cell and its centre lies in ward k, so every point in it is in ward k;
- *far*: every point of the cell is farther than `max_distance_m` from every ward, so it is `outside`;
- *near*: no ward touches the cell but one is within reach: its points go straight to the nearest-ward step;
- *mixed*: a border passes through (or next to) the cell: its points are tested with prepared `intersects_xy`
  against the few wards that can contain them (wards whose border marks the cell, plus any ward containing the
  cell's centre); misses go to the nearest-ward step.

Borders are marked by densifying them to half a cell and dilating the marked cells by one, so no cell a border
crosses is taken for a full or an empty one. For the nearest-ward step every near or mixed cell keeps the short
list of border segments (in metres) that can be nearest to some point of the cell: with c the cell's centre, r its
circumradius and d_c the distance from c to the nearest border, only segments within min(d_c + 2r, max + r) of c
qualify. A bulk call is thus a few numpy operations for most points, exact point-in-polygon tests for points in
border cells, and a vectorised point-to-segment distance over a few dozen segments for the rare points outside
every ward.

Ties (a point exactly on a shared border, overlapping wards, equidistant nearest wards) go to the ward listed first.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from pyproj import CRS, Transformer

from geo.projection import WGS84, centre_of, transformer, utm_crs

Status = Literal["inside", "approximate", "outside"]

INSIDE: int = 0
APPROXIMATE: int = 1
OUTSIDE: int = 2
STATUS_NAMES: NDArray[np.str_] = np.array(["inside", "approximate", "outside"])

# Grid cell values: >= 0 a full cell of that ward index, _FAR, or a special (near/mixed) cell of rank r stored as
# _SPECIAL0 - r. The last cell of the grid array stands for "off the grid".
_FAR = -1
_SPECIAL0 = -2

_MAX_CELLS = 4_000_000
_M_PER_DEG_LAT_MIN = 110_000.0  # fewer metres per degree than anywhere: over-estimates degree paddings
_M_PER_DEG_MAX = 111_700.0  # more metres per degree than anywhere: sizes cells
_BIG = np.iinfo(np.int32).max
_PAIR_CHUNK = 32_768


@dataclass(frozen=True, slots=True)
class Assignment:
    """Where one point falls: its ward code (None when `outside`), status and distance to the ward in metres
    (0.0 when `inside`, NaN when `outside`)."""

    code: str | None
    status: Status
    distance_m: float


@dataclass(frozen=True, slots=True)
class _Segments:
    """Ward border segments in the metric CRS, as arrays for vectorised point-to-segment distances."""

    ax: NDArray[np.float64]
    ay: NDArray[np.float64]
    dx: NDArray[np.float64]
    dy: NDArray[np.float64]
    inv_len2: NDArray[np.float64]  # 1 / squared length, 0 for a zero-length segment
    ward: NDArray[np.int32]


@dataclass(frozen=True, slots=True)
class _Grid:
    x0: float
    y0: float
    inv_w: float
    inv_h: float
    nx: int
    ny: int
    cells: NDArray[np.int32]  # nx * ny + 1 values
    pip_ptr: NDArray[np.int64]  # per special rank: wards to test (CSR)
    pip_idx: NDArray[np.int32]
    seg_ptr: NDArray[np.int64]  # per special rank: candidate nearest segments (CSR)
    seg_idx: NDArray[np.int64]


class WardIndex:
    """Spatial index of one boundary set's wards; immutable and safe to share between threads.

    Build it with `WardIndex.build(codes, geometries)` (shapely polygons in EPSG:4326) or
    `WardIndex.from_wkb(codes, wkbs)` (rows straight from the database).
    """

    __slots__ = ("_code_lookup", "_codes", "_geoms", "_grid", "_max_d", "_metric_crs", "_segs", "_to_metric")

    def __init__(
        self,
        codes: tuple[str, ...],
        geoms: NDArray[np.object_],
        max_distance_m: float,
        metric_crs: CRS,
        segments: _Segments,
        grid: _Grid,
    ) -> None:
        """Internal: use `build` or `from_wkb`."""
        self._codes = codes
        self._code_lookup: NDArray[np.object_] = np.array([*codes, None], dtype=object)
        self._geoms = geoms
        self._max_d = max_distance_m
        self._metric_crs = metric_crs
        self._to_metric: Transformer = transformer(WGS84, metric_crs)
        self._segs = segments
        self._grid = grid

    # ------------------------------------------------------------------ construction

    @classmethod
    def build(
        cls,
        codes: Sequence[str],
        geometries: Iterable[Any],
        max_distance_m: float = 2000.0,
        *,
        cell_size_m: float = 250.0,
        metric_crs: CRS | str | int | None = None,
    ) -> WardIndex:
        """Index ward polygons (shapely Polygon/MultiPolygon in EPSG:4326 lon/lat, valid, non-empty).

        `max_distance_m`: how far (metres) a point outside every ward may be from its nearest ward to be assigned
        to it as `approximate`; 0 disables the nearest-ward fallback.
        `cell_size_m`: grid cell size; smaller cells answer faster and take longer to build.
        `metric_crs`: the projected CRS distances are measured in; default the WGS 84 UTM zone of the set's centre.
        """
        code_tuple = _check_codes(codes)
        geoms = _check_geometries(code_tuple, geometries)
        max_d = _check_metres("max_distance_m", max_distance_m, allow_zero=True)
        cell_m = _check_metres("cell_size_m", cell_size_m, allow_zero=False)
        crs = CRS.from_user_input(metric_crs) if metric_crs is not None else utm_crs(*centre_of(geoms))
        if not crs.is_projected:
            raise ValueError(f"metric_crs: {crs.to_string()!r} is not a projected (metric) CRS")
        shapely.prepare(geoms)
        to_metric = transformer(WGS84, crs)
        segments, seg_geoms = _segments(geoms, to_metric)
        grid = _build_grid(geoms, max_d, cell_m, to_metric, shapely.STRtree(seg_geoms))
        return cls(code_tuple, geoms, max_d, crs, segments, grid)

    @classmethod
    def from_wkb(
        cls,
        codes: Sequence[str],
        wkbs: Iterable[bytes | bytearray | memoryview | str],
        max_distance_m: float = 2000.0,
        **kwargs: Any,
    ) -> WardIndex:
        """Build from WKB in EPSG:4326: bytes, memoryview (as psycopg returns bytea) or hex strings.
        Keyword arguments are those of `build`."""
        raw = [bytes(w) if isinstance(w, bytearray | memoryview) else w for w in wkbs]
        code_list = list(codes)
        if len(raw) != len(code_list):
            raise ValueError(f"wkbs: {len(raw)} geometries for {len(code_list)} codes")
        geoms = shapely.from_wkb(np.array(raw, dtype=object), on_invalid="ignore")
        for code, w, g in zip(code_list, raw, geoms, strict=True):
            if g is None:
                shown = w[:16].hex() if isinstance(w, bytes) else str(w)[:32]
                raise ValueError(f"wkb of ward {code!r}: not valid WKB (starts {shown!r})")
        return cls.build(code_list, geoms, max_distance_m, **kwargs)

    # ------------------------------------------------------------------ properties

    @property
    def codes(self) -> tuple[str, ...]:
        """Ward codes in index order (index i returned by `assign_indices` is `codes[i]`)."""
        return self._codes

    @property
    def geometries(self) -> NDArray[np.object_]:
        """The ward polygons (EPSG:4326), in index order."""
        return self._geoms

    @property
    def max_distance_m(self) -> float:
        return self._max_d

    @property
    def metric_crs(self) -> CRS:
        return self._metric_crs

    def __len__(self) -> int:
        return len(self._codes)

    def __repr__(self) -> str:
        return (
            f"WardIndex({len(self._codes)} wards, max_distance_m={self._max_d:g}, "
            f"metric_crs={self._metric_crs.to_string()}, grid={self._grid.nx}x{self._grid.ny})"
        )

    # ------------------------------------------------------------------ queries

    def assign_indices(
        self, lon: ArrayLike, lat: ArrayLike
    ) -> tuple[NDArray[np.int32], NDArray[np.int8], NDArray[np.float64]]:
        """Bulk assignment as ward indices into `codes` (-1 when outside), status codes (INSIDE, APPROXIMATE,
        OUTSIDE) and distances in metres (0 inside, NaN outside)."""
        x, y = _check_points(lon, lat)
        g = self._grid
        fx = (x - g.x0) * g.inv_w
        fy = (y - g.y0) * g.inv_h
        off = ~((fx >= 0.0) & (fx < g.nx) & (fy >= 0.0) & (fy < g.ny))
        cell = fy.astype(np.int64) * g.nx + fx.astype(np.int64)
        cell[off] = g.nx * g.ny
        state = g.cells[cell]
        ward = np.maximum(state, np.int32(-1))

        special = np.flatnonzero(state <= _SPECIAL0)
        rank = (_SPECIAL0 - state[special]).astype(np.int64)
        self._test_inside(x, y, special, rank, ward)
        missed = ward[special] < 0
        special, rank = special[missed], rank[missed]

        status = np.where(ward >= 0, np.int8(INSIDE), np.int8(OUTSIDE))
        dist = np.where(ward >= 0, 0.0, np.nan)
        if special.size and self._max_d > 0:
            xm, ym = self._to_metric.transform(x[special], y[special])
            near_ward, near_d = self._nearest(np.asarray(xm), np.asarray(ym), rank)
            hit = near_ward >= 0
            target = special[hit]
            ward[target] = near_ward[hit]
            status[target] = APPROXIMATE
            dist[target] = near_d[hit]
        return ward, status, dist

    def assign_bulk(
        self, lon: ArrayLike, lat: ArrayLike
    ) -> tuple[NDArray[np.object_], NDArray[np.str_], NDArray[np.float64]]:
        """Bulk assignment: (ward codes, None when outside; statuses 'inside' | 'approximate' | 'outside';
        distances in metres, 0 inside and NaN outside)."""
        ward, status, dist = self.assign_indices(lon, lat)
        return self._code_lookup[ward], STATUS_NAMES[status], dist

    def assign_one(self, lon: float, lat: float) -> Assignment:
        """Assign a single point (a scalar fast path; same answers as `assign_bulk`)."""
        lon_f, lat_f = _check_scalar("lon", lon, 180.0), _check_scalar("lat", lat, 90.0)
        g = self._grid
        fx = (lon_f - g.x0) * g.inv_w
        fy = (lat_f - g.y0) * g.inv_h
        if not (0.0 <= fx < g.nx and 0.0 <= fy < g.ny):
            return Assignment(None, "outside", math.nan)
        state = int(g.cells[int(fy) * g.nx + int(fx)])
        if state >= 0:
            return Assignment(self._codes[state], "inside", 0.0)
        if state == _FAR:
            return Assignment(None, "outside", math.nan)
        rank = _SPECIAL0 - state
        for k in g.pip_idx[g.pip_ptr[rank] : g.pip_ptr[rank + 1]]:
            if shapely.intersects_xy(self._geoms[k], lon_f, lat_f):
                return Assignment(self._codes[k], "inside", 0.0)
        if self._max_d <= 0:
            return Assignment(None, "outside", math.nan)
        xm, ym = self._to_metric.transform(lon_f, lat_f)
        near_ward, near_d = self._nearest(np.array([xm]), np.array([ym]), np.array([rank], dtype=np.int64))
        if near_ward[0] < 0:
            return Assignment(None, "outside", math.nan)
        return Assignment(self._codes[int(near_ward[0])], "approximate", float(near_d[0]))

    # ------------------------------------------------------------------ internals

    def _test_inside(
        self,
        x: NDArray[np.float64],
        y: NDArray[np.float64],
        special: NDArray[np.intp],
        rank: NDArray[np.int64],
        ward: NDArray[np.int32],
    ) -> None:
        """Exact point-in-polygon tests for points in mixed cells; hits are written into `ward`."""
        g = self._grid
        start = g.pip_ptr[rank]
        count = g.pip_ptr[rank + 1] - start
        total = int(count.sum())
        if total == 0:
            return
        point = np.repeat(special, count)
        cand = g.pip_idx[_expand(start, count, total)]
        # Group (point, ward) pairs by ward; with int16 keys numpy's stable sort is a radix sort.
        key = cand.astype(np.int16) if len(self._codes) < 32_000 else cand
        order = np.argsort(key, kind="stable")
        point, cand = point[order], cand[order]
        cuts = np.flatnonzero(np.diff(cand)) + 1
        starts = np.concatenate([[0], cuts])
        ends = np.concatenate([cuts, [total]])
        # Highest ward index first, so the lowest index containing a point is written last and wins.
        for s, e in zip(starts[::-1].tolist(), ends[::-1].tolist(), strict=True):
            pts = point[s:e]
            hit = shapely.intersects_xy(self._geoms[cand[s]], x[pts], y[pts])
            ward[pts[hit]] = cand[s]

    def _nearest(
        self, xm: NDArray[np.float64], ym: NDArray[np.float64], rank: NDArray[np.int64]
    ) -> tuple[NDArray[np.int32], NDArray[np.float64]]:
        """Nearest ward (lowest index on ties) within max_distance_m of metric points outside every ward,
        searching their cells' candidate segments; -1 / NaN when none is within reach."""
        g, s = self._grid, self._segs
        n = xm.shape[0]
        out_ward = np.full(n, -1, dtype=np.int32)
        out_d = np.full(n, np.nan)
        start = g.seg_ptr[rank]
        count = g.seg_ptr[rank + 1] - start
        has = np.flatnonzero(count > 0)
        if has.size == 0:
            return out_ward, out_d
        # Chunks of about _PAIR_CHUNK (point, segment) pairs keep the temporaries in cache.
        ends = np.cumsum(count[has])
        cuts = np.searchsorted(ends, np.arange(_PAIR_CHUNK, int(ends[-1]), _PAIR_CHUNK), side="right")
        bounds = np.unique(np.concatenate([[0], cuts, [has.size]]))
        for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            pts = has[lo:hi]
            cnt = count[pts]
            seg = g.seg_idx[_expand(start[pts], cnt, int(cnt.sum()))]
            rx = np.repeat(xm[pts], cnt) - s.ax[seg]
            ry = np.repeat(ym[pts], cnt) - s.ay[seg]
            dx, dy = s.dx[seg], s.dy[seg]
            t = np.clip((rx * dx + ry * dy) * s.inv_len2[seg], 0.0, 1.0)
            rx -= t * dx
            ry -= t * dy
            d2 = rx * rx + ry * ry
            offsets = np.cumsum(cnt) - cnt
            best = np.minimum.reduceat(d2, offsets)
            tied = d2 <= np.repeat(best, cnt)
            best_ward = np.minimum.reduceat(np.where(tied, s.ward[seg], _BIG), offsets)
            d = np.sqrt(best)
            ok = d <= self._max_d
            out_ward[pts[ok]] = best_ward[ok]
            out_d[pts[ok]] = d[ok]
        return out_ward, out_d


def _expand(start: NDArray[np.int64], count: NDArray[np.int64], total: int) -> NDArray[np.int64]:
    """Concatenate the ranges [start[i], start[i] + count[i]) without a Python loop."""
    first = np.repeat(np.cumsum(count) - count, count)
    return np.repeat(start, count) + (np.arange(total, dtype=np.int64) - first)


# ---------------------------------------------------------------------- validation


def _check_codes(codes: Sequence[str]) -> tuple[str, ...]:
    out = tuple(codes)
    if not out:
        raise ValueError("codes: no wards given")
    seen: set[str] = set()
    for i, c in enumerate(out):
        if not isinstance(c, str) or not c.strip():
            raise ValueError(f"codes[{i}]: {c!r} is not a non-empty string")
        if c in seen:
            raise ValueError(f"codes: duplicate ward code {c!r}")
        seen.add(c)
    return out


def _check_geometries(codes: tuple[str, ...], geometries: Iterable[Any]) -> NDArray[np.object_]:
    crs = getattr(geometries, "crs", None)
    if crs is not None and not CRS.from_user_input(crs).equals(WGS84, ignore_axis_order=True):
        raise ValueError(
            f"geometries: CRS {CRS.from_user_input(crs).to_string()!r} given, EPSG:4326 required"
        )
    geoms = np.empty(len(items := list(geometries)), dtype=object)
    geoms[:] = items
    if geoms.shape != (len(codes),):
        raise ValueError(f"geometries: {geoms.shape[0]} geometries for {len(codes)} codes")
    for code, g in zip(codes, geoms, strict=True):
        if not isinstance(g, shapely.Polygon | shapely.MultiPolygon):
            raise ValueError(
                f"geometry of ward {code!r}: {type(g).__name__} given, Polygon or MultiPolygon required"
            )
        if g.is_empty:
            raise ValueError(f"geometry of ward {code!r}: empty")
        if not g.is_valid:
            raise ValueError(f"geometry of ward {code!r}: invalid ({shapely.is_valid_reason(g)})")
        minx, miny, maxx, maxy = g.bounds
        if not (minx >= -180.0 and maxx <= 180.0 and miny >= -90.0 and maxy <= 90.0):
            raise ValueError(
                f"geometry of ward {code!r}: bounds {g.bounds} are not lon/lat (EPSG:4326 required)"
            )
    return np.asarray(shapely.force_2d(geoms), dtype=object)


def _check_metres(name: str, value: float, *, allow_zero: bool) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        raise ValueError(
            f"{name}: {value!r} must be a finite number of metres {'>=' if allow_zero else '>'} 0"
        )
    return float(value)


def _check_points(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    try:
        x = np.ascontiguousarray(lon, dtype=np.float64)
        y = np.ascontiguousarray(lat, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"lon/lat: not arrays of numbers ({exc})") from None
    if x.ndim != 1 or y.ndim != 1 or x.shape != y.shape:
        raise ValueError(f"lon/lat: 1-D arrays of equal length required, got shapes {x.shape} and {y.shape}")
    for name, arr, limit in (("lon", x, 180.0), ("lat", y, 90.0)):
        bad = ~(np.abs(arr) <= limit)  # also catches NaN
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{name}[{i}]: {float(arr[i])!r} is not a valid {name} (|{name}| <= {limit:g})")
    return x, y


def _check_scalar(name: str, value: float, limit: float) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: {value!r} is not a number") from None
    if not abs(v) <= limit:
        raise ValueError(f"{name}: {value!r} is not a valid {name} (|{name}| <= {limit:g})")
    return v


# ---------------------------------------------------------------------- build steps


def _segments(geoms: NDArray[np.object_], to_metric: Transformer) -> tuple[_Segments, NDArray[np.object_]]:
    """Every ward border segment (exterior and interior rings) in the metric CRS. For a point outside every
    ward, the nearest segment belongs to the nearest ward and its distance is the distance to that ward."""
    parts, part_ward = shapely.get_parts(shapely.boundary(geoms), return_index=True)
    coords, part_of = shapely.get_coordinates(parts, return_index=True)
    xm, ym = (np.asarray(v) for v in to_metric.transform(coords[:, 0], coords[:, 1]))
    same = part_of[1:] == part_of[:-1]
    ax, ay = xm[:-1][same], ym[:-1][same]
    bx, by = xm[1:][same], ym[1:][same]
    dx, dy = bx - ax, by - ay
    len2 = dx * dx + dy * dy
    inv_len2 = np.divide(1.0, len2, out=np.zeros_like(len2), where=len2 > 0)
    ward = part_ward[part_of[:-1][same]].astype(np.int32)
    geoms_m = shapely.linestrings(np.stack([np.column_stack([ax, ay]), np.column_stack([bx, by])], axis=1))
    return _Segments(ax, ay, dx, dy, inv_len2, ward), geoms_m


def _build_grid(
    geoms: NDArray[np.object_], max_d: float, cell_m: float, to_metric: Transformer, seg_tree: shapely.STRtree
) -> _Grid:
    """Classify grid cells as full / far / near / mixed (see the module docstring)."""
    n_wards = len(geoms)
    minx, miny, maxx, maxy = (float(v) for v in shapely.total_bounds(geoms))
    max_abs_lat = min(max(abs(miny), abs(maxy)) + max_d / _M_PER_DEG_LAT_MIN, 89.0)
    pad_y = 1.01 * max_d / _M_PER_DEG_LAT_MIN + 1e-9
    pad_x = 1.01 * max_d / (_M_PER_DEG_LAT_MIN * math.cos(math.radians(max_abs_lat))) + 1e-9
    x0, y0, x1, y1 = minx - pad_x, miny - pad_y, maxx + pad_x, maxy + pad_y
    h = cell_m / _M_PER_DEG_MAX
    w = h / math.cos(math.radians((miny + maxy) / 2.0))
    while math.ceil((x1 - x0) / w) * math.ceil((y1 - y0) / h) > _MAX_CELLS:
        w, h = w * 1.25, h * 1.25
    nx, ny = math.ceil((x1 - x0) / w), math.ceil((y1 - y0) / h)
    inv_w, inv_h = 1.0 / w, 1.0 / h

    def centres(c: NDArray[np.int64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        return (x0 + (c % nx + 0.5) * w).astype(np.float64), (y0 + (c // nx + 0.5) * h).astype(np.float64)

    def radii_m(c: NDArray[np.int64]) -> NDArray[np.float64]:
        """Metric distance from each cell's centre to its farthest corner, with 1% to spare."""
        cx, cy = centres(c)
        mx, my = (np.asarray(v) for v in to_metric.transform(cx, cy))
        r = np.zeros(c.shape[0])
        for sx in (-0.5, 0.5):
            for sy in (-0.5, 0.5):
                kx, ky = (np.asarray(v) for v in to_metric.transform(cx + sx * w, cy + sy * h))
                r = np.maximum(r, np.hypot(kx - mx, ky - my))
        return r * 1.01

    # 1. Cells a border passes through: border vertices densified to half a cell, dilated by one cell.
    dense = shapely.segmentize(shapely.boundary(geoms), 0.5 * min(w, h))
    coords, owner = shapely.get_coordinates(dense, return_index=True)
    ix = np.clip(((coords[:, 0] - x0) * inv_w).astype(np.int64), 0, nx - 1)
    iy = np.clip(((coords[:, 1] - y0) * inv_h).astype(np.int64), 0, ny - 1)
    marked = np.unique((iy * nx + ix) * n_wards + owner)
    cell, owner = marked // n_wards, marked % n_wards
    ix, iy = cell % nx, cell // nx
    keys = []
    for ox in (-1, 0, 1):
        for oy in (-1, 0, 1):
            jx, jy = ix + ox, iy + oy
            ok = (jx >= 0) & (jx < nx) & (jy >= 0) & (jy < ny)
            keys.append((jy[ok] * nx + jx[ok]) * n_wards + owner[ok])
    pip_keys = np.unique(np.concatenate(keys))
    mixed = np.unique(pip_keys // n_wards)

    # 2. Mixed cells also test every ward containing their centre (overlapping or enclosing wards).
    pt, wd = _containing(geoms, *centres(mixed))
    pip_keys = np.unique(np.concatenate([pip_keys, mixed[pt] * n_wards + wd]))

    # 3. Every other cell lies wholly in one ward or wholly outside all of them: its centre tells which.
    cells = np.full(nx * ny + 1, _FAR, dtype=np.int32)
    is_mixed = np.zeros(nx * ny, dtype=bool)
    is_mixed[mixed] = True
    plain = np.flatnonzero(~is_mixed)
    pt, wd = _containing(geoms, *centres(plain))
    full = np.full(plain.size, _BIG, dtype=np.int32)
    np.minimum.at(full, pt, wd.astype(np.int32))
    cells[plain[full < _BIG]] = full[full < _BIG]
    empty = plain[full == _BIG]

    # 4. An empty cell is near when a ward may lie within max_d of one of its points.
    near = np.empty(0, dtype=np.int64)
    if max_d > 0 and empty.size:
        cx, cy = centres(empty)
        mx, my = to_metric.transform(cx, cy)
        r = radii_m(empty)
        (src, _), d_c = seg_tree.query_nearest(
            shapely.points(np.asarray(mx), np.asarray(my)),
            max_distance=max_d + float(r.max()),
            return_distance=True,
            all_matches=False,
        )
        near = empty[np.unique(src[d_c <= max_d + r[src]])]
    special = np.union1d(mixed, near)
    cells[special] = _SPECIAL0 - np.arange(special.size, dtype=np.int32)

    pip_cell = pip_keys // n_wards
    pip_ptr = _csr_ptr(np.searchsorted(special, pip_cell), special.size)
    pip_idx = (pip_keys % n_wards).astype(np.int32)

    # 5. Candidate nearest segments of each special cell: within min(d_c + 2r, max_d + r) of its centre.
    seg_ptr = np.zeros(special.size + 1, dtype=np.int64)
    seg_idx = np.empty(0, dtype=np.int64)
    if max_d > 0 and special.size:
        cx, cy = centres(special)
        mx, my = to_metric.transform(cx, cy)
        centre_pts = shapely.points(np.asarray(mx), np.asarray(my))
        r = radii_m(special)
        (src, _), d_c = seg_tree.query_nearest(
            centre_pts, max_distance=max_d + float(r.max()), return_distance=True, all_matches=False
        )
        keep = d_c <= max_d + r[src]
        src, d_c = src[keep], d_c[keep]
        reach = np.minimum(d_c + 2.0 * r[src], max_d + r[src]) * (1.0 + 1e-9) + 1e-6
        c_idx, s_idx = seg_tree.query(centre_pts[src], predicate="dwithin", distance=reach)
        owner_rank = src[c_idx]
        order = np.argsort(owner_rank, kind="stable")
        seg_ptr = _csr_ptr(owner_rank[order], special.size)
        seg_idx = s_idx[order].astype(np.int64)

    return _Grid(x0, y0, inv_w, inv_h, nx, ny, cells, pip_ptr, pip_idx, seg_ptr, seg_idx)


def _csr_ptr(sorted_rows: NDArray[np.int64], n_rows: int) -> NDArray[np.int64]:
    return np.concatenate([[0], np.cumsum(np.bincount(sorted_rows, minlength=n_rows))]).astype(np.int64)


def _containing(
    geoms: NDArray[np.object_], x: NDArray[np.float64], y: NDArray[np.float64]
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """All (point, ward) pairs with the point in or on the ward: bounding-box filter + prepared intersects_xy."""
    pts: list[NDArray[np.intp]] = [np.empty(0, dtype=np.intp)]
    wards: list[NDArray[np.intp]] = [np.empty(0, dtype=np.intp)]
    for k, (bx0, by0, bx1, by1) in enumerate(shapely.bounds(geoms)):
        cand = np.flatnonzero((x >= bx0) & (x <= bx1) & (y >= by0) & (y <= by1))
        hit = cand[shapely.intersects_xy(geoms[k], x[cand], y[cand])]
        pts.append(hit)
        wards.append(np.full(hit.size, k, dtype=np.intp))
    return np.concatenate(pts), np.concatenate(wards)
