// Device markers over the ward map: a shape per kind, a colour per state, a ring when the device has an open
// alert. At province scale nearby markers gather into clusters (by screen distance), which zoom in when chosen.
// Markers are SVG links to the device page, so Tab reaches them and Enter opens them.

import { t } from "./i18n.js";

const SVG = "http://www.w3.org/2000/svg";
export const STATE_COLORS = { online: "#3ddc97", stale: "#f2c14e", offline: "#ff6b6b", disabled: "#8a97a8" };
const SEVERITY_COLORS = { critical: "#ff4d6d", major: "#ff8c42", minor: "#f2c14e", info: "#5fa8ff" };
const STATE_RANK = { offline: 0, stale: 1, disabled: 2, online: 3 };
// sides and rotation (degrees) of a regular polygon; 0 sides = a circle
export const KIND_SHAPES = {
  salinity: [0, 0], water_level: [4, 45], tide_gauge: [4, 0], rain: [3, -90], air_quality: [6, 0],
  street_light: [5, -90], flood_camera: [3, 90],
};
const CLUSTER_PX = 34;
const CLUSTER_BELOW = 3.2; // zoom factor under which nearby markers cluster
const MARKER_PX = 7;

export function shapePath(kind, r) {
  const [n, rot] = KIND_SHAPES[kind] || [0, 0];
  if (!n) return `M${-r},0a${r},${r} 0 1,0 ${2 * r},0a${r},${r} 0 1,0 ${-2 * r},0Z`;
  const pts = [];
  for (let i = 0; i < n; i += 1) {
    const a = ((rot + (360 * i) / n) * Math.PI) / 180;
    pts.push(`${(r * 1.15 * Math.cos(a)).toFixed(2)},${(r * 1.15 * Math.sin(a)).toFixed(2)}`);
  }
  return `M${pts.join("L")}Z`;
}

function el(name, attrs) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

/** A marker layer on ``map`` (from map.js); ``zoom()`` gives the current zoom factor; ``onCluster(box)``
 * zooms onto a cluster; ``href(marker)`` is where a marker leads. */
export function markerLayer(map, { zoom = () => 1, onCluster = () => {}, href = (m) => `/view/device/${encodeURIComponent(m.id)}`, visible = true } = {}) {
  const g = el("g", { class: "markers" });
  map.overlay.append(g);
  const state = { items: [], visible };

  function pixel() { // user units per screen pixel
    const ctm = map.svg.getScreenCTM();
    return ctm && ctm.a ? 1 / ctm.a : map.size.width / (map.svg.clientWidth || map.size.width);
  }

  function marker(m, x, y, px) {
    const a = el("a", { href: href(m), class: `marker state-${m.state}`, "data-id": m.id,
      "aria-label": `${m.name} (${m.id}): ${t(`state_${m.state}`)}${m.alerts ? `, ${m.alerts} ${t("layer_alerts").toLowerCase()}` : ""}` });
    const r = MARKER_PX * px;
    if (m.alerts) a.append(el("circle", { cx: x, cy: y, r: r * 1.75, class: "alert-ring", fill: "none",
      stroke: SEVERITY_COLORS[m.worst_severity] || SEVERITY_COLORS.major, "stroke-width": 2.5 * px }));
    a.append(el("path", { d: shapePath(m.kind, r), transform: `translate(${x},${y})`, fill: STATE_COLORS[m.state],
      stroke: "#0b1622", "stroke-width": 1.2 * px }));
    const title = el("title", {});
    title.textContent = a.getAttribute("aria-label");
    a.append(title);
    return a;
  }

  function cluster(members, px) {
    const xs = members.map((m) => m.x);
    const ys = members.map((m) => m.y);
    const x = xs.reduce((s, v) => s + v, 0) / xs.length;
    const y = ys.reduce((s, v) => s + v, 0) / ys.length;
    const worst = members.reduce((w, m) => (STATE_RANK[m.m.state] < STATE_RANK[w] ? m.m.state : w), "online");
    const alerts = members.reduce((s, m) => s + (m.m.alerts || 0), 0);
    const r = (11 + 3 * Math.log2(members.length)) * px;
    const c = el("g", { class: "cluster", tabindex: "0", role: "button", "data-count": members.length,
      "aria-label": `${members.length} ${t("cluster")}` });
    c.append(el("circle", { cx: x, cy: y, r, fill: "#13233a", stroke: STATE_COLORS[worst], "stroke-width": 3 * px }));
    if (alerts) c.append(el("circle", { cx: x, cy: y, r: r + 3.5 * px, fill: "none", stroke: SEVERITY_COLORS.major,
      "stroke-width": 2 * px, "stroke-dasharray": `${4 * px} ${3 * px}` }));
    const label = el("text", { x, y, "text-anchor": "middle", "dominant-baseline": "central",
      "font-size": 12 * px, fill: "#e6edf5" });
    label.textContent = String(members.length);
    c.append(label);
    const open = () => onCluster(Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys));
    c.addEventListener("click", (e) => { e.stopPropagation(); open(); });
    c.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); open(); } });
    return c;
  }

  function render() {
    g.replaceChildren();
    const project = map.project;
    if (!state.visible || !project) return;
    const px = pixel();
    const placed = [];
    for (const m of state.items) {
      if (m.lon === null || m.lat === null || m.lon === undefined) continue;
      const [x, y] = project([m.lon, m.lat]);
      placed.push({ m, x, y });
    }
    if (zoom() >= CLUSTER_BELOW) {
      for (const p of placed) g.append(marker(p.m, p.x, p.y, px));
      return;
    }
    const cell = CLUSTER_PX * px;
    const cells = new Map();
    for (const p of placed) {
      const key = `${Math.floor(p.x / cell)}:${Math.floor(p.y / cell)}`;
      if (!cells.has(key)) cells.set(key, []);
      cells.get(key).push(p);
    }
    for (const members of cells.values()) {
      g.append(members.length === 1 ? marker(members[0].m, members[0].x, members[0].y, px) : cluster(members, px));
    }
  }

  map.onBuild(render);
  return {
    update(items) { state.items = items; render(); },
    setVisible(v) { state.visible = v; render(); },
    get visible() { return state.visible; },
    get items() { return state.items; },
    render,
  };
}

/** The legend of the markers: shapes by kind, colours by state (an HTML element). */
export function markerLegend(kinds) {
  const box = document.createElement("div");
  box.className = "legend markers-legend";
  const title = document.createElement("div");
  title.className = "legend-title";
  title.textContent = t("markers_legend");
  box.append(title);
  const icon = (kind, color) => {
    const s = document.createElementNS(SVG, "svg");
    s.setAttribute("viewBox", "-10 -10 20 20");
    s.setAttribute("width", "16");
    s.setAttribute("height", "16");
    s.setAttribute("aria-hidden", "true");
    s.append(el("path", { d: shapePath(kind, 7), fill: color, stroke: "#0b1622" }));
    return s;
  };
  for (const k of kinds) {
    const row = document.createElement("div");
    row.className = "legend-item";
    row.append(icon(k, "#c9d6e3"), document.createTextNode(t(`kind_${k}`)));
    box.append(row);
  }
  for (const [s, c] of Object.entries(STATE_COLORS)) {
    const row = document.createElement("div");
    row.className = "legend-item";
    row.append(icon("salinity", c), document.createTextNode(t(`state_${s}`)));
    box.append(row);
  }
  return box;
}
