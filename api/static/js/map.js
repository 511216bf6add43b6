// A ward map drawn as plain SVG from our GeoJSON (no tiles, no library): an equirectangular projection scaled by
// cos(latitude), which at Cà Mau's 9°N is within a fraction of a percent of a conformal one over the province.

import { fmtNumber, t } from "./i18n.js";

const NO_DATA = "#3b4252";
const SEVERITY_COLORS = { critical: "#d7263d", major: "#f46036", minor: "#f2c14e", info: "#3a86ff" };
const CALM = "#2a9d8f";

function stepped(breaks, colors, fmt) {
  // colors.length === breaks.length + 1
  return {
    color(v) {
      if (v === null || v === undefined || Number.isNaN(v)) return NO_DATA;
      let i = 0;
      while (i < breaks.length && v >= breaks[i]) i += 1;
      return colors[i];
    },
    legend() {
      return colors.map((c, i) => {
        const lo = i === 0 ? null : breaks[i - 1];
        const hi = i < breaks.length ? breaks[i] : null;
        const label = lo === null ? `< ${fmt(hi)}` : hi === null ? `≥ ${fmt(lo)}` : `${fmt(lo)} – ${fmt(hi)}`;
        return { color: c, label };
      });
    },
  };
}

const pct = (v) => `${fmtNumber(v * 100)}`;
const num = (v) => fmtNumber(v);

/** Map layers: the summary properties each one reads, its colours and its legend. */
export const LAYERS = {
  alerts: {
    label: "layer_alerts", legend: "legend_alerts",
    value: (p) => (p.alerts ? p.alerts.total : null),
    color(p) {
      const a = p.alerts;
      if (!a) return NO_DATA;
      for (const s of ["critical", "major", "minor", "info"]) if (a[s] > 0) return SEVERITY_COLORS[s];
      return CALM;
    },
    legendItems: () => [
      ...["critical", "major", "minor", "info"].map((s) => ({ color: SEVERITY_COLORS[s], label: t(`sev_${s}`) })),
      { color: CALM, label: t("none") },
    ],
    format: num,
  },
  incidents: {
    label: "layer_incidents", legend: "legend_incidents",
    value: (p) => (p.incidents_open ?? null),
    scale: stepped([1, 2, 4], ["#1f4e5f", "#7b5ea7", "#b565c9", "#f062fd"], num),
    format: num,
  },
  water: {
    label: "layer_water", legend: "legend_water",
    value: (p) => (p.water_level_cm_max ?? null),
    scale: stepped([50, 100, 150, 200], ["#cfe8ff", "#8cc4f5", "#4a9be0", "#1f6fbf", "#0b3d91"], num),
    format: (v) => fmtNumber(v, 1),
  },
  salinity: {
    label: "layer_salinity", legend: "legend_salinity",
    value: (p) => (p.salinity_ppt_max ?? null),
    scale: stepped([1, 2, 4, 8], ["#fff3b0", "#ffd166", "#f4a259", "#e76f51", "#9d0208"], num),
    format: (v) => fmtNumber(v, 1),
  },
  devices: {
    label: "layer_devices", legend: "legend_devices",
    value: (p) => (p.devices && p.devices.total > 0 ? p.devices.online / p.devices.total : null),
    scale: stepped([0.5, 0.8, 0.95], ["#d7263d", "#f46036", "#f2c14e", CALM], pct),
    format: (v) => `${fmtNumber(v * 100)} %`,
  },
  ontime: {
    label: "layer_ontime", legend: "legend_ontime",
    value: (p) => (p.dossier_on_time_rate ?? null),
    scale: stepped([0.7, 0.85, 0.95], ["#d7263d", "#f46036", "#f2c14e", CALM], pct),
    format: (v) => `${fmtNumber(v * 100, 1)} %`,
  },
};

function layerColor(layer, props) {
  return layer.color ? layer.color(props) : layer.scale.color(layer.value(props));
}

function* rings(geometry) {
  if (!geometry) return;
  if (geometry.type === "Polygon") yield* geometry.coordinates;
  else if (geometry.type === "MultiPolygon") for (const poly of geometry.coordinates) yield* poly;
}

function projection(features, width, height, pad = 12) {
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  for (const f of features) for (const ring of rings(f.geometry)) for (const [x, y] of ring) {
    if (x < minX) minX = x;
    if (x > maxX) maxX = x;
    if (y < minY) minY = y;
    if (y > maxY) maxY = y;
  }
  const k = Math.cos((((minY + maxY) / 2) * Math.PI) / 180);
  const scale = Math.min((width - 2 * pad) / ((maxX - minX) * k || 1), (height - 2 * pad) / ((maxY - minY) || 1));
  const ox = (width - (maxX - minX) * k * scale) / 2;
  const oy = (height - (maxY - minY) * scale) / 2;
  return ([x, y]) => [ox + (x - minX) * k * scale, oy + (maxY - y) * scale];
}

function pathData(geometry, project) {
  const parts = [];
  for (const ring of rings(geometry)) {
    let d = "";
    for (let i = 0; i < ring.length; i += 1) {
      const [x, y] = project(ring[i]);
      d += `${i ? "L" : "M"}${x.toFixed(1)},${y.toFixed(1)}`;
    }
    parts.push(`${d}Z`);
  }
  return parts.join("");
}

const SVG = "http://www.w3.org/2000/svg";

/**
 * A choropleth in `container` (an element; the SVG fills it) with a legend in `legendEl`.
 * Returns {update(fc), setLayer(key), layer, features}.
 */
export function createMap(container, legendEl, {
  layer = "alerts", onHover = null, onSelect = null, label = "", width = 1000, height = 860,
} = {}) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("preserveAspectRatio", "xMidYMid meet");
  // a map whose wards can be chosen is a group of links; otherwise one image
  svg.setAttribute("role", onSelect ? "group" : "img");
  if (label) svg.setAttribute("aria-label", label);
  svg.classList.add("ward-map");
  const wardsG = document.createElementNS(SVG, "g");
  const overlay = document.createElementNS(SVG, "g");
  overlay.setAttribute("class", "overlay");
  svg.append(wardsG, overlay);
  container.replaceChildren(svg);
  const state = { layer, features: [], paths: new Map(), signature: "", project: null, onBuild: [] };

  function legend() {
    const L = LAYERS[state.layer];
    const items = L.legendItems ? L.legendItems() : L.scale.legend();
    const box = document.createElement("div");
    box.className = "legend";
    const title = document.createElement("div");
    title.className = "legend-title";
    title.textContent = t(L.legend);
    box.append(title);
    for (const it of [...items, { color: NO_DATA, label: t("no_data") }]) {
      const row = document.createElement("div");
      row.className = "legend-item";
      const sw = document.createElement("span");
      sw.className = "swatch";
      sw.style.background = it.color;
      row.append(sw, document.createTextNode(it.label));
      box.append(row);
    }
    legendEl?.replaceChildren(box);
  }

  function recolor() {
    const L = LAYERS[state.layer];
    svg.dataset.layer = state.layer;
    for (const f of state.features) {
      const path = state.paths.get(f.properties.code);
      if (!path) continue;
      const v = L.value(f.properties);
      path.setAttribute("fill", layerColor(L, f.properties));
      path.dataset.value = v === null || v === undefined ? "" : String(v);
      path.querySelector("title").textContent =
        `${f.properties.name}: ${v === null || v === undefined ? t("no_data") : L.format(v)}`;
    }
    legend();
  }

  function build(fc) {
    const features = fc.features || [];
    const project = projection(features, width, height);
    state.project = project;
    wardsG.replaceChildren();
    state.paths.clear();
    for (const f of features) {
      const p = document.createElementNS(SVG, "path");
      p.setAttribute("d", pathData(f.geometry, project));
      p.setAttribute("class", "ward");
      p.setAttribute("fill-rule", "evenodd");
      p.dataset.code = f.properties.code;
      p.dataset.name = f.properties.name;
      p.append(document.createElementNS(SVG, "title"));
      if (onHover) {
        p.addEventListener("mouseenter", () => onHover(f));
        p.addEventListener("mouseleave", () => onHover(null));
        p.addEventListener("focus", () => onHover(f));
        p.addEventListener("blur", () => onHover(null));
      }
      if (onSelect) { // keyboard: Tab to a ward, Enter or Space opens it
        p.setAttribute("tabindex", "0");
        p.setAttribute("role", "link");
        p.setAttribute("aria-label", f.properties.name);
        p.addEventListener("click", () => onSelect(f));
        p.addEventListener("keydown", (e) => {
          if (e.key === "Enter" || e.key === " ") { e.preventDefault(); onSelect(f); }
        });
      }
      wardsG.append(p);
      state.paths.set(f.properties.code, p);
    }
    for (const fn of state.onBuild) fn(project);
  }

  return {
    get layer() { return state.layer; },
    get features() { return state.features; },
    /** lon/lat → SVG user units (null until the first update) */
    get project() { return state.project; },
    svg,
    overlay,
    size: { width, height },
    onBuild(fn) { state.onBuild.push(fn); if (state.project) fn(state.project); },
    highlight(code) {
      for (const [c, p] of state.paths) p.classList.toggle("selected", c === code);
    },
    update(fc) {
      const features = fc.features || [];
      const signature = features.map((f) => f.properties.code).join(",");
      state.features = features;
      if (signature !== state.signature) {
        build(fc);
        state.signature = signature;
      }
      recolor();
    },
    setLayer(key) {
      if (!LAYERS[key]) return;
      state.layer = key;
      recolor();
    },
    relabel: recolor,
  };
}
