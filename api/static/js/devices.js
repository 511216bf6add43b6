// Devices on the map and in a list, filtered by kind, ward and state (and a search): markers by kind and state,
// clustered at province scale, pan and zoom, the marker layer can be hidden; a ward opens its detail, a device its.

import "./strings-views.js";
import { api, debounce, el, getAll, qs, requireSession } from "./api.js";
import { initHeader, toast } from "./common.js";
import { fmtNumber, fmtTime, onLangChange, t } from "./i18n.js";
import { LiveFeed } from "./live.js";
import { createMap, LAYERS } from "./map.js";
import { KIND_SHAPES, markerLayer, markerLegend, STATE_COLORS } from "./markers.js";
import { panZoom } from "./panzoom.js";
import { csvButton, fillTable } from "./tables.js";

const session = await requireSession(); // stops here (login page) when signed out
const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const state = { all: [], summary: null, wardNames: new Map(), kinds: [] };

const map = createMap($("map"), $("legend"), {
  layer: "devices", width: 900, height: 780, label: t("map_label"), onHover: showHover,
  onSelect: (f) => location.assign(`/view/ward/${encodeURIComponent(state.summary.set.name)}/${encodeURIComponent(f.properties.code)}`),
});
const zoomer = panZoom(map, $("map"), { onChange: () => markers.render() });
const markers = markerLayer(map, { zoom: () => zoomer.view.k, onCluster: (...box) => zoomer.zoomTo(...box) });

function showHover(f) {
  const card = $("hover");
  if (!f) { card.hidden = true; return; }
  const v = LAYERS.devices.value(f.properties);
  card.replaceChildren(el("div", { class: "hover-name", text: f.properties.name }),
    el("div", { class: "hover-value", text: `${t("layer_devices")}: ${v === null ? t("no_data") : LAYERS.devices.format(v)}` }));
  card.hidden = false;
}

function options(select, values, labelOf, current) {
  select.replaceChildren(el("option", { value: "", text: t("all") }),
    ...values.map((v) => el("option", { value: v, text: labelOf(v) })));
  select.value = current || "";
}

function renderFilters() {
  options($("kind"), state.kinds, (k) => t(`kind_${k}`), $("kind").value || params.get("kind"));
  const wards = [...state.wardNames.entries()].sort((a, b) => a[1].localeCompare(b[1], "vi"));
  options($("ward"), wards.map(([c]) => c), (c) => state.wardNames.get(c), $("ward").value || params.get("ward"));
  options($("state"), Object.keys(STATE_COLORS), (s) => t(`state_${s}`), $("state").value || params.get("state"));
}

function fold(s) {
  return s.normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/đ/g, "d").replace(/Đ/g, "D").toLowerCase();
}

function filtered() {
  const kind = $("kind").value;
  const ward = $("ward").value;
  const st = $("state").value;
  const q = fold($("q").value.trim());
  return state.all.filter((m) => (!kind || m.kind === kind) && (!ward || m.ward_code === ward)
    && (!st || m.state === st) && (!q || fold(`${m.id} ${m.name}`).includes(q)));
}

function render() {
  const items = filtered();
  markers.update(items);
  $("count").textContent = `${fmtNumber(items.length)} / ${fmtNumber(state.all.length)} ${t("devices_shown")}`;
  fillTable($("devices"), [
    { label: "col_id", value: (m) => el("a", { href: `/view/device/${encodeURIComponent(m.id)}`, text: m.id }), csv: (m) => m.id },
    { label: "col_device_name", value: (m) => m.name, cls: "text" },
    { label: "col_kind", value: (m) => t(`kind_${m.kind}`), csv: (m) => m.kind },
    { label: "col_ward", value: (m) => state.wardNames.get(m.ward_code) || m.ward_code || "–", csv: (m) => m.ward_code ?? "" },
    { label: "col_state", value: (m) => el("span", { class: `badge state-${m.state}`, text: t(`state_${m.state}`) }), csv: (m) => m.state },
    { label: "col_open_alerts", value: (m) => fmtNumber(m.alerts), csv: (m) => m.alerts },
    { label: "col_last_seen", value: (m) => (m.last_seen ? fmtTime(m.last_seen, true) : "–"), csv: (m) => m.last_seen ?? "" },
  ], items.slice(0, 1000), { rowAttrs: (m) => ({ dataset: { id: m.id, state: m.state } }) });
  const url = new URL(location.href);
  for (const k of ["kind", "ward", "state"]) {
    if ($(k).value) url.searchParams.set(k, $(k).value); else url.searchParams.delete(k);
  }
  history.replaceState(null, "", url);
}

async function loadMarkers() {
  const items = await getAll("/map/devices", { limit: 500 }, Infinity);
  state.all = items;
  state.kinds = [...new Set([...Object.keys(KIND_SHAPES), ...items.map((m) => m.kind)])]
    .filter((k) => items.some((m) => m.kind === k));
}

async function loadAll() {
  try {
    const [fc] = await Promise.all([api.get(`/map/summary${qs({ level: "ward", layers: "devices" })}`), loadMarkers()]);
    state.summary = fc;
    state.wardNames = new Map(fc.features.map((f) => [f.properties.code, f.properties.name]));
    map.update(fc);
    renderFilters();
    $("legend").append(markerLegend(state.kinds));
    render();
  } catch (err) {
    toast(`${t("error")}: ${err.message}`);
  }
}
const reload = debounce(async () => { await loadMarkers(); render(); }, 3000);

window.opsDevices = { state, map, markers, zoomer }; // for the browser tests and for debugging
async function main() {
  initHeader(session);
  $("devices-csv").append(csvButton($("devices"), "thiet-bi"));
  for (const id of ["kind", "ward", "state"]) $(id).addEventListener("change", render);
  $("q").addEventListener("input", debounce(render, 200));
  $("filters").addEventListener("submit", (e) => e.preventDefault());
  $("show-markers").addEventListener("change", (e) => markers.setVisible(e.currentTarget.checked));
  onLangChange(() => {
    renderFilters();
    map.relabel(); // redraws the ward legend: the markers' legend goes after it again
    $("legend").append(markerLegend(state.kinds));
    render();
    zoomer.relabel();
  });
  await loadAll();
  new LiveFeed({ token: session.token, topics: ["device_status", "alert"], onEvent: reload }).start();
}

main();
