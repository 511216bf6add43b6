"""Inhibition rules: while a *source* matches — an open alert, or an open incident — alerts matching the target
matchers that carry the same values of the ``equal`` labels are muted (Alertmanager's inhibit_rules, extended with
incidents as sources). Unlike Alertmanager, an empty or missing label never counts as equal, so a ward-less alert is
never inhibited "by ward". An alert never inhibits itself.

Seeded rules (migration 0030): an open flood incident in a ward mutes water-level and flood-depth alerts there;
a ward-level alert of a kind mutes the device alerts of that kind in that ward."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from psycopg.types.json import Jsonb
from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError

from alerts.errors import RuleError
from alerts.matchers import LABEL_NAME, MAX_MATCHERS, Matcher, describe, match_all, parse_matchers
from alerts.rules.models import format_errors
from ops_center.db import Conn, fetch_all, fetch_one
from ops_center.incidents import reads as incident_reads

OPEN_INCIDENT_EXCLUDED = ("resolved", "closed")


class InhibitRuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")
    source: Literal["alert", "incident"] = "alert"
    source_matchers: list[Matcher] = Field(min_length=1, max_length=MAX_MATCHERS)
    target_matchers: list[Matcher] = Field(min_length=1, max_length=MAX_MATCHERS)
    equal: list[Annotated[str, Field(pattern=LABEL_NAME)]] = Field(default_factory=list, max_length=10)
    enabled: StrictBool = True  # true or false, not 0 or "yes"


def validate_inhibit_rule(data: Any, prefix: str = "") -> InhibitRuleIn:
    try:
        return InhibitRuleIn.model_validate(data)
    except ValidationError as exc:
        raise RuleError(format_errors(exc, prefix)) from exc


@dataclass(frozen=True)
class InhibitRule:
    id: int
    name: str
    source: str
    source_matchers: tuple[Matcher, ...]
    target_matchers: tuple[Matcher, ...]
    equal: tuple[str, ...]

    def describe(self) -> str:
        return f"{self.name}: {self.source} {describe(self.source_matchers)} mutes {describe(self.target_matchers)}"


@dataclass(frozen=True)
class Source:
    kind: str            # "alert" | "incident"
    id: int
    labels: dict[str, Any]


_COLS = "id, name, source, source_matchers, target_matchers, equal, enabled, created_by, created_at, updated_at"


def _rule(row: dict[str, Any]) -> InhibitRule:
    return InhibitRule(int(row["id"]), row["name"], row["source"], tuple(parse_matchers(row["source_matchers"])),
                       tuple(parse_matchers(row["target_matchers"])), tuple(row["equal"] or ()))


def enabled_rules(conn: Conn) -> list[InhibitRule]:
    return [_rule(r) for r in fetch_all(conn, f"SELECT {_COLS} FROM inhibit_rules WHERE enabled ORDER BY id")]


def inhibits(rule: InhibitRule, source: Source, target_id: int | None, target: dict[str, Any]) -> bool:
    if source.kind == "alert" and target_id is not None and source.id == target_id:
        return False
    if not match_all(rule.target_matchers, target) or not match_all(rule.source_matchers, source.labels):
        return False
    for name in rule.equal:
        value = target.get(name)
        if value in (None, "") or str(source.labels.get(name, "")) != str(value):
            return False
    return True


def open_incident_sources(conn: Conn, rule: InhibitRule | None = None) -> list[Source]:
    """Open incidents as label sets (category, ward, ward_set, severity, status); none before incidents exist.
    With ``rule``, its ``=`` matchers and ``equal`` labels narrow the query."""
    if not incident_reads.present(conn):
        return []
    equal = [(m.name, m.value) for m in rule.source_matchers if m.op == "="] if rule is not None else []
    rows = incident_reads.labelled(conn, OPEN_INCIDENT_EXCLUDED, equal, rule.equal if rule is not None else ())
    return [Source("incident", int(r[0]), {"category": r[1], "severity": r[2], "status": r[3], "ward": r[4],
                                           "ward_set": r[5]}) for r in rows]


# -- CRUD ----------------------------------------------------------------------------------------------------------
def _params(r: InhibitRuleIn) -> tuple[Any, ...]:
    return (r.name, r.source, Jsonb([m.model_dump() for m in r.source_matchers]),
            Jsonb([m.model_dump() for m in r.target_matchers]), list(r.equal), r.enabled)


def upsert(conn: Conn, r: InhibitRuleIn, actor: str) -> tuple[dict[str, Any], bool]:
    row = fetch_one(
        conn,
        f"INSERT INTO inhibit_rules (name, source, source_matchers, target_matchers, equal, enabled, created_by) "
        f"VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (name) DO UPDATE SET source = EXCLUDED.source, "
        f"source_matchers = EXCLUDED.source_matchers, target_matchers = EXCLUDED.target_matchers, "
        f"equal = EXCLUDED.equal, enabled = EXCLUDED.enabled, updated_at = now() "
        f"RETURNING {_COLS}, (xmax = 0) AS created",
        (*_params(r), actor),
    )
    assert row is not None
    return row, bool(row.pop("created"))


def id_named(conn: Conn, name: str) -> int | None:
    """The id of the inhibition rule named ``name``, None when there is none."""
    row = conn.execute("SELECT id FROM inhibit_rules WHERE name = %s", (name,)).fetchone()
    return int(row[0]) if row else None


def update(conn: Conn, rule_id: int, r: InhibitRuleIn) -> dict[str, Any] | None:
    return fetch_one(
        conn,
        f"UPDATE inhibit_rules SET name = %s, source = %s, source_matchers = %s, target_matchers = %s, equal = %s, "
        f"enabled = %s, updated_at = now() WHERE id = %s RETURNING {_COLS}",
        (*_params(r), rule_id),
    )


def list_rules(conn: Conn) -> list[dict[str, Any]]:
    return fetch_all(conn, f"SELECT {_COLS} FROM inhibit_rules ORDER BY id")


def get(conn: Conn, rule_id: int) -> dict[str, Any] | None:
    return fetch_one(conn, f"SELECT {_COLS} FROM inhibit_rules WHERE id = %s", (rule_id,))


def delete(conn: Conn, rule_id: int) -> bool:
    return conn.execute("DELETE FROM inhibit_rules WHERE id = %s", (rule_id,)).rowcount > 0
