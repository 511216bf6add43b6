// Talking to our API: the JWT lives in sessionStorage (cleared when the tab closes); a 401 sends the user to /login.

const KEY = "ops.token";

export function session() {
  const token = sessionStorage.getItem(KEY);
  if (!token) return null;
  return { token, user: sessionStorage.getItem("ops.user") || "", role: sessionStorage.getItem("ops.role") || "" };
}

export function saveSession(token, user, role) {
  sessionStorage.setItem(KEY, token);
  sessionStorage.setItem("ops.user", user);
  sessionStorage.setItem("ops.role", role);
}

export function logout(reason) {
  sessionStorage.removeItem(KEY);
  const next = encodeURIComponent(location.pathname + location.search);
  location.assign(`/login?next=${next}${reason ? `&reason=${encodeURIComponent(reason)}` : ""}`);
}

export const TOKEN_RENEWED = "ops:token-renewed";
const RENEW_EVERY_MS = 5 * 60 * 1000;
let renewTimer = null;

/** A wall screen stays open for days while a token lives minutes: renew it while the page is open
 * (POST /auth/refresh answers only while the account is still enabled). */
function keepRenewing() {
  if (renewTimer) return;
  renewTimer = setInterval(async () => {
    const s = session();
    if (!s) return;
    try {
      const res = await fetch("/auth/refresh", { method: "POST", headers: { Authorization: `Bearer ${s.token}` } });
      if (!res.ok) return;
      const token = (await res.json()).access_token;
      saveSession(token, s.user, s.role);
      window.dispatchEvent(new CustomEvent(TOKEN_RENEWED, { detail: token })); // open live sockets take it too
    } catch { /* offline for a moment: the next round tries again */ }
  }, RENEW_EVERY_MS);
}

/** The session; without one, the browser is sent to the login page and the promise never settles, so that the
 * calling screen stops there (`const session = await requireSession()`) instead of running on with no session. */
export async function requireSession() {
  const s = session();
  if (!s) {
    logout();
    await new Promise(() => {});
  }
  keepRenewing();
  return s;
}

export class ApiError extends Error {
  constructor(status, detail, body) {
    super(detail || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

async function request(method, path, body, { raw = false } = {}) {
  const s = session();
  const headers = { Accept: raw ? "*/*" : "application/json" };
  if (s) headers.Authorization = `Bearer ${s.token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  // cache "no-cache": the browser may keep answers (the map summary says max-age=60) but must revalidate them
  // (ETag → 304), so a screen never shows a stale map after an event.
  const res = await fetch(path, {
    method, headers, cache: "no-cache", body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 401) {
    logout("expired");
    throw new ApiError(401, "not authenticated");
  }
  if (!res.ok) {
    let problem = null;
    try { problem = await res.json(); } catch { /* not JSON */ }
    throw new ApiError(res.status, problem?.detail || problem?.title || res.statusText, problem);
  }
  if (raw) return res;
  return res.status === 204 ? null : res.json();
}

export const api = {
  get: (path) => request("GET", path),
  post: (path, body = {}) => request("POST", path, body),
  patch: (path, body = {}) => request("PATCH", path, body),
  del: (path) => request("DELETE", path),
  text: async (path) => (await request("GET", path, undefined, { raw: true })).text(),
  blob: async (path) => (await request("GET", path, undefined, { raw: true })).blob(),
};

/** Query string from an object, skipping empty values. */
export function qs(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") p.set(k, v);
  const s = p.toString();
  return s ? `?${s}` : "";
}

/** Every item of a paginated list (`{items, next_cursor}`), up to `max`. */
export async function getAll(path, params = {}, max = 500) {
  const out = [];
  let cursor = null;
  do {
    const page = await api.get(path + qs({ ...params, cursor }));
    out.push(...(page.items || []));
    cursor = page.next_cursor;
  } while (cursor && out.length < max);
  return out;
}

/** Today's date in the province (UTC+7), as YYYY-MM-DD. */
export function localDate(d = new Date()) {
  return new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Ho_Chi_Minh" }).format(d);
}

/** Start of a local (UTC+7) day as an ISO instant with offset. */
export function dayStart(date) {
  return `${date}T00:00:00+07:00`;
}

export function addDays(date, n) {
  const d = new Date(`${date}T12:00:00+07:00`);
  d.setUTCDate(d.getUTCDate() + n);
  return localDate(d);
}

export function debounce(fn, ms) {
  let t = null;
  return (...args) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...args), ms);
  };
}

export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(e.dataset, v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c);
  return e;
}
