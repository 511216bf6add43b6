"""The alert engine's errors, in one module every layer may import (rules, muting, notify, lifecycle, the API).

``RuleError`` is a configuration document that does not validate (rules, channels, escalation policies,
silences, inhibition rules); the API answers it with 422 and each entry of ``errors`` names its field.
``AlertNotFound``, ``AlertConflict`` and ``UnitNotFound`` are refusals of an operator's action on an alert."""

from __future__ import annotations

from typing import Any


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
