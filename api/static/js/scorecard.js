// The leaders' scorecard page (the national service index, Decision 766): the province's total and five groups
// against the previous period, units ranked, every indicator of the province (or of a chosen unit, ward, district)
// drillable to the dossiers behind its numerator and denominator, the ward map coloured by any indicator, the trend
// by month beside the same month a year earlier, CSV and XLSX exports. Every figure comes from the /scorecard API.

import { addDays, api, el, getAll, localDate, qs, requireSession } from "./api.js";
import { initHeader, toast } from "./common.js";
import { addStrings, fmtNumber, getLang, onLangChange, t } from "./i18n.js";
import { createMap, LAYERS } from "./map.js";
import { lineChart } from "./scorecard-chart.js";
import { createDrill } from "./scorecard-drill.js";
import "./strings-scorecard.js";

const session = await requireSession(); // stops here (login page) when signed out
const $ = (id) => document.getElementById(id);
const url = new URLSearchParams(location.search);
const state = {
  definition: null, compare: null, ranking: [], card: null, trend: [],
  selected: { level: "province", code: null, name: null }, indicator: url.get("indicator") || "total",
};
const COLORS = ["#d7263d", "#f46036", "#f2c14e", "#2a9d8f"];
const STRINGS_TOTAL = { vi: "Tổng điểm 766 (thang 100)", en: "766 total (out of 100)" };
const name = (x) => (x?.name ? x.name[getLang()] || x.name.vi : "");
const keyOf = (id) => id.replace(".", "_");
const pct = (v) => (v === null || v === undefined ? "–" : `${fmtNumber(v * 100, 1)} %`);
const pts = (v) => fmtNumber(v, 2);
const signed = (v) => (v === null || v === undefined ? "–" : `${v > 0 ? "▲ +" : v < 0 ? "▼ " : ""}${pts(v)}`);
const isTotal = () => state.indicator === "total";
const drill = createDrill($("drill"));
let map = null;

function windowParams() {
  return { from: $("from").value, to: $("to").value };
}

function groupParams() {
  const s = state.selected;
  return { level: s.level, ...(s.level === "province" ? {} : { code: s.code }), ...windowParams() };
}

// ------------------------------------------------------------------------------------------ definition, map layers

function defineLayers(def) {
  const strings = { vi: { sc_layer_total: STRINGS_TOTAL.vi }, en: { sc_layer_total: STRINGS_TOTAL.en } };
  const keys = [["total", [50, 70, 85], (v) => pts(v)]];
  for (const ind of def.indicators) {
    strings.vi[`sc_layer_${keyOf(ind.id)}`] = `${ind.id} ${ind.name.vi}`;
    strings.en[`sc_layer_${keyOf(ind.id)}`] = `${ind.id} ${ind.name.en}`;
    keys.push([keyOf(ind.id), [0.5, 0.8, 0.95], pct]);
  }
  addStrings(strings);
  for (const [key, breaks, format] of keys) {
    const colorOf = (v) => { let i = 0; while (i < breaks.length && v >= breaks[i]) i += 1; return COLORS[i]; };
    LAYERS[`sc_${key}`] = { // the map module's layer table: this page's own layers, one per indicator
      label: `sc_layer_${key}`, legend: `sc_layer_${key}`, format,
      value: (p) => p.scorecard?.[key] ?? null,
      color: (p) => { const v = p.scorecard?.[key]; return v === null || v === undefined ? "#3b4252" : colorOf(v); },
      legendItems: () => COLORS.map((c, i) => ({ color: c, label: i === 0 ? `< ${format(breaks[0])}`
        : i === breaks.length ? `≥ ${format(breaks[i - 1])}` : `${format(breaks[i - 1])} – ${format(breaks[i])}` })),
    };
  }
}
function renderIndicatorChoice() {
  const select = $("indicator");
  const options = [el("option", { value: "total", text: t("sc_layer_total") }),
    ...state.definition.indicators.map((i) => el("option", { value: i.id, text: t(`sc_layer_${keyOf(i.id)}`) }))];
  select.replaceChildren(...options);
  select.value = state.indicator;
}

// ------------------------------------------------------------------------------------------ overview and ranking

function renderOverview() {
  const c = state.compare;
  const cur = c?.current || {};
  const before = c?.previous || {};
  $("total").textContent = cur.total ? pts(cur.total.scaled) : t("sc_no_data");
  $("total-change").textContent = cur.total && before.total
    ? `${signed(c.change.total)} · ${t("sc_previous")} (${before.from} – ${before.to}): ${pts(before.total.scaled)}` : "";
  $("window-label").textContent = `${cur.from ?? ""} – ${cur.to ?? ""}`;
  const prevGroups = Object.fromEntries((before.groups || []).map((g) => [g.id, g]));
  $("groups").replaceChildren(...state.definition.groups.map((g) => {
    const now = (cur.groups || []).find((x) => x.id === g.id);
    const change = c?.change?.groups?.[g.id];
    return el("div", { class: "tile sc-group", dataset: { group: g.id } },
      el("div", { class: "tile-label", text: `${t("sc_group")} ${g.id}. ${name(g)}` }),
      el("div", { class: "sc-group-value", text: now && now.earned !== null ? `${pts(now.earned)} / ${fmtNumber(g.points)}` : "–" }),
      el("div", { class: "sc-group-sub", text: now ? `${fmtNumber(now.available)} ${t("sc_available")} · ${t("sc_previous")}: ${pts(prevGroups[g.id]?.earned)} ${change === undefined ? "" : `(${signed(change)})`}` : "" }));
  }));
}

function renderRanking() {
  const groups = state.definition.groups;
  const head = el("tr", {}, el("th", { scope: "col", text: t("sc_rank") }), el("th", { scope: "col", class: "text", text: t("sc_col_name") }),
    el("th", { scope: "col", text: t("sc_total") }), ...groups.map((g) => el("th", { scope: "col", text: `${t("sc_group")} ${g.id}` })));
  const rows = state.ranking.map((r) => el("tr", { dataset: { code: r.code ?? "" }, class: r.code === state.selected.code ? "selected" : null },
    el("td", { text: fmtNumber(r.rank) }),
    el("td", { class: "text" }, r.code ? el("button", { type: "button", class: "linkish", text: r.name,
      onclick: () => select($("rank-level").value, r.code, r.name) }) : r.name),
    el("td", { text: r.total.scaled === null ? "–" : pts(r.total.scaled) }),
    ...groups.map((g) => el("td", { text: pts(r.groups.find((x) => x.id === g.id)?.earned) }))));
  $("ranking").replaceChildren(el("thead", {}, head), el("tbody", {}, ...rows));
}

// ------------------------------------------------------------------------------------------ indicators of a group

function sideButton(ind, side, label) {
  return el("button", { type: "button", class: "linkish", dataset: { indicator: ind.id, side },
    "aria-label": `${ind.id} ${t(`sc_side_${side}`)}: ${label}`, text: label,
    onclick: () => drill.open(ind.id, side, groupParams(), `${ind.id} · ${t(`sc_side_${side}`)} · ${selectedName()}`)
      .catch((err) => toast(`${t("sc_drill")}: ${err.message}`)) });
}

function renderIndicators() {
  $("viewing").textContent = `${t("sc_viewing")}: ${selectedName()}`;
  $("back").hidden = state.selected.level === "province";
  const card = state.card;
  const cols = ["sc_col_id", "sc_col_indicator", "sc_col_points", "sc_col_threshold", "sc_col_numerator",
    "sc_col_denominator", "sc_col_ratio", "sc_col_score"];
  const body = [];
  for (const g of state.definition.groups) {
    const gc = card?.groups.find((x) => x.id === g.id);
    body.push(el("tr", { class: "sc-group-row" }, el("td", { class: "text", colspan: 8,
      text: `${t("sc_group")} ${g.id}. ${name(g)}: ${gc && gc.earned !== null ? pts(gc.earned) : "–"} / ${fmtNumber(g.points)}` })));
    for (const ind of (card?.indicators || []).filter((i) => i.group === g.id)) {
      const numerator = ind.parts
        ? el("span", { class: "sc-parts" }, fmtNumber(ind.numerator),
          sideButton(ind, "late", `${t("sc_side_late")} ${fmtNumber(ind.parts.late)}`),
          sideButton(ind, "unsatisfied", `${t("sc_side_unsatisfied")} ${fmtNumber(ind.parts.unsatisfied)}`))
        : sideButton(ind, "numerator", fmtNumber(ind.numerator));
      body.push(el("tr", { dataset: { indicator: ind.id } },
        el("td", { text: ind.id }), el("td", { class: "name", text: name(ind) }),
        el("td", { text: fmtNumber(ind.points) }), el("td", { text: ind.threshold === null ? "–" : pct(ind.threshold) }),
        el("td", {}, numerator), el("td", {}, sideButton(ind, "denominator", fmtNumber(ind.denominator))),
        el("td", { text: pct(ind.ratio) }), el("td", { text: ind.score === null ? "–" : pts(ind.score) })));
    }
  }
  $("indicators").replaceChildren(el("thead", {}, el("tr", {}, ...cols.map((c) => el("th", {
    scope: "col", class: c === "sc_col_indicator" ? "text" : null, text: t(c) })))),
    el("tbody", {}, ...body));
}

function selectedName() {
  return state.selected.level === "province" ? t("sc_province") : state.selected.name || state.selected.code;
}

// ------------------------------------------------------------------------------------------ trend

function renderTrend() {
  const pick = (v) => (v ? (isTotal() ? v.total : v.indicators?.[state.indicator] ?? null) : null);
  const months = state.trend.map((m) => m.month);
  const now = state.trend.map((m) => pick(m.value));
  const before = state.trend.map((m) => pick(m.year_before.value));
  const format = isTotal() ? pts : pct;
  const title = isTotal() ? t("sc_layer_total") : t(`sc_layer_${keyOf(state.indicator)}`);
  $("trend-title").textContent = `${t("sc_trend")} · ${title} · ${selectedName()}`;
  lineChart($("trend"), { labels: months, max: isTotal() ? 100 : 1, format, label: `${t("sc_trend")}: ${title}`,
    width: Math.max(600, $("trend").clientWidth || 900), height: 300,
    series: [{ name: t("sc_trend_this"), values: now, color: "#39a0ed" },
      { name: t("sc_trend_before"), values: before, color: "#f2c14e", dashed: true }] });
  $("trend-table").replaceChildren(
    el("thead", {}, el("tr", {}, ...["sc_month", "sc_trend_this", "sc_trend_before"].map((k) => el("th", { scope: "col", text: t(k) })))),
    el("tbody", {}, ...months.map((m, i) => el("tr", {}, el("td", { text: m }), el("td", { text: now[i] === null ? "–" : format(now[i]) }),
      el("td", { text: before[i] === null ? "–" : format(before[i]) })))));
}

// ------------------------------------------------------------------------------------------ loading

async function loadGroup() {
  const s = state.selected;
  const [card, trend] = await Promise.all([
    api.get(`/scorecard${qs({ ...groupParams(), period: "range" })}`),
    api.get(`/scorecard/trend${qs({ level: s.level, code: s.code, from: `${$("to").value.slice(0, 4)}-01-01`, to: $("to").value })}`),
  ]);
  state.card = card.items.find((i) => s.level === "province" || i.code === s.code) || null;
  state.trend = trend.items;
  renderIndicators();
  renderTrend();
}

async function loadMap() {
  const w = windowParams();
  const level = $("map-level").value;
  $("map-meta").textContent = t("loading");
  const fc = await api.get(`/map/summary${qs({ level, layers: "scorecard", from: `${w.from}T00:00:00+07:00`,
    to: `${addDays(w.to, 1)}T00:00:00+07:00` })}`);
  map.update(fc);
  map.setLayer(`sc_${keyOf(state.indicator)}`);
  $("map-meta").textContent = `${t("boundary_set")}: ${fc.set?.name ?? ""} · ${fmtNumber(fc.features.length)} ` +
    `${t(level === "ward" ? "units_ward" : "units_district")}`;
}

async function load() {
  syncUrl();
  drill.clear();
  const w = windowParams();
  try {
    const [compare, ranking] = await Promise.all([
      api.get(`/scorecard/compare${qs({ period: $("period").value, ...w })}`),
      getAll("/scorecard/ranking", { level: $("rank-level").value, ...w, limit: 200 }, 5000),
    ]);
    Object.assign(state, { compare, ranking });
    const chosen = ranking.find((r) => r.code === state.selected.code);
    if (chosen) state.selected.name = chosen.name;
    renderOverview();
    renderRanking();
    await loadGroup();
  } catch (err) {
    toast(`${t("sc_title")}: ${err.message}`);
  }
  loadMap().catch((err) => { $("map-meta").textContent = `${t("error")}: ${err.message}`; });
}

function select(level, code, label) {
  state.selected = level === "province" ? { level, code: null, name: null } : { level, code, name: label };
  syncUrl();
  renderRanking();
  drill.clear();
  loadGroup().catch((err) => toast(`${t("sc_title")}: ${err.message}`));
}

function syncUrl() {
  const s = state.selected;
  const p = { period: $("period").value, ...windowParams(), indicator: state.indicator === "total" ? null : state.indicator,
    level: s.level === "province" ? null : s.level, code: s.code, rank: $("rank-level").value === "unit" ? null : $("rank-level").value };
  history.replaceState(null, "", `${location.pathname}${qs(p)}`);
}

async function download(fmt) {
  const w = windowParams();
  const level = $("rank-level").value;
  const period = $("period").value;
  try {
    const blob = await api.blob(`/scorecard/export.${fmt}${qs({ level, period, ...w })}`);
    const href = URL.createObjectURL(blob);
    const a = el("a", { href, download: `bo-chi-so-766_${level}_${w.from}_${w.to}.${fmt}` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(href), 60000);
  } catch (err) {
    toast(`${t(`sc_export_${fmt}`)}: ${err.message}`);
  }
}

// ------------------------------------------------------------------------------------------ controls

function monthStart(d) { return `${d.slice(0, 7)}-01`; }

function quick(kind) {
  const today = localDate();
  let from = monthStart(today);
  let to = today;
  let period = "month";
  if (kind === "last_month") { to = addDays(from, -1); from = monthStart(to); }
  if (kind === "this_quarter") { const m = Number(today.slice(5, 7)); from = `${today.slice(0, 4)}-${String(m - ((m - 1) % 3)).padStart(2, "0")}-01`; period = "quarter"; }
  if (kind === "this_year") { from = `${today.slice(0, 4)}-01-01`; period = "year"; }
  $("from").value = from;
  $("to").value = to;
  $("period").value = period;
  load();
}

async function start() {
  initHeader(session);
  const today = localDate();
  $("from").value = url.get("from") || monthStart(today);
  $("to").value = url.get("to") || today;
  $("period").value = url.get("period") || "month";
  $("rank-level").value = url.get("rank") || "unit";
  if (url.get("level") && url.get("code")) state.selected = { level: url.get("level"), code: url.get("code"), name: url.get("code") };
  state.definition = await api.get(`/scorecard/definition${qs({ on: $("from").value })}`);
  defineLayers(state.definition);
  map = createMap($("map"), $("legend"), { layer: `sc_${keyOf(state.indicator)}`, width: 760, height: 660 });
  renderIndicatorChoice();
  for (const b of document.querySelectorAll("[data-quick]")) b.addEventListener("click", () => quick(b.dataset.quick));
  $("controls").addEventListener("submit", (e) => { e.preventDefault(); load(); });
  $("rank-level").addEventListener("change", load);
  $("map-level").addEventListener("change", () => loadMap().catch((err) => toast(err.message)));
  $("indicator").addEventListener("change", () => {
    state.indicator = $("indicator").value;
    map.setLayer(`sc_${keyOf(state.indicator)}`);
    renderTrend();
    syncUrl();
  });
  $("back").addEventListener("click", () => select("province"));
  $("csv").addEventListener("click", () => download("csv"));
  $("xlsx").addEventListener("click", () => download("xlsx"));
  onLangChange(() => {
    renderIndicatorChoice();
    map.relabel();
    if (state.compare) { renderOverview(); renderRanking(); renderIndicators(); renderTrend(); }
    drill.relabel();
  });
  await load();
}

start().catch((err) => toast(`${t("sc_title")}: ${err.message}`));
window.opsScorecard = { state, get map() { return map; } };
