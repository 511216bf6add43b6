// A CAP 1.2 document shown readably: the envelope (type, status, identifier, sender, references), each <info>
// block side by side in its own language (headline, severity/urgency/certainty, times, texts, codes), the areas
// (names, ward codes, polygon sizes), and the XML itself behind a disclosure. Parsed by the browser's DOMParser:
// what the approver reads is exactly what the server would publish.

import { el } from "./api.js";
import { getLang, t } from "./i18n.js";
import { capLabel } from "./strings-warnings.js";
import { severityBadge } from "./warning-kit.js";

const NS = "urn:oasis:names:tc:emergency:cap:1.2";
const LANGS = { "vi-VN": "Tiếng Việt", "en-US": "English" };

const kids = (node, name) => [...node.children].filter((c) => c.namespaceURI === NS && c.localName === name);
const text = (node, name) => kids(node, name)[0]?.textContent ?? "";

function when(iso) {
  if (!iso) return "";
  return new Intl.DateTimeFormat(getLang() === "vi" ? "vi-VN" : "en-GB", {
    timeZone: "Asia/Ho_Chi_Minh", hour: "2-digit", minute: "2-digit", day: "2-digit", month: "2-digit", year: "numeric",
    hour12: false,
  }).format(new Date(iso));
}

function rows(pairs) {
  return el("dl", { class: "cap-dl" }, ...pairs.filter(([, v]) => v !== "" && v !== null && v !== undefined)
    .flatMap(([k, v]) => [el("dt", { text: t(k) }), el("dd", {}, v)]));
}

function area(a) {
  const polygons = kids(a, "polygon");
  const points = polygons.reduce((n, p) => n + p.textContent.trim().split(/\s+/).length, 0);
  const codes = kids(a, "geocode").map((g) => text(g, "value")).join(", ");
  return el("li", { dataset: { geocode: codes } }, el("strong", { text: text(a, "areaDesc") }),
    ` · ${codes} · ${polygons.length} ${t("wn_polygons")}, ${points} ${t("wn_points")}`);
}

function info(node) {
  const lang = text(node, "language");
  const severity = text(node, "severity");
  const params = kids(node, "parameter").map((p) => `${text(p, "valueName")} = ${text(p, "value")}`).join("; ");
  const codes = kids(node, "eventCode").map((c) => text(c, "value")).join(", ");
  return el("section", { class: "cap-info", lang: lang.slice(0, 2) },
    el("h3", { text: `${LANGS[lang] || lang} (${lang})` }),
    el("p", { class: "cap-headline", text: text(node, "headline") }),
    el("p", { class: "cap-badges" }, severityBadge(severity, capLabel("severity", severity)),
      el("span", { class: "wn-tag", text: `${t("wn_urgency")}: ${capLabel("urgency", text(node, "urgency"))}` }),
      el("span", { class: "wn-tag", text: `${t("wn_certainty")}: ${capLabel("certainty", text(node, "certainty"))}` })),
    rows([
      ["wn_event", text(node, "event")], ["wn_category", kids(node, "category").map((c) => c.textContent).join(", ")],
      ["wn_response", text(node, "responseType")], ["wn_onset", when(text(node, "onset"))],
      ["wn_expires", when(text(node, "expires"))], ["wn_sender", text(node, "senderName")],
      ["wn_description", el("span", { class: "cap-text", text: text(node, "description") })],
      ["wn_instruction", el("span", { class: "cap-text", text: text(node, "instruction") })],
      ["wn_event_codes", codes], ["wn_parameters", params], ["wn_web", text(node, "web")],
      ["wn_contact", text(node, "contact")],
    ]),
    el("h4", { text: t("wn_areas") }),
    el("ul", { class: "cap-areas" }, ...kids(node, "area").map(area)));
}

/** The readable document; an unparsable one shows the parser's complaint and the raw text. */
export function capDocument(xml) {
  const doc = new DOMParser().parseFromString(xml, "application/xml");
  const alert = doc.documentElement;
  const raw = el("details", { class: "cap-raw" }, el("summary", { text: t("wn_raw_xml") }), el("pre", { text: xml }));
  if (alert.localName !== "alert" || alert.namespaceURI !== NS) {
    return el("article", { class: "cap-doc" }, el("p", { class: "form-error", text: alert.textContent.slice(0, 300) }), raw);
  }
  const msgType = text(alert, "msgType");
  return el("article", { class: "cap-doc", dataset: { msgType, identifier: text(alert, "identifier") } },
    rows([
      ["wn_msg_type", capLabel("msgType", msgType)], ["wn_cap_status", capLabel("status", text(alert, "status"))],
      ["wn_identifier", text(alert, "identifier")], ["wn_sender", text(alert, "sender")],
      ["wn_sent", when(text(alert, "sent"))], ["wn_scope", text(alert, "scope")],
      ["wn_references", text(alert, "references").split(/\s+/).filter(Boolean).map((r) => r.split(",")[1]).join(", ")],
      ["wn_note", text(alert, "note")],
    ]),
    el("div", { class: "cap-infos" }, ...kids(alert, "info").map(info)),
    raw);
}
