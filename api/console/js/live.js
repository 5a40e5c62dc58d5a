// Server-sent events: zones changing state and new violations, pushed by the server.
import { auth, call } from "./api.js";
import { $ } from "./dom.js";

const RETRY_MS = 5000;
let source = null;
let retry = null;

function status(state, text) {
  const badge = $("#live");
  badge.hidden = false;
  badge.dataset.state = state;
  badge.textContent = text;
}

/** Listen to /api/v1/events/stream; `resync` runs after a gap, as events may have been missed. */
export function connect({ zone, violation, resync }) {
  disconnect();
  let down = false;
  const url = `/api/v1/events/stream?access_token=${encodeURIComponent(auth.token || "")}`;
  source = new EventSource(url);
  source.addEventListener("open", () => {
    status("on", "live");
    if (down) resync();
    down = false;
  });
  source.addEventListener("zone", (event) => zone(JSON.parse(event.data)));
  source.addEventListener("violation", (event) => violation(JSON.parse(event.data)));
  source.addEventListener("error", () => {
    down = true;
    status("off", "reconnecting…");
    if (source.readyState !== EventSource.CLOSED) return; // the browser retries by itself
    // Refused (an expired login, a restart): ask who we are, then start again.
    retry = setTimeout(async () => {
      try {
        await call("/api/v1/me");
        connect({ zone, violation, resync });
        resync();
      } catch {
        // 401 logs out (api.js); otherwise try again later.
        if (auth.token) retry = setTimeout(() => connect({ zone, violation, resync }), RETRY_MS);
      }
    }, RETRY_MS);
  });
}

export function disconnect() {
  clearTimeout(retry);
  if (source) source.close();
  source = null;
}
