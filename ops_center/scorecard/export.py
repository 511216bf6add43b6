"""Scorecard exports: CSV (UTF-8 with a byte-order mark, so spreadsheet programs keep the diacritics) and XLSX
(XlsxWriter): one row per group, period and indicator, with group and total rows, in the items' order."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any, Final

import xlsxwriter

HEADER: Final = ("level", "code", "name", "from", "to", "definition", "row", "id", "indicator", "points",
                 "threshold", "numerator", "denominator", "ratio", "score", "earned", "available", "scaled")
HEADER_VI: Final = ("Cấp", "Mã", "Tên", "Từ ngày", "Đến ngày", "Phiên bản bộ chỉ số", "Loại dòng", "Mã chỉ số",
                    "Chỉ số", "Điểm tối đa", "Ngưỡng", "Tử số", "Mẫu số", "Tỷ lệ", "Điểm", "Điểm đạt",
                    "Điểm có dữ liệu", "Quy về thang 100")


def rows(items: list[dict[str, Any]]) -> Iterator[tuple[Any, ...]]:
    for it in items:
        head = (it["level"], it["code"] or "", it["name"], it["from"], it["to"], it["definition"])
        for ind in it["indicators"]:
            yield (*head, "indicator", ind["id"], ind["name"]["vi"], ind["points"], ind["threshold"],
                   ind["numerator"], ind["denominator"], ind["ratio"], ind["score"], None, None, None)
        for g in it["groups"]:
            yield (*head, "group", g["id"], g["name"]["vi"], g["points"], None, None, None, None, None,
                   g["earned"], g["available"], None)
        t = it["total"]
        yield (*head, "total", "", "Tổng", t["points"], None, None, None, None, None, t["earned"], t["available"],
               t["scaled"])


def to_csv(items: list[dict[str, Any]]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(HEADER)
    for row in rows(items):
        writer.writerow(["" if v is None else v for v in row])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def to_xlsx(items: list[dict[str, Any]], title: str) -> bytes:
    """Two sheets: the ranking-style summary (one row per group and period) and every row of the CSV."""
    buf = io.BytesIO()
    book = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_numbers": False, "strings_to_formulas": False,
                                     "strings_to_urls": False})
    bold = book.add_format({"bold": True})
    summary = book.add_worksheet("Tổng hợp")
    summary.write(0, 0, title[:200], bold)
    head = ("Cấp", "Mã", "Tên", "Từ ngày", "Đến ngày", "Điểm đạt", "Điểm có dữ liệu", "Quy về thang 100",
            *(f"Nhóm {g['id']}" for g in (items[0]["groups"] if items else [])))
    summary.write_row(2, 0, head, bold)
    for r, it in enumerate(items, start=3):
        t = it["total"]
        summary.write_row(r, 0, (it["level"], it["code"] or "", it["name"], it["from"], it["to"], t["earned"],
                                 t["available"], t["scaled"], *(g["earned"] for g in it["groups"])))
    summary.set_column(2, 2, 36)
    detail = book.add_worksheet("Chỉ số")
    detail.write_row(0, 0, HEADER_VI, bold)
    for r, row in enumerate(rows(items), start=1):
        detail.write_row(r, 0, row)
    detail.set_column(8, 8, 48)
    book.close()
    return buf.getvalue()
