"""The vocabulary of public warnings: CAP enumerations, message states, the acting person, and errors that name
the field (and the HTTP status the API answers with)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from ops_center.auth.roles import Role

MsgType = Literal["Alert", "Update", "Cancel"]
MessageStatus = Literal["draft", "approved", "published", "discarded"]
CapStatus = Literal["Actual", "Exercise", "System", "Test"]
Category = Literal["Geo", "Met", "Safety", "Security", "Rescue", "Fire", "Health", "Env", "Transport", "Infra",
                   "CBRNE", "Other"]
ResponseType = Literal["Shelter", "Evacuate", "Prepare", "Execute", "Avoid", "Monitor", "Assess", "AllClear",
                       "None"]
Urgency = Literal["Immediate", "Expected", "Future", "Past", "Unknown"]
Severity = Literal["Extreme", "Severe", "Moderate", "Minor", "Unknown"]
Certainty = Literal["Observed", "Likely", "Possible", "Unlikely", "Unknown"]
Lang = Literal["vi", "en"]
LANGS: Final[tuple[Lang, ...]] = ("vi", "en")
CAP_LANGUAGE: Final[dict[Lang, str]] = {"vi": "vi-VN", "en": "en-US"}

WarningState = Literal["pending", "active", "updated", "cancelled", "expired"]


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: the principal's name and role (checked per request by the API)."""

    name: str
    role: Role


class WarningError(ValueError):
    """A refused request about a warning: ``field`` names the input at fault, ``status`` the HTTP answer."""

    status = 422

    def __init__(self, field: str, message: str, *, status: int | None = None) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message
        if status is not None:
            self.status = status


class NotFound(WarningError):
    status = 404


class Conflict(WarningError):
    """The warning is not in a state that allows this (409)."""

    status = 409


class Forbidden(WarningError):
    """The person may not do this to this warning (403): the two-person rule."""

    status = 403
