// The leaders' view block of public warnings issued in the chosen period (a message published in it: the rule of
// GET /warnings?issued_from=&issued_to=, which the daily brief uses too): counts by hazard and severity, then the
// list with the time first issued, the wards, the status now and the latest message; CSV export.

import { el, getAll } from "./api.js";
import { fmtNumber, fmtTime, getLang, onLangChange, t } from "./i18n.js";
import { capLabel, hazardLabel } from "./strings-warnings.js";
import { csvButton, fillTable } from "./tables.js";
import { SEVERITIES, severityBadge, templates } from "./warning-kit.js";

const $ = (id) => document.getElementById(id);
const state = { items: [], tpl: null, period: null, error: null };

function counts(items) {
  const by = new Map();
  for (const w of items) {
    const key = `${w.hazard}|${w.severity || "Unknown"}`;
    by.set(key, (by.get(key) || 0) + 1);
  }
  return [...by.entries()].map(([key, n]) => {
    const [hazard, severity] = key.split("|");
    return { hazard, severity, n };
  }).sort((a, b) => a.hazard.localeCompare(b.hazard) || SEVERITIES.indexOf(a.severity) - SEVERITIES.indexOf(b.severity));
}

function wards(w) {
  const names = w.ward_names || {};
  return (w.wards || []).map((c) => names[c] ?? c).join(", ");
}

function render() {
  const { items, tpl } = state;
  $("wn-issued-meta").textContent = state.error ? `${t("error")}: ${state.error}` : `${fmtNumber(items.length)}`;
  $("wn-counts").setAttribute("aria-label", t("wn_by_hazard"));
  const rows = counts(items);
  fillTable($("wn-counts"), [
    { label: "wn_col_hazard", value: (r) => (r.total ? t("total") : hazardLabel(tpl, r.hazard)), cls: "text" },
    { label: "wn_col_severity", value: (r) => (r.total ? "" : severityBadge(r.severity, capLabel("severity", r.severity))),
      csv: (r) => (r.total ? "" : r.severity), cls: "text" },
    { label: "wn_col_count", value: (r) => fmtNumber(r.n), csv: (r) => r.n },
  ], rows.length ? [...rows, { total: true, n: items.length }] : [], { empty: "wn_issued_none" });
  const en = getLang() === "en";
  fillTable($("wn-issued"), [
    { label: "wn_col_first_sent", value: (w) => fmtTime(w.first_sent, true), csv: (w) => w.first_sent, cls: "text" },
    { label: "wn_col_hazard", value: (w) => hazardLabel(tpl, w.hazard), cls: "text" },
    { label: "wn_col_severity", value: (w) => severityBadge(w.severity, capLabel("severity", w.severity)),
      csv: (w) => w.severity, cls: "text" },
    { label: "wn_col_headline", value: (w) => (en && w.published_headline_en) || w.published_headline, cls: "text" },
    { label: "wn_col_wards", value: wards, cls: "text" },
    { label: "wn_col_state", value: (w) => capLabel("state", w.state), csv: (w) => w.state, cls: "text" },
    { label: "wn_col_last", value: (w) => `${capLabel("msgType", w.published_type)} · ${fmtTime(w.sent, true)}`,
      csv: (w) => `${w.published_type} ${w.sent}`, cls: "text" },
  ], items, { empty: "wn_issued_none", rowAttrs: (w) => ({ dataset: { id: w.id, state: w.state } }) });
}

/** Show the warnings issued in [from, to) (ISO instants with their offset). */
export async function showIssuedWarnings({ from, to }) {
  state.period = { from, to };
  try {
    const [tpl, items] = await Promise.all([templates(),
      getAll("/warnings", { issued_from: from, issued_to: to, limit: 200 }, 2000)]);
    if (state.period.from !== from || state.period.to !== to) return; // a newer period was asked for meanwhile
    Object.assign(state, { tpl, items, error: null });
  } catch (err) {
    Object.assign(state, { items: [], error: err.message });
  }
  render();
}

$("wn-issued-csv").append(csvButton($("wn-issued"), () => `canh-bao-cong-cong-${(state.period?.from || "").slice(0, 10)}`));
onLangChange(render);
