// A booking (code, bay, countdown, navigation, actions) and the list of my bookings.
// Offline, both show the last bookings read from the server, read-only.
import { call, saved, zoneDetails } from "./api.js";
import { formatCountdown, formatPeriod, formatTime, serverNow } from "./clock.js";
import { $, busy, fill, h, say } from "./dom.js";
import { renderAlternatives } from "./find.js";
import { t } from "./i18n.js";

const LIVE = new Set(["booked", "active", "overstay"]);
let ticker = null;
let shown = null; // id of the booking on screen
let rendered = ""; // what it shows, so an unchanged booking is not redrawn (focus stays put)

/** Whether the app could not reach the server on its last try (kept by app.js). */
export const connection = { offline: false };

function remaining(booking) {
  const now = serverNow();
  const start = Date.parse(booking.start);
  const end = Date.parse(booking.end);
  if (!LIVE.has(booking.status) || now >= end) return t("ended");
  if (booking.status === "booked" && now < start) {
    return t("starts_in", { t: formatCountdown(start - now) });
  }
  return t("ends_in", { t: formatCountdown(end - now) });
}

function geoLink(zone) {
  const name = encodeURIComponent(zone.name);
  return `geo:${zone.lat},${zone.lon}?q=${zone.lat},${zone.lon}(${name})`;
}

function fact(term, value) {
  return [h("dt", {}, term), h("dd", {}, value)];
}

async function act(button, booking, path, body, done) {
  const box = $("#booking .message");
  await busy(button, async () => {
    try {
      const answer = await call(`/reservations/${encodeURIComponent(booking.id)}/${path}`, {
        method: "POST",
        json: body,
      });
      const updated = answer.reservation || answer;
      saved.saveBooking(updated);
      renderBooking(updated, { readOnly: false });
      const after = $("#booking .message");
      say(after, done(answer, updated), "ok");
      if (answer.alternatives) renderAlternatives($("#booking .alternatives"), answer.alternatives);
    } catch (error) {
      say(box, error.message);
      if (error.problem?.alternatives) {
        renderAlternatives($("#booking .alternatives"), error.problem.alternatives);
      }
    }
  });
}

function cancelButton(booking) {
  let armed = false;
  const button = h("button", { type: "button", class: "danger" }, t("cancel"));
  button.addEventListener("click", () => {
    if (!armed) {
      armed = true;
      button.textContent = t("cancel_confirm");
      setTimeout(() => {
        armed = false;
        button.textContent = t("cancel");
      }, 6000);
      return;
    }
    act(button, booking, "cancel", undefined, () => t("cancelled"));
  });
  return button;
}

function actions(booking, zone) {
  if (!LIVE.has(booking.status)) return [];
  // Until the zone's bays are known, neither offer check-in nor claim a sensor.
  const bay = zone?.bays?.find((b) => b.id === booking.bay_id);
  const sensor = bay ? Boolean(bay.sensor_id) : null;
  const buttons = [];
  if (sensor === false && booking.status === "booked") {
    const button = h("button", { type: "button", class: "primary" }, t("check_in"));
    button.onclick = () => act(button, booking, "check-in", undefined, () => t("checked_in"));
    buttons.push(button);
  }
  if (sensor === false && booking.status !== "booked") {
    const button = h("button", { type: "button", class: "primary" }, t("check_out"));
    button.onclick = () => act(button, booking, "check-out", undefined, () => t("checked_out"));
    buttons.push(button);
  }
  const extend = h("button", { type: "button" }, t("extend"));
  extend.onclick = () =>
    act(extend, booking, "extend", { minutes: 15 }, (_, b) => t("extended", { t: formatTime(b.end) }));
  buttons.push(extend);
  if (booking.status === "booked") buttons.push(cancelButton(booking));
  const blocked = h("button", { type: "button", class: "warning" }, t("blocked"));
  blocked.onclick = () =>
    act(blocked, booking, "report-blocked", undefined, (answer, b) =>
      answer.moved ? t("moved", { bay: b.bay_label }) : t("reported"),
    );
  buttons.push(blocked);
  const note = sensor ? h("p", { class: "hint" }, t("sensor_note")) : null;
  return [h("div", { class: "actions" }, buttons), note];
}

function renderBooking(booking, { readOnly }) {
  const zone = saved.zone(booking.zone_id);
  const showing = JSON.stringify([booking, readOnly, Boolean(zone?.bays)]);
  if (showing === rendered) return;
  rendered = showing;
  const countdown = h("p", { class: "countdown", role: "timer" }, remaining(booking));
  fill(
    $("#booking"),
    readOnly ? h("p", { class: "badge" }, t("read_only")) : null,
    h("p", { class: "zone-name" }, booking.zone_name),
    h("p", { class: "code-label", id: "code-label" }, t("code")),
    h("p", { class: "code", id: "code", "aria-describedby": "code-label" }, booking.code),
    h("p", { class: "hint" }, t("code_hint")),
    h(
      "dl",
      { class: "facts" },
      fact(t("bay"), booking.bay_label),
      fact(t("period"), formatPeriod(booking.start, booking.end)),
      fact(t("vehicle"), saved.plate(booking.plate)),
      fact(t("status"), t(`s_${booking.status}`)),
    ),
    countdown,
    zone?.lat !== undefined && LIVE.has(booking.status)
      ? h("a", { class: "button secondary", href: geoLink(zone) }, t("navigate"))
      : null,
    readOnly ? null : actions(booking, zone),
    h("p", { class: "message", hidden: true }),
    h("ul", { class: "cards alternatives", hidden: true }),
  );
  clearInterval(ticker);
  ticker = setInterval(() => {
    countdown.textContent = remaining(booking);
  }, 1000);
}

/** One booking, by id: at once from what was saved, then fresh from the server. */
export async function showBooking(id) {
  shown = id;
  const known = saved.bookings().find((b) => b.id === id);
  if (known) renderBooking(known, { readOnly: connection.offline });
  try {
    const details = (zoneId) => zoneDetails(zoneId).catch(() => null); // for the geo link, sensors
    const [booking] = await Promise.all([
      call(`/reservations/${encodeURIComponent(id)}`),
      known ? details(known.zone_id) : null,
    ]);
    saved.saveBooking(booking);
    if (!known) await details(booking.zone_id);
    if (shown === id) renderBooking(booking, { readOnly: false });
  } catch (error) {
    if (error.offline && known) return renderBooking(known, { readOnly: true });
    if (known) return say($("#booking .message"), error.message);
    fill($("#booking"), h("p", { class: "message error", role: "alert" }, error.message));
  }
}

function bookingItem(booking) {
  return h(
    "li",
    { class: "card" },
    h(
      "a",
      { href: `#/booking/${encodeURIComponent(booking.id)}`, class: "booking-link" },
      h("strong", {}, booking.zone_name),
      h("span", { class: "code-small" }, booking.code),
      h("span", {}, `${formatPeriod(booking.start, booking.end)} · ${t("bay")} ${booking.bay_label}`),
      h("span", { class: `status ${booking.status}` }, t(`s_${booking.status}`)),
    ),
  );
}

function renderList(bookings, { readOnly }) {
  const live = bookings.filter((b) => LIVE.has(b.status));
  const past = bookings.filter((b) => !LIVE.has(b.status)).slice(0, 10);
  const group = (title, items) =>
    items.length ? [h("h2", {}, title), h("ul", { class: "cards" }, items.map(bookingItem))] : [];
  fill(
    $("#bookings"),
    readOnly ? h("p", { class: "badge" }, t("read_only")) : null,
    ...group(t("current"), live),
    ...group(t("past"), past),
    bookings.length ? null : h("p", { class: "muted" }, t("no_bookings")),
  );
}

/** My bookings, newest first. */
export async function showBookings() {
  shown = null;
  const box = $("#view-bookings .message");
  say(box, "");
  renderList(saved.bookings(), { readOnly: connection.offline });
  try {
    const bookings = await call("/reservations?limit=30");
    saved.saveBookings(bookings);
    renderList(bookings, { readOnly: false });
  } catch (error) {
    if (!error.offline) say(box, error.message);
    renderList(saved.bookings(), { readOnly: error.offline });
  }
}

/** The id of the booking on screen, if any. */
export const showing = () => shown;

/** Re-read what is on screen (after a notification). */
export function refresh() {
  if (shown) return showBooking(shown);
  if (!$("#view-bookings").hidden) return showBookings();
  return null;
}

/** Leaving the booking screen: stop the countdown, clear the screen. */
export function leave() {
  clearInterval(ticker);
  shown = null;
  rendered = "";
  $("#booking").replaceChildren();
}
