"""Text that may go into a CAP document: XML 1.0 characters only (no NUL, no C0 controls other than tab and line
breaks, no lone surrogates, no U+FFFE/U+FFFF), trimmed, within a length. Used as pydantic ``Annotated`` types so a
refusal names the field and the value."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_LINE_BREAKS = re.compile("[\r\n\t\u2028\u2029]")


def xml_text(value: str) -> str:
    """Multi-line text for CAP: every character XML 1.0 allows."""
    bad = _NOT_XML.search(value)
    if bad is not None:
        raise ValueError(f"contains the character U+{ord(bad.group()):04X}, which XML 1.0 cannot carry")
    text = value.strip()
    if not text:
        raise ValueError("must not be empty")
    return text


def xml_line(value: str) -> str:
    """One line of CAP text (headline, event): no line breaks or tabs either."""
    text = xml_text(value)
    if _LINE_BREAKS.search(text):
        raise ValueError("must be one line (no line breaks or tabs)")
    return text


# The same rules as JSON Schema patterns, for the OpenAPI document (checked against the functions above in
# tests/warnings/test_text_patterns.py): whitespace spelled out as ``str.strip`` sees it (engines differ on ``\s``).
_WIDE_SPACE = r"\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_XML_CHAR = r"[^\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]"
_SHOWN = rf"[^\x00-\x20{_WIDE_SPACE}\ufffe\uffff]"  # an XML character that is not whitespace
_EDGE = rf"[\t\n\r {_WIDE_SPACE}]"  # whitespace XML can carry
_IN_LINE = r"[^\x00-\x1f\u2028\u2029\ufffe\uffff]"  # an XML character that breaks no line
TEXT_PATTERN = rf"^{_XML_CHAR}*{_SHOWN}{_XML_CHAR}*$"
"""``xml_text``: XML 1.0 characters, at least one of them not whitespace."""
LINE_PATTERN = rf"^{_EDGE}*{_SHOWN}(?:{_IN_LINE}*{_SHOWN})?{_EDGE}*$"
"""``xml_line``: the same, and no line break or tab between the first and the last character shown."""
_TEXT = Field(json_schema_extra={"pattern": TEXT_PATTERN})
_LINE = Field(json_schema_extra={"pattern": LINE_PATTERN})

Line = Annotated[str, StringConstraints(max_length=160), AfterValidator(xml_line), _LINE]
ShortLine = Annotated[str, StringConstraints(max_length=80), AfterValidator(xml_line), _LINE]
Paragraphs = Annotated[str, StringConstraints(max_length=4000), AfterValidator(xml_text), _TEXT]
Note = Annotated[str, StringConstraints(max_length=1000), AfterValidator(xml_text), _TEXT]
ParamText = Annotated[str, StringConstraints(max_length=200), AfterValidator(xml_line), _LINE]
