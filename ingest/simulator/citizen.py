"""Simulated citizens reporting problems from a phone app: Open311 GeoReport v2 service requests at a random place
in a ward, with a category, a Vietnamese description and sometimes a contact. Pure: the runner posts them."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final

import shapely

from ingest.simulator.geography import Ward

REPORTS: Final[dict[str, tuple[str, ...]]] = {
    "flooding": ("Nước ngập sâu qua mặt đường sau triều cường, xe máy chết máy",
                 "Mưa lớn làm ngập khu dân cư, nước tràn vào nhà"),
    "riverbank_erosion": ("Bờ kè kênh xáng bị sạt lở khoảng 20 mét, nguy hiểm cho nhà dân",
                          "Sạt lở bờ sông gần bến đò, đất nứt sát mép nhà"),
    "fallen_tree": ("Cây xanh ngã đổ chắn ngang đường liên ấp", "Cành cây lớn gãy treo trên dây điện"),
    "power_outage": ("Mất điện cả ấp từ chiều đến giờ chưa có lại", "Trụ điện nghiêng sau gió lốc"),
    "environmental_pollution": ("Nước thải từ cơ sở chế biến thủy sản đổ thẳng ra kênh, bốc mùi hôi",
                                "Rác thải tồn đọng nhiều ngày ở đầu hẻm"),
    "infrastructure_damage": ("Đèn chiếu sáng đường bị hỏng, cả đoạn đường tối om",
                              "Mặt đường bê tông nông thôn bị sụt lún, ổ gà lớn"),
    "traffic_accident": ("Va chạm giữa xe máy và ô tô tải tại ngã ba, cần hỗ trợ phân luồng",),
    "salinity_intrusion": ("Nước kênh nội đồng bị mặn, lúa vàng lá", "Cống ngăn mặn không đóng kín"),
    "public_order": ("Tụ tập đông người gây ồn ào khuya tại bãi đất trống",),
}
WEIGHTS: Final = {"flooding": 4, "infrastructure_damage": 4, "environmental_pollution": 3, "fallen_tree": 2,
                  "power_outage": 2, "riverbank_erosion": 2, "salinity_intrusion": 1.5, "traffic_accident": 1,
                  "public_order": 1}
FAMILY_NAMES: Final = ("Nguyễn", "Trần", "Lê", "Phạm", "Huỳnh", "Võ", "Đặng", "Bùi", "Dương", "Lý")
GIVEN_NAMES: Final = ("Văn Hùng", "Thị Lan", "Minh Tuấn", "Thị Hồng", "Quốc Bảo", "Ngọc Ánh", "Văn Phước",
                      "Thị Diễm", "Hoàng Nam", "Kim Thoa")


@dataclass(frozen=True, slots=True)
class CitizenReport:
    service_code: str
    lat: float
    long: float
    description: str
    first_name: str | None
    last_name: str | None
    phone: str | None

    def form(self) -> dict[str, str]:
        """The Open311 ``POST requests.json`` form fields (without the api_key)."""
        fields = {"service_code": self.service_code, "lat": f"{self.lat:.6f}", "long": f"{self.long:.6f}",
                  "description": self.description, "first_name": self.first_name, "last_name": self.last_name,
                  "phone": self.phone}
        return {k: v for k, v in fields.items() if v is not None}


def _point(ward: Ward, rng: random.Random) -> tuple[float, float]:
    minx, miny, maxx, maxy = ward.inner.bounds
    for _ in range(200):
        x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if shapely.contains_xy(ward.inner, x, y):
            return x, y
    return ward.rep_lon, ward.rep_lat


def report(rng: random.Random, wards: tuple[Ward, ...], services: set[str]) -> CitizenReport | None:
    """One report in a ward (town wards twice as likely), of a category the center offers; None if it offers
    none of ours."""
    codes = [c for c in REPORTS if c in services]
    if not codes or not wards:
        return None
    code = rng.choices(codes, [WEIGHTS.get(c, 1.0) for c in codes])[0]
    ward = rng.choices(wards, [2.0 if w.urban else 1.0 for w in wards])[0]
    lon, lat = _point(ward, rng)
    named = rng.random() < 0.6
    return CitizenReport(code, lat, lon, rng.choice(REPORTS[code]),
                         rng.choice(GIVEN_NAMES) if named else None, rng.choice(FAMILY_NAMES) if named else None,
                         f"09{rng.randint(10_000_000, 99_999_999)}" if named and rng.random() < 0.7 else None)
