"""Which tables the migrations create, and where the Python code names them in SQL.

- Tables come from the migrations (every flavour): ``CREATE [UNLOGGED] TABLE``, ``CREATE [MATERIALIZED] VIEW``.
- SQL is read from the string literals of the code, found with ``ast`` (f-strings count with their constant parts
  joined around a placeholder; docstrings are prose and do not count). The code writes SQL keywords in capitals, so a
  table is *named in SQL* where its name follows ``FROM``, ``JOIN``, ``INTO``, ``UPDATE``, ``TABLE``, ``TRUNCATE``,
  ``REFERENCES``, ``ONLY``, ``COPY``, ``USING`` or a comma after one of those relations; text inside SQL quotes
  (``to_regclass('boundary_units')``) and ``--`` comments is left out.
- A literal that is exactly the name of a table with an ``_`` in it (``"dossier_daily"``, passed to a function that
  puts it into SQL) counts too: one-word names (``"devices"``, ``"alerts"``) are live topics, layer names and JSON
  keys far more often than tables, so those are only found in SQL text; so are the names in ``NOT_BARE``.
- Not seen: a one-word table name passed as a value into an f-string (``f"UPDATE {table} ..."`` with
  ``table = "devices"``), and SQL glued from pieces with ``+`` where the keyword and the name are in different
  literals. Keep such code in the owner.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

CREATE_RE = re.compile(
    r"\bcreate\s+(?:unlogged\s+)?(?:materialized\s+view|view|table)\s+(?:if\s+not\s+exists\s+)?([a-z_][a-z0-9_]*)",
    re.IGNORECASE)
RELATION_RE = re.compile(
    r"\b(?:FROM|JOIN|INTO|UPDATE|TABLE|TRUNCATE|REFERENCES|ONLY|COPY|USING)\s+(?:IF\s+(?:NOT\s+)?EXISTS\s+)?"
    r"(?:ONLY\s+)?([a-z_][a-z0-9_]*)((?:\s+(?:AS\s+)?[a-z_][a-z0-9_]*)?(?:\s*,\s*[a-z_][a-z0-9_]*"
    r"(?:\s+(?:AS\s+)?[a-z_][a-z0-9_]*)?)*)")
LIST_ITEM_RE = re.compile(r",\s*([a-z_][a-z0-9_]*)")
WRITE_RE = re.compile(r"\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM|TRUNCATE(?:\s+TABLE)?|COPY)\s+(?:ONLY\s+)?"
                      r"([a-z_][a-z0-9_]*)")
QUOTED_RE = re.compile(r"'(?:[^']|'')*'")
COMMENT_RE = re.compile(r"--[^\n]*")
PLACEHOLDER = " ? "
NOT_BARE: dict[str, str] = {
    "device_status": "also the live feed's topic of device status changes",
    "device_kinds": "also the key of a category's device event kinds in its YAML file",
}


def migration_tables(migrations: Path) -> set[str]:
    """Every table, view and materialised view created by the SQL migrations (all flavours)."""
    names: set[str] = set()
    for path in sorted(migrations.glob("*.sql")):
        names |= {m.group(1).lower() for m in CREATE_RE.finditer(COMMENT_RE.sub("", path.read_text()))}
    return names


@dataclass(frozen=True)
class Mention:
    """``table`` named in SQL at ``path:line`` (``path`` relative to the repository); ``writes``: as the target of
    an INSERT, UPDATE, DELETE, TRUNCATE or COPY."""

    path: str
    line: int
    table: str
    writes: bool

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.table}{' (written)' if self.writes else ''}"


def _docstrings(tree: ast.AST) -> set[int]:
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
    return out


def literals(source: str) -> Iterator[tuple[int, str]]:
    """``(line, text)`` of every string literal but docstrings; an f-string is one literal, its fields ``?``."""
    tree = ast.parse(source)
    skip = _docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            skip |= {id(v) for v in node.values}
            yield node.lineno, "".join(v.value if isinstance(v, ast.Constant) and isinstance(v.value, str)
                                       else PLACEHOLDER for v in node.values)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            yield node.lineno, node.value


def tables_in_sql(text: str, tables: set[str]) -> Iterator[tuple[str, bool]]:
    """``(table, writes)`` for each table named in one literal."""
    if "_" in text and text in tables and text not in NOT_BARE:
        yield text, False
        return
    sql = QUOTED_RE.sub("''", COMMENT_RE.sub("", text))
    written = {m.group(1) for m in WRITE_RE.finditer(sql)}
    seen: set[str] = set()
    for m in RELATION_RE.finditer(sql):
        names = [m.group(1), *LIST_ITEM_RE.findall(m.group(2) or "")]
        for name in names:
            if name in tables and name not in seen:
                seen.add(name)
                yield name, name in written


def mentions(root: Path, packages: tuple[str, ...], tables: set[str],
             skip: tuple[str, ...] = ()) -> Iterator[Mention]:
    """Every table named in SQL in the Python files of ``packages`` (folders under ``root``), but under ``skip``."""
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            if rel.startswith(skip):
                continue
            for line, text in literals(path.read_text(encoding="utf-8")):
                for table, writes in tables_in_sql(text, tables):
                    yield Mention(rel, line, table, writes)
