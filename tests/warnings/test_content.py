"""Content rules without the workflow: templates load and refuse what they cannot fill, Decision 18 levels and the
severity they map to, event codes from the OASIS list, ward areas within CAP's polygon limits for every ward of
2025, and text that XML cannot carry refused naming the field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import shapely
from pydantic import ValidationError

from alerts.warnings import templates
from alerts.warnings.areas import ward_areas
from alerts.warnings.compose import compose
from alerts.warnings.config import WarningsConfig
from alerts.warnings.models import WarningError
from alerts.warnings.schemas import Inputs
from alerts.warnings.vocab import decision18, event_terms, urgency_for
from geo import service as geo_service
from ops_center.db import Conn
from tests.warnings.conftest import RealWard

NOW = datetime.now(UTC)


def test_event_terms_are_the_oasis_list() -> None:
    terms = event_terms()
    assert terms.value_name == "OET:v1.2" and len(terms.terms) == 224
    assert terms.terms["OET-042"] == "coastal flood" and terms.terms["OET-204"] == "typhoon"
    with pytest.raises(WarningError, match=r"event_codes\[1\]: 'OET-999' is not in the OASIS Event Terms List"):
        terms.check(["OET-075", "OET-999"], "event_codes")


def test_decision_18_levels_map_to_cap_severity() -> None:
    d18 = decision18()
    assert [d18.levels[n].severity for n in range(1, 6)] == ["Minor", "Moderate", "Severe", "Extreme", "Extreme"]
    assert [d18.level_from_intrusion("salinity_intrusion", km) for km in (10, 15, 30, 60, 120)] == [None, 1, 2, 3, 4]
    with pytest.raises(WarningError, match="risk_level: 2 is not a risk level of 'Bão"):
        d18.level("storm", 2)


def test_urgency_follows_the_onset() -> None:
    assert urgency_for(NOW - timedelta(minutes=5), NOW) == "Immediate"
    assert urgency_for(NOW + timedelta(minutes=30), NOW) == "Expected"
    assert urgency_for(NOW + timedelta(hours=6), NOW) == "Future"


def test_templates_load_and_refuse_unknown_placeholders(tmp_path: Path) -> None:
    tset = templates.current()
    assert set(tset.hazards) == {"salinity", "high_tide", "erosion", "storm"}
    assert tset.hazard_for_metric("salinity_ppt") == "salinity"
    assert tset.hazard_for_category("riverbank_erosion") == "erosion"
    bad = (templates.TEMPLATES_DIR / "camau-2025.1.yaml").read_text(encoding="utf-8").replace(
        "Cảnh báo xâm nhập mặn {value}‰", "Cảnh báo {value.__class__}", 1)
    (tmp_path / "bad.yaml").write_text(bad, encoding="utf-8")
    with pytest.raises(ValueError, match=r"placeholder \{value.__class__\} is not one of"):
        templates.load_file(tmp_path / "bad.yaml")
    assert templates.format_number(6.25, 1, "vi") == "6,2" and templates.format_number(6.25, 1, "en") == "6.2"


def _inputs(**kw: Any) -> Inputs:
    return Inputs.model_validate(kw)


def test_a_storm_from_scratch_takes_its_level_from_the_bulletin(db: Conn, camau: None,
                                                                real_wards: list[RealWard]) -> None:
    cfg = WarningsConfig()
    wards = [w.code for w in real_wards[:5]]
    values = {"storm_name": "Usagi", "wind_level": 12, "position": "cách Mũi Cà Mau 300 km"}
    c = compose(db, _inputs(hazard="storm", wards=wards, values=values, risk_level=4,
                            onset=(NOW + timedelta(hours=20)).isoformat()), NOW, cfg)
    assert c.severity == "Extreme" and c.urgency == "Future" and c.certainty == "Likely"
    assert c.texts["vi"].headline.startswith("Bão Usagi (cấp 12), rủi ro thiên tai cấp 4 tại")
    assert "và 3 xã, phường khác" in c.texts["vi"].headline and c.parameters["risk_level"] == "4"
    with pytest.raises(WarningError) as e:
        compose(db, _inputs(hazard="storm", wards=wards, values=values), NOW, cfg)
    assert e.value.field == "risk_level"
    with pytest.raises(WarningError) as e:
        compose(db, _inputs(hazard="storm", wards=wards, values=values, risk_level=3, severity="Minor"), NOW, cfg)
    assert e.value.field == "severity" and "level 3 is Severe" in e.value.message
    with pytest.raises(WarningError) as e:
        compose(db, _inputs(hazard="storm", wards=wards, values={"storm_name": "Usagi"}, risk_level=3), NOW, cfg)
    assert e.value.field == "values.wind_level"
    with pytest.raises(WarningError) as e:
        compose(db, _inputs(hazard="storm", wards=[*wards, "99999"], values=values, risk_level=3), NOW, cfg)
    assert e.value.field == "wards[5]"


def test_salinity_level_from_the_intrusion_distance(db: Conn, camau: None, real_wards: list[RealWard]) -> None:
    c = compose(db, _inputs(hazard="salinity", wards=[real_wards[3].code],
                            values={"value": 5.2, "intrusion_km": 62}), NOW, WarningsConfig())
    assert c.risk_level == 3 and c.severity == "Severe" and "cấp 3 (Rủi ro lớn)" in c.texts["vi"].description


def test_a_warning_written_from_scratch_needs_every_field(db: Conn, camau: None,
                                                          real_wards: list[RealWard]) -> None:
    texts = {lang: {"event": "Sự cố", "headline": "Cúp nước", "description": "Mất nước sạch.",
                    "instruction": "Trữ nước."} for lang in ("vi", "en")}
    base = {"hazard": "other", "wards": [real_wards[0].code], "category": "Infra", "event_codes": ["OET-144"],
            "response_type": "Prepare", "severity": "Minor", "certainty": "Observed",
            "expires": (NOW + timedelta(hours=4)).isoformat(), "texts": texts}
    c = compose(db, _inputs(**base), NOW, WarningsConfig())
    assert c.template is None and c.texts["en"].headline == "Cúp nước"
    del base["texts"]["en"]["instruction"]  # type: ignore[index]
    with pytest.raises(WarningError) as e:
        compose(db, _inputs(**base), NOW, WarningsConfig())
    assert e.value.field == "texts.en.instruction"


@pytest.mark.parametrize("bad", ["a\x00b", "a\x07b", "\ud800", "x" * 161, "   ", "a\uffffb"])
def test_text_xml_cannot_carry_is_refused_naming_the_field(bad: str) -> None:
    with pytest.raises(ValidationError) as e:
        Inputs.model_validate({"texts": {"vi": {"headline": bad}}})
    assert e.value.errors()[0]["loc"] == ("texts", "vi", "headline")


def test_every_ward_fits_cap_polygon_limits(db: Conn, camau: None) -> None:
    entry = geo_service.indexed_set(db, "camau-2025", "ward")
    codes = list(entry.codes)
    names = {u.code: u.name for u in entry.units}
    areas = ward_areas(db, "camau-2025", codes, names, WarningsConfig())
    assert [a.code for a in areas] == codes and len(codes) == 64
    outlines = {}
    for a in areas:
        rings = [shapely.Polygon([(float(p.split(",")[1]), float(p.split(",")[0])) for p in poly.split()])
                 for poly in a.polygons]
        assert rings and all(r.is_valid and 4 <= len(r.exterior.coords) <= 100 for r in rings)
        outlines[a.code] = shapely.union_all(rings)
        original = entry.geometries[codes.index(a.code)]
        iou = outlines[a.code].intersection(original).area / outlines[a.code].union(original).area
        assert iou > 0.9, (a.code, iou)
    # shared borders simplified together: neighbours do not overlap
    tree = shapely.STRtree(list(outlines.values()))
    for i, geom in enumerate(outlines.values()):
        for j in tree.query(geom):
            if j > i:
                assert geom.intersection(list(outlines.values())[j]).area < 1e-6 * geom.area
