"""``make national-demo``: the four-instance federation on this machine, left running — the national instance and
Cà Mau (96, with its broker, ingest and the device simulator), Cần Thơ (92) and Hà Nội (01) from generated data;
each with its own database (``ops_demo_<name>``, kept between runs), Redis, API port, Celery worker and beat.
``make national-down`` stops it (``make down`` too). Logs and pid files: ``.run/national-demo/<instance>/``.

    .venv/bin/python scripts/national_demo.py up [--screenshot docs/screenshots/national.png] [--fresh]
    .venv/bin/python scripts/national_demo.py down
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ["OPS_ENV_FILE"] = "/dev/null"
RUN = REPO / ".run" / "national-demo"


def down() -> int:
    pids = sorted(RUN.rglob("*.pid")) if RUN.exists() else []
    for pidf in pids:
        try:
            pid = int(pidf.read_text().strip())
        except (OSError, ValueError):
            continue
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, sig) if os.getpgid(pid) == pid else os.kill(pid, sig)
            for _ in range(50):
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.1)
            else:
                continue
            break
        pidf.unlink(missing_ok=True)
        print(f"stopped {pidf.parent.name}/{pidf.stem} ({pid})")
    return 0


def up(args: argparse.Namespace) -> int:
    from tests.support import deployment as d

    down()
    RUN.mkdir(parents=True, exist_ok=True)
    timing = d.Timing(tick_s=5.0, publish_s=60.0, retry_base_s=2.0, retry_max_s=30.0, lease_s=30.0)
    os.environ.update({"OPS_ENV": "dev", "OPS_JWT_SECRET": "national-demo-only-" + "x" * 16})
    urls = {s.name: d._database(f"ops_demo_{s.name}", fresh=args.fresh) for s in d.PROVINCES}
    dep = d.Deployment(RUN, timing)
    try:
        d.bring_up(dep, urls)
    except Exception:
        d.tear_down(dep)
        raise
    print("waiting for the first snapshots …", flush=True)
    from ops_center.db import connect

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with connect(dep.national.db_url) as conn:
            n = conn.execute("SELECT count(DISTINCT province) FROM federation_snapshots").fetchone()
        if n and n[0] == 3:
            break
        time.sleep(2)
    if args.screenshot:
        from scripts.national_screenshot import capture

        time.sleep(3)
        print(capture(dep.national.url, "admin", dep.admin_password, Path(args.screenshot)))
    print(f"""
  national screen:   {dep.national.url}/national      admin / {dep.admin_password}
                     (.run/national-demo/national/admin-credentials)""")
    for inst in dep.provinces():
        print(f"  {inst.spec.name:<8} ({inst.spec.code}):     {inst.url}   database {inst.db_url.rsplit('/', 1)[1]}")
    print("  stop everything:   make national-down\n")
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    u = sub.add_parser("up")
    u.add_argument("--screenshot", help="save the national screen to this PNG once data has arrived")
    u.add_argument("--fresh", action="store_true", help="drop and recreate the demo databases")
    sub.add_parser("down")
    args = p.parse_args()
    return up(args) if args.command == "up" else down()


if __name__ == "__main__":
    sys.exit(main())
