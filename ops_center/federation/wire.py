"""The wire format both sides speak: a snapshot envelope around one kind's aggregate ``data``, and the heartbeat.

Every model derives from ``Wire``: unknown fields are refused (``extra="forbid"``), so nothing a producer did not
declare can cross. A snapshot from a newer *minor* schema version is read leniently: validated with
``context={"lenient": True, "ignored": []}``, unknown fields are dropped (and listed) instead of refused.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationInfo, model_validator

from ops_center.federation.periods import MONTH_PATTERN

SCHEMA_ID = "ops-center/federation-snapshot"
HEARTBEAT_ID = "ops-center/federation-heartbeat"
SCHEMA_VERSION = "1.0"
SUPPORTED_MAJOR, SUPPORTED_MINOR = 1, 0

PROVINCE_PATTERN = r"^[0-9]{2}$"
KIND_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
VERSION_PATTERN = r"^[0-9]{1,3}\.[0-9]{1,3}$"

Count = Annotated[int, Field(ge=0, le=10**12, strict=True)]
Ratio = Annotated[float | None, Field(ge=0.0, le=1.0)]
Code = Annotated[str, Field(pattern=CODE_PATTERN)]
Label = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")]
Severity = Literal["critical", "major", "minor", "info"]


class Wire(BaseModel):
    """Base of every wire model: closed (unknown fields refused) unless validated leniently."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _lenient(cls, data: Any, info: ValidationInfo) -> Any:
        ctx = info.context
        if not (isinstance(ctx, dict) and ctx.get("lenient") and isinstance(data, dict)):
            return data
        known = set(cls.model_fields) | {f.alias for f in cls.model_fields.values() if f.alias}
        dropped = sorted(str(k) for k in data if k not in known)
        if dropped:
            ctx.setdefault("ignored", []).extend(f"{cls.__name__}.{k}" for k in dropped)
        return {k: v for k, v in data.items() if k in known}


class Envelope(Wire):
    """One snapshot: ``data`` is validated by the kind's own model (``registry.Producer.data_model``)."""

    schema_: Literal["ops-center/federation-snapshot"] = Field(alias="schema")
    schema_version: str = Field(pattern=VERSION_PATTERN, description="MAJOR.MINOR of this format")
    province: str = Field(pattern=PROVINCE_PATTERN, description="official 2-digit province code (2025 set)")
    kind: str = Field(pattern=KIND_PATTERN)
    period: str = Field(pattern=MONTH_PATTERN, description="local calendar month YYYY-MM")
    version: int = Field(ge=1, le=2**53 - 1, strict=True,
                         description="per (province, kind, period), increasing; a counter, never a clock")
    generated_at: AwareDatetime = Field(description="the province's clock when the snapshot was built")
    data: dict[str, Any]


class Heartbeat(Wire):
    """Sent on the province's schedule whether or not anything changed: the national side's freshness."""

    schema_: Literal["ops-center/federation-heartbeat"] = Field(alias="schema")
    schema_version: str = Field(pattern=VERSION_PATTERN)
    province: str = Field(pattern=PROVINCE_PATTERN)
    sent_at: AwareDatetime
    publish_interval_s: int = Field(ge=1, le=604800, strict=True)
    outbox_pending: Count
    software: str = Field(max_length=60, pattern=r"^[A-Za-z0-9 ._/+-]*$")


def parse_version(value: str) -> tuple[int, int]:
    major, _, minor = value.partition(".")
    return int(major), int(minor)


def canonical(obj: Any) -> bytes:
    """JSON with sorted keys: the bytes a content hash is taken over."""
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)


def content_hash(data: Any) -> str:
    return hashlib.sha256(canonical(data)).hexdigest()


def envelope(province: str, kind: str, period: str, version: int, generated_at: datetime,
             data: dict[str, Any]) -> dict[str, Any]:
    """The envelope as a JSON-ready mapping (what the outbox stores and the wire carries)."""
    return {"schema": SCHEMA_ID, "schema_version": SCHEMA_VERSION, "province": province, "kind": kind,
            "period": period, "version": version, "generated_at": generated_at.isoformat(), "data": data}
