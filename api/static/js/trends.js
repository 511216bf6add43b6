// Trends for leaders: each dossier KPI by month beside the same month a year earlier (GET /kpis/dossiers/trend),
// a table by unit with a 12-month sparkline, and CSV export.

import "./strings-views.js";
import { api, el, localDate, qs, requireSession } from "./api.js";
import { compareChart, monthLabel } from "./charts.js";
import { initHeader, toast } from "./common.js";
import { fmtNumber, fmtPercent, onLangChange, t } from "./i18n.js";
import { csvButton, fillTable, sparkline } from "./tables.js";

const session = await requireSession(); // stops here (login page) when signed out
const $ = (id) => document.getElementById(id);
const KPIS = [
  ["received", false], ["online", false], ["online_share", true], ["on_time_rate", true], ["resolved", false],
  ["open_overdue", false], ["postal_receive_share", true], ["postal_return_share", true],
];
const state = { data: null, province: null, charts: new Map() };
const params = new URLSearchParams(location.search);

const sum = (xs) => xs.reduce((s, v) => s + (v ?? 0), 0);
const fmt = (v, percent) => (percent ? fmtPercent(v) : fmtNumber(v));

function ratioOverPeriod(item, kind) {
  // a share over the whole period: weighted by its denominator where we can rebuild it
  const k = item.kpis;
  if (kind === "online_share") {
    const r = sum(k.received.current);
    return r ? sum(k.online.current) / r : null;
  }
  const vals = k[kind].current.filter((v) => v !== null);
  return vals.length ? vals.reduce((s, v) => s + v, 0) / vals.length : null;
}

function renderCharts() {
  const data = state.province;
  if (!data) return;
  const item = data.items[0];
  const labels = data.months.map(monthLabel);
  for (const [kpi, percent] of KPIS) {
    let entry = state.charts.get(kpi);
    if (!entry) {
      const caption = el("figcaption", {});
      const figure = el("figure", { class: "chart trend", dataset: { kpi } }, caption);
      $("kpi-charts").append(figure);
      entry = { figure, caption, chart: compareChart(figure, { percent }) };
      state.charts.set(kpi, entry);
    }
    const series = item ? item.kpis[kpi] : { current: [], previous: [] };
    entry.chart.update(labels, series.current, series.previous);
    // flows add up over the period; a stock (open past due) is its latest value
    const total = (xs) => (kpi === "open_overdue" ? xs.filter((v) => v !== null).at(-1) ?? null : sum(xs));
    entry.caption.textContent = t(`kpi_${kpi}`) + (percent ? ""
      : ` — ${t("this_period")}: ${fmtNumber(total(series.current))} · ${t("year_earlier")}: ${fmtNumber(total(series.previous))}`);
    entry.figure.setAttribute("aria-label", `${t(`kpi_${kpi}`)}: ${series.current.map((v) => fmt(v, percent)).join(", ")}; `
      + `${t("year_earlier")}: ${series.previous.map((v) => fmt(v, percent)).join(", ")}`);
  }
  if (item) {
    const k = item.kpis.online;
    const first = data.months[0].slice(0, 4);
    const last = data.months.at(-1).slice(0, 4);
    const span = first === last ? first : `${first}–${last}`;
    const prevSpan = first === last ? String(Number(first) - 1) : `${Number(first) - 1}–${Number(last) - 1}`;
    $("headline").textContent = `${t("kpi_online")}: ${span}: ${fmtNumber(sum(k.current))} · ${prevSpan}: ${fmtNumber(sum(k.previous))}`;
  }
}

function renderTable() {
  const data = state.data;
  if (!data) return;
  const change = (item) => {
    const now = sum(item.kpis.received.current);
    const before = sum(item.kpis.received.previous);
    return before ? (now - before) / before : null;
  };
  fillTable($("trend-table"), [
    { label: "col_name", value: (i) => i.name, cls: "text" },
    { label: "sparkline", value: (i) => sparkline(i.kpis.received.current, { label: `${t("kpi_received")}: ${i.kpis.received.current.map((v) => fmtNumber(v)).join(", ")}` }),
      csv: (i) => i.kpis.received.current.map((v) => v ?? "").join(" ") },
    { label: "kpi_received", value: (i) => fmtNumber(sum(i.kpis.received.current)), csv: (i) => sum(i.kpis.received.current) },
    { label: "year_earlier", value: (i) => fmtNumber(sum(i.kpis.received.previous)), csv: (i) => sum(i.kpis.received.previous) },
    { label: "change", value: (i) => { const c = change(i); return c === null ? "–" : `${c >= 0 ? "+" : ""}${fmtNumber(c * 100, 1)} %`; }, csv: (i) => change(i) ?? "" },
    { label: "kpi_online", value: (i) => fmtNumber(sum(i.kpis.online.current)), csv: (i) => sum(i.kpis.online.current) },
    { label: "online_share", value: (i) => fmtPercent(ratioOverPeriod(i, "online_share")), csv: (i) => ratioOverPeriod(i, "online_share") ?? "" },
    { label: "on_time_rate", value: (i) => fmtPercent(ratioOverPeriod(i, "on_time_rate")), csv: (i) => ratioOverPeriod(i, "on_time_rate") ?? "" },
  ], data.items, { rowAttrs: (i) => ({ dataset: { code: i.code ?? "" } }) });
}

async function getAllTrend(query) {
  const first = await api.get(`/kpis/dossiers/trend${qs({ ...query, limit: 500 })}`);
  let cursor = first.next_cursor;
  while (cursor) {
    const page = await api.get(`/kpis/dossiers/trend${qs({ ...query, limit: 500, cursor })}`);
    first.items.push(...page.items);
    cursor = page.next_cursor;
  }
  return first;
}

async function load() {
  const query = { to: $("to").value, months: $("months").value };
  const level = $("level").value;
  try {
    const [province, data] = await Promise.all([
      api.get(`/kpis/dossiers/trend${qs({ ...query, level: "province" })}`),
      level === "province" ? null : getAllTrend({ ...query, level }),
    ]);
    state.province = province;
    state.data = data || province;
    renderCharts();
    renderTable();
    const url = new URL(location.href);
    url.searchParams.set("level", level);
    url.searchParams.set("to", query.to);
    history.replaceState(null, "", url);
  } catch (err) {
    toast(`${t("error")}: ${err.message}`);
  }
}

window.opsTrends = { state }; // for the browser tests and for debugging
async function main() {
  initHeader(session);
  $("level").value = params.get("level") || "unit";
  $("to").value = params.get("to") || localDate().slice(0, 7);
  if (params.get("months")) $("months").value = params.get("months");
  $("controls").addEventListener("submit", (e) => { e.preventDefault(); load(); });
  $("level").addEventListener("change", load);
  $("trend-csv").append(csvButton($("trend-table"), () => `xu-huong-${$("level").value}-${$("to").value}`));
  onLangChange(() => { // uPlot keeps its legend labels: build the charts again
    state.charts.clear();
    $("kpi-charts").replaceChildren();
    renderCharts();
    renderTable();
  });
  window.addEventListener("resize", () => { for (const e of state.charts.values()) e.chart.resize(); });
  await load();
}

main();
