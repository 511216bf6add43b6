"""Accent-free folding for search: operators type "ca mau" and expect "Cà Mau"; "duong" should find "Đường"."""

from __future__ import annotations

import unicodedata

_EXTRA = str.maketrans({"đ": "d", "Đ": "d", "ð": "d", "ø": "o", "ł": "l", "ß": "ss"})


def fold(text: str) -> str:
    """Lower-case ``text`` without diacritics (NFD, combining marks dropped, ``đ`` → ``d``), spaces collapsed."""
    decomposed = unicodedata.normalize("NFD", text.translate(_EXTRA))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.casefold().split())


def like_pattern(text: str) -> str:
    """``%text%`` for ``LIKE``/``ILIKE`` with the wildcards ``%``, ``_`` and the escape ``\\`` taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
