// The drill-down panel of the scorecard page: what is behind an indicator's numerator or denominator (dossiers,
// petitions, procedures or units), a page at a time ("show more" follows the API's cursor).

import { api, el, qs } from "./api.js";
import { fmtNumber, getLang, t } from "./i18n.js";

const COLUMNS = {
  dossier: ["id", "procedure_code", "unit_code", "channel", "received_at", "due_date", "resolved_at", "outcome"],
  petition: ["id", "unit_code", "category", "received_at", "due_date", "handled_at", "rating"],
  procedure: ["code", "name", "decision_date", "legal_effective_date", "public_date"],
  unit: ["code", "name"],
};
const CODED = new Set(["channel", "outcome", "rating", "category"]); // values shown in words (sc_v_<value>)
const PAGE = Math.max(1, Math.min(500, Number(new URLSearchParams(location.search).get("page_size")) || 50));

function shown(value, column = "") {
  if (value === null || value === undefined || value === "") return "–";
  if (CODED.has(column)) {
    const word = t(`sc_v_${value}`);
    return word === `sc_v_${value}` ? String(value) : word;
  }
  if (typeof value === "string" && /^\d{4}-\d\d-\d\d$/.test(value)) {
    return new Intl.DateTimeFormat(getLang() === "vi" ? "vi-VN" : "en-GB", { timeZone: "UTC", day: "2-digit",
      month: "2-digit", year: "numeric" }).format(new Date(`${value}T00:00:00Z`));
  }
  if (typeof value === "string" && /^\d{4}-\d\d-\d\dT/.test(value)) {
    return new Intl.DateTimeFormat(getLang() === "vi" ? "vi-VN" : "en-GB", {
      timeZone: "Asia/Ho_Chi_Minh", day: "2-digit", month: "2-digit", year: "numeric", hour: "2-digit",
      minute: "2-digit", hour12: false,
    }).format(new Date(value));
  }
  return String(value);
}

/** A drill-down panel in `box` (its heading, hint, table and "more" button are made here). */
export function createDrill(box) {
  const state = { query: null, items: [], subject: null, cursor: null, title: "" };
  const heading = el("h2", { id: "drill-title", text: t("sc_drill") });
  const status = el("p", { id: "drill-status", class: "sc-hint", "aria-live": "polite", text: t("sc_drill_hint") });
  const table = el("table", { id: "drill-table", class: "data" });
  const more = el("button", { type: "button", id: "drill-more", hidden: true, text: t("sc_more"),
    onclick: () => next() });
  box.replaceChildren(heading, status, el("div", { class: "sc-scroll" }, table), more);

  function render() {
    heading.textContent = state.title ? `${t("sc_drill")}: ${state.title}` : t("sc_drill");
    more.textContent = t("sc_more");
    if (!state.query) { status.textContent = t("sc_drill_hint"); table.replaceChildren(); return; }
    const cols = COLUMNS[state.subject] || [];
    status.textContent = `${t("sc_shown")} ${fmtNumber(state.items.length)} ${t(`sc_subject_${state.subject}`)}`;
    table.replaceChildren(
      el("thead", {}, el("tr", {}, ...cols.map((c) => el("th", { scope: "col", class: "text", text: t(`sc_col_${c}`) })))),
      el("tbody", {}, ...state.items.map((it) => el("tr", { dataset: { id: it.id ?? it.code } },
        ...cols.map((c) => el("td", { class: c === "name" ? "name" : "cell", text: shown(it[c], c) }))))));
    more.hidden = !state.cursor;
  }

  async function next() {
    const page = await api.get(`/scorecard/indicators/${state.query.indicator}/items${qs({
      ...state.query.params, side: state.query.side, limit: PAGE, cursor: state.cursor })}`);
    state.subject = page.subject;
    state.items.push(...page.items);
    state.cursor = page.next_cursor;
    render();
  }

  return {
    /** List what is behind `side` of `indicator` for the group in `params` (level, code, from, to). */
    async open(indicator, side, params, title) {
      Object.assign(state, { query: { indicator, side, params }, items: [], cursor: null, subject: null, title });
      status.textContent = t("loading");
      await next();
      heading.focus?.();
    },
    clear() { Object.assign(state, { query: null, items: [], cursor: null, title: "" }); render(); },
    relabel: render,
    state,
  };
}
