"""Compose a message's content from its inputs: the sources' facts, the hazard's template (texts in Vietnamese and
English, category, event codes), the wards of the boundary set in force, the risk level of Decision 18/2021 and the
severity it maps to, urgency from the onset, and whatever the person wrote over the template."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from alerts.warnings.config import WarningsConfig
from alerts.warnings.facts import Facts, gather
from alerts.warnings.models import LANGS, Lang, Severity, WarningError
from alerts.warnings.schemas import Content, Inputs, SourceRef, TemplateRef, Texts
from alerts.warnings.templates import Band, HazardTemplate, TemplateSet, current, format_number, render
from alerts.warnings.vocab import decision18, event_terms, urgency_for
from geo import service as geo_service
from geo import store as geo_store
from ops_center.db import Conn
from ops_center.settings import LOCAL_TZ

OTHER = "other"
MAX_AHEAD = timedelta(days=30)


def compose(conn: Conn, inputs: Inputs, now: datetime, config: WarningsConfig) -> Content:
    """The content of a message drafted from ``inputs`` at ``now``; ``WarningError`` naming the field otherwise."""
    facts = gather(conn, inputs.alerts, inputs.incidents)
    tset = current()
    hazard = _hazard(inputs, facts, tset)
    ward_set, wards, names = _wards(conn, inputs, facts, now, config)
    onset, expires = _times(inputs, facts, tset.hazards.get(hazard), now)
    base: dict[str, Any] = {
        "hazard": hazard, "ward_set": ward_set, "wards": wards, "ward_names": names, "onset": onset,
        "expires": expires, "note": inputs.note,
        "sources": [SourceRef(kind="alert", id=i) for i in inputs.alerts]
        + [SourceRef(kind="incident", id=i) for i in inputs.incidents],
        "urgency": inputs.urgency or urgency_for(onset, now),
    }
    template = tset.hazards.get(hazard)
    if template is None:
        return _from_scratch(inputs, base)
    return _from_template(inputs, facts, tset, template, base)


def _hazard(inputs: Inputs, facts: Facts, tset: TemplateSet) -> str:
    if inputs.hazard is not None:
        if inputs.hazard != OTHER and inputs.hazard not in tset.hazards:
            raise WarningError("hazard", f"{inputs.hazard!r} has no template; one of "
                                         f"{', '.join([*tset.hazards, OTHER])}")
        return inputs.hazard
    found = [tset.hazard_for_metric(m) for m in facts.values] + [tset.hazard_for_category(c)
                                                                 for c in facts.categories]
    hazards = sorted({h for h in found if h})
    if len(hazards) != 1:
        what = "name none" if not hazards else f"suggest {', '.join(hazards)}"
        raise WarningError("hazard", f"required: the sources {what} (one of {', '.join([*tset.hazards, OTHER])})")
    return hazards[0]


def _wards(conn: Conn, inputs: Inputs, facts: Facts, now: datetime,
           config: WarningsConfig) -> tuple[str, list[str], dict[str, str]]:
    set_name = geo_service.set_in_force(conn, now)
    if set_name is None:
        raise WarningError("wards", "no boundary set is in force to name the wards")
    codes = list(dict.fromkeys(inputs.wards)) if inputs.wards is not None else facts.ward_codes
    if not codes:
        raise WarningError("wards", "required: the sources name no ward; give the wards at risk")
    if len(codes) > config.max_wards:
        raise WarningError("wards", f"{len(codes)} wards; at most {config.max_wards} in one warning")
    names = geo_store.unit_names(conn, set_name, "ward", codes)
    for i, code in enumerate(codes):
        named_in = facts.ward_sets.get(code, "") if inputs.wards is None else ""
        if code not in names or named_in not in ("", set_name):
            where = f"wards[{i}]" if inputs.wards is not None else facts.ward_origin.get(code, "wards")
            raise WarningError(where, f"{code!r} is not a ward of {set_name!r} (the boundary set in force); "
                                      "give the wards at risk")
    return set_name, codes, {c: names[c] for c in codes}


def _times(inputs: Inputs, facts: Facts, template: HazardTemplate | None,
           now: datetime) -> tuple[datetime, datetime]:
    onset = inputs.onset or facts.observed_at or now
    if inputs.expires is not None:
        expires = inputs.expires
    elif template is not None:
        expires = max(onset, now) + timedelta(hours=template.expires_after_h)
    else:
        raise WarningError("expires", "required for a warning without a template")
    if expires <= now:
        raise WarningError("expires", f"{expires.isoformat()} is not in the future")
    if expires <= onset:
        raise WarningError("expires", f"{expires.isoformat()} is not after the onset {onset.isoformat()}")
    if expires > now + MAX_AHEAD or onset > now + MAX_AHEAD:
        raise WarningError("expires" if expires > now + MAX_AHEAD else "onset",
                           f"more than {MAX_AHEAD.days} days ahead")
    return onset.astimezone(LOCAL_TZ), expires.astimezone(LOCAL_TZ)


def _from_scratch(inputs: Inputs, base: dict[str, Any]) -> Content:
    required = {"category": inputs.category, "event_codes": inputs.event_codes,
                "response_type": inputs.response_type, "severity": inputs.severity,
                "certainty": inputs.certainty}
    for name, value in required.items():
        if value is None:
            raise WarningError(name, f"required for hazard {OTHER!r} (no template writes it)")
    texts: dict[Lang, Texts] = {}
    for lang in LANGS:
        given = inputs.texts.get(lang)
        fields = given.model_dump(exclude_none=True) if given is not None else {}
        missing = [f for f in ("event", "headline", "description", "instruction") if f not in fields]
        if missing:
            raise WarningError(f"texts.{lang}.{missing[0]}", f"required for hazard {OTHER!r}")
        texts[lang] = Texts(**fields)
    assert inputs.event_codes is not None and inputs.category is not None and inputs.severity is not None
    assert inputs.response_type is not None and inputs.certainty is not None  # checked just above
    event_terms().check(inputs.event_codes, "event_codes")
    if inputs.risk_level is not None:
        raise WarningError("risk_level", f"hazard {OTHER!r} has no Decision 18 risk levels")
    return Content(**base, template=None, category=inputs.category, event_codes=inputs.event_codes,
                   local_code=None, response_type=inputs.response_type, severity=inputs.severity,
                   certainty=inputs.certainty, risk_level=None, texts=texts, parameters={})


def _from_template(inputs: Inputs, facts: Facts, tset: TemplateSet, template: HazardTemplate,
                   base: dict[str, Any]) -> Content:
    raw = _raw_values(inputs, facts, template)
    value = raw.get("value")
    number = value if isinstance(value, float) else None
    index = template.band_for(number)
    band = template.bands[index]
    if number is not None and band.min_value is not None and number < band.min_value:
        raise WarningError("values.value", f"{value} is below the lowest band ({band.min_value:g}) of the "
                                           f"{base['hazard']} template; write the warning as hazard {OTHER!r}")
    level = _risk_level(inputs, template, band, raw)
    severity = _severity(inputs, template, band, level)
    texts = _texts(inputs, template, band, raw, facts, base, level)
    codes = inputs.event_codes or template.event_codes
    event_terms().check(codes, "event_codes")
    params = {k: str(v) for k, v in raw.items()}
    if level is not None:
        params["risk_level"] = str(level)
    return Content(**base, template=TemplateRef(hazard=base["hazard"], version=tset.version, band=index),
                   category=inputs.category or template.category, event_codes=codes,
                   local_code=template.local_code, response_type=inputs.response_type or template.response_type,
                   severity=severity, certainty=inputs.certainty or template.certainty, risk_level=level,
                   texts=texts, parameters=params)


def _raw_values(inputs: Inputs, facts: Facts, template: HazardTemplate) -> dict[str, float | str]:
    raw: dict[str, float | str] = {}
    if template.metric and facts.values.get(template.metric):
        raw["value"] = max(facts.values[template.metric])
    if "address" in template.params and facts.addresses:
        raw["address"] = "; ".join(facts.addresses)
    for name, given in inputs.values.items():
        if name not in template.params:
            raise WarningError(f"values.{name}", f"not a value of the {template.label['en']} template "
                                                 f"({', '.join(template.params) or 'it takes none'})")
        param = template.params[name]
        if param.type == "number" and not isinstance(given, float | int):
            raise WarningError(f"values.{name}", f"{given!r} is not a number")
        raw[name] = float(given) if param.type == "number" else str(given)
    for name, param in template.params.items():
        if param.required and name not in raw:
            raise WarningError(f"values.{name}", f"required by the {template.label['en']} template")
    return raw


def _risk_level(inputs: Inputs, template: HazardTemplate, band: Band, raw: dict[str, float | str]) -> int | None:
    if template.decision18 is None:
        if inputs.risk_level is not None:
            raise WarningError("risk_level", f"Decision 18/2021 grades no risk level for {template.label['en']}")
        return None
    d18 = decision18()
    level = inputs.risk_level
    km = raw.get("intrusion_km")
    if level is None and isinstance(km, float) and d18.hazards[template.decision18].intrusion_km:
        level = d18.level_from_intrusion(template.decision18, km)
    if level is None:
        level = band.risk_level
    if level is None:
        if band.severity is None:
            raise WarningError("risk_level", f"required: give the risk level of the bulletin "
                                             f"({', '.join(map(str, d18.hazards[template.decision18].levels))})")
        return None
    d18.level(template.decision18, level)
    return level


def _severity(inputs: Inputs, template: HazardTemplate, band: Band, level: int | None) -> Severity:
    if level is not None:
        mapped = decision18().levels[level].severity
        if inputs.severity is not None and inputs.severity != mapped:
            raise WarningError("severity", f"follows the risk level (level {level} is {mapped}); change "
                                           "risk_level instead")
        return mapped
    if inputs.severity is not None:
        return inputs.severity
    assert band.severity is not None  # checked when the template was loaded
    return band.severity


def _texts(inputs: Inputs, template: HazardTemplate, band: Band, raw: dict[str, float | str], facts: Facts,
           base: dict[str, Any], level: int | None) -> dict[Lang, Texts]:
    out: dict[Lang, Texts] = {}
    for lang in LANGS:
        values = _placeholders(lang, template, raw, facts, base, level)
        texts = render(band, lang, values)
        given = inputs.texts.get(lang)
        if given is not None:
            texts = texts.model_copy(update=given.model_dump(exclude_none=True))
        out[lang] = Texts.model_validate(texts.model_dump())  # re-checked after filling: lengths, characters
    return out


def _placeholders(lang: Lang, template: HazardTemplate, raw: dict[str, float | str], facts: Facts,
                  base: dict[str, Any], level: int | None) -> dict[str, str]:
    names = [base["ward_names"][c] for c in base["wards"]]
    more = {"vi": f" và {len(names) - 2} xã, phường khác", "en": f" and {len(names) - 2} more"}[lang]
    area = ", ".join(names) if len(names) <= 3 else ", ".join(names[:2]) + more
    when = base["onset"].astimezone(LOCAL_TZ)
    fmt = "%H:%M ngày %d/%m/%Y" if lang == "vi" else "%H:%M on %d/%m/%Y"
    out = {"wards": ", ".join(names), "area": area, "ward_count": str(len(names)),
           "stations": ", ".join(facts.stations) or {"vi": "quan trắc", "en": "monitoring"}[lang],
           "observed_at": when.strftime(fmt), "expires_at": base["expires"].astimezone(LOCAL_TZ).strftime(fmt),
           "unit": template.params["value"].unit if "value" in template.params else "",
           "risk_level": str(level) if level is not None else "",
           "risk_label": "" if level is None else getattr(decision18().levels[level], f"label_{lang}")}
    for name, param in template.params.items():
        value = raw.get(name)
        if value is None:
            out[name] = "—"
        elif isinstance(value, float):
            out[name] = format_number(value, param.decimals, lang)
        else:
            out[name] = value
    return out
