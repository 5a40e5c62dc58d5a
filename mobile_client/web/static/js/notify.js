// Toasts, and the server's notifications while the app is open (server-sent events).
import { session } from "./api.js";
import { h } from "./dom.js";
import { t } from "./i18n.js";

const KINDS = new Set([
  "confirmed",
  "starts_soon",
  "ends_soon",
  "no_show",
  "cancelled_by_closure",
  "moved",
  "bay_blocked",
]);
const SHOW_MS = 10_000;

/** Show a short message; screen readers hear it through the polite live region. */
export function toast(title, message, kind = "info") {
  const box = document.getElementById("toasts");
  const item = h(
    "div",
    { class: `toast ${kind}` },
    h("strong", {}, title),
    message ? h("span", {}, message) : null,
    h(
      "button",
      { type: "button", class: "plain", "aria-label": t("dismiss"), onclick: () => item.remove() },
      "×",
    ),
  );
  box.append(item);
  setTimeout(() => item.remove(), SHOW_MS);
}

let stream = null;
const seen = new Set();

/** Listen for the account's notifications; `onNotification` runs after each toast.
 *  `quiet(note)` says when a toast would only repeat what the screen already shows. */
export function listen(onNotification, quiet = () => false) {
  stop();
  if (!session.token || !("EventSource" in window)) return;
  const url = `/api/v1/me/notifications/stream?access_token=${encodeURIComponent(session.token)}`;
  stream = new EventSource(url);
  // data-live on <body> says whether notifications arrive (tests wait for "open").
  stream.onopen = () => {
    document.body.dataset.live = "open";
  };
  stream.onerror = () => {
    document.body.dataset.live = "closed";
  };
  stream.addEventListener("notification", (event) => {
    let note;
    try {
      note = JSON.parse(event.data);
    } catch {
      return;
    }
    if (seen.has(note.id)) return;
    seen.add(note.id);
    const title = t(KINDS.has(note.kind) ? `n_${note.kind}` : "n_other");
    const bad = ["no_show", "cancelled_by_closure"].includes(note.kind);
    if (!quiet(note)) toast(title, note.message, bad ? "warning" : "info");
    onNotification(note);
  });
}

export function stop() {
  if (stream) stream.close();
  stream = null;
  document.body.dataset.live = "closed";
}
