"""Body field types for what PostgreSQL can store (``ops_center.storable``): a bad value answers 422 problem+json
naming the field and the value, through pydantic's own error (so the location is exact)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Body
from pydantic import AfterValidator, AwareDatetime

from ops_center.storable import datetime_problem, json_problem, text_problem


def _text(value: str) -> str:
    why = text_problem(value)
    if why is not None:
        raise ValueError(f"value {why}")
    return value


def _json(value: dict[str, Any]) -> dict[str, Any]:
    problem = json_problem(value, numbers=False)  # numbers: the domain's models name the field and its range
    if problem is not None:
        raise ValueError(str(problem))
    return value


def _time(value: datetime) -> datetime:
    why = datetime_problem(value)
    if why is not None:
        raise ValueError(f"value {why}")
    return value


StoredTime = Annotated[AwareDatetime, AfterValidator(_time)]
"""A time with a UTC offset that stays inside the years 1–9999 in UTC."""
StoredText = Annotated[str, AfterValidator(_text)]
"""Text without NUL or lone surrogates."""
StoredDocument = Annotated[dict[str, Any], AfterValidator(_json), Body()]
"""A JSON object body whose every key and string PostgreSQL can store (numbers are the domain models' to check)."""
