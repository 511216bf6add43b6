"""What PostgreSQL cannot store in ``text`` or ``jsonb``: NUL (also written ``\\u0000`` in JSON or ``\\0`` in YAML)
and lone UTF-16 surrogates (JSON's ``"\\ud800"``). Pure: used to refuse such documents before any write."""

from __future__ import annotations


def unstorable(value: object, path: str = "body") -> tuple[str, str, str] | None:
    """The first place in a parsed JSON/YAML document holding a string PostgreSQL cannot store, keys included:
    ``(path, reason, the string)``; None when the whole document can be stored."""
    if isinstance(value, str):
        if "\x00" in value:
            return path, f"must not contain the control character NUL (U+0000 at position {value.index(chr(0))})", value
        if any("\ud800" <= c <= "\udfff" for c in value):
            return path, "must not contain a lone UTF-16 surrogate (not valid unicode)", value
        return None
    items: list[tuple[str, object]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if (found := unstorable(key, f"{path}.{key!r}")) is not None:
                return found[0], f"key {found[1]}", found[2]
            items.append((f"{path}.{key}", item))
    elif isinstance(value, list):
        items = [(f"{path}[{i}]", item) for i, item in enumerate(value)]
    for where, item in items:
        if (found := unstorable(item, where)) is not None:
            return found
    return None
