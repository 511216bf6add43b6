"""The daily brief's public-warnings section: the CAP warnings issued on the day (a message published between 00:00
and 24:00 local time), counted by hazard and severity, then listed with the time first issued, the wards, and the
status now. Read through ``alerts.warnings.issued`` (the rule the leaders' view uses too), in its own savepoint like
every section of the brief (``api.brief.data._section``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING

from fpdf import FPDF
from fpdf.fonts import FontFace

from alerts.warnings.issued import IssuedReport, hazard_label, issued_between
from ops_center.db import Conn

if TYPE_CHECKING:
    from api.brief.data import BriefData

TITLE = "6. Cảnh báo công cộng (CAP) phát hành trong ngày"
LISTED = 20
WARDS_NAMED = 6
SEVERITY_VI = {"Extreme": "Cực kỳ nghiêm trọng", "Severe": "Nghiêm trọng", "Moderate": "Trung bình",
               "Minor": "Thấp", "Unknown": "Chưa xác định"}
STATE_VI = {"active": "Đang hiệu lực", "updated": "Đã cập nhật", "cancelled": "Đã hủy", "expired": "Hết hạn",
            "pending": "Chưa phát hành"}
MSG_TYPE_VI = {"Alert": "cảnh báo", "Update": "cập nhật", "Cancel": "hủy"}


@dataclass(frozen=True)
class WarningsBrief:
    report: IssuedReport
    hazard_labels: dict[str, str]  # hazard -> its Vietnamese name (the templates')
    tz: tzinfo  # the brief's local time


def collect(conn: Conn, data: BriefData) -> None:
    """Fill ``data.warnings`` (called inside the brief's savepoint for this section)."""
    report = issued_between(conn, data.start, data.end, data.generated_at)
    assert data.start.tzinfo is not None  # the brief's day is a local day
    data.warnings = WarningsBrief(report, {w.hazard: hazard_label(w.hazard) for w in report.warnings},
                                  data.start.tzinfo)


def _when(t: datetime | None, tz: tzinfo) -> str:
    return t.astimezone(tz).strftime("%H:%M %d/%m") if t is not None else ""


def _wards(names: tuple[str, ...]) -> str:
    if len(names) <= WARDS_NAMED:
        return ", ".join(names)
    return ", ".join(names[:WARDS_NAMED]) + f" và {len(names) - WARDS_NAMED} xã, phường khác"


def render(pdf: FPDF, brief: WarningsBrief | None, heading: Callable[[FPDF, str], None], head: FontFace) -> None:
    """The section: counts by hazard and severity, then the list (the first ``LISTED``)."""
    heading(pdf, TITLE)
    if brief is None:
        pdf.cell(0, 6, "Chưa có số liệu cảnh báo công cộng.", new_x="LMARGIN", new_y="NEXT")
        return
    warnings, tz = brief.report.warnings, brief.tz
    if not warnings:
        pdf.cell(0, 6, "Không có cảnh báo công cộng nào được phát hành trong ngày.", new_x="LMARGIN", new_y="NEXT")
        return
    pdf.set_font("DejaVu", size=8.5)
    with pdf.table(col_widths=(60, 50, 30), width=140, align="LEFT", headings_style=head, line_height=4.6,
                   text_align=("LEFT", "LEFT", "RIGHT")) as t:
        t.row(["Loại thiên tai", "Mức độ", "Số cảnh báo"])
        for c in brief.report.counts:
            t.row([brief.hazard_labels.get(c.hazard, c.hazard), SEVERITY_VI.get(c.severity, c.severity), str(c.count)])
        t.row(["Tổng", "", str(len(warnings))])
    pdf.ln(2)
    with pdf.table(col_widths=(20, 26, 22, 58, 34, 20), headings_style=head, line_height=4.4,
                   text_align="LEFT") as t:
        t.row(["Phát hành", "Loại thiên tai", "Mức độ", "Tiêu đề", "Xã/phường", "Trạng thái"])
        for w in warnings[:LISTED]:
            latest = "" if w.last_type in (None, "Alert") else \
                f" ({MSG_TYPE_VI.get(w.last_type or '', w.last_type)} {_when(w.last_sent, tz)})"
            t.row([_when(w.first_sent, tz), brief.hazard_labels.get(w.hazard, w.hazard),
                   SEVERITY_VI.get(w.severity or "Unknown", w.severity or ""), w.headline, _wards(w.ward_names),
                   STATE_VI.get(w.state, w.state) + latest])
    if len(warnings) > LISTED or brief.report.truncated:
        pdf.cell(0, 5, f"… và {len(warnings) - LISTED} cảnh báo khác.", new_x="LMARGIN", new_y="NEXT")
