/* Podium live: one WebSocket to the server's /ws/main for the whole page.
 *
 *   const live = Podium.live();                    // connects; reconnects by itself
 *   live.on("leaderboard", (event) => ...);        // every event of a channel, in order, batches unpacked
 *   live.onStatus((state) => ...);                 // "connecting" | "live" | "offline"
 *
 * "live" means events flow: once the server has answered the subscriptions
 * made when the socket opened (or at once, if there were none).
 *
 * Subscribing to a board channel first brings its snapshot; after a drop, a
 * reconnect or a gap in a channel's seq the channel is subscribed again, so
 * the page re-syncs from a fresh snapshot instead of showing stale state.
 */
(function () {
  "use strict";

  const MAX_BACKOFF_MS = 10000;

  const CLOSE_INVALID_TOKEN = 4401;

  /* A staff page carries the signed-in user's access token, for the channels only staff may follow. */
  function token() {
    const meta = document.querySelector('meta[name="podium-ws-token"]');
    return meta ? meta.content : "";
  }

  function endpoint() {
    const meta = document.querySelector('meta[name="podium-ws"]');
    const path = (meta && meta.content) || "/ws/main";
    const query = token() ? "?token=" + encodeURIComponent(token()) : "";
    if (/^wss?:/.test(path)) return path + query;
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    // ":8001/ws/main": this page's host on another port (the WebSocket server beside the WSGI one).
    if (path.startsWith(":")) return scheme + location.hostname + path + query;
    return scheme + location.host + path + query;
  }

  class Live {
    constructor() {
      this.handlers = new Map(); // channel -> [fn]
      this.statusHandlers = [];
      this.seq = new Map(); // channel -> last seq seen
      this.backoff = 500;
      this.state = null;
      this.connect();
    }

    on(channel, fn) {
      if (!this.handlers.has(channel)) {
        this.handlers.set(channel, []);
        this.send({ type: "subscribe", channels: [channel] });
      }
      this.handlers.get(channel).push(fn);
      return this;
    }

    onStatus(fn) {
      this.statusHandlers.push(fn);
      fn(this.state);
      return this;
    }

    setState(state) {
      if (state === this.state) return;
      this.state = state;
      document.documentElement.dataset.live = state;
      document.querySelectorAll("[data-live-label]").forEach((node) => (node.textContent = state));
      this.statusHandlers.forEach((fn) => fn(state));
    }

    connect() {
      this.setState("connecting");
      const socket = new WebSocket(endpoint());
      this.socket = socket;
      socket.addEventListener("open", () => {
        this.backoff = 500;
        this.seq.clear();
        const channels = [...this.handlers.keys()];
        if (channels.length) this.send({ type: "subscribe", channels });
        else this.setState("live");
      });
      socket.addEventListener("message", (message) => this.receive(message.data));
      socket.addEventListener("close", (event) => {
        if (this.socket !== socket) return;
        this.setState("offline");
        if (event.code === CLOSE_INVALID_TOKEN && token()) {
          location.reload(); // the page's token expired: a fresh page brings a fresh one
          return;
        }
        const wait = this.backoff * (0.75 + Math.random() / 2);
        this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
        setTimeout(() => this.connect(), wait);
      });
    }

    send(frame) {
      if (this.socket && this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(frame));
    }

    resubscribe(channels) {
      channels.forEach((channel) => this.seq.delete(channel));
      this.send({ type: "unsubscribe", channels });
      this.send({ type: "subscribe", channels });
    }

    receive(raw) {
      let frame;
      try {
        frame = JSON.parse(raw);
      } catch (error) {
        return;
      }
      if (frame.type === "subscribed" || frame.type === "error") {
        this.setState("live"); // the server has answered: events of the channels it took flow from here on
      } else if (frame.type === "batch") {
        frame.events.forEach((event) => this.dispatch(event));
      } else if (frame.type === "dropped") {
        this.resubscribe(frame.channels.filter((channel) => this.handlers.has(channel)));
      } else if (frame.channel) {
        this.dispatch(frame);
      }
    }

    dispatch(event) {
      const last = this.seq.get(event.channel);
      if (last !== undefined && event.seq > last + 1 && !event.type.endsWith(".snapshot")) {
        this.resubscribe([event.channel]); // missed events: start again from a snapshot
        return;
      }
      this.seq.set(event.channel, event.seq);
      (this.handlers.get(event.channel) || []).forEach((fn) => {
        try {
          fn(event);
        } catch (error) {
          console.warn("podium: a handler of", event.channel, "failed:", error);
        }
      });
    }
  }

  let shared = null;

  window.Podium = Object.assign(window.Podium || {}, {
    live() {
      if (!shared) shared = new Live();
      return shared;
    },

    /* The page's JSON data, from <script type="application/json" id="...">. */
    data(id) {
      const node = document.getElementById(id);
      return node ? JSON.parse(node.textContent) : null;
    },

    /* fetch() a JSON API route with the session cookie and CSRF token; rejects with the error body. */
    async api(path, options = {}) {
      const token = document.querySelector('meta[name="csrf-token"]');
      const response = await fetch(path, {
        credentials: "same-origin",
        ...options,
        headers: {
          Accept: "application/json",
          ...(options.body ? { "Content-Type": "application/json" } : {}),
          ...(token ? { "X-CSRFToken": token.content } : {}),
          ...(options.headers || {}),
        },
      });
      const body = response.status === 204 ? null : await response.json().catch(() => null);
      if (!response.ok) throw Object.assign(new Error((body && body.error && body.error.message) || response.statusText), { status: response.status, body });
      return body;
    },

    /* Re-read the named [data-region] parts of this page from the server, at most one request at a time:
     *   const refresh = Podium.refresher(400, (freshDocument) => ...);  refresh(["queue"]);
     */
    refresher(delay, onFresh) {
      const pending = new Set();
      let timer = null;
      let busy = false;

      async function run() {
        timer = null;
        busy = true;
        const names = [...pending];
        pending.clear();
        try {
          const response = await fetch(location.pathname + location.search, {
            credentials: "same-origin",
            headers: { Accept: "text/html" },
          });
          if (response.ok) {
            const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
            names.forEach((name) => {
              const current = document.querySelector(`[data-region="${name}"]`);
              const replacement = fresh.querySelector(`[data-region="${name}"]`);
              if (current && replacement) current.replaceWith(document.importNode(replacement, true));
            });
            if (onFresh) onFresh(fresh);
          }
        } catch (error) {
          // Offline for a moment: the next event, or the snapshot after reconnecting, brings the page back.
        }
        busy = false;
        if (pending.size && !timer) timer = setTimeout(run, delay);
      }

      return function request(names) {
        names.forEach((name) => pending.add(name));
        if (!timer && !busy) timer = setTimeout(run, delay);
      };
    },

    format(value) {
      return typeof value === "number" ? value.toLocaleString("en") : value;
    },

    // A board entry's value as shown: the score, then the tie-break score on a game that has one.
    score(entry) {
      const tiebreak = entry.tiebreak === null || entry.tiebreak === undefined ? "" : " · " + this.format(entry.tiebreak);
      return this.format(entry.value) + tiebreak;
    },
  });
})();
