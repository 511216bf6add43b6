// Login: POST /auth/token (OAuth2 password form), keep the JWT in sessionStorage, go where the user was going.

import { saveSession } from "./api.js";
import { applyStatic, t, toggleLang } from "./i18n.js";

const params = new URLSearchParams(location.search);
const form = document.getElementById("login");
const error = document.getElementById("error");
const submit = document.getElementById("submit");

/** Where to go after signing in: `next` only when it parses (as the browser will parse it) to a page of this
 * origin — never by pattern: `/\\host`, `/\t/host`, `//host` are other hosts to the URL parser. */
function safeNext(role) {
  const fallback = role === "leader" ? "/summary" : "/";
  const next = params.get("next");
  if (!next) return fallback;
  let url;
  try {
    url = new URL(next, location.origin);
  } catch {
    return fallback;
  }
  if (url.origin !== location.origin || url.pathname.startsWith("/login")) return fallback;
  return url.pathname + url.search + url.hash; // the parsed same-origin URL, not the raw text
}

applyStatic();
document.getElementById("lang").addEventListener("click", toggleLang);
if (params.get("reason") === "expired") {
  const n = document.getElementById("notice");
  n.textContent = t("session_expired");
  n.hidden = false;
}

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  error.hidden = true;
  submit.disabled = true;
  submit.textContent = t("signing_in");
  const body = new URLSearchParams({
    username: document.getElementById("username").value.trim(),
    password: document.getElementById("password").value,
  });
  try {
    const res = await fetch("/auth/token", { method: "POST", body, headers: { Accept: "application/json" } });
    if (res.status === 401) throw new Error(t("bad_credentials"));
    if (!res.ok) {
      let detail = res.statusText;
      try { detail = (await res.json()).detail || detail; } catch { /* not JSON */ }
      throw new Error(`${t("login_failed")}: ${detail}`);
    }
    const tok = await res.json();
    saveSession(tok.access_token, body.get("username"), tok.role);
    location.assign(safeNext(tok.role));
  } catch (err) {
    error.textContent = err.message;
    error.hidden = false;
    submit.disabled = false;
    submit.textContent = t("sign_in");
  }
});
