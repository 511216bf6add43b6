// Pieces shared by the operator screen and the leader view: header (user, language, logout, clock), toasts.

import { logout } from "./api.js";
import { applyStatic, getLang, onLangChange, toggleLang } from "./i18n.js";

export function initHeader(session) {
  applyStatic();
  const user = document.getElementById("user");
  if (user) user.textContent = session ? `${session.user} · ${session.role}` : "";
  document.getElementById("lang")?.addEventListener("click", toggleLang);
  document.getElementById("logout")?.addEventListener("click", () => logout());
  const timeEl = document.getElementById("clock-time");
  const dateEl = document.getElementById("clock-date");
  if (timeEl) {
    const tick = () => {
      const now = new Date();
      const loc = getLang() === "vi" ? "vi-VN" : "en-GB";
      timeEl.textContent = new Intl.DateTimeFormat(loc, {
        timeZone: "Asia/Ho_Chi_Minh", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
      }).format(now);
      dateEl.textContent = new Intl.DateTimeFormat(loc, {
        timeZone: "Asia/Ho_Chi_Minh", weekday: "long", day: "2-digit", month: "2-digit", year: "numeric",
      }).format(now);
    };
    tick();
    setInterval(tick, 1000);
    onLangChange(tick);
  }
}

let toastTimer = null;
export function toast(message, kind = "error") {
  const box = document.getElementById("toast");
  if (!box) return;
  box.textContent = message;
  box.dataset.kind = kind;
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { box.hidden = true; }, 6000);
}
