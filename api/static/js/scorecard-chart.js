// A small line chart in plain SVG (no library): months along x, one line per series (a gap where a month has no
// data), a y axis from 0 to `max`. Each point carries a <title>; the chart as a whole is an image with a label.

const SVG = "http://www.w3.org/2000/svg";

function node(tag, attrs = {}, text = null) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== null) e.textContent = text;
  return e;
}

/**
 * Draw into `container`: `labels` (x, one per month), `series` [{name, values (number|null)[], color, dashed}],
 * `max` (the y axis' top), `format` (a value as text), `label` (the image's accessible name).
 */
export function lineChart(container, { labels, series, max, format, label, width = 900, height = 280 }) {
  const pad = { left: 56, right: 48, top: 28, bottom: 36 };
  const w = width - pad.left - pad.right;
  const h = height - pad.top - pad.bottom;
  const x = (i) => pad.left + (labels.length <= 1 ? w / 2 : (i * w) / (labels.length - 1));
  const y = (v) => pad.top + h - (Math.max(0, Math.min(v, max)) / max) * h;
  const svg = node("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label, class: "sc-chart" });
  for (let k = 0; k <= 4; k += 1) {
    const v = (max * k) / 4;
    svg.append(node("line", { x1: pad.left, x2: width - pad.right, y1: y(v), y2: y(v), class: "grid" }),
      node("text", { x: pad.left - 8, y: y(v) + 4, "text-anchor": "end", class: "axis" }, format(v)));
  }
  labels.forEach((m, i) => svg.append(node("text", { x: x(i), y: height - 12, "text-anchor": "middle", class: "axis" }, m)));
  series.forEach((s, k) => { // the legend, top left: a stroke like the series' and its name
    const lx = pad.left + 8 + k * 220;
    svg.append(node("line", { x1: lx, x2: lx + 28, y1: 12, y2: 12, stroke: s.color, "stroke-width": 3,
      "stroke-dasharray": s.dashed ? "8 6" : "none" }), node("text", { x: lx + 36, y: 16, class: "axis" }, s.name));
  });
  for (const s of series) {
    const g = node("g", { class: "series", "data-series": s.name });
    let d = "";
    s.values.forEach((v, i) => {
      if (v === null || v === undefined) { d += " "; return; }
      d += `${d.endsWith(" ") || d === "" ? "M" : "L"}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
    });
    const path = d.trim().split(/\s+/).filter(Boolean).join("");
    if (path) {
      g.append(node("path", { d: path, fill: "none", stroke: s.color, "stroke-width": 3,
        "stroke-dasharray": s.dashed ? "8 6" : "none" }));
    }
    s.values.forEach((v, i) => {
      if (v === null || v === undefined) return;
      const dot = node("circle", { cx: x(i), cy: y(v), r: 5, fill: s.color, "data-month": labels[i], "data-value": v });
      dot.append(node("title", {}, `${s.name} · ${labels[i]}: ${format(v)}`));
      g.append(dot);
    });
    svg.append(g);
  }
  container.replaceChildren(svg);
  return svg;
}
