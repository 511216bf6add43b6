// The leaders' view: a map and a table by ward or district for a chosen period and boundary set, the dossier KPIs,
// and the daily brief as PDF.

import { addDays, api, el, localDate, qs, requireSession } from "./api.js";
import { initHeader, toast } from "./common.js";
import { fmtNumber, fmtPercent, onLangChange, t } from "./i18n.js";
import { createMap, LAYERS } from "./map.js";
import "./strings-views.js";
import { showIssuedWarnings } from "./summary-warnings.js";
import { csvButton, sparkline } from "./tables.js";

const session = await requireSession(); // stops here (login page) when signed out
const SUMMARY_LAYERS = "devices,sensors,alerts,incidents,dossiers";
const $ = (id) => document.getElementById(id);
const state = { summary: null, kpis: [], sort: { key: "name", dir: 1 } };

const map = createMap($("map"), $("legend"), {
  layer: localStorage.getItem("ops.summary.layer") || "ontime", width: 880, height: 760, onHover: showHover,
  label: t("map_label"),
  onSelect: (f) => { // a ward opens its detail (in the set shown); a district has none
    if ($("level").value !== "ward") return;
    location.assign(`/view/ward/${encodeURIComponent(state.summary?.set?.name ?? "")}/${encodeURIComponent(f.properties.code)}`);
  },
});

function showHover(f) {
  const card = $("hover");
  if (!f) { card.hidden = true; return; }
  const L = LAYERS[map.layer];
  const v = L.value(f.properties);
  card.replaceChildren(el("div", { class: "hover-name", text: f.properties.name }),
    el("div", { class: "hover-value", text: `${t(L.label)}: ${v === null || v === undefined ? t("no_data") : L.format(v)}` }));
  card.hidden = false;
}

function renderLayerButtons() {
  $("layers").replaceChildren(...Object.entries(LAYERS).map(([key, L]) => el("button", {
    type: "button", role: "radio", class: key === map.layer ? "layer active" : "layer", dataset: { layer: key },
    "aria-checked": key === map.layer ? "true" : "false", text: t(L.label),
    onclick: () => { map.setLayer(key); localStorage.setItem("ops.summary.layer", key); renderLayerButtons(); },
  })));
}

const COLUMNS = [
  { key: "name", label: "col_name", text: true, value: (p) => p.name },
  { key: "district", label: "col_district", text: true, value: (p) => p.district_name || "" },
  { key: "devices", label: "col_devices", value: (p) => p.devices?.online ?? null,
    show: (p) => (p.devices ? `${fmtNumber(p.devices.online)}/${fmtNumber(p.devices.total)}` : "–") },
  { key: "alerts", label: "col_alerts", value: (p) => p.alerts?.total ?? null },
  { key: "incidents", label: "col_incidents", value: (p) => p.incidents_open ?? null },
  { key: "water", label: "col_water", value: (p) => p.water_level_cm_max ?? null, digits: 1 },
  { key: "salinity", label: "col_salinity", value: (p) => p.salinity_ppt_max ?? null, digits: 1 },
  { key: "rain", label: "col_rain", value: (p) => p.rain_mm_total ?? null, digits: 1 },
  { key: "ontime", label: "col_ontime", value: (p) => p.dossier_on_time_rate ?? null, show: (p) => fmtPercent(p.dossier_on_time_rate ?? null) },
];

function renderUnits() {
  const table = $("units");
  const level = $("level").value;
  const cols = COLUMNS.filter((c) => level === "ward" || c.key !== "district");
  const feats = (state.summary?.features || []).map((f) => f.properties);
  const { key, dir } = state.sort;
  const col = cols.find((c) => c.key === key) || cols[0];
  feats.sort((a, b) => {
    const x = col.value(a), y = col.value(b);
    if (x === y) return 0;
    if (x === null || x === undefined) return 1;
    if (y === null || y === undefined) return -1;
    return (col.text ? String(x).localeCompare(String(y), "vi") : x - y) * dir;
  });
  const head = el("tr", {}, ...cols.map((c) => el("th", { // a button per header: sorting works from the keyboard
    scope: "col", "aria-sort": c.key === key ? (dir > 0 ? "ascending" : "descending") : null,
  }, el("button", {
    type: "button", class: "sort", dataset: { key: c.key }, text: t(c.label) + (c.key === key ? (dir > 0 ? " ▲" : " ▼") : ""),
    onclick: () => {
      state.sort = { key: c.key, dir: c.key === key ? -dir : (c.text ? 1 : -1) };
      renderUnits();
      $("units").querySelector(`button.sort[data-key="${c.key}"]`)?.focus();
    },
  }))));
  const rows = feats.map((p) => el("tr", { dataset: { code: p.code } }, ...cols.map((c) => el("td", {
    class: c.text ? "text" : null,
    text: c.show ? c.show(p) : c.text ? c.value(p) : fmtNumber(c.value(p), c.digits || 0),
  }))));
  table.replaceChildren(el("thead", {}, head), el("tbody", {}, ...rows));
}

function aggregateKpis(items) {
  const by = new Map();
  for (const it of items) {
    const k = by.get(it.code) || { code: it.code, name: it.name, received: 0, online: 0, resolved: 0, on_time: 0, overdue: 0, days: new Map() };
    k.received += it.received?.total ?? 0;
    k.days.set(it.period_start, (k.days.get(it.period_start) ?? 0) + (it.received?.total ?? 0));
    k.online += (it.received?.online_l3 ?? 0) + (it.received?.online_l4 ?? 0);
    k.resolved += it.resolved ?? 0;
    k.on_time += it.resolved_on_time ?? 0;
    k.overdue = Math.max(k.overdue, it.open_overdue ?? 0); // a stock, not a flow: the latest day's figure is the largest
    by.set(it.code, k);
  }
  return [...by.values()].sort((a, b) => String(a.name).localeCompare(String(b.name), "vi"));
}

function renderKpis() {
  const rows = aggregateKpis(state.kpis);
  const total = rows.reduce((s, r) => ({
    received: s.received + r.received, online: s.online + r.online, resolved: s.resolved + r.resolved,
    on_time: s.on_time + r.on_time, overdue: s.overdue + r.overdue,
  }), { received: 0, online: 0, resolved: 0, on_time: 0, overdue: 0 });
  const days = periodDays();
  const line = (r, cls) => el("tr", { class: cls }, el("td", { class: "text", text: r.name }),
    el("td", { dataset: { csv: r.days ? days.map((d) => r.days.get(d) ?? 0).join(" ") : "" } },
      r.days ? sparkline(days.map((d) => r.days.get(d) ?? 0), { label: `${t("col_received")}: ${days.map((d) => r.days.get(d) ?? 0).join(", ")}` }) : ""),
    el("td", { text: fmtNumber(r.received), dataset: { csv: String(r.received) } }),
    el("td", { text: fmtPercent(r.received ? r.online / r.received : null) }),
    el("td", { text: fmtNumber(r.resolved) }),
    el("td", { text: fmtPercent(r.resolved ? r.on_time / r.resolved : null) }),
    el("td", { text: fmtNumber(r.overdue) }));
  $("kpis").replaceChildren(
    el("thead", {}, el("tr", {}, ...["col_name", "sparkline_days", "col_received", "col_online_share", "col_resolved", "col_on_time_rate", "col_overdue"]
      .map((k) => el("th", { text: t(k) })))),
    el("tbody", {}, ...rows.map((r) => line(r)), rows.length ? line({ ...total, name: t("total") }, "total") : null),
  );
}

/** The local days of the chosen period, oldest first (the KPI table's sparklines have one point per day). */
function periodDays() {
  const out = [];
  for (let d = $("from").value; d && d <= $("to").value && out.length < 400; d = addDays(d, 1)) out.push(d);
  return out;
}

function windowParams() {
  const from = $("from").value;
  const to = $("to").value;
  return { from: `${from}T00:00:00+07:00`, to: `${addDays(to, 1)}T00:00:00+07:00` };
}

async function load() {
  const level = $("level").value;
  const set = $("set").value;
  const w = windowParams();
  showIssuedWarnings(w); // its own block (summary-warnings.js)
  $("map-meta").textContent = t("loading");
  try {
    const fc = await api.get(`/map/summary${qs({ set, level, layers: SUMMARY_LAYERS, ...w })}`);
    state.summary = fc;
    map.update(fc);
    const n = fc.features.length;
    $("map-meta").textContent = `${t("boundary_set")}: ${fc.set?.name ?? set} · ${fmtNumber(n)} ` +
      `${t(level === "ward" ? "units_ward" : "units_district")} · ${$("from").value} → ${$("to").value}`;
    renderUnits();
  } catch (err) {
    $("map-meta").textContent = `${t("error")}: ${err.message}`;
  }
  try {
    const res = await api.get(`/kpis/dossiers${qs({ level, period: "day", from: $("from").value, to: $("to").value })}`);
    state.kpis = res.items || [];
  } catch (err) {
    state.kpis = [];
    toast(`${t("kpi_table")}: ${err.message}`);
  }
  renderKpis();
}

async function loadSets() {
  const select = $("set");
  let names = ["camau-2025", "camau-2019"];
  try {
    const res = await api.get("/geo/sets");
    const items = Array.isArray(res) ? res : res.items || [];
    if (items.length) names = items.map((s) => s.name);
  } catch { /* the list of sets is optional: fall back to the known ones */ }
  select.replaceChildren(el("option", { value: "", text: t("set_in_force"), "data-i18n": "set_in_force" }),
    ...names.map((n) => el("option", { value: n, text: n })));
}

async function brief() {
  const date = $("brief-date").value || localDate();
  const button = $("brief");
  button.disabled = true;
  try {
    const blob = await api.blob(`/brief/daily.pdf${qs({ date, set: $("set").value })}`);
    const url = URL.createObjectURL(blob);
    const a = el("a", { href: url, download: `ban-tin-${date}.pdf` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  } catch (err) {
    toast(`${t("daily_brief")}: ${err.message}`);
  } finally {
    button.disabled = false;
  }
}

function setDays(days) {
  const today = localDate();
  $("to").value = today;
  $("from").value = addDays(today, -days);
}

initHeader(session);
renderLayerButtons();
$("units-csv").append(csvButton($("units"), () => `don-vi-${$("level").value}-${$("from").value}-${$("to").value}`));
$("kpis-csv").append(csvButton($("kpis"), () => `chi-so-dvc-${$("level").value}-${$("from").value}-${$("to").value}`));
setDays(6);
$("brief-date").value = localDate();
for (const b of document.querySelectorAll(".quick")) b.addEventListener("click", () => { setDays(Number(b.dataset.days)); load(); });
$("controls").addEventListener("submit", (e) => { e.preventDefault(); load(); });
$("level").addEventListener("change", load);
$("set").addEventListener("change", load);
$("brief").addEventListener("click", brief);
onLangChange(() => { renderLayerButtons(); map.relabel(); renderUnits(); renderKpis(); });
if (session) loadSets().then(load); // else: on the way to the login page
window.opsSummary = { state, map };
