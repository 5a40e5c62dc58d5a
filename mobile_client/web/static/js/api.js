// The REST API: bearer token, problem+json errors (their `detail` is what the driver reads),
// retries with one Idempotency-Key per booking attempt, and the last bookings kept for offline.
import { t } from "./i18n.js";

const BASE = "/api/v1";
const TOKEN_KEY = "kerbside.token";
const BOOKINGS_KEY = "kerbside.bookings";
const ZONES_KEY = "kerbside.zones";
const PLATES_KEY = "kerbside.plates";
const RETRYABLE = new Set([502, 503, 504]);

/** A refusal or failure, with the server's sentence as the message. */
export class ApiError extends Error {
  constructor(message, { status = 0, problem = {}, offline = false } = {}) {
    super(message);
    this.status = status;
    this.problem = problem;
    this.offline = offline;
  }
}

export const session = {
  get token() {
    return localStorage.getItem(TOKEN_KEY);
  },
  set token(value) {
    if (value) localStorage.setItem(TOKEN_KEY, value);
    else localStorage.removeItem(TOKEN_KEY);
  },
  onLoggedOut: () => {},
  onConnection: () => {}, // told true when the server cannot be reached, false when it answers
};

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Call the API; resolves to the JSON body, rejects with an ApiError carrying a sentence. */
export async function call(path, { method = "GET", json, form, headers = {}, retries = 0 } = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers } };
  if (session.token) init.headers.Authorization = `Bearer ${session.token}`;
  if (form) init.body = new URLSearchParams(form);
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  }
  for (let attempt = 0; ; attempt += 1) {
    let response;
    try {
      response = await fetch(BASE + path, init);
    } catch {
      if (attempt < retries) {
        await sleep(300 * 2 ** attempt);
        continue;
      }
      session.onConnection(true);
      throw new ApiError(t("err_offline"), { offline: true });
    }
    session.onConnection(false);
    if (RETRYABLE.has(response.status) && attempt < retries) {
      await sleep(300 * 2 ** attempt);
      continue;
    }
    return read(response);
  }
}

async function read(response) {
  const body = (response.headers.get("Content-Type") || "").includes("json")
    ? await response.json().catch(() => null)
    : null;
  if (response.ok) return body;
  const detail = body && typeof body.detail === "string" ? body.detail : t("err_server");
  if (response.status === 401 && session.token) {
    session.token = null;
    session.onLoggedOut(detail);
  }
  throw new ApiError(detail, { status: response.status, problem: body || {} });
}

function randomKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

let attempt = null; // {body, key}: the booking being tried, kept until the server answers it

/** Book; a retry of the same booking (lost answer, tapping again) reuses its Idempotency-Key. */
export async function book(body) {
  const same = attempt && JSON.stringify(attempt.body) === JSON.stringify(body);
  if (!same) attempt = { body, key: randomKey() };
  const headers = { "Idempotency-Key": attempt.key };
  try {
    const booked = await call("/reservations", { method: "POST", json: body, headers, retries: 2 });
    attempt = null;
    return booked;
  } catch (error) {
    if (!error.offline && !RETRYABLE.has(error.status)) attempt = null;
    throw error;
  }
}

export async function login(email, password) {
  const token = await call("/auth/token", { method: "POST", form: { username: email, password } });
  session.token = token.access_token;
}

export const register = (email, password, name) =>
  call("/auth/register", { method: "POST", json: { email, password, name } });

/** Forget the login and everything saved about the driver on this device (not the language). */
export function logout() {
  const keep = new Set(["kerbside.lang", "kerbside.clockOffset"]);
  for (const key of Object.keys(localStorage)) {
    if (key.startsWith("kerbside.") && !keep.has(key)) localStorage.removeItem(key);
  }
}

/** The last bookings read from the server, for showing offline. */
export const saved = {
  bookings() {
    return JSON.parse(localStorage.getItem(BOOKINGS_KEY) || "[]");
  },
  saveBookings(list) {
    localStorage.setItem(BOOKINGS_KEY, JSON.stringify(list.slice(0, 20)));
  },
  saveBooking(booking) {
    const others = saved.bookings().filter((b) => b.id !== booking.id);
    saved.saveBookings([booking, ...others]);
  },
  /** "HH-AB 123" for the stored "HHAB123", as the driver's vehicles spell it. */
  plate(plate) {
    return JSON.parse(localStorage.getItem(PLATES_KEY) || "{}")[plate] || plate;
  },
  savePlate(plate, display) {
    const plates = JSON.parse(localStorage.getItem(PLATES_KEY) || "{}");
    localStorage.setItem(PLATES_KEY, JSON.stringify({ ...plates, [plate]: display }));
  },
  zone(id) {
    return JSON.parse(localStorage.getItem(ZONES_KEY) || "{}")[id];
  },
  saveZone(zone) {
    const zones = JSON.parse(localStorage.getItem(ZONES_KEY) || "{}");
    const { id, name, address, lat, lon, max_stay_min, min_stay_min, bays } = zone;
    zones[id] = { ...zones[id], id, name, address, lat, lon, max_stay_min, min_stay_min };
    if (bays) zones[id].bays = bays;
    localStorage.setItem(ZONES_KEY, JSON.stringify(zones));
  },
};

/** The zone with its bays (to know which have sensors), from the server or as last seen. */
export async function zoneDetails(id) {
  const known = saved.zone(id);
  if (known && known.bays) return known;
  try {
    const zone = await call(`/zones/${encodeURIComponent(id)}`);
    saved.saveZone(zone);
    return saved.zone(id);
  } catch (error) {
    if (known) return known;
    throw error;
  }
}
