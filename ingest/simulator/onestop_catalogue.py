"""The procedures catalogue the one-stop-shop registers, with what the national service index reads: the online
service (Decree 42/2022: none, partial, full) and eligibility for full online, fees, a paper result, citizen-facing,
offered by post, and the publication (decision date, legal basis's effective date, made public on the national
procedure database, which of the seven parts are stated).

The procedures with simulated dossiers come from ``data/onestop.yaml``; the rest of the catalogue (no dossiers) is
generated so that the whole has the 2019 report's figures (137 procedures fully and 457 partially online, 698 by
post). Pure: the entries depend only on (config, seed, today) — ``today`` decides which revision of each procedure
is the latest one, as the catalogue keeps one publication per procedure. Entries are in the shape of
``POST /procedures`` (``ops_center.dossiers.procedures.validate``)."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any, Final

from ingest.simulator.onestop import Config, ProcSpec

PARTS: Final = ("name", "steps", "method", "components", "time_limit", "applicants", "agency")
SERVICE_OF_LEVEL: Final = {4: "full", 3: "partial"}
AddBusinessDays = Callable[[date, int], date]


def catalogue(config: Config, seed: int, today: date, add_business_days: AddBusinessDays) -> list[dict[str, Any]]:
    """Every procedure of the catalogue, those with dossiers first."""
    spec = config.catalogue
    out = [_listed(p, config) for p in config.procedures]
    out += _rest(config, seed)
    if spec:
        for entry in out:
            entry.update(publication(entry["code"], spec, seed, today, add_business_days))
    return out


def _listed(p: ProcSpec, config: Config) -> dict[str, Any]:
    return {"code": p.code, "name": p.name, "processing_days": p.days, "online_level": p.online_level,
            "offered_by_post": p.post, "agency": config.departments.get(p.unit, "UBND cấp xã"),
            "full_online_eligible": p.online_level >= 4, "has_fees": p.has_fees, "paper_result": p.paper_result,
            "citizen_facing": p.citizen_facing}


def _rest(config: Config, seed: int) -> list[dict[str, Any]]:
    """The procedures without dossiers: online (full, then partial) and by post up to the configured totals."""
    spec = config.catalogue
    if not spec:
        return []
    listed = config.procedures
    n = int(spec["total"]) - len(listed)
    full = int(spec["online_full"]) - sum(p.online_level >= 4 for p in listed)
    partial = int(spec["online_partial"]) - sum(p.online_level == 3 for p in listed)
    rng = random.Random(f"{seed}|catalogue")
    post = set(rng.sample(range(n), max(0, int(spec["by_post"]) - sum(p.post for p in listed))))
    agencies = [*config.departments.values(), "UBND cấp xã", "UBND cấp xã"]
    out = []
    for i in range(n):
        level = 4 if i < full else 3 if i < full + partial else 2
        out.append({"code": f"CM.{i + 1:04d}", "name": f"Thủ tục hành chính khác số {i + 1} (danh mục mô phỏng)",
                    "processing_days": rng.choice((0, 1, 3, 5, 7, 10, 15, 20, 30)), "online_level": level,
                    "offered_by_post": i in post, "agency": rng.choice(agencies),
                    "full_online_eligible": level == 4, "has_fees": rng.random() < spec["has_fees"],
                    "paper_result": rng.random() < spec["paper_result"],
                    "citizen_facing": rng.random() < spec["citizen_facing"]})
    return out


def publication(code: str, spec: dict[str, Any], seed: int, today: date, add_business_days: AddBusinessDays
                ) -> dict[str, Any]:
    """The latest revision of a procedure decided on or before ``today``: first published in the
    ``first_published`` window, revised every ``revised_every_days``; whether its decision came at least 5 business
    days before the legal basis took effect, whether it was made public within 5 business days (no public date
    while that day is still to come), and its parts, drawn per revision."""
    rng = random.Random(f"{seed}|publication|{code}")
    lo, hi = spec["first_published"]
    first = lo + timedelta(days=rng.randint(0, (hi - lo).days))
    cycle = rng.randint(*spec["revised_every_days"])
    revision = max(0, (today - first).days // cycle)
    decision = first + timedelta(days=revision * cycle)
    if decision > today:
        return {"decision_date": None, "legal_effective_date": None, "public_date": None, "parts": list(PARTS)}
    r = random.Random(f"{seed}|publication|{code}|{revision}")
    effective = add_business_days(decision, r.randint(5, 25) if r.random() < spec["decided_in_time"]
                                  else r.randint(0, 4))
    public = add_business_days(decision, r.randint(0, 5) if r.random() < spec["public_in_time"]
                               else r.randint(6, 20))
    parts = list(PARTS)
    if r.random() >= spec["all_parts"]:
        for missing in r.sample(PARTS[1:], r.randint(1, 2)):
            parts.remove(missing)
    return {"decision_date": decision.isoformat(), "legal_effective_date": effective.isoformat(),
            "public_date": public.isoformat() if public <= today else None, "parts": parts}
