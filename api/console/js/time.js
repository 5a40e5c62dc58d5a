// Time as the server sees it: its clock ("now", "today") and time zones for wall-clock times.

const HOUR = 3_600_000;
export const DAY = 24 * HOUR;
let skew = 0;
export let operatorTz = "Europe/Berlin";

/** Follow the server's clock (config.json's `now`) and the operators' time zone. */
export function setServerClock(iso, tz) {
  if (iso) skew = Date.parse(iso) - Date.now();
  if (tz) operatorTz = tz;
}

/** The server's now. */
export const now = () => new Date(Date.now() + skew);

const partsCache = new Map();
function formatter(tz) {
  if (!partsCache.has(tz)) {
    partsCache.set(
      tz,
      new Intl.DateTimeFormat("en-GB", {
        timeZone: tz,
        hourCycle: "h23",
        year: "numeric",
        month: "2-digit",
        day: "2-digit",
        hour: "2-digit",
        minute: "2-digit",
        second: "2-digit",
        weekday: "short",
      }),
    );
  }
  return partsCache.get(tz);
}

/** The wall-clock fields of a moment in a time zone. */
export function wallParts(date, tz = operatorTz) {
  const parts = Object.fromEntries(
    formatter(tz)
      .formatToParts(date)
      .map((p) => [p.type, p.value]),
  );
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    hour: Number(parts.hour),
    minute: Number(parts.minute),
    second: Number(parts.second),
    weekday: parts.weekday,
  };
}

function offset(date, tz) {
  const p = wallParts(date, tz);
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return asUtc - (date.getTime() - date.getMilliseconds());
}

/** "2026-12-01T10:00" (a datetime-local value) in `tz` as a Date. */
export function zonedToUtc(wall, tz = operatorTz) {
  const [datePart, timePart = "00:00"] = wall.split("T");
  const [y, m, d] = datePart.split("-").map(Number);
  const [hh, mm] = timePart.split(":").map(Number);
  const guess = Date.UTC(y, m - 1, d, hh, mm);
  let utc = guess - offset(new Date(guess), tz);
  const second = offset(new Date(utc), tz);
  if (guess - second !== utc) utc = guess - second; // across a DST change
  return new Date(utc);
}

const pad = (n) => String(n).padStart(2, "0");

/** A moment as a datetime-local value in `tz`. */
export function wallValue(date, tz = operatorTz) {
  const p = wallParts(date, tz);
  return `${p.year}-${pad(p.month)}-${pad(p.day)}T${pad(p.hour)}:${pad(p.minute)}`;
}

/** A moment as a date input value in `tz`. */
export function dateValue(date, tz = operatorTz) {
  return wallValue(date, tz).slice(0, 10);
}

/** Midnight of the moment's day in `tz`. */
export function dayStart(date, tz = operatorTz) {
  return zonedToUtc(`${dateValue(date, tz)}T00:00`, tz);
}

/** "10:05" */
export function clock(value, tz = operatorTz) {
  if (!value) return "–";
  const p = wallParts(new Date(value), tz);
  return `${pad(p.hour)}:${pad(p.minute)}`;
}

/** "Tue 1 Dec 10:05", or "10:05" when it is today. */
export function when(value, tz = operatorTz) {
  if (!value) return "–";
  const date = new Date(value);
  if (dateValue(date, tz) === dateValue(now(), tz)) return clock(date, tz);
  const p = wallParts(date, tz);
  const month = new Intl.DateTimeFormat("en-GB", { timeZone: tz, month: "short" }).format(date);
  return `${p.weekday} ${p.day} ${month} ${clock(date, tz)}`;
}

/** "6 min ago", "2 h ago", "3 days ago" (by the server's clock). */
export function ago(value) {
  if (!value) return "never";
  const seconds = Math.round((now() - new Date(value)) / 1000);
  if (seconds < 60) return seconds < 0 ? "just now" : `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 48 * 3600) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86400)} days ago`;
}
