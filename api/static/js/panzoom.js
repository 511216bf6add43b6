// Pan and zoom of an SVG map by its viewBox: wheel, drag, the + − ⟲ buttons, and the keyboard (+ − arrows 0)
// when the map or one of its wards has the focus. No library: the map is a few hundred paths.

import { t } from "./i18n.js";

const STEP = 1.5;

export function panZoom(map, container, { maxZoom = 24, onChange = () => {} } = {}) {
  const { width, height } = map.size;
  const svg = map.svg;
  const view = { x: 0, y: 0, k: 1 };
  let drag = null;
  let moved = false;

  function clamp() {
    view.k = Math.min(Math.max(view.k, 1), maxZoom);
    const w = width / view.k;
    const h = height / view.k;
    view.x = Math.min(Math.max(view.x, 0), width - w);
    view.y = Math.min(Math.max(view.y, 0), height - h);
  }

  function apply() {
    clamp();
    svg.setAttribute("viewBox", `${view.x} ${view.y} ${width / view.k} ${height / view.k}`);
    svg.dataset.zoom = view.k.toFixed(2);
    onChange(view);
  }

  function zoomAt(factor, cx = view.x + width / view.k / 2, cy = view.y + height / view.k / 2) {
    const k = Math.min(Math.max(view.k * factor, 1), maxZoom);
    const f = k / view.k;
    view.x = cx - (cx - view.x) / f;
    view.y = cy - (cy - view.y) / f;
    view.k = k;
    apply();
  }

  function toUser(clientX, clientY) {
    const ctm = svg.getScreenCTM();
    if (!ctm) return { x: 0, y: 0 };
    const p = new DOMPoint(clientX, clientY).matrixTransform(ctm.inverse());
    return { x: p.x, y: p.y };
  }

  function pan(dxUser, dyUser) {
    view.x += dxUser;
    view.y += dyUser;
    apply();
  }

  svg.addEventListener("wheel", (e) => {
    e.preventDefault();
    const p = toUser(e.clientX, e.clientY);
    zoomAt(e.deltaY < 0 ? 1.25 : 0.8, p.x, p.y);
  }, { passive: false });
  svg.addEventListener("pointerdown", (e) => {
    if (e.button !== 0) return;
    drag = { x: e.clientX, y: e.clientY, vx: view.x, vy: view.y };
    moved = false;
  });
  svg.addEventListener("pointermove", (e) => {
    if (!drag) return;
    const ctm = svg.getScreenCTM();
    const dx = e.clientX - drag.x;
    const dy = e.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 4) moved = true;
    if (!moved || !ctm) return;
    view.x = drag.vx - dx / ctm.a;
    view.y = drag.vy - dy / ctm.d;
    apply();
  });
  const end = () => { drag = null; };
  svg.addEventListener("pointerup", end);
  svg.addEventListener("pointerleave", end);
  // a drag is not a click on the ward under the pointer
  svg.addEventListener("click", (e) => { if (moved) { e.stopPropagation(); e.preventDefault(); moved = false; } }, true);

  container.addEventListener("keydown", (e) => {
    const w = width / view.k;
    const keys = {
      "+": () => zoomAt(STEP), "=": () => zoomAt(STEP), "-": () => zoomAt(1 / STEP), 0: () => reset(),
      ArrowLeft: () => pan(-w / 8, 0), ArrowRight: () => pan(w / 8, 0),
      ArrowUp: () => pan(0, -w / 8), ArrowDown: () => pan(0, w / 8),
    };
    const fn = keys[e.key];
    if (fn && !e.altKey && !e.ctrlKey && !e.metaKey) { e.preventDefault(); fn(); }
  });

  const controls = document.createElement("div");
  controls.className = "zoom-controls";
  const button = (text, label, fn) => {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = text;
    b.dataset.i18nLabel = label;
    b.setAttribute("aria-label", t(label));
    b.title = t(label);
    b.addEventListener("click", fn);
    return b;
  };
  controls.append(button("+", "zoom_in", () => zoomAt(STEP)), button("−", "zoom_out", () => zoomAt(1 / STEP)),
    button("⟲", "zoom_reset", () => reset()));
  container.append(controls);

  function reset() {
    Object.assign(view, { x: 0, y: 0, k: 1 });
    apply();
  }

  /** Zoom on a box of user units (e.g. a cluster's members), with some margin. */
  function zoomTo(x0, y0, x1, y1) {
    const k = Math.min(width / Math.max(x1 - x0, 1) / 1.6, height / Math.max(y1 - y0, 1) / 1.6, maxZoom);
    view.k = Math.max(k, view.k * 1.5);
    view.x = (x0 + x1) / 2 - width / view.k / 2;
    view.y = (y0 + y1) / 2 - height / view.k / 2;
    apply();
  }

  function relabel() {
    for (const b of controls.querySelectorAll("button")) {
      b.setAttribute("aria-label", t(b.dataset.i18nLabel));
      b.title = t(b.dataset.i18nLabel);
    }
  }

  return { view, zoomAt, zoomTo, reset, relabel };
}
