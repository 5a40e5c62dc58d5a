// Times as the server sees them. The server's clock decides what "now" is (tests run it at a
// fixed date), so countdowns use an offset learnt from times the server stamped "now":
// a zone search's window start and a new booking's created_at.
import { locale } from "./i18n.js";

const OFFSET_KEY = "kerbside.clockOffset";
let offset = Number(localStorage.getItem(OFFSET_KEY)) || 0;

/** Remember how far the server's clock is from ours, given a time it stamped just now. */
export function learnServerNow(iso) {
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return;
  offset = at - Date.now();
  localStorage.setItem(OFFSET_KEY, String(offset));
}

/** The server's now, in milliseconds since the epoch. */
export const serverNow = () => Date.now() + offset;

export function formatTime(iso) {
  const format = { hour: "2-digit", minute: "2-digit" };
  return new Intl.DateTimeFormat(locale(), format).format(new Date(iso));
}

/** "Tue 1 Dec" when the day is not the server's today, else "". */
export function formatDay(iso) {
  const day = new Date(iso).toDateString();
  if (day === new Date(serverNow()).toDateString()) return "";
  const format = { weekday: "short", day: "numeric", month: "short" };
  return new Intl.DateTimeFormat(locale(), format).format(new Date(iso));
}

export function formatPeriod(start, end) {
  const day = formatDay(start);
  return `${day ? `${day}, ` : ""}${formatTime(start)}–${formatTime(end)}`;
}

/** 29:59, or 1:05:00 past an hour. */
export function formatCountdown(ms) {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const pad = (n) => String(n).padStart(2, "0");
  return h ? `${h}:${pad(m)}:${pad(s)}` : `${m}:${pad(s)}`;
}

/** "09:05" for a time input (24-hour, whatever the language). */
export function hhmm(ms) {
  const when = new Date(ms);
  return `${String(when.getHours()).padStart(2, "0")}:${String(when.getMinutes()).padStart(2, "0")}`;
}

/** ISO 8601 with this device's UTC offset, e.g. 2026-12-01T11:30:00+01:00. */
export function isoWithOffset(ms) {
  const when = new Date(ms);
  const pad = (n) => String(Math.abs(n)).padStart(2, "0");
  const minutes = -when.getTimezoneOffset();
  const sign = minutes >= 0 ? "+" : "-";
  return (
    `${when.getFullYear()}-${pad(when.getMonth() + 1)}-${pad(when.getDate())}` +
    `T${pad(when.getHours())}:${pad(when.getMinutes())}:00` +
    `${sign}${pad(Math.trunc(minutes / 60))}:${pad(minutes % 60)}`
  );
}

/** The next time the clock shows "HH:MM" (today, or tomorrow if that has passed). */
export function nextAt(hhmm) {
  const [h, m] = hhmm.split(":").map(Number);
  const now = serverNow();
  const at = new Date(now);
  at.setHours(h, m, 0, 0);
  if (at.getTime() < now - 60_000) at.setDate(at.getDate() + 1);
  return at.getTime();
}
