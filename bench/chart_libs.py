"""Benchmark: which chart library draws our charts fastest — uPlot (ours, pinned in tools/web) against Chart.js
and ECharts (fetched with ``npm pack`` into a cache folder for this comparison only).

In Debian's Chromium (Playwright), each library draws the device chart's shape — a min–max band and a mean line —
for 720 buckets (30 days of hourly rollups: what the screens draw) and for 43,200 points (30 days of one-minute
raw readings: the worst case), ``--runs`` times after a warm-up, each into a fresh canvas. The time is from the
constructor call to the end of the next animation frame (animations off). Printed with the libraries' file sizes
(minified, gzip -9) and written to ``bench/results/chart_libs.json``. See docs/charts.md.

Run: ``.venv/bin/python bench/chart_libs.py [--runs 20]`` (needs npm and /usr/bin/chromium).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import statistics
import subprocess
import sys
import tarfile
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "chart_libs.json"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ops-center-bench-charts"
OTHERS = {"chart.js": ("4.6.2", "package/dist/chart.umd.min.js"), "echarts": ("6.1.0", "package/dist/echarts.min.js")}
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]

DRAW = {
    "uplot": """(el, d) => { const u = new uPlot({width: 1200, height: 300, scales: {x: {time: true}},
        series: [{}, {stroke: '#5dadec'}, {stroke: '#5dadec'}, {stroke: '#5dadec', width: 2}],
        bands: [{series: [2, 1], fill: 'rgba(93,173,236,.2)'}]}, [d.t, d.min, d.max, d.mean], el); return u; }""",
    "chart.js": """(el, d) => { const c = document.createElement('canvas'); c.width = 1200; c.height = 300; el.append(c);
        const pts = (ys) => d.t.map((x, i) => ({x, y: ys[i]}));
        return new Chart(c, {type: 'line', data: {datasets: [
            {data: pts(d.min), pointRadius: 0, borderWidth: 1},
            {data: pts(d.max), pointRadius: 0, borderWidth: 1, fill: '-1', backgroundColor: 'rgba(93,173,236,.2)'},
            {data: pts(d.mean), pointRadius: 0, borderWidth: 2}]},
          options: {animation: false, responsive: false, parsing: false, normalized: true,
                    scales: {x: {type: 'linear'}}, plugins: {legend: {display: false}}}}); }""",
    "echarts": """(el, d) => { el.style.width = '1200px'; el.style.height = '300px';
        const c = echarts.init(el, null, {renderer: 'canvas'});
        const pts = (ys) => d.t.map((x, i) => [x, ys[i]]);
        c.setOption({animation: false, xAxis: {type: 'value', min: 'dataMin'}, yAxis: {type: 'value', scale: true},
          series: [{type: 'line', data: pts(d.min), showSymbol: false, stack: 'b', lineStyle: {width: 1}},
                   {type: 'line', data: pts(d.max.map((v, i) => v - d.min[i])), showSymbol: false, stack: 'b',
                    areaStyle: {color: 'rgba(93,173,236,.2)'}, lineStyle: {width: 1}},
                   {type: 'line', data: pts(d.mean), showSymbol: false}]}); return c; }""",
}


def fetch(name: str, version: str, member: str) -> Path:
    """The library's built file from its npm package (``npm pack``), cached."""
    out = CACHE / f"{name}-{version}.js"
    if not out.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        tgz = subprocess.run(["npm", "pack", f"{name}@{version}", "--silent"], cwd=CACHE, check=True,
                             capture_output=True, text=True).stdout.strip().splitlines()[-1]
        with tarfile.open(CACHE / tgz) as tar:
            fh = tar.extractfile(member)
            assert fh is not None
            out.write_bytes(fh.read())
    return out


def series(n: int) -> dict[str, list[float]]:
    t0 = 1_750_000_000
    step = 30 * 86400 / n
    mean = [5 + 3 * ((i % 720) / 720) for i in range(n)]
    return {"t": [t0 + i * step for i in range(n)], "mean": mean, "min": [m - 0.5 for m in mean],
            "max": [m + 0.7 for m in mean]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    modules = Path(subprocess.run(["bash", str(REPO / "scripts" / "web-deps.sh")], check=True, capture_output=True,
                                  text=True).stdout.strip().splitlines()[-1])
    files = {"uplot": modules / "uplot" / "dist" / "uPlot.iife.min.js"}
    files.update({name: fetch(name, v, m) for name, (v, m) in OTHERS.items()})
    sizes = {name: {"bytes": p.stat().st_size, "gzip_bytes": len(gzip.compress(p.read_bytes(), 9))}
             for name, p in files.items()}
    from playwright.sync_api import sync_playwright

    timings: dict[str, dict[str, dict[str, float]]] = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for name, path in files.items():
            page = browser.new_page(viewport={"width": 1300, "height": 400})
            page.set_content("<div id='box'></div>")
            page.add_script_tag(path=str(path))
            timings[name] = {}
            for n in (720, 43_200):
                samples = page.evaluate(f"""async ([data, runs]) => {{
                    const draw = {DRAW[name]};
                    const out = [];
                    for (let i = 0; i < runs + 3; i += 1) {{
                        const el = document.createElement('div');
                        document.getElementById('box').replaceChildren(el);
                        const t0 = performance.now();
                        const c = draw(el, data);
                        await new Promise((r) => requestAnimationFrame(() => r()));
                        if (i >= 3) out.push(performance.now() - t0);
                        if (c.destroy) c.destroy(); else if (c.dispose) c.dispose();
                    }}
                    return out; }}""", [series(n), args.runs])
                s = sorted(samples)
                timings[name][str(n)] = {"p50_ms": round(statistics.median(s), 1),
                                         "p95_ms": round(s[int(0.95 * (len(s) - 1))], 1)}
            page.close()
        browser.close()
    result = {"benchmark": "chart_libs", "when": datetime.now(UTC).isoformat(), "host": platform.node(),
              "cpus": os.cpu_count(), "runs": args.runs, "sizes": sizes, "draw": timings,
              "versions": {"uplot": json.loads((modules / "uplot" / "package.json").read_text())["version"],
                           **{k: v[0] for k, v in OTHERS.items()}}}
    print(json.dumps(result, indent=1))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
