"""Open311 GeoReport v2 shapes (https://wiki.open311.org/GeoReport_v2), JSON only. Pure mapping, no I/O.

- A *service* is an incident category: ``service_code`` = category code, ``service_name`` = the Vietnamese label
  (English in ``description``'s second half and in ``keywords``), ``type`` realtime, ``metadata`` false (no extra
  attributes), ``group`` the default severity.
- A *service request* is an incident: ``service_request_id`` = incident id; status ``open`` while new, assigned or in
  progress, ``closed`` once resolved or closed; ``expected_datetime`` = the SLA due time; ``agency_responsible`` = the
  assigned unit. Reporter contacts are write-only in GeoReport and never appear in these shapes.
- A report that duplicates an open request (same service, ≤ 200 m, ≤ 2 h) answers with that request's id and a
  ``service_notice`` saying so, as the standard allows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ops_center.incidents.categories import Category
from ops_center.incidents.models import OPEN_STATUSES

STATUS_NOTES = {
    "new": "Đã tiếp nhận / received",
    "assigned": "Đã giao đơn vị xử lý / assigned",
    "in_progress": "Đang xử lý / in progress",
    "resolved": "Đã xử lý xong / resolved",
    "closed": "Đã đóng / closed",
}


def iso(dt: datetime | None) -> str | None:
    return dt.isoformat(timespec="seconds") if dt is not None else None


def service(cat: Category) -> dict[str, Any]:
    return {
        "service_code": cat.code,
        "service_name": cat.label_vi,
        "description": f"{cat.label_vi} / {cat.label_en}" + (f": {cat.description}" if cat.description else ""),
        "metadata": False,
        "type": "realtime",
        "keywords": ", ".join([cat.label_en.lower(), cat.code]),
        "group": cat.default_severity,
    }


def service_definition(cat: Category) -> dict[str, Any]:
    return {"service_code": cat.code, "attributes": []}


def request(row: dict[str, Any]) -> dict[str, Any]:
    """One incident (as ``service.to_json`` gives it, contact or not) as a GeoReport service request."""
    return {
        "service_request_id": str(row["id"]),
        "status": "open" if row["status"] in OPEN_STATUSES else "closed",
        "status_notes": STATUS_NOTES.get(row["status"], row["status"]),
        "service_name": row.get("category_label_vi"),
        "service_code": row["category"],
        "description": row.get("description") or row.get("title"),
        "agency_responsible": row.get("assigned_unit"),
        "service_notice": None,
        "requested_datetime": iso(row["reported_at"]),
        "updated_datetime": iso(row.get("updated_at")),
        "expected_datetime": iso(row.get("due_at")),
        "address": row.get("address") or row.get("ward_name"),
        "address_id": None,
        "zipcode": None,
        "lat": row.get("lat"),
        "long": row.get("lon"),
        "media_url": row.get("media_url"),
    }


def created(row: dict[str, Any], linked: bool) -> dict[str, Any]:
    notice = (f"Đã có phản ánh tương tự gần đó; báo cáo của bạn được gộp vào yêu cầu {row['id']} "
              f"(đã nhận {row['report_count']} phản ánh) / linked to existing request {row['id']}"
              if linked else "Đã tiếp nhận phản ánh / report received")
    return {"service_request_id": str(row["id"]), "service_notice": notice, "account_id": None}


def error(code: int, description: str) -> list[dict[str, Any]]:
    return [{"code": code, "description": description}]
