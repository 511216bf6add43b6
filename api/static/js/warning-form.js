// The drafting form of a public warning, in a modal dialog: pre-filled by the server's composition of the hazard's
// template (POST /warnings/compose: nothing is written), the operator changes what the template got wrong, then
// saves a draft (POST /warnings), an edit of a draft (PATCH, with its version) or an update of a published warning.
// Only what the person changed is sent, so texts they left alone keep following the wards and values.

import { api, el } from "./api.js";
import { getLang, t } from "./i18n.js";
import { capLabel, hazardLabel } from "./strings-warnings.js";
import { clearProblem, fromLocalInput, localInput, openDialog, SEVERITIES, showProblem, templates } from "./warning-kit.js";

const URGENCIES = ["Immediate", "Expected", "Future", "Past", "Unknown"];
const CERTAINTIES = ["Observed", "Likely", "Possible", "Unlikely", "Unknown"];
const CAP_STATUSES = ["Actual", "Exercise", "Test", "System"];
const TEXT_FIELDS = ["event", "headline", "description", "instruction"];
const LONG = new Set(["description", "instruction"]);
const CHOICES = { severity: SEVERITIES, urgency: URGENCIES, certainty: CERTAINTIES };

/**
 * Open the form. ``mode``: "new" (``sources``: {alerts: [id]}), "edit" (``warning`` with a draft in preparation)
 * or "update" (``warning`` published). ``wardOptions()``: [{code, name}] of the set in force.
 * ``onSaved(warning)`` gets the warning as the API returns it.
 */
export async function openWarningForm({ mode, warning = null, sources = {}, sourceLabel = "", wardOptions, onSaved }) {
  const tpl = await templates();
  const open = warning?.messages?.find((m) => m.status === "draft" || m.status === "approved");
  const last = warning?.messages?.filter((m) => m.status === "published").at(-1);
  const stored = mode === "edit" ? open.inputs : mode === "update" ? last.inputs : { ...sources };
  const title = t(mode === "edit" ? "wn_form_edit_title" : mode === "update" ? "wn_form_update_title" : "wn_form_title");
  const { dlg, body, close } = openDialog({ id: "warning-form", title, className: "wide" });
  const f = { acc: { texts: {} }, content: null, stored, tpl };
  const error = el("div", { class: "form-error", role: "alert", tabindex: "-1", hidden: true });
  const form = el("form", { class: "wn-form", novalidate: true });
  body.append(form);

  async function compose() {
    const res = await api.post("/warnings/compose", request({ dryRun: true }));
    f.content = res.content;
  }

  /** The body to send: the stored inputs (new: the sources) with the person's changes over them. */
  function request({ dryRun = false } = {}) {
    const { texts, values, ...rest } = f.acc;
    const out = mode === "new" || dryRun ? { ...f.stored, ...rest } : { ...rest };
    if (values) out.values = { ...(f.stored.values || {}), ...values };
    const merged = {};
    for (const lang of ["vi", "en"]) {
      const given = { ...((mode === "new" || dryRun) ? f.stored.texts?.[lang] : {}), ...(texts[lang] || {}) };
      if (Object.keys(given).length) merged[lang] = given;
    }
    if (Object.keys(merged).length) out.texts = merged;
    else delete out.texts;
    if (dryRun && mode === "update" && !("expires" in f.acc) && out.expires && new Date(out.expires) <= new Date()) {
      delete out.expires; // as /update does once the stored expiry has passed: the template's default from now
    }
    if (dryRun) delete out.version;
    return out;
  }

  function render() {
    clearProblem(form, error);
    form.replaceChildren(error, sourceLine(), ...fields(f, mode), actions());
    fillWardPicker(form, f.content?.wards || [], wardOptions);
  }

  function sourceLine() {
    return sourceLabel ? el("p", { class: "wn-source", text: `${t("wn_from_alert")}: ${sourceLabel}` }) : null;
  }

  function actions() {
    return el("div", { class: "dlg-actions" },
      el("button", { type: "button", class: "ghost", name: "recompose", text: t("wn_recompose"), onclick: recompose }),
      el("button", { type: "submit", class: "primary", name: "save", text: t("wn_save_draft") }),
      el("button", { type: "button", class: "ghost", text: t("wn_close"), onclick: close }));
  }

  /** Compose again with the changes so far and show it; ``focus``: a selector to put the focus back on. */
  async function refresh(focus = null) {
    try {
      await compose();
      render();
    } catch (err) { // show what was asked for (the wards chosen) with the refusal
      if (f.acc.wards) {
        const names = Object.fromEntries(wardOptions().map((w) => [w.code, w.name]));
        f.content = { ...f.content, wards: f.acc.wards, ward_names: { ...names, ...(f.content?.ward_names || {}) } };
      }
      render();
      showProblem(form, error, err);
      return;
    }
    if (focus) form.querySelector(focus)?.focus();
  }

  function recompose() {
    collect(form, f);
    return refresh("button[name=recompose]");
  }

  form.addEventListener("change", (e) => {
    if (e.target.name !== "hazard") return;
    collect(form, f);
    f.acc.values = {}; // another template: its own values
    f.stored = { ...f.stored, values: {} };
    refresh("select[name=hazard]");
  });
  form.addEventListener("click", (e) => wardClick(e, form, f, refresh));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    collect(form, f);
    const button = form.querySelector("button[name=save]");
    button.disabled = true;
    try {
      const saved = mode === "new" ? await api.post("/warnings", request())
        : mode === "edit" ? await api.patch(`/warnings/${warning.id}`, { ...request(), version: warning.open_version })
          : await api.post(`/warnings/${warning.id}/update`, request());
      close();
      onSaved?.(saved);
    } catch (err) {
      button.disabled = false;
      showProblem(form, error, err);
    }
  });

  try {
    if (mode === "edit") f.content = open.content;
    else if (mode === "update") f.content = last.content;
    else await compose();
    render();
    form.querySelector("input, select, textarea")?.focus();
  } catch (err) {
    render();
    showProblem(form, error, err);
  }
  return dlg;
}

// ---------------------------------------------------------------- fields

function field(label, control, extra = null) {
  return el("label", { class: "wn-field" }, el("span", { class: "wn-label", text: label }), control, extra);
}

function select(name, options, value, { disabled = false } = {}) {
  const s = el("select", { name, disabled },
    ...options.map(([v, text]) => el("option", { value: v, text })));
  s.value = value;
  return s;
}

function choice(kind, f) {
  const c = f.content;
  const current = kind in f.acc ? f.acc[kind] : f.stored[kind];
  const follows = kind === "severity" && c?.risk_level !== null && c?.risk_level !== undefined;
  const auto = `${t("wn_auto")}: ${capLabel(kind, c?.[kind])}${follows ? ` (${t("wn_severity_follows")})` : ""}`;
  return field(t(`wn_${kind}`), select(kind, [["", auto], ...CHOICES[kind].map((v) => [v, capLabel(kind, v)])],
    follows ? "" : current ?? "", { disabled: follows }));
}

function fields(f, mode) {
  const c = f.content || { texts: {}, parameters: {}, wards: [], ward_names: {} };
  const hazards = Object.keys(f.tpl.hazards || {});
  const template = f.tpl.hazards?.[c.hazard];
  const levels = f.tpl.hazard_levels?.[c.hazard];
  const level = "risk_level" in f.acc ? f.acc.risk_level : f.stored.risk_level;
  const top = el("div", { class: "wn-grid" },
    field(t("wn_hazard"), select("hazard", [...(c.hazard ? [] : [["", "—"]]), ...hazards.map((h) => [h, hazardLabel(f.tpl, h)])], c.hazard ?? "",
      { disabled: mode !== "new" })),
    levels ? field(t("wn_risk_level"), select("risk_level", [["", `${t("wn_auto")}: ${c.risk_level ?? "–"}`],
      ...levels.map((l) => [String(l), `${t("wn_level")} ${l} – ${f.tpl.risk_levels?.[l]?.[`label_${getLang()}`] ?? ""}`])],
    level === null || level === undefined ? "" : String(level))) : null,
    choice("severity", f), choice("urgency", f), choice("certainty", f),
    field(t("wn_onset"), el("input", { type: "datetime-local", name: "onset", value: localInput(c.onset) })),
    field(t("wn_expires"), el("input", { type: "datetime-local", name: "expires", value: localInput(c.expires) })),
    field(t("wn_cap_status"), select("cap_status", CAP_STATUSES.map((s) => [s, capLabel("status", s)]),
      f.acc.cap_status ?? f.stored.cap_status ?? "Actual")),
    ...Object.entries(template?.params || {}).map(([name, p]) => field(`${paramLabel(name)}${p.unit ? ` (${p.unit})` : ""}`,
      el("input", { name: `values.${name}`, type: p.type === "number" ? "number" : "text", step: "any",
        value: c.parameters?.[name] ?? "" }))));
  return [top, wardsBox(c), ...["vi", "en"].map((lang) => texts(lang, c))];
}

/** A template value's label (its name when the strings have none: a new template's own value). */
function paramLabel(name) {
  const key = `wn_param_${name}`;
  return t(key) === key ? name : t(key);
}

function wardsBox(c) {
  return el("fieldset", { class: "wn-wards" }, el("legend", { text: t("wn_wards") }),
    el("ul", { class: "chips", dataset: { codes: (c.wards || []).join(",") } }, ...(c.wards || []).map((code) =>
      el("li", { dataset: { code } }, c.ward_names?.[code] ?? code,
        el("button", { type: "button", class: "ghost chip-remove", dataset: { remove: code },
          "aria-label": `${t("wn_remove_ward")} ${c.ward_names?.[code] ?? code}`, text: "✕" })))),
    el("div", { class: "chip-add" }, el("label", { class: "visually-hidden", for: "ward-add", text: t("wn_add_ward") }),
      el("select", { id: "ward-add", name: "wards" }), el("button", { type: "button", dataset: { add: "1" }, text: t("wn_add") })));
}

function texts(lang, c) {
  return el("fieldset", { class: "wn-texts", lang }, el("legend", { text: t(`wn_texts_${lang}`) }),
    ...TEXT_FIELDS.map((name) => {
      const input = el(LONG.has(name) ? "textarea" : "input", {
        name: `texts.${lang}.${name}`, rows: LONG.has(name) ? 4 : null, maxlength: name === "headline" ? 160 : null });
      input.value = c.texts?.[lang]?.[name] ?? ""; // a textarea's text is its value, not an attribute
      return field(t(`wn_${name}`), input);
    }));
}

// ---------------------------------------------------------------- reading the form back

/** Add to ``f.acc`` whatever differs from what the form showed (the last composed content). */
function collect(form, f) {
  const c = f.content || { texts: {}, parameters: {}, wards: [] };
  const read = (name) => form.querySelector(`[name="${name}"]`);
  const hazard = read("hazard")?.value;
  if (hazard && hazard !== c.hazard) f.acc.hazard = hazard;
  const codes = [...form.querySelectorAll(".chips li")].map((li) => li.dataset.code);
  if (codes.join(",") !== (c.wards || []).join(",")) f.acc.wards = codes;
  for (const kind of ["risk_level", "severity", "urgency", "certainty"]) {
    const s = read(kind);
    if (!s || s.disabled) continue;
    const shown = kind in f.acc ? f.acc[kind] : f.stored[kind];
    const v = s.value === "" ? null : kind === "risk_level" ? Number(s.value) : s.value;
    if (v !== (shown ?? null)) f.acc[kind] = v;
  }
  const status = read("cap_status")?.value;
  if (status && status !== (f.acc.cap_status ?? f.stored.cap_status ?? "Actual")) f.acc.cap_status = status;
  for (const when of ["onset", "expires"]) {
    const v = read(when)?.value;
    if (v && v !== localInput(c[when])) f.acc[when] = fromLocalInput(v);
  }
  for (const input of form.querySelectorAll("[name^='values.']")) {
    const name = input.name.slice(7);
    if (input.value.trim() === "" || input.value.trim() === String(c.parameters?.[name] ?? "")) continue;
    f.acc.values = { ...(f.acc.values || {}), [name]: input.type === "number" ? Number(input.value) : input.value.trim() };
  }
  for (const input of form.querySelectorAll("[name^='texts.']")) {
    const [, lang, name] = input.name.split(".");
    if (input.value !== (c.texts?.[lang]?.[name] ?? "")) {
      f.acc.texts[lang] = { ...(f.acc.texts[lang] || {}), [name]: input.value };
    }
  }
}

/** Remove a ward chip, or add the ward chosen in the picker; composed again, so the texts name the wards. */
function wardClick(e, form, f, refresh) {
  const remove = e.target.closest("[data-remove]");
  const add = e.target.closest("[data-add]");
  if (!remove && !add) return;
  collect(form, f);
  const codes = [...form.querySelectorAll(".chips li")].map((li) => li.dataset.code);
  if (remove) codes.splice(codes.indexOf(remove.dataset.remove), 1);
  else {
    const code = form.querySelector("#ward-add").value;
    if (!code || codes.includes(code)) return;
    codes.push(code);
  }
  f.acc.wards = codes;
  refresh(remove ? "#ward-add" : "[data-add]");
}

export function fillWardPicker(form, chosen, wardOptions) {
  const picker = form.querySelector("#ward-add");
  if (!picker) return;
  const left = wardOptions().filter((w) => !chosen.includes(w.code)).sort((a, b) => a.name.localeCompare(b.name, "vi"));
  picker.replaceChildren(...left.map((w) => el("option", { value: w.code, text: w.name })));
}
