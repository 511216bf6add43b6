"""The alert engine's errors, in one module every layer may import (rules, muting, notify, lifecycle, the API).

``RuleError`` is a configuration document that does not validate (rules, channels, escalation policies,
silences, inhibition rules); the API answers it with 422 and each entry of ``errors`` names its field.
``AlertNotFound``, ``AlertConflict`` and ``UnitNotFound`` are refusals of an operator's action on an alert."""

from __future__ import annotations

import math
import re
from collections.abc import Collection
from typing import Any

from pydantic import ValidationError

_NAMED = re.compile(r"^([a-z_]+): (.*)$", re.S)


class RuleError(ValueError):
    """A rule document that does not validate; ``errors`` is ``[{field, message, value}]``."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors[:5]))


class AlertNotFound(LookupError):
    """No alert with this id."""


class AlertConflict(ValueError):
    """The alert's state forbids the action (resolved, already acknowledged)."""


class UnitNotFound(LookupError):
    """No unit with this code (assigning an alert)."""


def short(value: Any) -> Any:
    """A value as an error entry shows it: numbers as they are (non-finite ones as text), text cut at 120."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)  # JSON has no inf or nan
    if value is None or isinstance(value, bool | int | float):
        return value
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 120 else text[:120] + "…"


def format_errors(exc: ValidationError, prefix: str = "", *, tags: Collection[str] = (),
                  default_field: str = "rule") -> list[dict[str, Any]]:
    """``[{field, message, value}]`` of a configuration document that did not validate. ``tags`` are the values of
    a discriminator (a rule's kinds): pydantic puts the tag first in paths, and it is dropped there."""
    out: list[dict[str, Any]] = []
    for err in exc.errors():
        loc = [p for i, p in enumerate(err.get("loc", ())) if not (i == 0 and p in tags)]
        parts: list[str] = [prefix] if prefix else []
        for p in loc:
            if isinstance(p, int):
                parts[-1:] = [f"{parts[-1]}[{p}]"] if parts else [f"[{p}]"]
            else:
                parts.append(str(p))
        msg = str(err.get("msg", "")).removeprefix("Value error, ")
        if tags and err.get("type") in ("union_tag_invalid", "union_tag_not_found"):
            parts.append("kind")
            msg = f"must be one of {', '.join(tags)}"
        value = err.get("input")
        named = _NAMED.match(msg)
        if named and err.get("type") == "value_error" and isinstance(value, dict):
            # a model-level check names its field first ("clear: …"): move it into the path
            parts.append(named.group(1))
            msg = named.group(2)
            value = value.get(named.group(1))
        out.append({"field": ".".join(parts).replace(".[", "[") or default_field, "message": msg,
                    "value": short(value)})
    return out
