// The device detail view: latest values, a chart per metric (min–max band and mean from the rollups, the alert
// thresholds that apply to the device), its alerts, incidents, status history and rejected messages. New readings
// arrive over /ws/live (this device only) and refresh the latest values and a chart that ends now.

import { metricLabel } from "./strings-views.js";
import { ApiError, api, debounce, el, qs, requireSession } from "./api.js";
import { bandChart } from "./charts.js";
import { initHeader, toast } from "./common.js";
import { fmtNumber, fmtTime, onLangChange, t } from "./i18n.js";
import { LiveFeed } from "./live.js";
import { csvButton, fillTable } from "./tables.js";

const session = await requireSession(); // stops here (login page) when signed out
const deviceId = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop());
const enc = encodeURIComponent(deviceId);
const $ = (id) => document.getElementById(id);
const state = { overview: null, range: "24h", custom: null, charts: new Map(), chart: null, lists: {} };

function kindLabel(o) {
  return document.documentElement.lang === "en" ? o.kind_label_en || o.device.kind : o.kind_label_vi || o.device.kind;
}

function renderHead() {
  const o = state.overview;
  if (!o) return;
  const d = o.device;
  $("dev-name").textContent = `${d.name} (${d.id})`;
  document.title = `${d.name} · ${t("device_page_title")}`;
  const ward = d.ward_code && d.ward_set
    ? el("a", { href: `/view/ward/${encodeURIComponent(d.ward_set)}/${encodeURIComponent(d.ward_code)}`, text: o.ward_name || d.ward_code })
    : null;
  $("dev-meta").replaceChildren(
    el("span", { class: `badge state-${o.state}`, text: t(`state_${o.state}`) }), " ",
    kindLabel(o), " · ", ...(ward ? [ward, " · "] : []),
    `${t("col_last_seen")}: ${d.last_seen ? fmtTime(d.last_seen, true) : t("none_yet")}`,
  );
}

function renderLatest() {
  const o = state.overview;
  if (!o) return;
  const tiles = o.latest.map((v) => el("div", { class: "tile small", dataset: { metric: v.metric } },
    el("div", { class: "tile-label", text: metricLabel(v.metric) }),
    el("div", { class: "tile-value", text: `${fmtNumber(v.value, 2)}${v.unit ? ` ${v.unit}` : ""}` }),
    el("div", { class: "tile-sub", text: fmtTime(v.time, true) })));
  $("latest").replaceChildren(...(tiles.length ? tiles : [el("p", { class: "empty", text: t("none_yet") })]));
}

function seriesParams() {
  if (state.range !== "custom") return { range: state.range };
  return { from: `${$("from").value}:00+07:00`, to: `${$("to").value}:00+07:00` };
}

function intervalText(s) {
  if (s % 86400 === 0) return `${s / 86400} ${t("days")}`;
  if (s % 3600 === 0) return `${s / 3600} ${t("hours")}`;
  return `${s / 60} ${t("minutes")}`;
}

function figureFor(series, thresholds) {
  let entry = state.charts.get(series.metric);
  if (!entry) {
    const caption = el("figcaption", {});
    const figure = el("figure", { class: "chart", dataset: { metric: series.metric } }, caption);
    $("charts").append(figure);
    entry = { figure, caption, chart: bandChart(figure, { thresholds, unit: series.unit || "" }) };
    state.charts.set(series.metric, entry);
  } else {
    entry.chart.setThresholds(thresholds);
  }
  return entry;
}

async function loadSeries() {
  try {
    const chart = await api.get(`/devices/${enc}/series${qs(seriesParams())}`);
    state.chart = chart;
    const th = state.overview?.thresholds || [];
    for (const s of chart.series) {
      const entry = figureFor(s, th.filter((x) => x.metric === s.metric));
      entry.chart.update(s, chart.interval_s, state.overview?.device.expected_interval_s ?? 0);
      const label = `${metricLabel(s.metric)}${s.unit ? ` (${s.unit})` : ""}`;
      entry.caption.textContent = `${label} — ${t("chart_band")} ${intervalText(chart.interval_s)} (${t(`source_${chart.source}`)})`
        + (s.t.length ? "" : ` — ${t("no_readings")}`);
      const means = s.mean;
      entry.figure.setAttribute("aria-label", s.t.length
        ? `${label}: ${s.t.length} · ${t("chart_min")} ${fmtNumber(Math.min(...s.min), 2)} · ${t("chart_max")} ${fmtNumber(Math.max(...s.max), 2)} · ${t("chart_mean")} ${fmtNumber(means.at(-1), 2)}`
        : `${label}: ${t("no_readings")}`);
    }
  } catch (err) {
    toast(`${t("charts")}: ${err.message}`);
  }
}
const refreshSeries = debounce(loadSeries, 800);

async function loadOverview() {
  try {
    state.overview = await api.get(`/devices/${enc}/overview`);
  } catch (err) {
    $("dev-name").textContent = err.status === 404 ? `${t("not_found")}: ${deviceId}` : `${t("error")}: ${err.message}`;
    return false;
  }
  renderHead();
  renderLatest();
  return true;
}

const LISTS = {
  alerts: {
    path: `/devices/${enc}/alerts`,
    columns: [
      { label: "col_time", value: (a) => fmtTime(a.starts_at, true), csv: (a) => a.starts_at },
      { label: "col_severity", value: (a) => t(`sev_${a.severity}`), csv: (a) => a.severity },
      { label: "col_summary", value: (a) => a.summary || a.rule_name, cls: "text" },
      { label: "col_state", value: (a) => t(`alert_${a.state}`), csv: (a) => a.state },
    ],
  },
  incidents: {
    path: `/devices/${enc}/incidents`,
    columns: [
      { label: "col_time", value: (i) => fmtTime(i.reported_at, true), csv: (i) => i.reported_at },
      { label: "col_title", value: (i) => i.title, cls: "text" },
      { label: "col_status", value: (i) => t(`st_${i.status}`), csv: (i) => i.status },
    ],
  },
  status: {
    path: `/devices/${enc}/status-history`,
    columns: [
      { label: "col_time", value: (s) => fmtTime(s.at, true), csv: (s) => s.at },
      { label: "col_state", value: (s) => t(`state_${s.state}`), csv: (s) => s.state },
      { label: "col_previous", value: (s) => (s.previous ? t(`state_${s.previous}`) : "–"), csv: (s) => s.previous ?? "" },
    ],
  },
  dead: {
    path: `/dead-letters${qs({ device: deviceId })}`,
    columns: [
      { label: "col_time", value: (d) => fmtTime(d.received_at, true), csv: (d) => d.received_at },
      { label: "col_reason", value: (d) => d.reason },
      { label: "col_detail", value: (d) => d.detail, cls: "text" },
    ],
  },
};

async function loadList(key) {
  const spec = LISTS[key];
  const table = $(key);
  try {
    const sep = spec.path.includes("?") ? "&" : "?";
    const page = await api.get(`${spec.path}${sep}limit=50`);
    fillTable(table, spec.columns, page.items);
  } catch (err) {
    const text = err instanceof ApiError && err.status === 403 ? t("dead_letters_forbidden") : `${t("error")}: ${err.message}`;
    table.replaceChildren(el("tbody", {}, el("tr", {}, el("td", { class: "empty", text }))));
  }
}
const refreshLists = debounce(() => Promise.all(["alerts", "incidents", "status"].map(loadList)), 1000);

function setRange(range) {
  state.range = range;
  for (const b of document.querySelectorAll(".range")) b.setAttribute("aria-pressed", String(b.dataset.range === range));
  $("custom").hidden = range !== "custom";
  if (range !== "custom") loadSeries();
  else $("from").focus();
}

function onEvent(ev) {
  if (ev.topic === "telemetry" && ev.subject === deviceId && state.overview) {
    const latest = new Map(state.overview.latest.map((v) => [v.metric, v]));
    for (const [metric, [ts, value]] of Object.entries(ev.payload.values || {})) {
      const old = latest.get(metric);
      const time = ts ? new Date(ts * 1000).toISOString() : ev.at;
      latest.set(metric, { metric, value, time, unit: old?.unit ?? null });
    }
    state.overview.latest = [...latest.values()];
    state.overview.device.last_seen = ev.at;
    renderLatest();
    if (state.range !== "custom") refreshSeries();
  } else if (ev.topic === "device_status" && ev.subject === deviceId) {
    loadOverview();
    refreshLists();
  } else if ((ev.topic === "alert" && ev.payload?.labels?.device === deviceId) || ev.topic === "incident") {
    refreshLists();
  }
}

window.opsDevice = { state }; // for the browser tests and for debugging
async function main() {
  initHeader(session);
  for (const b of document.querySelectorAll(".range")) b.addEventListener("click", () => setRange(b.dataset.range));
  $("custom").addEventListener("submit", (e) => { e.preventDefault(); loadSeries(); });
  const now = new Date(Date.now() + 7 * 3600e3);
  $("to").value = now.toISOString().slice(0, 16);
  $("from").value = new Date(now - 7 * 86400e3).toISOString().slice(0, 16);
  for (const [key, slot] of [["alerts", "alerts-csv"], ["incidents", "incidents-csv"], ["status", "status-csv"], ["dead", "dead-csv"]]) {
    $(slot).append(csvButton($(key), () => `${deviceId}-${key}`));
  }
  onLangChange(() => {
    renderHead();
    renderLatest();
    state.charts.clear(); // uPlot keeps its legend labels: build the charts again
    $("charts").replaceChildren();
    loadSeries();
    for (const k of Object.keys(LISTS)) loadList(k);
  });
  window.addEventListener("resize", debounce(() => { for (const e of state.charts.values()) e.chart.resize(); }, 200));
  if (await loadOverview()) {
    await loadSeries();
    await Promise.all(Object.keys(LISTS).map(loadList));
    new LiveFeed({
      token: session.token, topics: ["telemetry", "device_status", "alert", "incident"], onEvent,
      filters: { devices: [deviceId] },
    }).start();
  }
}

main();
