"""The national brief (A4 PDF, fpdf2 + DejaVu Sans like the daily brief): the map of the 34 provinces by dossier
on-time rate, the ranking table with each province's key figures, and which provinces are late or silent."""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime

import matplotlib

matplotlib.use("Agg")

import numpy as np
import orjson
from fpdf import FPDF
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import PathPatch
from matplotlib.path import Path as MplPath

from api.brief.pdf import HEAD, font_file
from api.national.ranking import Row, rank
from ops_center.db import Conn
from ops_center.federation import periods
from ops_center.federation.national import store
from ops_center.federation.national.provinces import Province
from ops_center.federation.registry import metrics

MAP_METRIC = "dossier_kpis.on_time_rate"
TABLE_METRICS = {"dossier_kpis.on_time_rate": "Đúng hạn", "dossier_kpis.online_share": "Trực tuyến",
                 "dossier_kpis.received": "Hồ sơ nhận", "incidents_open.open_total": "Sự cố mở",
                 "alerts_open.open_total": "Cảnh báo mở", "device_health.online_share": "TB trực tuyến"}
FRESHNESS_VI = {"fresh": "Kịp thời", "late": "Chậm", "silent": "Mất liên lạc", "never": "Chưa gửi",
                "not_connected": "Chưa kết nối"}
_lock = threading.Lock()


@dataclass
class NationalBrief:
    period: str
    generated_at: datetime
    rows: list[Row]
    columns: dict[str, dict[str, float | None]] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    map_png: bytes | None = None


def _path(geometry: bytes) -> MplPath:
    geom = orjson.loads(geometry)
    polys = geom["coordinates"] if geom["type"] == "MultiPolygon" else [geom["coordinates"]]
    verts, codes = [], []
    for poly in polys:
        for ring in poly:
            xy = np.asarray(ring, dtype=float)
            c = np.full(len(xy), MplPath.LINETO, dtype=np.uint8)
            c[0], c[-1] = MplPath.MOVETO, MplPath.CLOSEPOLY
            verts.append(xy)
            codes.append(c)
    return MplPath(np.concatenate(verts), np.concatenate(codes))


def render_map(rows: list[Row], geometries: dict[str, bytes]) -> bytes:
    """A PNG choropleth of the rows' values (ratio 0–1; no value: hatched grey)."""
    with _lock:
        fig = Figure(figsize=(4.2, 6.4), dpi=150)
        FigureCanvasAgg(fig)
        ax = fig.add_axes((0, 0, 1, 1))
        cmap, norm = colormaps["RdYlGn"], Normalize(0.5, 1.0)
        for r in rows:
            g = geometries.get(r.code)
            if g is None:
                continue
            colour = cmap(norm(r.value)) if r.value is not None else (0.85, 0.85, 0.85, 1)
            ax.add_patch(PathPatch(_path(g), facecolor=colour, edgecolor="white", linewidth=0.3,
                                   hatch=None if r.value is not None else "///"))
        ax.set_xlim(102, 117.5)
        ax.set_ylim(6.5, 23.5)
        ax.set_aspect(1 / np.cos(np.radians(15)))
        ax.axis("off")
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
    return buf.getvalue()


def collect(conn: Conn, provinces: tuple[Province, ...], geometries: dict[str, bytes], period: str | None
            ) -> NationalBrief:
    known = metrics()
    producer, metric = known[MAP_METRIC]
    period = period or store.latest_period(conn, producer.kind) or periods.month_of(datetime.now(UTC))
    now = datetime.now(UTC)
    rows = rank(conn, provinces, producer, metric, period, now)
    data = NationalBrief(period, now, rows)
    for key in TABLE_METRICS:
        if key in known:
            p, m = known[key]
            values = store.metric_values(conn, p.kind, m.path, period if p.history else
                                         (store.latest_period(conn, p.kind) or period))
            data.columns[key] = {code: v.value for code, v in values.items()}
            data.labels[key] = TABLE_METRICS[key]
    data.map_png = render_map(rows, geometries)
    return data


def _fmt(key: str, v: float | None) -> str:
    if v is None:
        return "–"
    if key.endswith(("rate", "share")):
        return f"{v * 100:.1f} %".replace(".", ",")
    return f"{v:,.0f}".replace(",", "\u202f")


def _overview(pdf: FPDF, data: NationalBrief, x: float, width: float) -> None:
    """Beside the map: how many provinces are in each freshness state, the five best and the five last."""
    pdf.set_left_margin(x)
    pdf.set_xy(x, pdf.get_y())
    pdf.set_font("DejaVu", "B", 10)
    pdf.cell(width, 6, "Tổng quan", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", size=8.5)
    counts: dict[str, int] = {}
    for r in data.rows:
        counts[r.state] = counts.get(r.state, 0) + 1
    for state, label in FRESHNESS_VI.items():
        pdf.cell(width, 4.6, f"{label}: {counts.get(state, 0)} tỉnh, thành phố", new_x="LMARGIN", new_y="NEXT")
    ranked = [r for r in data.rows if r.rank is not None]
    for title, rows in (("Cao nhất (tỷ lệ đúng hạn)", ranked[:5]), ("Thấp nhất", ranked[-5:][::-1])):
        pdf.ln(2)
        pdf.set_font("DejaVu", "B", 9)
        pdf.cell(width, 5, title, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("DejaVu", size=8.5)
        for r in rows:
            pdf.cell(width, 4.6, f"{r.rank}. {r.name}: {_fmt(MAP_METRIC, r.value)}", new_x="LMARGIN", new_y="NEXT")
    late = [r.name for r in data.rows if r.state in ("late", "silent")]
    pdf.ln(2)
    pdf.multi_cell(width, 4.4, "Chậm hoặc mất liên lạc: " + (", ".join(late) if late else "không có") + ".")
    pdf.set_left_margin(12)


def render(data: NationalBrief) -> bytes:
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_margins(12, 12, 12)
    pdf.set_auto_page_break(True, margin=14)
    pdf.add_font("DejaVu", "", str(font_file("DejaVuSans.ttf")))
    pdf.add_font("DejaVu", "B", str(font_file("DejaVuSans-Bold.ttf")))
    month = periods.parse(data.period)
    pdf.set_title(f"Bản tin giám sát quốc gia tháng {month:%m/%Y}")
    pdf.set_lang("vi")
    pdf.add_page()
    pdf.set_font("DejaVu", size=9)
    pdf.cell(0, 5, "TRUNG TÂM GIÁM SÁT QUỐC GIA VỀ CHÍNH PHỦ ĐIỆN TỬ", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "B", 15)
    pdf.cell(0, 9, f"BẢN TIN GIÁM SÁT THÁNG {month:%m/%Y}: 34 TỈNH, THÀNH PHỐ", align="C", new_x="LMARGIN",
             new_y="NEXT")
    pdf.set_font("DejaVu", size=8)
    sent = sum(1 for r in data.rows if r.version is not None)
    pdf.cell(0, 5, f"Lập lúc {data.generated_at:%H:%M %d/%m/%Y} (UTC) · {sent}/34 tỉnh, thành phố có số liệu tháng · "
             "số liệu tổng hợp do các tỉnh gửi (không có thông tin cá nhân)", align="C", new_x="LMARGIN", new_y="NEXT")
    top = pdf.get_y() + 3
    if data.map_png:
        pdf.image(io.BytesIO(data.map_png), x=12, y=top, h=118)
        pdf.set_xy(12, top + 118)
        pdf.set_font("DejaVu", size=7.5)
        pdf.cell(78, 4, "Bản đồ: tỷ lệ giải quyết hồ sơ đúng hạn (đỏ < 50 %, xanh 100 %)", align="C")
    pdf.set_y(top)
    _overview(pdf, data, 96, 102)
    pdf.set_xy(12, max(pdf.get_y(), top + 124) + 3)
    pdf.set_font("DejaVu", "B", 11)
    pdf.cell(0, 7, "Xếp hạng theo tỷ lệ giải quyết hồ sơ đúng hạn", new_x="LMARGIN", new_y="NEXT")
    keys = list(data.columns)
    pdf.set_font("DejaVu", size=7.5)
    with pdf.table(col_widths=(8, 46, *(18,) * len(keys), 24), headings_style=HEAD, line_height=4.4,
                   text_align=("RIGHT", "LEFT", *("RIGHT",) * len(keys), "LEFT")) as t:
        t.row(["#", "Tỉnh, thành phố", *(data.labels[k] for k in keys), "Cập nhật"])
        for r in data.rows:
            t.row([str(r.rank or "–"), r.name.replace("Thành phố ", "TP ").replace("Tỉnh ", ""),
                   *(_fmt(k, data.columns[k].get(r.code)) for k in keys), FRESHNESS_VI.get(r.state, r.state)])
    return bytes(pdf.output())
