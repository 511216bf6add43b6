// Charts with uPlot (vendored: /static/vendor/uplot, loaded by a classic <script> before the modules; see
// docs/charts.md): a band chart (min–max band, mean line, alert thresholds) and a two-year comparison chart.
// Each chart sits in a <figure> whose aria-label says what it shows; the canvas itself is decoration.

import { fmtNumber, getLang, t } from "./i18n.js";

const U = globalThis.uPlot;
const TZ = "Asia/Ho_Chi_Minh";
const AXIS = { stroke: "#c9d6e3", grid: { stroke: "rgba(147,166,191,.18)" }, ticks: { stroke: "rgba(147,166,191,.3)" } };
const COUNT_INCRS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6];
const SEVERITY = { critical: "#ff4d6d", major: "#ff8c42", minor: "#f2c14e", info: "#5fa8ff" };

function tzDate(ts) {
  return U.tzDate(new Date(ts * 1e3), TZ);
}

/** Columns with a null after each gap longer than ``gapS`` seconds, so lines do not bridge missing data. */
export function withGaps(s, intervalS, gapS = 1.5 * intervalS) {
  const out = { t: [], min: [], max: [], mean: [] };
  for (let i = 0; i < s.t.length; i += 1) {
    if (i && s.t[i] - s.t[i - 1] > gapS) {
      out.t.push(s.t[i - 1] + intervalS);
      out.min.push(null); out.max.push(null); out.mean.push(null);
    }
    out.t.push(s.t[i]); out.min.push(s.min[i]); out.max.push(s.max[i]); out.mean.push(s.mean[i]);
  }
  return out;
}

/** Keep the chart as wide as its figure (grids reflow when charts are added or the window changes). */
function follow(figure, plot, height) {
  let last = 0;
  new ResizeObserver(() => {
    const w = Math.max(figure.clientWidth - 18, 240);
    if (Math.abs(w - last) > 2) { last = w; plot.setSize({ width: w, height }); }
  }).observe(figure);
}

function drawThresholds(u, thresholds) {
  const { ctx, bbox } = u;
  ctx.save();
  ctx.setLineDash([6, 4]);
  ctx.lineWidth = 1.5 * devicePixelRatio;
  ctx.font = `${11 * devicePixelRatio}px "DejaVu Sans", sans-serif`;
  for (const th of thresholds) {
    const y = u.valToPos(th.value, "y", true);
    if (y < bbox.top || y > bbox.top + bbox.height) continue;
    ctx.strokeStyle = SEVERITY[th.severity] || SEVERITY.major;
    ctx.fillStyle = ctx.strokeStyle;
    ctx.beginPath();
    ctx.moveTo(bbox.left, y);
    ctx.lineTo(bbox.left + bbox.width, y);
    ctx.stroke();
    ctx.fillText(`${th.operator} ${fmtNumber(th.value, 2)}`, bbox.left + 6 * devicePixelRatio, y - 4 * devicePixelRatio);
  }
  ctx.restore();
}

/**
 * A min–max band with its mean over time in ``figure`` (an element), with threshold lines.
 * ``update(series, intervalS)`` takes one metric of the API's chart answer.
 */
export function bandChart(figure, { thresholds = [], height = 230, unit = "" } = {}) {
  const holder = document.createElement("div");
  holder.className = "chart-canvas";
  holder.setAttribute("aria-hidden", "true");
  figure.append(holder);
  const opts = {
    width: Math.max(figure.clientWidth - 8, 300), height, tzDate,
    legend: { show: true, live: false },
    scales: { x: { time: true }, y: { range: (u, lo, hi) => yRange(lo, hi, thresholds) } },
    axes: [{ ...AXIS }, { ...AXIS, size: 56, label: unit, labelSize: 16 }],
    series: [
      { label: "" },
      { label: t("chart_min"), stroke: "rgba(93,173,236,.55)", width: 1, points: { show: false } },
      { label: t("chart_max"), stroke: "rgba(93,173,236,.55)", width: 1, points: { show: false } },
      { label: t("chart_mean"), stroke: "#5dadec", width: 2 },
    ],
    bands: [{ series: [2, 1], fill: "rgba(93,173,236,.2)" }],
    hooks: { draw: [(u) => drawThresholds(u, thresholds)] },
  };
  const plot = new U(opts, [[], [], [], []], holder);
  follow(figure, plot, height);
  const state = { points: 0, last: null };
  return {
    plot,
    /** ``reportS``: how often the devices report; buckets may be finer, which is no gap in the data. */
    update(series, intervalS, reportS = 0) {
      const s = withGaps(series, intervalS, Math.max(1.5 * intervalS, 2.5 * reportS));
      plot.setData([s.t, s.min, s.max, s.mean]);
      state.points = series.t.length;
      state.last = series.t.length ? { t: series.t.at(-1), min: series.min.at(-1), max: series.max.at(-1), mean: series.mean.at(-1) } : null;
      figure.dataset.points = String(state.points);
      figure.dataset.last = state.last ? JSON.stringify(state.last) : "";
    },
    setThresholds(list) { thresholds = list; plot.redraw(); },
    resize() { plot.setSize({ width: Math.max(figure.clientWidth - 8, 300), height }); },
    get state() { return state; },
  };
}

function yRange(lo, hi, thresholds) {
  let a = lo;
  let b = hi;
  for (const th of thresholds) {
    if (a === null || th.value < a) a = th.value;
    if (b === null || th.value > b) b = th.value;
  }
  if (a === null || b === null) return [0, 1];
  if (a === b) return [a - 1, b + 1];
  const pad = (b - a) * 0.08;
  return [a - pad, b + pad];
}

/** This period against the same months a year earlier: ``labels`` (months), ``current`` and ``previous``. */
export function compareChart(figure, { height = 200, percent = false } = {}) {
  const holder = document.createElement("div");
  holder.className = "chart-canvas";
  holder.setAttribute("aria-hidden", "true");
  figure.append(holder);
  let labels = [];
  const fmt = (v) => (v === null || v === undefined ? "–" : percent ? `${fmtNumber(v * 100, 1)} %` : fmtNumber(v));
  const opts = {
    width: Math.max(figure.clientWidth - 8, 280), height,
    legend: { show: true, live: false },
    scales: { x: { time: false }, y: { range: (u, lo, hi) => [Math.min(0, lo ?? 0), (hi ?? 1) * 1.1 || 1] } },
    axes: [{ ...AXIS, space: 46, incrs: [1, 2, 3, 6, 12], values: (u, splits) => splits.map((i) => labels[i] ?? "") },
      { ...AXIS, size: 60, values: (u, splits) => splits.map(fmt), ...(percent ? {} : { incrs: COUNT_INCRS }) }],
    series: [
      { label: "" },
      { label: t("this_period"), stroke: "#5dadec", width: 2.5, points: { size: 6 } },
      { label: t("year_earlier"), stroke: "#c9a227", width: 2, dash: [6, 4], points: { size: 5 } },
    ],
  };
  const plot = new U(opts, [[], [], []], holder);
  follow(figure, plot, height);
  return {
    plot,
    update(monthLabels, current, previous) {
      labels = monthLabels;
      plot.setData([monthLabels.map((_, i) => i), current, previous]);
      figure.dataset.current = JSON.stringify(current);
      figure.dataset.previous = JSON.stringify(previous);
    },
    resize() { plot.setSize({ width: Math.max(figure.clientWidth - 8, 280), height }); },
  };
}

/** A short month label for an axis in the chosen language: "03/19" or "Mar 19". */
export function monthLabel(ym) {
  const [y, m] = ym.split("-").map(Number);
  if (getLang() === "vi") return `${String(m).padStart(2, "0")}/${String(y).slice(2)}`;
  return new Intl.DateTimeFormat("en-GB", { month: "short", year: "2-digit", timeZone: "UTC" })
    .format(new Date(Date.UTC(y, m - 1, 1)));
}
