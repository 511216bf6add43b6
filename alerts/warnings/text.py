"""Text that may go into a CAP document: XML 1.0 characters only (no NUL, no C0 controls other than tab and line
breaks, no lone surrogates, no U+FFFE/U+FFFF), trimmed, within a length. Used as pydantic ``Annotated`` types so a
refusal names the field and the value."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, StringConstraints

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


Line = Annotated[str, StringConstraints(max_length=160), AfterValidator(xml_line)]
ShortLine = Annotated[str, StringConstraints(max_length=80), AfterValidator(xml_line)]
Paragraphs = Annotated[str, StringConstraints(max_length=4000), AfterValidator(xml_text)]
Note = Annotated[str, StringConstraints(max_length=1000), AfterValidator(xml_text)]
ParamText = Annotated[str, StringConstraints(max_length=200), AfterValidator(xml_line)]
