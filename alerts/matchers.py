"""Label matchers, Alertmanager style: ``name op value`` with ``=``, ``!=``, ``=~`` and ``!~``.

A missing label reads as the empty string; regular expressions are anchored at both ends (``fullmatch``).
Used by silences and inhibition rules.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

LABEL_NAME = r"^[a-z_][a-z0-9_]{0,31}$"
Op = Literal["=", "!=", "=~", "!~"]
MAX_MATCHERS = 20


@lru_cache(maxsize=1024)
def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


class Matcher(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=LABEL_NAME)
    op: Op = "="
    value: str = Field(default="", max_length=200)

    @model_validator(mode="after")
    def _regex_compiles(self) -> Matcher:
        if self.op in ("=~", "!~"):
            try:
                _compile(self.value)
            except re.error as exc:
                raise ValueError(f"value: {self.value!r} is not a valid regular expression ({exc})") from exc
        return self

    def matches(self, labels: Mapping[str, Any]) -> bool:
        raw = labels.get(self.name)
        actual = "" if raw is None else str(raw)
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        hit = _compile(self.value).fullmatch(actual) is not None
        return hit if self.op == "=~" else not hit

    def __str__(self) -> str:
        return f'{self.name}{self.op}"{self.value}"'


def match_all(matchers: Sequence[Matcher], labels: Mapping[str, Any]) -> bool:
    return all(m.matches(labels) for m in matchers)


def parse_matchers(raw: Any) -> list[Matcher]:
    """Matchers from stored JSON (a list of objects) — the stored form is validated on write."""
    return [Matcher.model_validate(m) for m in (raw or [])]


def describe(matchers: Sequence[Matcher]) -> str:
    return "{" + ", ".join(str(m) for m in matchers) + "}"
