// The operator wall screen: ward map with layers, live alerts (acknowledge, draft a public warning), incidents
// (status changes), public warnings (draft, approve, publish; on the map), KPI tiles, device health and a clock.
// Lists load over HTTP, then stay current from /ws/live.

import { api, debounce, el, getAll, localDate, qs, requireSession } from "./api.js";
import { initHeader, toast } from "./common.js";
import { fmtNumber, fmtPercent, fmtTime, onLangChange, t } from "./i18n.js";
import { LiveFeed } from "./live.js";
import { createMap, LAYERS } from "./map.js";
import { markerLayer } from "./markers.js";
import { incidentsPanel } from "./incidents-panel.js";
import { panZoom } from "./panzoom.js";
import "./strings-views.js";
import "./strings-warnings.js";
import { warningHoverLine, warningOverlay } from "./warning-overlay.js";
import { warningsPanel } from "./warnings.js";

const session = await requireSession(); // stops here (login page) when signed out
const SUMMARY_LAYERS = "devices,sensors,alerts,incidents,dossiers,warnings";
const SEVERITY_RANK = { critical: 0, major: 1, minor: 2, info: 3 };
const ACTIVE_ALERT = new Set(["firing", "acknowledged"]);

const state = {
  alerts: new Map(),
  summary: null,
  byCode: new Map(),
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
const warned = warningOverlay(map, document.getElementById("warning-legend"),
  { visible: localStorage.getItem("ops.warnings") !== "off" });
const incidents = incidentsPanel({ listEl: document.getElementById("incidents"),
  countEl: document.getElementById("incidents-count"), wardName });
const warnings = warningsPanel({ box: document.getElementById("warnings"), countEl: document.getElementById("warnings-count"),
  wardOptions: () => (state.summary?.features ?? []).map((f) => ({ code: f.properties.code, name: f.properties.name })),
  onPublished: () => refreshSummary() });

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

/** An overlay's on/off button after the layer buttons (the device markers, the public warnings). */
function renderToggle(id, layer, key, label) {
  let b = document.getElementById(id);
  if (!b) {
    b = el("button", { type: "button", id, class: "layer toggle", onclick: () => {
      layer.setVisible(!layer.visible);
      localStorage.setItem(key, layer.visible ? "on" : "off");
      renderToggle(id, layer, key, label);
    } });
    document.getElementById("layers").after(b);
  }
  b.textContent = t(label);
  b.setAttribute("aria-pressed", String(layer.visible));
  b.classList.toggle("active", layer.visible);
}

function renderToggles() {
  renderToggle("warnings-toggle", warned, "ops.warnings", "wn_layer");
  renderToggle("markers-toggle", markers, "ops.markers", "layer_markers");
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
    warningHoverLine(p),
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
    warned.update(fc.features);
    renderMapMeta();
    renderDevices();
    renderAlerts();
    incidents.render();
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
      el("div", { class: "actions" }, action, warnings.draftButton(a)));
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
      incidents.onEvent(ev);
      refreshSummary();
      break;
    case "warning":
      warnings.onEvent(ev);
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
  return Promise.all([loadSummary(), loadAlerts(), incidents.load(), loadKpis(), loadMarkers(), warnings.load()]);
}

initHeader(session);
renderLayerButtons();
renderToggles();
warnings.ready.then(renderAlerts, () => {}); // the alerts' "draft warning" buttons need the person's rights
onLangChange(() => {
  renderLayerButtons();
  renderToggles();
  zoomer.relabel();
  markers.render();
  warned.render();
  map.relabel();
  renderMapMeta();
  renderAlerts();
  incidents.render();
  warnings.render();
  setConn(document.getElementById("conn").dataset.state);
});
if (session) { // else: on the way to the login page
  new LiveFeed({
    token: session.token,
    topics: ["alert", "incident", "device_status", "dossier", "telemetry", "warning"],
    onEvent,
    onState: setConn,
    onResync: loadAll,
  }).start();
  setInterval(loadSummary, 60000);
  setInterval(loadKpis, 60000);
}
window.opsScreen = { state, map, markers, zoomer, warned }; // for the browser tests and for debugging at the wall
