// One public warning in a modal dialog — the approval view: the message in preparation as the exact CAP document
// the server would publish (GET /warnings/{id}/preview.xml, shown readably), or the last published one; who
// drafted, edited, approved; the trail; and only the buttons the person may use: approve or reject (someone with
// the publishing right who neither drafted nor edited it — the server refuses the others anyway), publish once
// approved, edit or discard a draft, update or cancel a published warning.

import { api, el } from "./api.js";
import { toast } from "./common.js";
import { fmtTime, t } from "./i18n.js";
import { capDocument } from "./cap-preview.js";
import { capLabel, hazardLabel } from "./strings-warnings.js";
import { can, DRAFT, openDialog, PUBLISH, showProblem, templates } from "./warning-kit.js";

let shown = null; // {id, load} of the open dialog, refreshed by live events

/** Refresh the dialog if it shows warning ``id`` (a live event about it arrived). */
export function refreshReview(id) {
  if (shown && shown.id === id) shown.load();
}

/**
 * ``me``: /auth/me; ``openForm(mode, warning)`` opens the drafting form; ``onChanged(id)`` after a step.
 */
export async function openWarningReview({ id, me, openForm, onChanged }) {
  const tpl = await templates();
  const { dlg, body, heading, close } = openDialog({ id: "warning-review", title: `${t("wn_review_title")} #${id}`, className: "wide" });
  const error = el("div", { class: "form-error", role: "alert", tabindex: "-1", hidden: true });
  const note = el("textarea", { name: "note", id: "wn-note", rows: 2 });
  const state = { warning: null, loads: 0 };

  /** Read the warning and its document, and show them (a slower, older read never replaces a newer one: a step
   * and the live event it causes both reload). */
  async function load() {
    const seq = ++state.loads;
    try {
      const w = await api.get(`/warnings/${id}`);
      const open = w.messages.find((m) => m.status === "draft" || m.status === "approved");
      const last = w.messages.filter((m) => m.status === "published").at(-1);
      const xml = open ? await api.text(`/warnings/${id}/preview.xml`)
        : last ? await api.text(`/cap/messages/${encodeURIComponent(last.identifier)}.xml`) : null;
      if (seq !== state.loads) return;
      state.warning = w;
      heading.textContent = `${t("wn_review_title")} #${id} · ${hazardLabel(tpl, w.hazard)}`;
      body.replaceChildren(error, status(w, open), actions(w, open, last),
        xml ? el("section", { class: "wn-doc" }, el("h3", { text: t(open ? "wn_preview" : "wn_published_doc") }),
          open ? el("p", { class: "wn-hint", text: t("wn_preview_note") }) : null, capDocument(xml)) : null,
        trail(w));
    } catch (err) {
      if (seq !== state.loads) return;
      body.replaceChildren(error);
      showProblem(body, error, err);
    }
  }

  async function step(button, path, payload) {
    button.disabled = true; // one press, one request
    try {
      await api.post(path, payload);
    } catch (err) {
      button.disabled = false;
      showProblem(body, error, err);
      return;
    }
    onChanged?.(id);
    toast(`${button.textContent}: #${id}`, "ok");
    note.value = "";
    await load();
    body.querySelector(".dlg-actions button")?.focus();
  }

  function button(name, label, onclick, primary = false) {
    return el("button", { type: "button", name, class: primary ? "primary" : "", text: t(label),
      onclick: (e) => onclick(e.currentTarget) });
  }

  async function discard(b) {
    b.disabled = true;
    try {
      await api.del(`/warnings/${id}/draft`);
      onChanged?.(id);
      await load();
    } catch (err) {
      b.disabled = false;
      showProblem(body, error, err);
    }
  }

  /** The buttons this person may use now (the server checks every one of them again). */
  function actions(w, open, last) {
    const mine = open ? open.authors.includes(me.name) : false;
    const judge = open && can(me, PUBLISH) && !mine; // the two-person rule
    const decision = () => ({ version: open.version, note: note.value || null });
    const list = [];
    if (judge && open.status === "draft") {
      list.push(button("approve", "wn_approve", (b) => step(b, `/warnings/${id}/approve`, decision()), true));
    }
    if (judge) list.push(button("reject", "wn_reject", (b) => step(b, `/warnings/${id}/reject`, decision())));
    if (open?.status === "approved" && (can(me, DRAFT) || can(me, PUBLISH))) {
      list.push(button("publish", "wn_publish", (b) => step(b, `/warnings/${id}/publish`, undefined), true));
    }
    if (open && can(me, DRAFT)) {
      if (open.msg_type !== "Cancel") list.push(button("edit", "wn_edit", () => { close(); openForm("edit", w); }));
      list.push(button("discard", "wn_discard", discard));
    }
    if (!open && last && last.msg_type !== "Cancel" && can(me, DRAFT)) {
      list.push(button("update", "wn_update", () => { close(); openForm("update", w); }));
      if (w.state !== "expired") list.push(button("cancel", "wn_cancel", () => cancelForm(w)));
    }
    const noteField = judge
      ? el("label", { class: "wn-field", for: "wn-note" }, el("span", { class: "wn-label", text: t("wn_note") }), note) : null;
    return el("div", { class: "wn-actions" }, noteField,
      open && can(me, PUBLISH) && mine ? el("p", { class: "wn-hint", text: t("wn_two_person") }) : null,
      open && !judge && open.status === "draft" ? el("p", { class: "wn-hint", text: t("wn_awaiting_other") }) : null,
      el("div", { class: "dlg-actions" }, ...list, button("close", "wn_close", close)));
  }

  function cancelForm(w) {
    const reason = el("textarea", { name: "reason", id: "wn-reason", rows: 2, required: true });
    const box = el("form", { class: "wn-cancel" },
      el("label", { class: "wn-field", for: "wn-reason" }, el("span", { class: "wn-label", text: t("wn_reason") }),
        reason),
      el("div", { class: "dlg-actions" },
        el("button", { type: "submit", name: "cancel-submit", class: "primary", text: t("wn_cancel_submit") })));
    box.addEventListener("submit", (e) => {
      e.preventDefault();
      step(box.querySelector("button"), `/warnings/${w.id}/cancel`, { reason: reason.value.trim() });
    });
    body.querySelector(".wn-actions").after(box);
    reason.focus();
  }

  shown = { id, load };
  dlg.addEventListener("close", () => { if (shown?.load === load) shown = null; });
  await load();
  return dlg;
}

/** State, the message in preparation (type, version, draft or approved), its authors and approver, and the
 * last rejection's note while it stands (no edit since). */
function status(w, open) {
  const steps = open ? w.events.filter((e) => e.message_id === open.id && ["rejected", "edited", "drafted", "approved"].includes(e.kind)) : [];
  const rejected = steps.at(-1)?.kind === "rejected" ? steps.at(-1) : null;
  const people = open ? `${t("wn_authors")}: ${open.authors.join(", ")}`
    + (open.approved_by ? ` · ${t("wn_approved_by")}: ${open.approved_by}` : "") : "";
  return el("div", { class: "wn-status" },
    el("p", {}, el("span", { class: "wn-tag", dataset: { state: w.state }, text: capLabel("state", w.state) }),
      open ? ` ${t("wn_msg_in_prep")}: ${capLabel("msgType", open.msg_type)} · ${t("wn_version")} ${open.version} · ` : " ",
      open ? el("strong", { class: "wn-open-status", dataset: { status: open.status },
        text: capLabel("open", open.status) }) : null),
    open ? el("p", { text: people }) : null,
    rejected ? el("p", { class: "wn-rejected",
      text: `${t("wn_rejected")} (${rejected.actor}): ${rejected.detail?.note || ""}` }) : null);
}

function trail(w) {
  return el("section", { class: "wn-trail" }, el("h3", { text: t("wn_trail") }),
    el("ol", {}, ...w.events.map((e) => el("li", {
      text: `${fmtTime(e.at, true)} · ${t(`step_${e.kind}`)} · ${e.actor}${e.actor_role ? ` (${e.actor_role})` : ""}`
        + `${e.detail?.note ? ` — ${e.detail.note}` : ""}${e.detail?.identifier ? ` — ${e.detail.identifier}` : ""}`,
    }))));
}
