"""mypy in strict mode over ``app`` and the five packages is part of the suite (#12): zero errors, and the strict
switch stays on in pyproject.toml (a test that could pass with the switch turned off would prove nothing)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_strict_is_on_for_every_package() -> None:
    mypy = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]
    assert mypy["strict"] is True
    assert {"app", "api", "ingest", "alerts", "geo", "ops_center"} <= set(mypy["packages"])


def test_mypy_strict_reports_no_error() -> None:
    run = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental"], cwd=REPO, capture_output=True,
                         text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-2000:]
    assert "Success: no issues found" in run.stdout
