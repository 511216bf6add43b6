// The national screen: the 34 provinces (real 2025 outlines from /national/map) coloured by any KPI or scorecard
// figure, ranked, each with its freshness. Plain SVG: equirectangular, scaled by cos(latitude) at the country's middle.

import { api, logout, qs, requireSession } from "./api.js";

const SVG = "http://www.w3.org/2000/svg";
const NO_DATA = "#3b4252";
const RAMP = ["#b2182b", "#ef8a62", "#fddbc7", "#d1e5f0", "#67a9cf", "#2166ac"];
const TEXT = {
  vi: { title: "Trung tâm Giám sát Quốc gia về Chính phủ điện tử", logout: "Đăng xuất", metric: "Chỉ tiêu", period: "Tháng",
    show: "Xem", brief: "Bản tin quốc gia (PDF)", ranking: "Xếp hạng và độ cập nhật", province: "Tỉnh, thành phố",
    value: "Giá trị", freshness: "Cập nhật", version: "Phiên bản", no_data: "Chưa có số liệu", lang: "English",
    fresh: "Kịp thời", late: "Chậm", silent: "Mất liên lạc", never: "Chưa gửi", not_connected: "Chưa kết nối",
    ago: "trước", ahead: "đồng hồ nhanh", sending: "tỉnh có số liệu", month: "tháng" },
  en: { title: "National e-Government Monitoring Center", logout: "Log out", metric: "Figure", period: "Month",
    show: "Show", brief: "National brief (PDF)", ranking: "Ranking and freshness", province: "Province",
    value: "Value", freshness: "Updated", version: "Version", no_data: "No data", lang: "Tiếng Việt",
    fresh: "Fresh", late: "Late", silent: "Silent", never: "Never sent", not_connected: "Not connected",
    ago: "ago", ahead: "clock ahead", sending: "provinces with data", month: "month" },
};
let lang = localStorage.getItem("ops.lang") === "en" ? "en" : "vi";
const t = (k) => TEXT[lang][k] ?? k;
const state = { metrics: [], fc: null, paths: new Map() };

function fmt(v, unit) {
  if (v === null || v === undefined) return "–";
  const loc = lang === "vi" ? "vi-VN" : "en-GB";
  if (unit === "ratio") return `${new Intl.NumberFormat(loc, { maximumFractionDigits: 1 }).format(v * 100)} %`;
  return new Intl.NumberFormat(loc, { maximumFractionDigits: 1 }).format(v);
}

function age(s) {
  if (s === null || s === undefined) return "";
  if (s < 90) return `${Math.round(s)} s ${t("ago")}`;
  if (s < 5400) return `${Math.round(s / 60)} ph ${t("ago")}`.replace("ph", lang === "vi" ? "phút" : "min");
  if (s < 172800) return `${Math.round(s / 3600)} h ${t("ago")}`;
  return `${Math.round(s / 86400)} d ${t("ago")}`;
}

function projection(features, w, h) {
  let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
  const walk = (c) => (typeof c[0] === "number" ? ((x0 = Math.min(x0, c[0])), (x1 = Math.max(x1, c[0])),
    (y0 = Math.min(y0, c[1])), (y1 = Math.max(y1, c[1]))) : c.forEach(walk));
  features.forEach((f) => f.geometry && walk(f.geometry.coordinates));
  const k = Math.cos(((y0 + y1) / 2) * Math.PI / 180);
  const s = Math.min(w / ((x1 - x0) * k), h / (y1 - y0));
  const ox = (w - (x1 - x0) * k * s) / 2;
  const oy = (h - (y1 - y0) * s) / 2;
  return ([x, y]) => [ox + (x - x0) * k * s, oy + (y1 - y) * s];
}

function pathData(geom, project) {
  const polys = geom.type === "MultiPolygon" ? geom.coordinates : [geom.coordinates];
  return polys.map((poly) => poly.map((ring) => `M${ring.map((c) => project(c).map((n) => n.toFixed(1)).join(","))
    .join("L")}Z`).join("")).join("");
}

function scale(values, higherIsBetter, unit) {
  const v = values.filter((x) => x !== null && x !== undefined).sort((a, b) => a - b);
  if (!v.length) return { color: () => NO_DATA, breaks: [] };
  // rates on fixed steps (comparable month to month); other figures by sextiles of this month's values
  let breaks = unit === "ratio" ? [0.5, 0.6, 0.7, 0.8, 0.9]
    : [...new Set([1, 2, 3, 4, 5].map((i) => v[Math.min(v.length - 1, Math.floor((i * v.length) / 6))]))];
  if (unit !== "ratio") breaks = breaks.filter((b) => b > v[0]);
  const all = higherIsBetter ? RAMP : [...RAMP].reverse();
  const n = breaks.length + 1;
  const colors = n === 1 ? [all[all.length - 1]]
    : Array.from({ length: n }, (_, i) => all[Math.round((i * (all.length - 1)) / (n - 1))]);
  return {
    breaks, colors,
    color(x) {
      if (x === null || x === undefined) return NO_DATA;
      let i = 0;
      while (i < breaks.length && x >= breaks[i]) i += 1;
      return colors[i];
    },
  };
}

function draw(fc) {
  const svg = document.getElementById("map");
  const { width, height } = svg.getBoundingClientRect();
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const project = projection(fc.features, width, height);
  const g = document.createElementNS(SVG, "g");
  state.paths.clear();
  for (const f of fc.features) {
    if (!f.geometry) continue;
    const p = document.createElementNS(SVG, "path");
    p.setAttribute("d", pathData(f.geometry, project));
    p.setAttribute("fill-rule", "evenodd");
    p.dataset.code = f.properties.code;
    p.append(document.createElementNS(SVG, "title"));
    g.append(p);
    state.paths.set(f.properties.code, p);
  }
  svg.replaceChildren(g);
}

function render(fc) {
  const sc = scale(fc.features.map((f) => f.properties.value), fc.higher_is_better, fc.unit);
  for (const f of fc.features) {
    const p = state.paths.get(f.properties.code);
    if (!p) continue;
    p.setAttribute("fill", sc.color(f.properties.value));
    p.dataset.value = f.properties.value ?? "";
    p.querySelector("title").textContent = `${f.properties.name}: ${f.properties.value === null ? t("no_data")
      : fmt(f.properties.value, fc.unit)} · ${t(f.properties.freshness)}`;
  }
  const legend = document.getElementById("legend");
  legend.replaceChildren(...(sc.breaks.length ? sc.colors.map((c, i) => {
    const row = document.createElement("div");
    const sw = document.createElement("i");
    sw.style.background = c;
    const lo = i === 0 ? null : sc.breaks[i - 1];
    const hi = i < sc.breaks.length ? sc.breaks[i] : null;
    row.append(sw, lo === null ? `< ${fmt(hi, fc.unit)}` : hi === null ? `≥ ${fmt(lo, fc.unit)}`
      : `${fmt(lo, fc.unit)} – ${fmt(hi, fc.unit)}`);
    return row;
  }) : []), (() => { const r = document.createElement("div"); const i = document.createElement("i");
    i.style.background = NO_DATA; r.append(i, t("no_data")); return r; })());
  document.getElementById("map-title").textContent =
    `${lang === "vi" ? fc.label_vi : fc.label_en} · ${t("month")} ${fc.period}`;
  const sending = fc.features.filter((f) => f.properties.value !== null).length;
  document.getElementById("summary").textContent = `${sending}/34 ${t("sending")}`;
  const body = document.querySelector("#ranking tbody");
  body.replaceChildren(...fc.features.map((f) => {
    const pr = f.properties;
    const tr = document.createElement("tr");
    tr.dataset.code = pr.code;
    const cells = [pr.rank ?? "–", pr.name, fmt(pr.value, fc.unit)];
    cells.forEach((c, i) => { const td = document.createElement("td"); td.textContent = c;
      if (i !== 1) td.className = "num"; tr.append(td); });
    const fresh = document.createElement("td");
    const badge = document.createElement("span");
    badge.className = `badge ${pr.freshness}`;
    badge.textContent = `${t(pr.freshness)} ${age(pr.age_s)}`.trim();
    fresh.append(badge);
    if (pr.clock_skew_s && pr.clock_skew_s > 60) {
      const sk = document.createElement("span");
      sk.className = "skew";
      sk.textContent = `${t("ahead")} ${Math.round(pr.clock_skew_s / 60)} ph`;
      fresh.append(sk);
    }
    const ver = document.createElement("td");
    ver.className = "num";
    ver.textContent = pr.version ?? "–";
    tr.append(fresh, ver);
    return tr;
  }));
}

async function load() {
  const metric = document.getElementById("metric").value;
  const period = document.getElementById("period").value;
  const fc = await api.get(`/national/map${qs({ metric, period })}`);
  if (!state.fc) draw(fc);
  state.fc = fc;
  if (!period) document.getElementById("period").value = fc.period;
  render(fc);
  document.body.dataset.ready = "1";
}

function relabel() {
  document.querySelectorAll("[data-t]").forEach((e) => { e.textContent = t(e.dataset.t); });
  document.getElementById("lang").textContent = t("lang");
  const sel = document.getElementById("metric");
  for (const o of sel.options) {
    const m = state.metrics.find((x) => x.metric === o.value);
    if (m) o.textContent = `${lang === "vi" ? m.label_vi : m.label_en}`;
  }
  if (state.fc) render(state.fc);
}

async function main() {
  const s = await requireSession(); // stops here (login page) when signed out
  document.getElementById("user").textContent = `${s.user} · ${s.role}`;
  document.getElementById("logout").addEventListener("click", () => logout());
  document.getElementById("lang").addEventListener("click", () => {
    lang = lang === "vi" ? "en" : "vi";
    localStorage.setItem("ops.lang", lang);
    relabel();
  });
  state.metrics = (await api.get("/national/metrics")).items;
  const sel = document.getElementById("metric");
  for (const m of state.metrics) {
    const o = document.createElement("option");
    o.value = m.metric;
    sel.append(o);
  }
  sel.value = "dossier_kpis.on_time_rate";
  relabel();
  document.getElementById("controls").addEventListener("submit", (e) => { e.preventDefault(); load(); });
  sel.addEventListener("change", () => load());
  document.getElementById("brief").addEventListener("click", async () => {
    const blob = await api.blob(`/national/brief.pdf${qs({ period: document.getElementById("period").value })}`);
    window.open(URL.createObjectURL(blob), "_blank");
  });
  await load();
  setInterval(load, 30000);
}

main().catch((e) => {
  const box = document.getElementById("toast");
  box.textContent = e.message;
  box.hidden = false;
});
