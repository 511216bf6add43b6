"""Rule documents: one pydantic model per rule kind, validated on every write (API, YAML, CLI).

Errors name the field: ``format_errors`` turns a ``ValidationError`` into ``[{field, message, value}]`` with paths
such as ``rules[2].operator`` or ``scope.value``.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from alerts import errors
from alerts.durations import parse_duration
from alerts.errors import RuleError
from ops_center.scorecard.definition import INDICATORS
from ops_center.storable import text_problem

Severity = Literal["critical", "major", "minor", "info"]
SEVERITIES: tuple[str, ...] = ("critical", "major", "minor", "info")
Kind = Literal["threshold", "rate", "absence", "geo_count", "kpi", "province_silence"]
STREAM_KINDS = frozenset({"threshold", "rate"})
SCHEDULED_KINDS = frozenset({"absence", "geo_count", "kpi", "province_silence"})
Operator = Literal[">", ">=", "<", "<=", "==", "!="]
OPERATOR_ALIASES = {"gt": ">", "ge": ">=", "gte": ">=", "lt": "<", "le": "<=", "lte": "<=", "eq": "==",
                    "ne": "!=", "=": "=="}

IDENT = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
METRIC = r"^[a-z][a-z0-9_]{0,62}$"
LABEL_KEY = r"^[a-z_][a-z0-9_]{0,31}$"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
def _number(value: object) -> object:
    """Numbers only: a string or a boolean where a number belongs is an error, not a silent conversion."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a number, got {type(value).__name__} {str(value)[:60]!r}")
    if not math.isfinite(float(value)):
        raise ValueError(f"expected a finite number, got {value!r}")
    return float(value)


def _duration(value: object) -> float:
    return parse_duration(value)


def _operator(value: object) -> object:
    if isinstance(value, str):
        v = value.strip().lower()
        return OPERATOR_ALIASES.get(v, v)
    return value


def _text(value: object) -> object:
    if isinstance(value, str) and _CONTROL.search(value.replace("\n", "").replace("\t", "")):
        raise ValueError("control characters are not allowed")
    if isinstance(value, str) and (why := text_problem(value)) is not None:
        raise ValueError(f"value {why}")
    return value


Number = Annotated[float, BeforeValidator(_number)]


def _factor(v: float) -> float:
    if not 1 <= v <= 1000:
        raise ValueError(f"factor must be between 1 and 1000, got {v:g}")
    return v


Factor = Annotated[Number, AfterValidator(_factor)]
"""A multiple of an expected interval or schedule (absence, province silence): 1 to 1000."""
Duration = Annotated[float, Field(ge=0), BeforeValidator(_duration)]  # seconds, or "5m", "2h", "1d"
Text = Annotated[str, BeforeValidator(_text)]


class Scope(BaseModel):
    """Which devices a telemetry rule watches: one device, a device kind, a ward, or all of them.

    YAML shorthands: ``scope: all`` and ``scope: {device: gauge-01}`` (or ``kind:``/``ward:``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["device", "kind", "ward", "all"] = "all"
    value: str | None = Field(default=None, pattern=IDENT)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if data == "all":
            return {"type": "all"}
        if isinstance(data, dict) and "type" not in data and len(data) == 1:
            (key, val), = data.items()
            if key in ("device", "kind", "ward"):
                return {"type": key, "value": val}
        return data

    @model_validator(mode="after")
    def _value_needed(self) -> Scope:
        if self.type == "all" and self.value is not None:
            raise ValueError(f"value: scope 'all' takes no value, got {self.value!r}")
        if self.type != "all" and not self.value:
            raise ValueError(f"value: scope {self.type!r} needs a value (the {self.type} to watch)")
        return self

    def matches(self, device_id: str, kind: str | None, ward: str | None) -> bool:
        if self.type == "all":
            return True
        if self.type == "device":
            return device_id == self.value
        if self.type == "kind":
            return kind == self.value
        return ward == self.value


class RuleBase(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, str_strip_whitespace=True)

    name: Text = Field(min_length=1, max_length=200)
    severity: Severity = "major"
    enabled: StrictBool = True  # true or false, not 0 or "yes"
    description: Text = Field(default="", max_length=2000)
    labels: dict[Annotated[str, Field(pattern=LABEL_KEY)], Annotated[Text, Field(max_length=200)]] = Field(
        default_factory=dict, max_length=20, json_schema_extra={"additionalProperties": False})  # other keys: 422
    summary: Text | None = Field(default=None, max_length=500,
                                 description="template: {rule} {device} {metric} {value} {ward} {kind} {unit} …")
    escalation: str | None = Field(default=None, min_length=1, max_length=100,
                                   description="name of an escalation policy")
    flap_window: Duration | None = Field(default=None, description="re-firing within it reopens the same alert")

    @field_validator("severity", mode="before")
    @classmethod
    def _lower(cls, v: object) -> object:
        return v.strip().lower() if isinstance(v, str) else v


class ThresholdRule(RuleBase):
    """Fires when ``metric operator value`` has held for ``for``; resolves when the value crosses ``clear``
    (below it for > and >=, above it for < and <=), or when the condition stops holding if there is no ``clear``."""

    kind: Literal["threshold"]
    metric: str = Field(pattern=METRIC)
    operator: Annotated[Operator, BeforeValidator(_operator)]
    value: Number
    for_: Duration = Field(default=0.0, alias="for")
    clear: Number | None = None
    scope: Scope = Field(default_factory=Scope)

    @model_validator(mode="after")
    def _hysteresis(self) -> ThresholdRule:
        if self.clear is None:
            return self
        if self.operator in ("==", "!="):
            raise ValueError(f"clear: hysteresis needs an ordering operator (>, >=, <, <=), not {self.operator!r}")
        if self.operator in (">", ">=") and self.clear > self.value:
            raise ValueError(f"clear: for {self.operator} {self.value:g} the clear value must be at most "
                             f"{self.value:g}, got {self.clear:g}")
        if self.operator in ("<", "<=") and self.clear < self.value:
            raise ValueError(f"clear: for {self.operator} {self.value:g} the clear value must be at least "
                             f"{self.value:g}, got {self.clear:g}")
        return self


class RateRule(RuleBase):
    """Fires when the change of ``metric`` over ``window`` (latest value minus the oldest value inside the
    window) satisfies ``operator value``: ``> 30`` is a rise of more than 30, ``< -30`` a fall of more than 30."""

    kind: Literal["rate"]
    metric: str = Field(pattern=METRIC)
    operator: Annotated[Literal[">", ">=", "<", "<="], BeforeValidator(_operator)]
    value: Number
    window: Duration
    scope: Scope = Field(default_factory=Scope)

    @field_validator("window")
    @classmethod
    def _window(cls, v: float) -> float:
        if not 1 <= v <= 7 * 86400:
            raise ValueError(f"window must be between 1s and 7d, got {v:g}s")
        return v


FEEDS: tuple[str, ...] = ("documents", "meetings", "dossiers", "petitions")


class AbsenceRule(RuleBase):
    """Fires for a device (or a device's metric) silent for longer than ``factor`` × its expected interval; or,
    with ``feed``, for a unit whose e-government feed (documents, meetings, dossiers, petitions) has brought nothing
    for ``business_days`` whole business days (``units``: the units to watch; default: every unit ever heard on
    that feed)."""

    kind: Literal["absence"]
    metric: str | None = Field(default=None, pattern=METRIC)
    factor: Factor = 3.0
    scope: Scope = Field(default_factory=Scope)
    feed: Literal["documents", "meetings", "dossiers", "petitions"] | None = None
    business_days: int | None = Field(default=None, ge=1, le=60, strict=True)
    units: list[Annotated[str, Field(pattern=IDENT)]] = Field(default_factory=list, max_length=2000)

    @model_validator(mode="after")
    def _feed_or_device(self) -> AbsenceRule:
        if self.feed is None:
            if self.business_days is not None or self.units:
                raise ValueError("feed: business_days and units watch a unit's feed; name the feed "
                                 f"({', '.join(FEEDS)})")
            return self
        if self.business_days is None:
            raise ValueError(f"business_days: a {self.feed} feed rule needs the number of business days of silence")
        if self.metric is not None or self.scope.type != "all":
            raise ValueError("feed: a feed rule watches units, not devices (no metric or scope)")
        return self


class GeoCountRule(RuleBase):
    """Fires for a ward with at least ``count`` incidents (of ``categories``, all if empty) reported within
    ``window``; ``open_only`` counts only incidents not yet resolved."""

    kind: Literal["geo_count"]
    count: int = Field(ge=1, le=100_000, strict=True)
    window: Duration
    categories: list[Annotated[str, Field(pattern=IDENT)]] = Field(default_factory=list, max_length=50)
    wards: list[Annotated[str, Field(pattern=IDENT)]] = Field(default_factory=list, max_length=500)
    open_only: StrictBool = False  # true or false, not 0 or "yes"

    @field_validator("window")
    @classmethod
    def _window(cls, v: float) -> float:
        if not 60 <= v <= 366 * 86400:
            raise ValueError(f"window must be between 1m and 366d, got {v:g}s")
        return v


KpiName = Literal["on_time_rate", "online_share", "postal_receive_share", "postal_return_share"]
DOSSIER_KPIS: tuple[str, ...] = ("on_time_rate", "online_share", "postal_receive_share", "postal_return_share")
SCORECARD_PREFIX = "766."
"""A national service index figure: ``766.<indicator id>`` (its ratio) or ``766.total`` (the total scaled to 100,
divided by 100), e.g. ``766.2.1``."""


def _kpi(value: object) -> object:
    if not isinstance(value, str):
        return value
    allowed = (*DOSSIER_KPIS, *(SCORECARD_PREFIX + i for i in INDICATORS), SCORECARD_PREFIX + "total")
    if value not in allowed:
        raise ValueError(f"must be one of {', '.join(DOSSIER_KPIS)}, 766.<indicator> (766.1.1 … 766.5.3) or "
                         f"766.total, got {value[:60]!r}")
    return value


class KpiRule(RuleBase):
    """Fires for a unit/ward/district (or the province) whose dossier KPI — or national service index figure
    (``766.2.1``, ``766.total``) — for the current period is below ``target`` (a rate between 0 and 1; the total
    is compared divided by 100), once at least ``min_count`` dossiers (the indicator's denominator) back it."""

    kind: Literal["kpi"]
    kpi: Annotated[str, BeforeValidator(_kpi)]
    level: Literal["unit", "ward", "district", "province"]
    target: Number
    period: Literal["day", "month", "year"] = "month"
    codes: list[Annotated[str, Field(pattern=IDENT)]] = Field(default_factory=list, max_length=500)
    min_count: int = Field(default=1, ge=0, le=1_000_000, strict=True)

    @field_validator("target")
    @classmethod
    def _target(cls, v: float) -> float:
        if not 0 <= v <= 1:
            raise ValueError(f"target is a rate between 0 and 1, got {v:g}")
        return v


class ProvinceSilenceRule(RuleBase):
    """National mode: fires for a connected province silent (no snapshot, no heartbeat) for longer than
    ``factor`` × its publishing schedule; resolves when it reports again."""

    kind: Literal["province_silence"]
    factor: Factor = 3.0
    provinces: list[Annotated[str, Field(pattern=r"^[0-9]{2}$")]] = Field(default_factory=list, max_length=34)


Rule = Annotated[ThresholdRule | RateRule | AbsenceRule | GeoCountRule | KpiRule | ProvinceSilenceRule,
                 Field(discriminator="kind")]
RULE_ADAPTER: TypeAdapter[Rule] = TypeAdapter(Rule)
AnyRule = ThresholdRule | RateRule | AbsenceRule | GeoCountRule | KpiRule | ProvinceSilenceRule
KINDS: tuple[str, ...] = ("threshold", "rate", "absence", "geo_count", "kpi", "province_silence")


def format_errors(exc: ValidationError, prefix: str = "") -> list[dict[str, Any]]:
    """``[{field, message, value}]`` of a rule document; the rule kind pydantic puts in paths is dropped."""
    return errors.format_errors(exc, prefix, tags=KINDS, default_field="rule")


def parse_rule(data: Any, prefix: str = "") -> AnyRule:
    """A validated rule from a mapping; ``RuleError`` naming the field otherwise."""
    if not isinstance(data, dict):
        raise RuleError([{"field": prefix or "rule", "message": "must be a mapping of rule fields",
                          "value": errors.short(data)}])
    try:
        return RULE_ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise RuleError(format_errors(exc, prefix)) from exc


def rule_document(rule: AnyRule) -> dict[str, Any]:
    """The stored (and API) form: aliases (``for``), no unset optional noise."""
    return rule.model_dump(mode="json", by_alias=True, exclude_none=True)
