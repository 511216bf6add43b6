// Pieces the public-warning screens share: the person's rights (/auth/me), the templates, severity colours
// (Decision 18/2021's map colours), province-time inputs, modal dialogs and problem+json errors shown on a form.

import { api, el } from "./api.js";
import { t } from "./i18n.js";

export const DRAFT = "warnings.draft";
export const PUBLISH = "warnings.publish";
export const SEVERITIES = ["Extreme", "Severe", "Moderate", "Minor", "Unknown"];
/** Decision 18/2021's risk-level colours for the CAP severities they map to (docs/cap.md). */
export const SEVERITY_COLOURS = { Extreme: "#e62e2e", Severe: "#ff9933", Moderate: "#fff3a6", Minor: "#a6d8f5",
  Unknown: "#8a97a8" };
const TZ = "Asia/Ho_Chi_Minh";

let mePromise = null;
let templatesPromise = null;

/** The signed-in person: name, role and permissions (cached for the page's life). */
export function whoAmI() {
  if (!mePromise) mePromise = api.get("/auth/me").catch((err) => { mePromise = null; throw err; });
  return mePromise;
}

export function can(me, permission) {
  return Boolean(me?.permissions?.includes(permission));
}

/** The warning templates in force (hazards, their values, Decision 18 levels). */
export function templates() {
  if (!templatesPromise) templatesPromise = api.get("/warnings/templates").catch((err) => { templatesPromise = null; throw err; });
  return templatesPromise;
}

/** An instant as the value of a datetime-local input, in province time (YYYY-MM-DDTHH:MM). */
export function localInput(iso) {
  if (!iso) return "";
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-GB", {
    timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  }).formatToParts(new Date(iso)).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}`;
}

/** A datetime-local value read as province time (UTC+7, no daylight saving), as ISO 8601 with its offset. */
export function fromLocalInput(value) {
  return value ? `${value}:00+07:00` : null;
}

/** A modal dialog (native <dialog>: focus kept inside, Escape closes); focus returns where it was. */
export function openDialog({ id, title, className = "" }) {
  const before = document.activeElement;
  const dlg = el("dialog", { id, class: `wn-dialog ${className}`.trim(), "aria-labelledby": `${id}-title` });
  const body = el("div", { class: "dlg-body" });
  const heading = el("h2", { id: `${id}-title`, text: title });
  dlg.append(el("div", { class: "dlg-head" }, heading,
    el("button", { type: "button", class: "ghost dlg-close", "aria-label": t("wn_close"), text: "✕", onclick: () => dlg.close() })),
  body);
  document.body.append(dlg);
  dlg.addEventListener("close", () => {
    dlg.remove();
    if (before && before.isConnected) before.focus();
  });
  dlg.showModal();
  return { dlg, body, heading, close: () => dlg.close() };
}

/** Show an API refusal in ``box`` and mark the inputs it names (``name`` attributes: texts.vi.headline, wards…);
 * the first one named takes the focus. */
export function showProblem(form, box, err) {
  clearProblem(form, box);
  const errors = err?.body?.errors || [];
  box.textContent = `${t("error")}: ${err.message}`;
  box.hidden = false;
  let first = null;
  for (const e of errors) {
    const name = String(e.field || "").replace(/\[\d+\]$/, "");
    const input = form.querySelector(`[name="${CSS.escape(name)}"]`);
    if (!input) continue;
    input.setAttribute("aria-invalid", "true");
    first ??= input;
  }
  (first || box).focus?.();
}

export function clearProblem(form, box) {
  box.hidden = true;
  box.textContent = "";
  for (const e of form.querySelectorAll("[aria-invalid]")) e.removeAttribute("aria-invalid");
}

/** A severity badge: Decision 18's colour, the label in the chosen language. */
export function severityBadge(severity, label) {
  return el("span", { class: "wn-sev", dataset: { severity: severity || "Unknown" }, text: label });
}
