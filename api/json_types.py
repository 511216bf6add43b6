"""Body field types that accept exactly what their JSON Schema says.

pydantic's lax mode turns ``"5"`` into 5 and ``0`` into False: a body the OpenAPI document calls invalid was
accepted. Its strict mode refuses ``604800.0`` for an integer, which JSON Schema calls an integer. These types sit
in between: the JSON types only, as JSON Schema reads them.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field


def _json_integer(value: object) -> object:
    """An int, or a float with no fractional part (JSON Schema's integer); never a bool or a string."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected an integer, got {type(value).__name__} {str(value)[:60]!r}")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"expected an integer, got {value!r}")
        return int(value)
    return value


JSON_INT = BeforeValidator(_json_integer)
"""An integer as JSON Schema means it (``5`` and ``5.0``): ``Annotated[int, Field(ge=1, le=9), JSON_INT]`` — the
bounds before it, or pydantic cannot put them in the JSON Schema."""
JsonBool = Annotated[bool, Field(strict=True)]
"""``true`` or ``false`` only (not ``0``, ``"yes"``)."""


_ISO_DAY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _iso_text(value: object) -> object:
    """ISO 8601 text (or a date already parsed); pydantic alone also takes ``5`` as a Unix time."""
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _ISO_DAY.match(value):
        raise ValueError(f"expected an ISO 8601 date or date-time (e.g. 2025-07-01T08:00:00+07:00), "
                         f"got {str(value)[:60]!r}")
    return value


def _plausible(value: date) -> date:
    """A day between 1900 and 2199: the years this system can mean (a year 1 or 9999 overflowed the arithmetic of
    local days and hours — found by schemathesis on /map/summary)."""
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"year {value.year} is outside {FIRST_YEAR}-{LAST_YEAR}")
    return value


FIRST_YEAR, LAST_YEAR = 1900, 2199
ISO_TEXT = BeforeValidator(_iso_text)
PLAUSIBLE = AfterValidator(_plausible)
YEARS = Field(json_schema_extra={"pattern": "^(19|20|21)[0-9]{2}-"})
IsoDateTime = Annotated[datetime, ISO_TEXT, PLAUSIBLE, YEARS]
IsoAwareDateTime = Annotated[AwareDatetime, ISO_TEXT, PLAUSIBLE, YEARS]
IsoDate = Annotated[date, ISO_TEXT, PLAUSIBLE, YEARS]
IsoDate2000To2100 = Annotated[date, ISO_TEXT, PLAUSIBLE, Field(json_schema_extra={"pattern": "^(20[0-9]{2}|2100)-"})]
"""A day of the years 2000-2100, where the e-government figures live (the route or the service refuses the rest,
naming the field)."""
