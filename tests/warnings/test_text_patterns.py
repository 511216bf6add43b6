"""The JSON Schema patterns of warning texts (``TEXT_PATTERN``, ``LINE_PATTERN``) say what ``xml_text`` and
``xml_line`` accept: the OpenAPI document tells clients the rule the code applies, no more, no less — read both by
Python's regular expressions and by the validator schemathesis uses (jsonschema_rs, ECMA 262 semantics)."""

from __future__ import annotations

import re

import jsonschema_rs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.warnings.text import LINE_PATTERN, TEXT_PATTERN, xml_line, xml_text

TRICKY = "\x00\x01\x08\t\n\x0b\x0c\r\x1c\x1f \x7f\x85\xa0\u1680\u2000\u200b\u2028\u2029\u3000\ufeff\ufffe\uffffaé"
TEXTS = st.text(alphabet=st.sampled_from(TRICKY), max_size=6) | st.text(max_size=12)
CASES = ["", " ", "\n", "a", " a ", "\ta\n", "a\nb", "a\tb", "a b", "\xa0", "\x85a", "a\x1c", "\x0ca", "a\ufffe",
         "\u2028a\u2029", "a\u2028b", "\u200b"]


PAIRS = [(re.compile(TEXT_PATTERN), jsonschema_rs.validator_for({"type": "string", "pattern": TEXT_PATTERN}), xml_text),
         (re.compile(LINE_PATTERN), jsonschema_rs.validator_for({"type": "string", "pattern": LINE_PATTERN}), xml_line)]


def _agree(value: str) -> None:
    for python, ecma, check in PAIRS:
        try:
            check(value)
            accepted = True
        except ValueError:
            accepted = False
        assert (python.search(value) is not None) == accepted, (check.__name__, value)
        assert ecma.is_valid(value) == accepted, (check.__name__, value)


@pytest.mark.parametrize("value", CASES)
def test_pattern_says_what_the_check_accepts(value: str) -> None:
    _agree(value)


@settings(max_examples=500, deadline=None)
@given(TEXTS)
def test_pattern_and_check_agree_on_any_text(value: str) -> None:
    _agree(value)
