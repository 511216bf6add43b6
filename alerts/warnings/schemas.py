"""Pydantic models of warning content: what a person asks for (``DraftIn``, ``EditIn``, ``CancelIn``) and the
composed document that is approved and published (``Content``). Every text is XML-safe (``text.py``); every
error names its field."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from alerts.warnings.models import CapStatus, Category, Certainty, Lang, ResponseType, Severity, Urgency
from alerts.warnings.text import Line, Note, Paragraphs, ParamText, ShortLine

HazardKey = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
WardCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,32}$")]
OetCode = Annotated[str, StringConstraints(pattern=r"^OET-\d{3}$")]
ParamName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
SourceId = Annotated[int, Field(ge=1, le=2**62)]
ParamValue = Annotated[float, Field(allow_inf_nan=False, ge=-1e9, le=1e9)] | ParamText


class TextsIn(BaseModel):
    """Texts of one language; each given field replaces what the template wrote."""

    model_config = ConfigDict(extra="forbid")

    event: ShortLine | None = None
    headline: Line | None = None
    description: Paragraphs | None = None
    instruction: Paragraphs | None = None


class Texts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event: ShortLine
    headline: Line
    description: Paragraphs
    instruction: Paragraphs


class Inputs(BaseModel):
    """What a draft is composed from (kept with it, so an edit recomposes from the same facts)."""

    model_config = ConfigDict(extra="forbid")

    hazard: HazardKey | None = None
    alerts: list[SourceId] = Field(default_factory=list, max_length=50)
    incidents: list[SourceId] = Field(default_factory=list, max_length=50)
    wards: list[WardCode] | None = Field(default=None, max_length=1000)
    values: dict[ParamName, ParamValue] = Field(default_factory=dict, max_length=20,
                                                json_schema_extra={"additionalProperties": False})  # other names: 422
    risk_level: int | None = Field(default=None, ge=1, le=5)
    cap_status: CapStatus = "Actual"
    onset: AwareDatetime | None = None
    expires: AwareDatetime | None = None
    category: Category | None = None
    event_codes: list[OetCode] | None = Field(default=None, min_length=1, max_length=5)
    response_type: ResponseType | None = None
    urgency: Urgency | None = None
    severity: Severity | None = None
    certainty: Certainty | None = None
    texts: dict[Lang, TextsIn] = Field(default_factory=dict)
    note: Note | None = None


class DraftIn(Inputs):
    """A new warning: from alerts and/or incidents (the template of the hazard fills the texts from their values),
    or from scratch (a hazard with a template and its values, or ``hazard: other`` with every field given)."""


class EditIn(Inputs):
    """Changes to the draft in preparation: given fields replace the draft's inputs (``texts`` per field); the
    draft is recomposed and its version bumped, which withdraws an approval."""

    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=1, le=2**31 - 1, description="the version being edited (409 when it moved on)")


class DecisionIn(BaseModel):
    """Approve or reject the message in preparation at ``version`` (the content the person has seen)."""

    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=1, le=2**31 - 1)
    note: Note | None = None


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Note
    texts: dict[Lang, TextsIn] = Field(default_factory=dict)


class TemplateRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    hazard: str
    version: str
    band: int | None = None


class SourceRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str
    id: int


class Content(BaseModel):
    """The composed message content: what the approver sees and what is published."""

    model_config = ConfigDict(extra="forbid")

    hazard: str
    template: TemplateRef | None
    sources: list[SourceRef]
    ward_set: str
    wards: list[str]
    ward_names: dict[str, str]
    category: Category
    event_codes: list[str]
    local_code: str | None
    response_type: ResponseType
    urgency: Urgency
    severity: Severity
    certainty: Certainty
    risk_level: int | None
    onset: datetime
    expires: datetime
    texts: dict[Lang, Texts]
    parameters: dict[str, str]
    note: str | None = None

    def as_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
