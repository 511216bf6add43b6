// Public warnings in force over the ward map: each ward under a warning outlined and hatched in the colour of the
// warning's severity (Decision 18/2021's colours), above whichever layer is shown and below the device markers;
// toggled like the markers, with its own legend. Reads the `warnings` layer of /map/summary.

import { el } from "./api.js";
import { fmtNumber, t } from "./i18n.js";
import { capLabel } from "./strings-warnings.js";
import { SEVERITIES, SEVERITY_COLOURS } from "./warning-kit.js";

const SVG = "http://www.w3.org/2000/svg";

function svgEl(name, attrs) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

function patterns() {
  const defs = svgEl("defs", {});
  for (const s of SEVERITIES) {
    const p = svgEl("pattern", { id: `wn-hatch-${s}`, patternUnits: "userSpaceOnUse", width: 7, height: 7,
      patternTransform: "rotate(45)" });
    p.append(svgEl("rect", { width: 3, height: 7, fill: SEVERITY_COLOURS[s], "fill-opacity": 0.75 }));
    defs.append(p);
  }
  return defs;
}

/** The overlay on ``map`` (map.js); ``legendEl`` holds its legend while it is shown. */
export function warningOverlay(map, legendEl, { visible = true } = {}) {
  const g = svgEl("g", { class: "warning-overlay", "aria-hidden": "true" });
  map.svg.prepend(patterns());
  map.overlay.before(g); // over the wards, under the markers
  const state = { features: [], visible };

  function render() {
    g.replaceChildren();
    g.style.display = state.visible ? "" : "none";
    for (const f of state.features) {
      const p = f.properties;
      if (!p.warnings_active) continue;
      const ward = map.svg.querySelector(`path.ward[data-code="${CSS.escape(p.code)}"]`);
      if (!ward) continue;
      const severity = SEVERITIES.includes(p.warning_severity) ? p.warning_severity : "Unknown";
      g.append(svgEl("path", { d: ward.getAttribute("d"), class: "warned", "fill-rule": "evenodd",
        fill: `url(#wn-hatch-${severity})`, stroke: SEVERITY_COLOURS[severity], "data-code": p.code,
        "data-severity": severity, "data-count": p.warnings_active }));
    }
    legend();
  }

  function legend() {
    if (!legendEl) return;
    if (!state.visible) { legendEl.replaceChildren(); return; }
    legendEl.replaceChildren(el("div", { class: "legend warning-legend" },
      el("div", { class: "legend-title", text: t("wn_legend") }),
      ...SEVERITIES.filter((s) => s !== "Unknown").map((s) => el("div", { class: "legend-item" },
        el("span", { class: "swatch hatch", dataset: { severity: s } }), capLabel("severity", s)))));
  }

  map.onBuild(render);
  return {
    update(features) { state.features = features; render(); },
    setVisible(v) { state.visible = v; render(); },
    get visible() { return state.visible; },
    render,
  };
}

/** The hover card's line for a ward under warnings (null when none). */
export function warningHoverLine(p) {
  if (!p.warnings_active) return null;
  return el("div", { class: "hover-value", text: `${t("wn_hover")}: ${capLabel("severity", p.warning_severity)}`
    + (p.warnings_active > 1 ? ` (${fmtNumber(p.warnings_active)})` : "") });
}
