// The /ws/live client: authenticate with the first message (the token never goes in the URL, which logs keep),
// subscribe, hand events to the screen, reconnect with last_event_id so nothing is missed.

import { logout, session, TOKEN_RENEWED } from "./api.js";

export class LiveFeed {
  /**
   * @param {object} o
   * @param {string} o.token the JWT
   * @param {string[]} o.topics event topics to subscribe to
   * @param {(event: object) => void} o.onEvent called once per event (deduplicated by id, telemetry excepted)
   * @param {(state: "connecting"|"live"|"offline") => void} [o.onState]
   * @param {() => void} [o.onResync] the screen must reload its lists (first connection, or too much missed)
   * @param {{devices?: string[], wards?: string[]}} [o.filters] narrow telemetry and device status
   */
  constructor({ token, topics, onEvent, onState = () => {}, onResync = () => {}, filters = {} }) {
    Object.assign(this, { token, topics, onEvent, onState, onResync, filters });
    this.lastId = null;
    this.seen = new Set();
    this.retry = 0;
    this.ws = null;
    this.stopped = false;
    // a renewed token extends the open socket's life (the server closes it 4401 when its token expires)
    window.addEventListener(TOKEN_RENEWED, (e) => this.send({ type: "auth", token: e.detail }));
  }

  start() {
    this.stopped = false;
    this.connect();
    return this;
  }

  stop() {
    this.stopped = true;
    this.ws?.close(1000, "bye");
  }

  connect() {
    const proto = location.protocol === "https:" ? "wss" : "ws";
    this.onState("connecting");
    const token = session()?.token || this.token; // the newest token: api.js renews it while the screen is open
    const ws = new WebSocket(`${proto}://${location.host}/ws/live`);
    this.ws = ws;
    ws.onopen = () => ws.send(JSON.stringify({ type: "auth", token }));
    ws.onmessage = (m) => this.handle(JSON.parse(m.data));
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.onState("offline");
      if (this.stopped) return;
      if (e.code === 4401) {
        // refused with the token it used: sign in again; a newer token (renewed meanwhile) gets one more try
        const newer = session()?.token;
        if (!newer || newer === token) return logout("expired");
      }
      const delay = Math.min(15000, 500 * 2 ** this.retry) * (0.8 + Math.random() * 0.4);
      this.retry += 1;
      setTimeout(() => this.connect(), delay);
    };
  }

  send(msg) {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  handle(msg) {
    switch (msg.type) {
      case "hello": {
        const first = this.lastId === null;
        if (first) this.lastId = msg.last_event_id;
        this.send({ type: "subscribe", topics: this.topics, last_event_id: this.lastId, ...this.filters });
        if (first) this.onResync();
        break;
      }
      case "subscribed":
        this.retry = 0;
        this.onState("live");
        break;
      case "reload":
        this.lastId = null; // the next hello starts afresh and asks the screen to reload its lists
        this.seen.clear();
        this.retry = 0;
        this.ws.close(4000, "reload");
        break;
      case "events":
        for (const ev of msg.items) {
          if (ev.topic !== "telemetry") {
            if (this.seen.has(ev.id)) continue;
            this.seen.add(ev.id);
            if (this.seen.size > 5000) this.seen = new Set([...this.seen].slice(-2500));
            if (ev.id > (this.lastId ?? 0)) this.lastId = ev.id;
          }
          try {
            this.onEvent(ev);
          } catch (err) {
            console.error("live event handler failed", err, ev);
          }
        }
        break;
      case "error":
        console.warn("live feed:", msg.detail);
        break;
      default:
        break;
    }
  }
}
