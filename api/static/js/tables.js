// Tables of the drill-down views: a plain builder, sparklines (tiny SVG, no library) and CSV export of any table
// (UTF-8 with a BOM so spreadsheet programs keep the diacritics; raw values from data-csv where a cell shows a
// formatted number).

import { el } from "./api.js";
import { t } from "./i18n.js";

const SVG = "http://www.w3.org/2000/svg";

/** ``columns``: [{label, value(row) -> text, csv?(row) -> raw, cls?}]; rows: objects. */
export function fillTable(table, columns, rows, { empty = "none_yet", rowAttrs = () => ({}) } = {}) {
  const head = el("tr", {}, ...columns.map((c) => el("th", { scope: "col", text: t(c.label) })));
  const body = rows.length
    ? rows.map((r) => el("tr", rowAttrs(r), ...columns.map((c) => {
      const v = c.value(r);
      const td = el("td", { class: c.cls || null, dataset: c.csv ? { csv: String(c.csv(r) ?? "") } : undefined });
      if (v instanceof Node) td.append(v);
      else td.textContent = v ?? "–";
      return td;
    })))
    : [el("tr", {}, el("td", { colspan: String(columns.length), class: "empty", text: t(empty) }))];
  table.replaceChildren(el("thead", {}, head), el("tbody", {}, ...body));
}

/** A sparkline of ``values`` (nulls are gaps) as an SVG element with an accessible summary. */
export function sparkline(values, { width = 110, height = 26, label = "" } = {}) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("width", String(width));
  svg.setAttribute("height", String(height));
  svg.setAttribute("class", "sparkline");
  svg.setAttribute("role", "img");
  const nums = values.filter((v) => v !== null && v !== undefined);
  svg.setAttribute("aria-label", label || nums.join(", "));
  if (!nums.length) return svg;
  const lo = Math.min(...nums);
  const hi = Math.max(...nums);
  const x = (i) => 2 + (i * (width - 4)) / Math.max(values.length - 1, 1);
  const y = (v) => height - 3 - ((v - lo) / (hi - lo || 1)) * (height - 6);
  let d = "";
  values.forEach((v, i) => {
    if (v === null || v === undefined) return;
    d += `${d && values[i - 1] !== null && values[i - 1] !== undefined ? "L" : "M"}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
  });
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", d);
  path.setAttribute("fill", "none");
  path.setAttribute("stroke", "#5dadec");
  path.setAttribute("stroke-width", "1.6");
  const last = values.length - 1 - [...values].reverse().findIndex((v) => v !== null && v !== undefined);
  const dot = document.createElementNS(SVG, "circle");
  dot.setAttribute("cx", x(last).toFixed(1));
  dot.setAttribute("cy", y(values[last]).toFixed(1));
  dot.setAttribute("r", "2.2");
  dot.setAttribute("fill", "#e6edf5");
  svg.append(path, dot);
  return svg;
}

function quote(v) {
  const s = String(v ?? "");
  return /[",\r\n;]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The table as CSV text: header and body rows, a cell's ``data-csv`` before its text. */
export function tableCsv(table) {
  const rows = [...table.querySelectorAll("tr")].map((tr) => [...tr.children].map((cell) => (
    cell.dataset.csv !== undefined ? cell.dataset.csv : cell.textContent.trim())));
  return `\ufeff${rows.map((r) => r.map(quote).join(",")).join("\r\n")}\r\n`;
}

export function downloadCsv(filename, text) {
  const url = URL.createObjectURL(new Blob([text], { type: "text/csv;charset=utf-8" }));
  const a = el("a", { href: url, download: filename });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

/** A button that downloads ``table`` as ``name``.csv (the file name is computed when clicked). */
export function csvButton(table, name) {
  return el("button", {
    type: "button", class: "csv", "data-i18n": "export_csv", text: t("export_csv"),
    "aria-controls": table.id || null,
    onclick: () => downloadCsv(`${typeof name === "function" ? name() : name}.csv`, tableCsv(table)),
  });
}
