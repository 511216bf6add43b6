// The operator screen's incidents: the open and resolved ones, their next status (assigning asks for a unit), kept
// current from the live feed by the screen (``onEvent``).

import { api, debounce, el, getAll } from "./api.js";
import { toast } from "./common.js";
import { fmtNumber, fmtTime, t } from "./i18n.js";

const SEVERITY_RANK = { critical: 0, major: 1, minor: 2, info: 3 };
const NEXT_STATUS = { new: ["assigned"], assigned: ["in_progress"], in_progress: ["resolved"], resolved: ["closed"] };

/** The list in ``listEl`` with its count in ``countEl``; ``wardName(code)`` names a ward of the map. */
export function incidentsPanel({ listEl, countEl, wardName }) {
  const state = {
    items: new Map(),
    units: [],
    picking: null, // {id, unit} while an incident's unit is being chosen
  };

  function upsertIncident(i) {
    if (!i || i.id === undefined || !i.status) return false;
    if (i.status === "closed") state.items.delete(i.id);
    else state.items.set(i.id, { ...(state.items.get(i.id) || {}), ...i });
    return true;
  }

  let unitsCache = null;
  async function units() {
    if (!unitsCache) unitsCache = getAll("/units", { limit: 200 }, 1000).catch((err) => { unitsCache = null; throw err; });
    return unitsCache;
  }

  /** Assigning needs a unit: the button turns into a unit picker with a confirm button (kept across re-renders). */
  async function pickUnit(incident) {
    try {
      state.units = await units();
    } catch (err) {
      toast(`${t("error")}: ${err.message}`);
      return;
    }
    state.picking = { id: incident.id, unit: incident.assigned_unit || state.units[0]?.code };
    renderIncidents();
  }

  function unitPicker(i) {
    const select = el("select", { class: "unit-pick", onchange: (e) => { state.picking.unit = e.currentTarget.value; } },
      ...state.units.map((u) => el("option", { value: u.code, text: u.name })));
    select.value = state.picking.unit;
    return [select,
      el("button", { type: "button", class: "transition confirm", text: "✓",
        onclick: (e) => { const unit = state.picking.unit; state.picking = null; transition(i.id, "assigned", e.currentTarget, unit); } }),
      el("button", { type: "button", class: "ghost cancel", text: "✕", onclick: () => { state.picking = null; renderIncidents(); } })];
  }

  async function transition(id, to, button, unit = undefined) {
    button.disabled = true;
    try {
      const res = await api.post(`/incidents/${id}/transition`, unit ? { to, note: "", unit } : { to, note: "" });
      if (!upsertIncident(res)) {
        const cur = state.items.get(id);
        if (cur) upsertIncident({ ...cur, status: to });
      }
      renderIncidents();
    } catch (err) {
      button.disabled = false;
      toast(`${t("error")}: ${err.message}`);
    }
  }

  function renderIncidents() {
    const list = listEl;
    const items = [...state.items.values()].sort((a, b) =>
      (b.overdue ? 1 : 0) - (a.overdue ? 1 : 0)
      || (SEVERITY_RANK[a.severity] ?? 9) - (SEVERITY_RANK[b.severity] ?? 9)
      || String(b.reported_at).localeCompare(String(a.reported_at)));
    countEl.textContent = fmtNumber(items.length);
    if (!items.length) {
      list.replaceChildren(el("li", { class: "empty", text: t("no_incidents") }));
      return;
    }
    const en = document.documentElement.lang === "en";
    list.replaceChildren(...items.slice(0, 60).map((i) => el("li", {
      class: `item incident sev-${i.severity}${i.overdue ? " overdue" : ""}`, dataset: { id: i.id, status: i.status },
    },
    el("span", { class: "status", text: t(`st_${i.status}`) }),
    el("div", { class: "body" },
      el("div", { class: "title", text: i.title }),
      el("div", { class: "meta", text: [
        (en ? i.category_label_en : i.category_label_vi) || i.category,
        i.ward_name || wardName(i.ward_code),
        fmtTime(i.reported_at, true),
        i.report_count > 1 ? `${i.report_count} ${t("reports")}` : null,
        i.overdue ? t("overdue") : null,
      ].filter(Boolean).join(" · ") })),
    el("div", { class: "actions" }, ...(state.picking?.id === i.id ? unitPicker(i) : (NEXT_STATUS[i.status] || []).map((to) => el("button", {
      type: "button", class: "transition", dataset: { to }, text: t(`to_${to}`),
      onclick: (e) => (to === "assigned" && !i.assigned_unit ? pickUnit(i) : transition(i.id, to, e.currentTarget)),
    })))))));
  }

  async function loadIncidents() {
    try {
      const [open, resolved] = await Promise.all([
        getAll("/incidents", { status: "open", limit: 200 }, 600),
        getAll("/incidents", { status: "resolved", limit: 100 }, 100),
      ]);
      const items = [...open, ...resolved];
      state.items.clear();
      for (const i of items) upsertIncident(i);
      renderIncidents();
    } catch (err) {
      listEl.replaceChildren(el("li", { class: "empty", text: `${t("error")}: ${err.message}` }));
    }
  }

  const refreshIncidents = debounce(loadIncidents, 1000);

  /** A live ``incident`` event: shown at once when it carries the incident, else the list is reloaded. */
  function onEvent(ev) {
    if (upsertIncident(ev.payload)) renderIncidents();
    else refreshIncidents();
  }

  return { load: loadIncidents, render: renderIncidents, onEvent };
}
