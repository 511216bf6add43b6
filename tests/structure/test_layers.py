"""The layering (docs/architecture.md, top): the import contracts in pyproject.toml hold (import-linter, also run by
``make lint`` and before pytest by ``make test``), and the core names no package above it — no import, and no string
that spells one of their modules (a lazy ``importlib`` or Celery ``include`` by name would hide the dependency)."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CORE = "ops_center"
ABOVE_CORE = ("app", "api", "ingest", "alerts", "geo")
MODULE_PATH = re.compile(rf"^({'|'.join(ABOVE_CORE)})(\.[A-Za-z_]\w*)+(:\w+)?$")


def _docstrings(tree: ast.AST) -> set[int]:
    owners = [n for n in ast.walk(tree) if isinstance(n, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)]
    return {id(n.body[0].value) for n in owners
            if n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}


def _names_above(source: str) -> list[str]:
    """The packages above the core that ``source`` imports or spells as a module path (docstrings aside)."""
    tree = ast.parse(source)
    docs = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] in ABOVE_CORE]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] in ABOVE_CORE:
                found.append(node.module)
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs
              and MODULE_PATH.match(node.value)):
            found.append(repr(node.value))
    return found


def test_the_core_names_no_package_above_it() -> None:
    found = [f"{path.relative_to(REPO)}: {name}" for path in sorted((REPO / CORE).rglob("*.py"))
             for name in _names_above(path.read_text())]
    assert not found, f"the core names a package above it: {found}"


def test_the_check_sees_imports_and_lookups_by_name() -> None:
    source = ('"""Docstrings may point at ``alerts.stream``."""\nimport importlib\nfrom geo import service\n\n'
              'def f():\n    return importlib.import_module("alerts.stream"), "alerts", "app.cli:main"\n')
    assert sorted(_names_above(source)) == ["'alerts.stream'", "'app.cli:main'", "geo"]


def test_import_contracts_hold() -> None:
    lint = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run([str(lint), "--no-logo", "--no-cache"], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
