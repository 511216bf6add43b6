// The ward detail view, for a ward of any boundary set (2019 or 2025): its devices (on a map of the set and in a
// list), open alerts, open incidents, dossier KPIs (30 days and by month) and charts of its key series.

import { metricLabel } from "./strings-views.js";
import { api, debounce, el, getAll, qs, requireSession } from "./api.js";
import { bandChart } from "./charts.js";
import { initHeader, toast } from "./common.js";
import { fmtNumber, fmtPercent, fmtTime, onLangChange, t } from "./i18n.js";
import { LiveFeed } from "./live.js";
import { createMap } from "./map.js";
import { markerLayer } from "./markers.js";
import { panZoom } from "./panzoom.js";
import { csvButton, fillTable, sparkline } from "./tables.js";

const session = await requireSession(); // stops here (login page) when signed out
const [setName, code] = location.pathname.split("/").filter(Boolean).slice(-2).map(decodeURIComponent);
const base = `/wards/${encodeURIComponent(setName)}/${encodeURIComponent(code)}`;
const $ = (id) => document.getElementById(id);
const state = { overview: null, devices: [], charts: new Map() };

const map = createMap($("map"), null, {
  layer: "devices", width: 700, height: 600, label: t("map_label"),
  onSelect: (f) => location.assign(`/view/ward/${encodeURIComponent(setName)}/${encodeURIComponent(f.properties.code)}`),
});
const zoomer = panZoom(map, $("map"), { onChange: () => markers.render() });
const markers = markerLayer(map, { zoom: () => zoomer.view.k, onCluster: (...box) => zoomer.zoomTo(...box) });

function tile(label, value, sub = "") {
  return el("div", { class: "tile small" }, el("div", { class: "tile-label", text: t(label) }),
    el("div", { class: "tile-value", text: value }), sub ? el("div", { class: "tile-sub", text: sub }) : null);
}

function renderHead() {
  const o = state.overview;
  if (!o) return;
  const w = o.ward;
  $("ward-name").textContent = w.name;
  document.title = `${w.name} · ${t("ward_page_title")}`;
  const validity = w.set_valid_to ? `${w.set_valid_from} ${t("set_until")} ${w.set_valid_to}` : `${t("set_since")} ${w.set_valid_from}`;
  $("ward-meta").textContent = [
    `${t("boundary_set")}: ${w.set} (${t("set_valid")} ${validity})`,
    w.district_name ? `${t("district")}: ${w.district_name}` : null,
    `${t("area")}: ${fmtNumber(w.area_km2, 1)} km²`, `${t("col_id")}: ${w.code}`,
  ].filter(Boolean).join(" · ");
  const d = o.devices;
  const k = o.dossiers;
  $("ward-tiles").replaceChildren(
    tile("devices_total", fmtNumber(d.total), `${fmtNumber(d.online)} ${t("state_online").toLowerCase()} · ${fmtNumber(d.stale + d.offline)} ${t("state_stale").toLowerCase()}`),
    tile("ward_alerts", fmtNumber(o.alerts_open)),
    tile("ward_incidents", fmtNumber(o.incidents_open)),
    tile("ward_dossiers", fmtNumber(k.received), `${k.from} → ${k.to}`),
    tile("online_share", fmtPercent(k.online_share)),
    tile("on_time_rate", fmtPercent(k.on_time_rate)),
    tile("open_overdue", fmtNumber(k.open_overdue)),
  );
  renderMonths();
}

function renderMonths() {
  const months = state.overview?.dossiers.months || [];
  fillTable($("months"), [
    { label: "col_month", value: (m) => m.month.slice(0, 7), csv: (m) => m.month.slice(0, 7) },
    { label: "received", value: (m) => fmtNumber(m.received), csv: (m) => m.received },
    { label: "online_share", value: (m) => fmtPercent(m.online_share), csv: (m) => m.online_share ?? "" },
    { label: "col_resolved", value: (m) => fmtNumber(m.resolved), csv: (m) => m.resolved },
    { label: "on_time_rate", value: (m) => fmtPercent(m.on_time_rate), csv: (m) => m.on_time_rate ?? "" },
    { label: "open_overdue", value: (m) => fmtNumber(m.open_overdue), csv: (m) => m.open_overdue },
  ], [...months].reverse());
  const spark = sparkline(months.map((m) => m.received), { label: `${t("received")}: ${months.map((m) => m.received).join(", ")}` });
  $("months-h").replaceChildren(t("ward_months"), " ", spark);
}

async function loadOverview() {
  try {
    state.overview = await api.get(base);
    renderHead();
    return true;
  } catch (err) {
    $("ward-name").textContent = err.status === 404 ? `${t("not_found")}: ${code} (${setName})` : `${t("error")}: ${err.message}`;
    return false;
  }
}

async function loadMap() {
  try {
    const fc = await api.get(`/map/summary${qs({ set: setName, level: "ward", layers: "devices" })}`);
    map.update(fc);
    map.highlight(code);
    markers.update(await getAll("/map/devices", { set: setName, ward: code, limit: 500 }, Infinity));
    const f = fc.features.find((x) => x.properties.code === code);
    if (f && map.project) { // zoom on the ward
      const pts = [];
      const rings = f.geometry.type === "Polygon" ? f.geometry.coordinates : f.geometry.coordinates.flat();
      for (const ring of rings) for (const p of ring) pts.push(map.project(p));
      const xs = pts.map((p) => p[0]);
      const ys = pts.map((p) => p[1]);
      zoomer.zoomTo(Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys));
    }
  } catch (err) {
    toast(`${t("error")}: ${err.message}`);
  }
}

async function loadSeries() {
  try {
    const chart = await api.get(`${base}/series`);
    for (const s of chart.series) {
      let entry = state.charts.get(s.metric);
      if (!entry) {
        const caption = el("figcaption", {});
        const figure = el("figure", { class: "chart", dataset: { metric: s.metric } }, caption);
        $("charts").append(figure);
        entry = { figure, caption, chart: bandChart(figure, { unit: s.unit || "", height: 180 }) };
        state.charts.set(s.metric, entry);
      }
      entry.chart.update(s, chart.interval_s, 900); // the ward's devices report every 5 to 15 minutes
      const label = `${metricLabel(s.metric)}${s.unit ? ` (${s.unit})` : ""}`;
      entry.caption.textContent = `${label} — ${chart.devices} ${t("devices_shown")}`;
      entry.figure.setAttribute("aria-label", s.t.length ? `${label}: ${t("chart_max")} ${fmtNumber(Math.max(...s.max), 2)}` : `${label}: ${t("no_readings")}`);
    }
    if (!chart.series.length) $("charts").replaceChildren(el("p", { class: "empty", text: t("no_readings") }));
  } catch (err) {
    toast(`${t("charts")}: ${err.message}`);
  }
}

const LISTS = {
  devices: {
    path: `${base}/devices`,
    columns: [
      { label: "col_id", value: (d) => el("a", { href: `/view/device/${encodeURIComponent(d.id)}`, text: d.id }), csv: (d) => d.id },
      { label: "col_device_name", value: (d) => d.name, cls: "text" },
      { label: "col_kind", value: (d) => t(`kind_${d.kind}`), csv: (d) => d.kind },
      { label: "col_last_seen", value: (d) => (d.last_seen ? fmtTime(d.last_seen, true) : "–"), csv: (d) => d.last_seen ?? "" },
    ],
  },
  alerts: {
    path: `${base}/alerts`,
    columns: [
      { label: "col_time", value: (a) => fmtTime(a.starts_at, true), csv: (a) => a.starts_at },
      { label: "col_severity", value: (a) => t(`sev_${a.severity}`), csv: (a) => a.severity },
      { label: "col_summary", value: (a) => a.summary || a.rule_name, cls: "text" },
      { label: "col_state", value: (a) => t(`alert_${a.state}`), csv: (a) => a.state },
    ],
    rowAttrs: (a) => ({ dataset: { id: a.id } }),
  },
  incidents: {
    path: `${base}/incidents`,
    columns: [
      { label: "col_time", value: (i) => fmtTime(i.reported_at, true), csv: (i) => i.reported_at },
      { label: "col_title", value: (i) => i.title, cls: "text" },
      { label: "col_status", value: (i) => t(`st_${i.status}`), csv: (i) => i.status },
    ],
    rowAttrs: (i) => ({ dataset: { id: i.id } }),
  },
};

async function loadList(key) {
  const spec = LISTS[key];
  try {
    const page = await api.get(`${spec.path}?limit=200`);
    fillTable($(key), spec.columns, page.items, { rowAttrs: spec.rowAttrs });
  } catch (err) {
    $(key).replaceChildren(el("tbody", {}, el("tr", {}, el("td", { class: "empty", text: `${t("error")}: ${err.message}` }))));
  }
}
const refresh = debounce(() => { loadOverview(); loadList("alerts"); loadList("incidents"); }, 1500);

window.opsWard = { state, map, markers }; // for the browser tests and for debugging
async function main() {
  initHeader(session);
  for (const key of ["devices", "alerts", "incidents", "months"]) $(`${key}-csv`).append(csvButton($(key), () => `${setName}-${code}-${key}`));
  onLangChange(() => {
    renderHead();
    for (const k of Object.keys(LISTS)) loadList(k);
    state.charts.clear(); // uPlot keeps its legend labels: build the charts again
    $("charts").replaceChildren();
    loadSeries();
    zoomer.relabel();
  });
  if (await loadOverview()) {
    await Promise.all([loadMap(), loadSeries(), ...Object.keys(LISTS).map(loadList)]);
    new LiveFeed({ token: session.token, topics: ["alert", "incident", "device_status"], onEvent: refresh }).start();
  }
}

main();
