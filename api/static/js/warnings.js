// The operator screen's public warnings: a "Draft warning" button on each alert (for those who may draft), the
// panel of warnings by state — awaiting approval, approved to publish, in force, ended — loaded over HTTP and
// kept current from the live feed (topic `warning`), the drafting form and the approval view.

import { api, el, getAll } from "./api.js";
import { toast } from "./common.js";
import { fmtNumber, fmtTime, getLang, t } from "./i18n.js";
import { capLabel, hazardLabel } from "./strings-warnings.js";
import { openWarningForm } from "./warning-form.js";
import { openWarningReview, refreshReview } from "./warning-review.js";
import { can, DRAFT, PUBLISH, severityBadge, templates, whoAmI } from "./warning-kit.js";

const GROUPS = ["approval", "publishing", "active", "ended"];
const ENDED_SHOWN = 10;

/** Where a warning belongs on the panel: what it waits for, else whether it is in force; null: nothing left (a
 * discarded draft that was never published). */
export function groupOf(w) {
  if (w.open_status === "draft") return "approval";
  if (w.open_status === "approved") return "publishing";
  if (w.state === "active" || w.state === "updated") return "active";
  if (w.state === "cancelled" || w.state === "expired") return "ended";
  return null;
}

/** The panel in ``box`` (its count in ``countEl``); ``wardOptions()`` the wards of the set in force;
 * ``onPublished()`` after a publication (the map's warning layer changes). */
export function warningsPanel({ box, countEl, wardOptions, onPublished }) {
  const state = { items: new Map(), reads: new Map(), me: null, tpl: null };
  const ready = Promise.all([whoAmI(), templates()]).then(([me, tpl]) => { state.me = me; state.tpl = tpl; });

  async function load() {
    try {
      await ready;
      const lists = await Promise.all([
        ...[{ awaiting: "approval" }, { awaiting: "publishing" }, { state: "active" }, { state: "updated" }]
          .map((q) => getAll("/warnings", { ...q, limit: 100 }, 300)),
        ...["cancelled", "expired"].map((s) => api.get(`/warnings?state=${s}&limit=${ENDED_SHOWN}`).then((r) => r.items)),
      ]);
      state.items.clear();
      for (const w of lists.flat()) state.items.set(w.id, w);
      render();
    } catch (err) {
      box.replaceChildren(el("p", { class: "empty", text: `${t("error")}: ${err.message}` }));
    }
  }

  /** Read one warning again (after a live event or a step); an older read answering late is dropped. */
  async function reload(id) {
    const n = (state.reads.get(id) || 0) + 1;
    state.reads.set(id, n);
    let w = null;
    let gone = false;
    try {
      w = await api.get(`/warnings/${id}`);
    } catch (err) {
      gone = err.status === 404;
      if (!gone) console.warn("warning", id, err.message); // kept as it was; the next event or resync reads it
    }
    if (state.reads.get(id) !== n) return;
    if (w) state.items.set(id, w);
    else if (gone) state.items.delete(id);
    render();
  }

  function onEvent(ev) {
    const id = ev.payload?.warning_id;
    if (!id) return;
    reload(id);
    refreshReview(id);
    if (ev.payload.step === "published") onPublished?.();
  }

  function render() {
    const groups = Object.fromEntries(GROUPS.map((g) => [g, []]));
    for (const w of state.items.values()) groups[groupOf(w)]?.push(w);
    for (const g of GROUPS) groups[g].sort((a, b) => b.id - a.id);
    groups.ended = groups.ended.slice(0, ENDED_SHOWN);
    countEl.textContent = fmtNumber(groups.approval.length + groups.publishing.length + groups.active.length);
    const sections = GROUPS.filter((g) => groups[g].length).map((g) => el("section", { class: "wn-group", dataset: { group: g } },
      el("h3", {}, t(`wn_group_${g}`), " ", el("span", { class: "count", text: fmtNumber(groups[g].length) })),
      el("ul", { class: "list" }, ...groups[g].map((w) => item(w, g)))));
    box.replaceChildren(...(sections.length ? sections : [el("p", { class: "empty", text: t("wn_none") })]));
  }

  function item(w, group) {
    const open = Boolean(w.open_status);
    const en = getLang() === "en";
    const headline = (open ? (en && w.open_headline_en) || w.open_headline : (en && w.published_headline_en) || w.published_headline) || "";
    const severity = open ? w.open_severity : w.severity;
    const codes = (open ? w.open_wards : w.wards) || [];
    const names = (open ? w.open_ward_names : w.ward_names) || {};
    const wards = codes.slice(0, 3).map((c) => names[c] ?? c).join(", ") + (codes.length > 3 ? ` +${codes.length - 3}` : "");
    const judge = group === "approval" && can(state.me, PUBLISH) && !(w.open_authors || []).includes(state.me?.name);
    const publish = group === "publishing" && (can(state.me, PUBLISH) || can(state.me, DRAFT));
    return el("li", { class: "item warning", dataset: { id: w.id, group, state: w.state } },
      severityBadge(severity, capLabel("severity", severity)),
      el("div", { class: "body" }, el("div", { class: "title", text: headline }),
        el("div", { class: "meta", text: [hazardLabel(state.tpl, w.hazard), wards,
          capLabel("msgType", open ? w.open_type : w.published_type),
          fmtTime(open ? w.updated_at : w.sent, true)].filter(Boolean).join(" · ") })),
      el("button", { type: "button", class: judge || publish ? "primary wn-open" : "wn-open",
        text: t(judge ? "wn_review" : publish ? "wn_to_publish" : "wn_open"),
        "aria-label": `${t(judge ? "wn_review" : publish ? "wn_to_publish" : "wn_open")}: ${headline}`,
        onclick: () => openReview(w.id) }));
  }

  function openReview(id) {
    openWarningReview({ id, me: state.me, openForm, onChanged: reload })
      .catch((err) => toast(`${t("error")}: ${err.message}`));
  }

  function openForm(mode, warning, alert = null) {
    openWarningForm({
      mode, warning, wardOptions, sources: alert ? { alerts: [alert.id] } : {},
      sourceLabel: alert ? `#${alert.id} ${alert.summary || ""}` : "",
      onSaved: (w) => {
        state.items.set(w.id, w);
        render();
        toast(t("wn_saved"), "ok");
        openReview(w.id);
      },
    }).catch((err) => toast(`${t("error")}: ${err.message}`));
  }

  /** The alert list's button (only for those who may draft). */
  function draftButton(alert) {
    if (!can(state.me, DRAFT)) return null;
    return el("button", { type: "button", class: "wn-draft", dataset: { alert: alert.id }, text: t("wn_draft_from_alert"),
      "aria-label": `${t("wn_draft_from_alert")}: ${alert.summary || alert.rule_name || ""}`, // the visible text first
      onclick: () => openForm("new", null, alert) });
  }

  return { ready, load, onEvent, render, draftButton, openReview };
}
