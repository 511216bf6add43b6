"""What a draft's sources say: the alerts and incidents it is drafted from, reduced to the facts a template needs
(values per metric, stations, wards, when it was observed, incident categories and places). Reads go through the
owning modules (``alerts.service``, ``ops_center.incidents.service``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from alerts import service as alert_service
from alerts.warnings.models import WarningError
from ops_center.db import Conn
from ops_center.incidents import service as incident_service
from ops_center.incidents.models import NotFound as IncidentNotFound


@dataclass(slots=True)
class Facts:
    ward_codes: list[str] = field(default_factory=list)
    ward_sets: dict[str, str] = field(default_factory=dict)  # ward code -> the set the source named it in
    ward_origin: dict[str, str] = field(default_factory=dict)  # ward code -> the input field that brought it
    values: dict[str, list[float]] = field(default_factory=dict)  # metric -> values
    stations: list[str] = field(default_factory=list)
    observed_at: datetime | None = None
    categories: list[str] = field(default_factory=list)
    addresses: list[str] = field(default_factory=list)

    def _ward(self, code: str | None, ward_set: str | None, origin: str) -> None:
        if code and code not in self.ward_sets:
            self.ward_codes.append(code)
            self.ward_sets[code] = ward_set or ""
            self.ward_origin[code] = origin

    def _seen(self, at: datetime | None) -> None:
        if at is not None and (self.observed_at is None or at > self.observed_at):
            self.observed_at = at

    def add_alert(self, alert: dict[str, Any], origin: str) -> None:
        labels: dict[str, Any] = alert.get("labels") or {}
        self._ward(labels.get("ward"), labels.get("ward_set"), origin)
        metric, value = labels.get("metric"), alert.get("value")
        if metric and isinstance(value, int | float):
            self.values.setdefault(str(metric), []).append(float(value))
        station = labels.get("device_name") or labels.get("device")
        if station and station not in self.stations:
            self.stations.append(str(station))
        self._seen(datetime.fromisoformat(alert["starts_at"]) if alert.get("starts_at") else None)

    def add_incident(self, incident: dict[str, Any], origin: str) -> None:
        self._ward(incident.get("ward_code"), incident.get("ward_set"), origin)
        self.categories.append(str(incident["category"]))
        place = incident.get("address") or incident.get("title")
        if place and place not in self.addresses:
            self.addresses.append(str(place))
        self._seen(incident.get("reported_at"))


def gather(conn: Conn, alert_ids: list[int], incident_ids: list[int]) -> Facts:
    """The facts of the named alerts and incidents; a missing one is refused naming its place in the input."""
    facts = Facts()
    for i, alert_id in enumerate(alert_ids):
        alert = alert_service.get_alert(conn, alert_id)
        if alert is None:
            raise WarningError(f"alerts[{i}]", f"no alert {alert_id}")
        facts.add_alert(alert, f"alerts[{i}]")
    for i, incident_id in enumerate(incident_ids):
        try:
            incident = incident_service.get_incident(conn, incident_id, with_contact=False)
        except IncidentNotFound:
            raise WarningError(f"incidents[{i}]", f"no incident {incident_id}") from None
        facts.add_incident(incident, f"incidents[{i}]")
    return facts
