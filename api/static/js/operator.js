// The operator wall screen: ward map with layers, live alerts (acknowledge), incidents (status changes), KPI tiles,
// device health and a clock. Lists load over HTTP, then stay current from /ws/live.

import { api, debounce, el, getAll, localDate, qs, requireSession } from "./api.js";
import { initHeader, toast } from "./common.js";
import { fmtNumber, fmtPercent, fmtTime, onLangChange, t } from "./i18n.js";
import { LiveFeed } from "./live.js";
import { createMap, LAYERS } from "./map.js";
import { markerLayer } from "./markers.js";
import { panZoom } from "./panzoom.js";
import "./strings-views.js";

const session = await requireSession(); // stops here (login page) when signed out
const SUMMARY_LAYERS = "devices,sensors,alerts,incidents,dossiers";
const SEVERITY_RANK = { critical: 0, major: 1, minor: 2, info: 3 };
const NEXT_STATUS = { new: ["assigned"], assigned: ["in_progress"], in_progress: ["resolved"], resolved: ["closed"] };
const ACTIVE_ALERT = new Set(["firing", "acknowledged"]);

const state = {
  alerts: new Map(),
  incidents: new Map(),
  summary: null,
  byCode: new Map(),
  units: [],
  picking: null, // {id, unit} while an incident's unit is being chosen
};

const map = createMap(document.getElementById("map"), document.getElementById("legend"), {
  layer: localStorage.getItem("ops.layer") || "alerts",
  onHover: showHover,
  label: t("map_label"),
  onSelect: (f) => location.assign(`/view/ward/${encodeURIComponent(state.summary?.set?.name ?? "")}/${encodeURIComponent(f.properties.code)}`),
});
const zoomer = panZoom(map, document.getElementById("map"), { onChange: () => markers.render() });
const markers = markerLayer(map, { zoom: () => zoomer.view.k, onCluster: (...box) => zoomer.zoomTo(...box),
  visible: localStorage.getItem("ops.markers") !== "off" });

// ---------------------------------------------------------------- map

function renderLayerButtons() {
  const box = document.getElementById("layers");
  box.replaceChildren(...Object.entries(LAYERS).map(([key, L]) => el("button", {
    type: "button", role: "radio", class: key === map.layer ? "layer active" : "layer",
    "aria-checked": key === map.layer ? "true" : "false", dataset: { layer: key }, text: t(L.label),
    onclick: () => {
      map.setLayer(key);
      localStorage.setItem("ops.layer", key);
      renderLayerButtons();
    },
  })));
}

function renderMarkerToggle() {
  let b = document.getElementById("markers-toggle");
  if (!b) {
    b = el("button", { type: "button", id: "markers-toggle", class: "layer toggle", onclick: () => {
      markers.setVisible(!markers.visible);
      localStorage.setItem("ops.markers", markers.visible ? "on" : "off");
      renderMarkerToggle();
    } });
    document.getElementById("layers").after(b);
  }
  b.textContent = t("layer_markers");
  b.setAttribute("aria-pressed", String(markers.visible));
  b.classList.toggle("active", markers.visible);
}

async function loadMarkers() {
  try {
    markers.update(await getAll("/map/devices", { limit: 500 }, Infinity));
  } catch (err) {
    console.warn("device markers:", err.message);
  }
}
const refreshMarkers = debounce(loadMarkers, 3000);

function renderMapMeta() {
  const meta = document.getElementById("map-meta");
  const s = state.summary;
  if (!s) return;
  const n = s.features.length;
  meta.textContent = `${t("boundary_set")}: ${s.set?.name ?? "?"} · ${fmtNumber(n)} ${t("units_ward")} · ` +
    `${t("updated")} ${fmtTime(new Date().toISOString())}`;
}

function showHover(f) {
  const card = document.getElementById("hover");
  if (!f) { card.hidden = true; return; }
  const p = f.properties;
  const L = LAYERS[map.layer];
  const v = L.value(p);
  card.replaceChildren(
    el("div", { class: "hover-name", text: p.name }),
    p.district_name ? el("div", { class: "hover-sub", text: p.district_name }) : null,
    el("div", { class: "hover-value", text: `${t(L.label)}: ${v === null || v === undefined ? t("no_data") : L.format(v)}` }),
  );
  card.hidden = false;
}

function renderDevices() {
  let total = 0, online = 0, stale = 0;
  for (const f of state.summary?.features ?? []) {
    const d = f.properties.devices;
    if (!d) continue;
    total += d.total; online += d.online; stale += d.stale;
  }
  document.getElementById("dev-total").textContent = fmtNumber(total);
  document.getElementById("dev-online").textContent = fmtNumber(online);
  document.getElementById("dev-stale").textContent = fmtNumber(stale);
}

async function loadSummary() {
  try {
    const fc = await api.get(`/map/summary${qs({ level: "ward", layers: SUMMARY_LAYERS })}`);
    state.summary = fc;
    state.byCode = new Map(fc.features.map((f) => [f.properties.code, f]));
    map.update(fc);
    renderMapMeta();
    renderDevices();
    renderAlerts();
    renderIncidents();
  } catch (err) {
    document.getElementById("map-meta").textContent = `${t("error")}: ${err.message}`;
  }
}
const refreshSummary = debounce(loadSummary, 3000);

/** A telemetry update raises the ward's maximum at once (the summary's window maximum can only grow). */
function applyTelemetry(ev) {
  const f = state.byCode.get(ev.ward_code);
  if (!f) return;
  const v = ev.payload.values || {};
  let changed = false;
  for (const [metric, prop] of [["water_level_cm", "water_level_cm_max"], ["salinity_ppt", "salinity_ppt_max"]]) {
    const x = v[metric]?.[1];
    if (typeof x === "number" && (f.properties[prop] === null || f.properties[prop] === undefined || x > f.properties[prop])) {
      f.properties[prop] = x;
      changed = true;
    }
  }
  if (changed) scheduleMapRecolor();
}
let recolorQueued = false;
function scheduleMapRecolor() {
  if (recolorQueued) return;
  recolorQueued = true;
  requestAnimationFrame(() => { recolorQueued = false; map.relabel(); });
}

// ---------------------------------------------------------------- alerts

function wardName(code) {
  return state.byCode.get(code)?.properties.name ?? code ?? "";
}

function upsertAlert(a) {
  if (!a || a.id === undefined) return;
  if (ACTIVE_ALERT.has(a.state) && !a.muted) state.alerts.set(a.id, a);
  else state.alerts.delete(a.id);
}

async function acknowledge(id, button) {
  button.disabled = true;
  try {
    const a = await api.post(`/alerts/${id}/acknowledge`, { note: "" });
    if (a && a.id !== undefined) upsertAlert(a);
    else {
      const cur = state.alerts.get(id);
      if (cur) upsertAlert({ ...cur, state: "acknowledged", acknowledged_by: session.user });
    }
    renderAlerts();
  } catch (err) {
    button.disabled = false;
    toast(`${t("error")}: ${err.message}`);
  }
}

function renderAlerts() {
  const list = document.getElementById("alerts");
  const items = [...state.alerts.values()].sort((a, b) =>
    (a.state === "firing" ? 0 : 1) - (b.state === "firing" ? 0 : 1)
    || (SEVERITY_RANK[a.severity] ?? 9) - (SEVERITY_RANK[b.severity] ?? 9)
    || String(b.starts_at).localeCompare(String(a.starts_at)));
  document.getElementById("alerts-count").textContent = fmtNumber(items.length);
  if (!items.length) {
    list.replaceChildren(el("li", { class: "empty", text: t("no_alerts") }));
    return;
  }
  list.replaceChildren(...items.slice(0, 60).map((a) => {
    const ward = a.labels?.ward;
    const action = a.state === "firing"
      ? el("button", { type: "button", class: "ack", text: t("acknowledge"), onclick: (e) => acknowledge(a.id, e.currentTarget) })
      : el("span", { class: "acked", title: a.acknowledged_by || "", text: `${t("acknowledged")}${a.acknowledged_by ? ` · ${a.acknowledged_by}` : ""}` });
    return el("li", { class: `item alert sev-${a.severity}`, dataset: { id: a.id, state: a.state } },
      el("span", { class: "sev", text: t(`sev_${a.severity}`) }),
      el("div", { class: "body" },
        el("div", { class: "title", text: a.summary || a.rule_name || a.rule_id }),
        el("div", { class: "meta", text: [wardName(ward), fmtTime(a.starts_at, true), a.rule_name].filter(Boolean).join(" · ") })),
      action);
  }));
}

async function loadAlerts() {
  try {
    const [firing, acked] = await Promise.all([
      getAll("/alerts", { state: "firing", limit: 200 }, 400),
      getAll("/alerts", { state: "acknowledged", limit: 200 }, 400),
    ]);
    state.alerts.clear();
    for (const a of [...firing, ...acked]) upsertAlert(a);
    renderAlerts();
  } catch (err) {
    document.getElementById("alerts").replaceChildren(el("li", { class: "empty", text: `${t("error")}: ${err.message}` }));
  }
}

// ---------------------------------------------------------------- incidents

function upsertIncident(i) {
  if (!i || i.id === undefined || !i.status) return false;
  if (i.status === "closed") state.incidents.delete(i.id);
  else state.incidents.set(i.id, { ...(state.incidents.get(i.id) || {}), ...i });
  return true;
}

let unitsCache = null;
async function units() {
  if (!unitsCache) unitsCache = getAll("/units", { limit: 200 }, 1000).catch((err) => { unitsCache = null; throw err; });
  return unitsCache;
}

/** Assigning needs a unit: the button turns into a unit picker with a confirm button (kept across re-renders). */
async function pickUnit(incident) {
  try {
    state.units = await units();
  } catch (err) {
    toast(`${t("error")}: ${err.message}`);
    return;
  }
  state.picking = { id: incident.id, unit: incident.assigned_unit || state.units[0]?.code };
  renderIncidents();
}

function unitPicker(i) {
  const select = el("select", { class: "unit-pick", onchange: (e) => { state.picking.unit = e.currentTarget.value; } },
    ...state.units.map((u) => el("option", { value: u.code, text: u.name })));
  select.value = state.picking.unit;
  return [select,
    el("button", { type: "button", class: "transition confirm", text: "✓",
      onclick: (e) => { const unit = state.picking.unit; state.picking = null; transition(i.id, "assigned", e.currentTarget, unit); } }),
    el("button", { type: "button", class: "ghost cancel", text: "✕", onclick: () => { state.picking = null; renderIncidents(); } })];
}

async function transition(id, to, button, unit = undefined) {
  button.disabled = true;
  try {
    const res = await api.post(`/incidents/${id}/transition`, unit ? { to, note: "", unit } : { to, note: "" });
    if (!upsertIncident(res)) {
      const cur = state.incidents.get(id);
      if (cur) upsertIncident({ ...cur, status: to });
    }
    renderIncidents();
  } catch (err) {
    button.disabled = false;
    toast(`${t("error")}: ${err.message}`);
  }
}

function renderIncidents() {
  const list = document.getElementById("incidents");
  const items = [...state.incidents.values()].sort((a, b) =>
    (b.overdue ? 1 : 0) - (a.overdue ? 1 : 0)
    || (SEVERITY_RANK[a.severity] ?? 9) - (SEVERITY_RANK[b.severity] ?? 9)
    || String(b.reported_at).localeCompare(String(a.reported_at)));
  document.getElementById("incidents-count").textContent = fmtNumber(items.length);
  if (!items.length) {
    list.replaceChildren(el("li", { class: "empty", text: t("no_incidents") }));
    return;
  }
  const en = document.documentElement.lang === "en";
  list.replaceChildren(...items.slice(0, 60).map((i) => el("li", {
    class: `item incident sev-${i.severity}${i.overdue ? " overdue" : ""}`, dataset: { id: i.id, status: i.status },
  },
  el("span", { class: "status", text: t(`st_${i.status}`) }),
  el("div", { class: "body" },
    el("div", { class: "title", text: i.title }),
    el("div", { class: "meta", text: [
      (en ? i.category_label_en : i.category_label_vi) || i.category,
      i.ward_name || wardName(i.ward_code),
      fmtTime(i.reported_at, true),
      i.report_count > 1 ? `${i.report_count} ${t("reports")}` : null,
      i.overdue ? t("overdue") : null,
    ].filter(Boolean).join(" · ") })),
  el("div", { class: "actions" }, ...(state.picking?.id === i.id ? unitPicker(i) : (NEXT_STATUS[i.status] || []).map((to) => el("button", {
    type: "button", class: "transition", dataset: { to }, text: t(`to_${to}`),
    onclick: (e) => (to === "assigned" && !i.assigned_unit ? pickUnit(i) : transition(i.id, to, e.currentTarget)),
  })))))));
}

async function loadIncidents() {
  try {
    const [open, resolved] = await Promise.all([
      getAll("/incidents", { status: "open", limit: 200 }, 600),
      getAll("/incidents", { status: "resolved", limit: 100 }, 100),
    ]);
    const items = [...open, ...resolved];
    state.incidents.clear();
    for (const i of items) upsertIncident(i);
    renderIncidents();
  } catch (err) {
    document.getElementById("incidents").replaceChildren(el("li", { class: "empty", text: `${t("error")}: ${err.message}` }));
  }
}
const refreshIncidents = debounce(loadIncidents, 1000);

// ---------------------------------------------------------------- KPIs

async function loadKpis() {
  const today = localDate();
  try {
    const res = await api.get(`/kpis/dossiers${qs({ level: "province", period: "day", from: today, to: today })}`);
    const k = (res.items || [])[0] || {};
    document.querySelector("#kpi-today .tile-value").textContent = fmtNumber(k.received?.total ?? 0);
    document.querySelector("#kpi-ontime .tile-value").textContent = fmtPercent(k.on_time_rate ?? null);
    document.querySelector("#kpi-overdue .tile-value").textContent = fmtNumber(k.open_overdue ?? 0);
  } catch (err) {
    for (const id of ["kpi-today", "kpi-ontime", "kpi-overdue"]) {
      const v = document.querySelector(`#${id} .tile-value`);
      v.textContent = "–";
      v.title = err.message;
    }
  }
}
const refreshKpis = debounce(loadKpis, 5000);

// ---------------------------------------------------------------- live

function setConn(s) {
  const box = document.getElementById("conn");
  box.dataset.state = s;
  document.getElementById("conn-text").textContent = t(s === "live" ? "live" : s === "offline" ? "offline" : "connecting");
}

function onEvent(ev) {
  switch (ev.topic) {
    case "alert":
      upsertAlert(ev.payload);
      renderAlerts();
      refreshSummary();
      if (ev.payload?.labels?.device) refreshMarkers();
      break;
    case "incident":
      if (upsertIncident(ev.payload)) renderIncidents();
      else refreshIncidents();
      refreshSummary();
      break;
    case "device_status":
      refreshSummary();
      refreshMarkers();
      break;
    case "dossier":
      refreshKpis();
      break;
    case "telemetry":
      applyTelemetry(ev);
      break;
    default:
      break;
  }
}

function loadAll() {
  return Promise.all([loadSummary(), loadAlerts(), loadIncidents(), loadKpis(), loadMarkers()]);
}

initHeader(session);
renderLayerButtons();
renderMarkerToggle();
onLangChange(() => {
  renderLayerButtons();
  renderMarkerToggle();
  zoomer.relabel();
  markers.render();
  map.relabel();
  renderMapMeta();
  renderAlerts();
  renderIncidents();
  setConn(document.getElementById("conn").dataset.state);
});
if (session) { // else: on the way to the login page
  new LiveFeed({
    token: session.token,
    topics: ["alert", "incident", "device_status", "dossier", "telemetry"],
    onEvent,
    onState: setConn,
    onResync: loadAll,
  }).start();
  setInterval(loadSummary, 60000);
  setInterval(loadKpis, 60000);
}
window.opsScreen = { state, map, markers, zoomer }; // for the browser tests and for debugging at the wall
