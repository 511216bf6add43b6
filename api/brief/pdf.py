"""The daily brief as an A4 PDF (fpdf2), with DejaVu Sans embedded so Vietnamese diacritics survive."""

from __future__ import annotations

import io
from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import FontFace

from api.brief import warnings_section
from api.brief.data import SEVERITY_VI, STATUS_VI, BriefData

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"),)
LAYER_VI = {"alerts_total": "cảnh báo đang hoạt động", "incidents_open": "sự cố chưa xử lý",
            "salinity_ppt_max": "độ mặn cao nhất", "water_level_cm_max": "mực nước cao nhất",
            "devices_online": "thiết bị trực tuyến", "devices_total": "số thiết bị",
            "dossier_on_time_rate": "tỷ lệ hồ sơ đúng hạn"}
HEAD = FontFace(emphasis="BOLD", fill_color=(225, 233, 243))
ACCENT = (16, 70, 130)


def font_file(name: str) -> Path:
    """A DejaVu font from the system (fonts-dejavu-core), else the copy matplotlib ships."""
    for d in FONT_DIRS:
        if (d / name).is_file():
            return d / name
    import matplotlib

    path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name
    if path.is_file():
        return path
    raise FileNotFoundError(f"font {name} not found: install fonts-dejavu-core")


def _num(v: float | int | None, digits: int = 0) -> str:
    if v is None:
        return "–"
    s = f"{v:,.{digits}f}"
    return s.replace(",", "\u202f").replace(".", ",")  # Vietnamese: decimal comma, thin space for thousands


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{_num(v * 100, 1)} %"


class _Pdf(FPDF):
    title_line = ""

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("DejaVu", size=7.5)
        self.set_text_color(120, 120, 120)
        self.cell(0, 5, f"{self.title_line} · Trang {self.page_no()}/{{nb}}", align="C")
        self.set_text_color(0, 0, 0)


def _heading(pdf: FPDF, text: str, keep_mm: float = 30.0) -> None:
    """A section title, moved to the next page when less than ``keep_mm`` would be left under it."""
    if pdf.get_y() + keep_mm > pdf.h - pdf.b_margin:
        pdf.add_page()
    pdf.ln(3)
    pdf.set_font("DejaVu", "B", 12)
    pdf.set_text_color(*ACCENT)
    pdf.cell(0, 7, text, new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)
    pdf.set_font("DejaVu", size=9)


def _signed(v: float | None) -> str:
    return "–" if v is None else ("+" if v > 0 else "") + _num(v, 2)


def _scorecard(pdf: FPDF, data: BriefData) -> None:
    """Section 4: the national service index of the month to date against the same days of the month before, by
    group, and the units with the lowest totals."""
    sc = data.scorecard
    _heading(pdf, "4. Bộ chỉ số 766: chất lượng phục vụ người dân, doanh nghiệp")
    if sc is None:
        pdf.cell(0, 6, "Chưa có số liệu bộ chỉ số.", new_x="LMARGIN", new_y="NEXT")
        return
    pdf.set_font("DejaVu", size=8.5)
    pdf.multi_cell(0, 4.5, f"Toàn tỉnh từ {sc.first:%d/%m} đến {sc.last:%d/%m/%Y}: {_num(sc.total, 2)} điểm "
                   f"(thang 100), kỳ trước ({sc.before_first:%d/%m} – {sc.before_last:%d/%m/%Y}): "
                   f"{_num(sc.total_before, 2)} điểm, thay đổi {_signed(sc.change)}.", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)
    with pdf.table(col_widths=(70, 18, 24, 24, 24, 20), headings_style=HEAD, line_height=4.6,
                   text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "RIGHT")) as t:
        t.row(["Nhóm chỉ số", "Điểm tối đa", "Kỳ này", "Có dữ liệu", "Kỳ trước", "Thay đổi"])
        for g in sc.groups:
            change = None if g.earned is None or g.earned_before is None else g.earned - g.earned_before
            t.row([f"{g.id}. {g.name}", _num(g.points), _num(g.earned, 2), _num(g.available), _num(g.earned_before, 2),
                   _signed(change)])
        t.row(["Tổng (quy về thang 100)", "100", _num(sc.total, 2), "", _num(sc.total_before, 2), _signed(sc.change)])
    pdf.ln(1)
    if not sc.lowest:
        pdf.cell(0, 6, "Không có đơn vị nào có điểm trong kỳ.", new_x="LMARGIN", new_y="NEXT")
        return
    pdf.set_font("DejaVu", "B", 9)
    pdf.cell(0, 5, f"{len(sc.lowest)} đơn vị có điểm thấp nhất (trên {sc.units_scored} đơn vị có điểm)",
             new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", size=8.5)
    with pdf.table(col_widths=(90, 30, 30, 30), headings_style=HEAD, line_height=4.6,
                   text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT")) as t:
        t.row(["Đơn vị", "Điểm (thang 100)", "Điểm đạt", "Điểm có dữ liệu"])
        for u in sc.lowest:
            t.row([u.name, _num(u.total, 2), _num(u.earned, 2), _num(u.available)])


def render(data: BriefData) -> bytes:
    pdf = _Pdf(orientation="P", unit="mm", format="A4")
    pdf.set_margins(15, 12, 15)
    pdf.set_auto_page_break(True, margin=16)
    pdf.add_font("DejaVu", "", str(font_file("DejaVuSans.ttf")))
    pdf.add_font("DejaVu", "B", str(font_file("DejaVuSans-Bold.ttf")))
    day = data.day.strftime("%d/%m/%Y")
    pdf.title_line = f"Bản tin điều hành ngày {day} · Tỉnh Cà Mau"
    pdf.set_title(f"Bản tin điều hành ngày {day}")
    pdf.set_author("Trung tâm Giám sát, Điều hành tỉnh Cà Mau")
    pdf.set_lang("vi")
    pdf.add_page()

    pdf.set_font("DejaVu", size=9)
    pdf.cell(0, 5, "UBND TỈNH CÀ MAU · TRUNG TÂM GIÁM SÁT, ĐIỀU HÀNH", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "B", 16)
    pdf.set_text_color(*ACCENT)
    pdf.cell(0, 10, f"BẢN TIN ĐIỀU HÀNH NGÀY {day}", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)
    pdf.set_font("DejaVu", size=8.5)
    set_line = (f"Bộ ranh giới: {data.set_name} ({data.units} đơn vị cấp xã)" if data.set_name
                else "Bộ ranh giới: không có")
    pdf.cell(0, 5, f"{set_line} · Số liệu từ 00:00 đến 24:00 (giờ Việt Nam) · Lập lúc "
             f"{data.generated_at:%H:%M %d/%m/%Y}", align="C", new_x="LMARGIN", new_y="NEXT")

    # page 1, top: the map on the left; key figures and alert statistics on the right
    top = pdf.get_y() + 2
    map_w = 98.0
    map_h = 0.0
    if data.map_png:
        info = pdf.image(io.BytesIO(data.map_png), x=pdf.l_margin, y=top, w=map_w)
        map_h = float(info.rendered_height)
        pdf.set_xy(pdf.l_margin, top + map_h)
        pdf.set_font("DejaVu", size=7.5)
        pdf.cell(map_w, 4, f"Bản đồ: {LAYER_VI.get(data.map_layer or '', data.map_layer or '')} theo xã/phường",
                 align="C")
    right = pdf.l_margin + map_w + 5
    col_w = pdf.w - pdf.r_margin - right
    pdf.set_left_margin(right)
    pdf.set_xy(right, top - 3)
    _heading(pdf, "1. Tổng quan", keep_mm=0)
    new_alerts = sum(a.new for a in data.alert_stats)
    critical = next((a.new for a in data.alert_stats if a.severity == "critical"), 0)
    active = sum(a.active_at_end for a in data.alert_stats)
    tot = data.kpi_total
    overview = [
        ("Cảnh báo phát sinh (nghiêm trọng)", f"{_num(new_alerts)} ({_num(critical)})"),
        ("Cảnh báo còn mở cuối ngày", _num(active)),
        ("Sự cố chưa xử lý (hiện tại)", _num(data.incidents_open_now)),
        ("Hồ sơ tiếp nhận / giải quyết", f"{_num(tot.received)} / {_num(tot.resolved)}" if tot else "–"),
        ("Giải quyết đúng hạn", _pct(tot.on_time_rate) if tot else "–"),
        ("Thiết bị trực tuyến / tổng", f"{_num(data.devices_online)} / {_num(data.devices_total)}"),
    ]
    pdf.set_font("DejaVu", size=8)
    with pdf.table(col_widths=(52, 23), width=col_w, align="LEFT", headings_style=HEAD, line_height=4.6,
                   text_align=("LEFT", "RIGHT")) as t:
        t.row(["Chỉ tiêu", "Giá trị"])
        for k, v in overview:
            t.row([k, v])
    _heading(pdf, "2. Thống kê cảnh báo", keep_mm=0)
    pdf.set_font("DejaVu", size=8)
    with pdf.table(col_widths=(22, 11, 13, 16, 14), width=col_w, align="LEFT", headings_style=HEAD,
                   line_height=4.6, text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT")) as t:
        t.row(["Mức độ", "Mới", "Còn mở", "Đã x.nhận", "Kết thúc"])
        for a in data.alert_stats:
            t.row([SEVERITY_VI.get(a.severity, a.severity), _num(a.new), _num(a.active_at_end),
                   _num(a.acknowledged), _num(a.resolved)])
    if not data.alert_stats:
        pdf.cell(col_w, 5, "Không có số liệu cảnh báo.", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)
    pdf.set_font("DejaVu", size=8)
    pdf.multi_cell(col_w, 4, "Mới: phát sinh trong ngày; còn mở: chưa kết thúc lúc 24:00. Thời gian xác nhận "
                   "trung vị: " + ("–" if data.ack_median_min is None else f"{_num(data.ack_median_min, 1)} phút")
                   + ".")
    right_end = pdf.get_y()
    pdf.set_left_margin(15)
    pdf.set_xy(15, max(right_end, top + map_h + 5) + 2)

    if data.kpi_level == "district":
        _heading(pdf, "3. Chỉ số dịch vụ công theo huyện")
    else:
        _heading(pdf, f"3. Chỉ số dịch vụ công: {len(data.kpis)} xã/phường tiếp nhận nhiều hồ sơ nhất "
                      f"(trên {data.kpi_units})")
    if data.kpis:
        with pdf.table(col_widths=(50, 18, 18, 20, 18, 16), headings_style=HEAD, line_height=4.6,
                       text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "RIGHT")) as t:
            t.row(["Đơn vị", "Tiếp nhận", "Trực tuyến", "Đã giải quyết", "Đúng hạn", "Quá hạn"])
            for r in [*data.kpis, *([tot] if tot else [])]:
                t.row([r.name, _num(r.received), _pct(r.online_share), _num(r.resolved), _pct(r.on_time_rate),
                       _num(r.overdue)])
    else:
        pdf.cell(0, 6, "Không có hồ sơ trong ngày.", new_x="LMARGIN", new_y="NEXT")

    _scorecard(pdf, data)

    _heading(pdf, "5. Sự cố nổi bật")
    if data.incidents:
        with pdf.table(col_widths=(62, 26, 32, 20, 22, 18), headings_style=HEAD, line_height=4.6,
                       text_align="LEFT") as t:
            t.row(["Sự cố", "Loại", "Xã/phường", "Mức độ", "Trạng thái", "Báo lúc"])
            for i in data.incidents:
                title = str(i.get("title") or "")
                if i.get("overdue"):
                    title += " (quá hạn)"
                t.row([title, str(i.get("category_label") or ""), str(i.get("ward_name") or ""),
                       SEVERITY_VI.get(i.get("severity") or "", str(i.get("severity") or "")),
                       STATUS_VI.get(i.get("status") or "", str(i.get("status") or "")),
                       i["reported_at"].astimezone(data.start.tzinfo).strftime("%H:%M %d/%m")
                       if i.get("reported_at") else ""])
    else:
        pdf.cell(0, 6, "Không có sự cố.", new_x="LMARGIN", new_y="NEXT")

    warnings_section.render(pdf, data.warnings, _heading, HEAD)

    if data.notes:
        pdf.ln(2)
        pdf.set_font("DejaVu", size=7.5)
        pdf.set_text_color(120, 120, 120)
        pdf.multi_cell(0, 4, "Ghi chú: " + "; ".join(data.notes))
    return bytes(pdf.output())
