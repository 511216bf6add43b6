"""``ops-center wards ...``: import with its validation report, list, validity, crosswalk, ensure-demo."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import main
from geo import store
from ops_center.db import Conn
from tests.conftest import Stack
from tests.geo.dbsupport import camau, grid_set, uid  # noqa: F401

pytestmark = pytest.mark.usefixtures("camau")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(["wards", *argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_import_prints_the_validation_report_with_counts(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                         db: Conn) -> None:
    name, fam = uid("cli"), uid("fam")
    path = grid_set(tmp_path / "xã thử.geojson", 3)
    rc, out, err = run(capsys, "import", str(path), "--set", name, "--level", "ward", "--valid-from", "2001-01-01",
                       "--family", fam, "--description", "Bộ thử")
    assert rc == 0, err
    assert f"imported {name}/ward: 9 units (replaced 0)" in out
    assert "xã thử.geojson: 9 features" in out
    for line in ("features in file               9", "duplicate codes                0", "overlapping pairs", "gaps",
                 "total area"):
        assert line in out
    rc, out, _ = run(capsys, "import", str(path), "--set", name, "--level", "ward", "--valid-from", "2001-01-01",
                     "--family", fam)
    assert rc == 0 and "(replaced 9)" in out
    info = store.get_set(db, name)
    assert info is not None and info.description == "Bộ thử" and info.family == fam
    # a second set of the family must not overlap the first
    rc, _, err = run(capsys, "import", str(path), "--set", uid("cli"), "--level", "ward", "--valid-from",
                     "2020-01-01", "--family", fam)
    assert rc == 1 and "overlaps set" in err and "set-validity" in err
    rc, out, _ = run(capsys, "set-validity", name, "--valid-to", "2019-12-31")
    assert rc == 0 and "2001-01-01 .. 2019-12-31" in out
    other = uid("cli")
    rc, _, err = run(capsys, "import", str(path), "--set", other, "--level", "ward", "--valid-from", "2020-01-01",
                     "--family", fam)
    assert rc == 0, err
    rc, out, _ = run(capsys, "crosswalk", "--from", name, "--to", other)
    assert rc == 0 and ": 9 pairs;" in out and "uncovered share 0.0" in out
    for n in (name, other):
        store.delete_set(db, n)


def test_import_refuses_broken_and_duplicate_files(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    broken = tmp_path / "hỏng.geojson"
    broken.write_text('{"type": "FeatureCollection", "features": [', encoding="utf-8")
    rc, _, err = run(capsys, "import", str(broken), "--set", uid("cli"), "--level", "ward", "--valid-from",
                     "2001-01-01", "--family", uid("fam"))
    assert rc == 1 and "hỏng.geojson" in err
    dup = grid_set(tmp_path / "dup.geojson", 2)
    dup.write_text(dup.read_text(encoding="utf-8").replace('"G01"', '"G00"'), encoding="utf-8")
    rc, out, err = run(capsys, "import", str(dup), "--set", uid("cli"), "--level", "ward", "--valid-from",
                       "2001-01-01", "--family", uid("fam"))
    assert rc == 1 and "duplicate code(s) 'G00' (2 features)" in err
    assert "validation report (refused)" in out and "duplicate codes                1" in out
    rc, _, err = run(capsys, "import", str(dup), "--set", "Bad Name", "--level", "ward", "--valid-from",
                     "2001-01-01")
    assert rc == 1 and "set: 'Bad Name'" in err
    rc, _, err = run(capsys, "import", str(tmp_path / "missing.gpkg"), "--set", uid("cli"), "--level", "ward",
                     "--valid-from", "2001-01-01")
    assert rc == 1 and "does not exist" in err
    rc, _, err = run(capsys, "import", str(dup), "--set", uid("cli"), "--level", "ward", "--valid-from",
                     "2001-01-01", "--code-field", "ma_xa")
    assert rc == 1 and "code_field 'ma_xa' is not a field" in err
    with pytest.raises(SystemExit):
        main(["wards", "import", str(dup), "--set", "x", "--level", "ward", "--valid-from", "first of May"])
    assert "is not a date" in capsys.readouterr().err


def test_list_and_ensure_demo(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "list")
    assert rc == 0
    line19 = next(li for li in out.splitlines() if li.startswith("camau-2019 "))
    line25 = next(li for li in out.splitlines() if li.startswith("camau-2025 "))
    assert "2025-06-30" in line19 and "101 wards" in line19 and "9 districts" in line19
    assert line25.endswith("*") and "64 wards" in line25
    rc, out, _ = run(capsys, "ensure-demo")
    assert rc == 0 and "boundary sets up to date" in out
    rc, _, err = run(capsys, "ensure-demo", "--data-dir", "/nonexistent")
    assert rc == 1 and "data_dir" in err


def test_the_installed_command_runs_ensure_demo(stack: Stack) -> None:
    exe = Path(sys.executable).with_name("ops-center")
    proc = subprocess.run([str(exe), "wards", "ensure-demo"], env=stack.env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "up to date" in proc.stdout
