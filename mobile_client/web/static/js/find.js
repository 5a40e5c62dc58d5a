// Finding a zone (near a destination, "my location" or a spot on the map) and booking a bay in it.
import { book, call, saved, zoneDetails } from "./api.js";
import { formatTime, hhmm, isoWithOffset, learnServerNow, nextAt, serverNow } from "./clock.js";
import { $, busy, fill, go, h, say } from "./dom.js";
import { t } from "./i18n.js";
import { ensureMap, showZones } from "./map.js";

const DURATIONS = [15, 30, 45, 60];
const WALK_M_PER_MIN = 80; // about 4.8 km/h
const PLATE_KEY = "kerbside.plate";

// What the driver chose: shared by the search and the booking form, so booking takes few taps.
const choice = { when: "now", time: "", duration: 30 };
let place = null; // {lat, lon, label} or null for every zone
const found = new Map(); // zone id -> the zone as last listed
let allZones = null;

const view = () => $("#view-find");

/** Fill a form's when/duration controls from `choice` and keep `choice` up to date. */
function bindChoice(form, zone) {
  const low = zone?.min_stay_min ?? 5;
  const high = zone?.max_stay_min ?? Infinity;
  let options = DURATIONS.filter((n) => n >= low && n <= high);
  if (!options.length) options = [Math.max(low, Math.min(high, 30))];
  if (!options.includes(choice.duration)) choice.duration = options[Math.min(1, options.length - 1)];
  const box = $(".durations", form);
  fill(box, box.querySelector("legend"));
  for (const minutes of options) {
    const input = h("input", { type: "radio", name: "duration", value: minutes });
    input.checked = minutes === choice.duration;
    box.append(h("label", { class: "chip" }, input, " ", t("min", { n: minutes })));
  }
  form.elements.when.value = choice.when;
  form.elements.time.value = choice.time;
  $(".time", form).hidden = choice.when !== "at";
}

function readChoice(form) {
  choice.when = form.elements.when.value;
  choice.duration = Number(form.elements.duration.value) || choice.duration;
  if (!form.elements.time.value) {
    form.elements.time.value = hhmm(Math.ceil(serverNow() / 300_000) * 300_000 + 1_800_000);
  }
  choice.time = form.elements.time.value;
  $(".time", form).hidden = choice.when !== "at";
}

/** The window the driver wants: start (null for now) and end, as ISO strings. */
function wanted() {
  const start = choice.when === "at" && choice.time ? nextAt(choice.time) : null;
  const end = (start ?? serverNow()) + choice.duration * 60_000;
  return { start: start && isoWithOffset(start), end: isoWithOffset(end) };
}

function walk(distance) {
  if (distance === null || distance === undefined) return null;
  const minutes = Math.max(1, Math.round(distance / WALK_M_PER_MIN));
  return t("walk", { m: Math.round(distance), min: minutes });
}

function zoneCard(zone, freeThen) {
  const start = wanted().start;
  const period = start
    ? t("free_window", { start: formatTime(start), min: choice.duration })
    : t("free_window_now", { min: choice.duration });
  const freeNow = t("free_now", { n: zone.free_bays, total: zone.bay_count });
  return h(
    "li",
    { class: "card", id: `zone-${zone.id}` },
    h("h3", {}, zone.name),
    zone.address ? h("p", { class: "muted" }, zone.address) : null,
    h("p", { class: zone.free_bays ? "ok" : "bad" }, freeNow),
    freeThen === undefined ? null : h("p", {}, t("free_then", { n: freeThen, when: period })),
    walk(zone.distance_m) ? h("p", { class: "muted" }, walk(zone.distance_m)) : null,
    h(
      "button",
      {
        type: "button",
        class: "primary",
        "aria-label": t("book_at", { zone: zone.name }),
        onclick: () => {
          go(`#/book/${encodeURIComponent(zone.id)}`);
        },
      },
      t("book"),
    ),
  );
}

let listed = [];

function drawMap() {
  showZones(listed, {
    near: place,
    onSelect: (zone) => document.getElementById(`zone-${zone.id}`)?.querySelector("button")?.focus(),
  });
}

function renderZones(zones, freeThen) {
  listed = zones;
  const list = $("#zones");
  $("#zones-title").textContent = place ? t("zones_near", { place: place.label }) : t("zones_all");
  fill(list, ...zones.map((zone) => zoneCard(zone, freeThen.get(zone.id))));
  if (!zones.length) list.append(h("li", { class: "muted" }, t("no_zones")));
  drawMap();
}

/** List the zones near the place (or all), with free bays now and for the chosen window. */
export async function search() {
  const box = $(".message", view());
  const near = place ? { lat: place.lat, lon: place.lon, radius_m: 2000, limit: 20 } : { limit: 50 };
  const query = new URLSearchParams(near);
  try {
    const now = await call(`/zones?${query}`);
    learnServerNow(now.start); // the window of a search without `from` starts at the server's now
    const period = wanted();
    const later = new URLSearchParams(query);
    if (period.start) later.set("from", period.start);
    later.set("to", period.end);
    const then = await call(`/zones?${later}`);
    for (const zone of now.items) {
      found.set(zone.id, zone);
      saved.saveZone(zone);
    }
    say(box, "");
    renderZones(now.items, new Map(then.items.map((zone) => [zone.id, zone.free_bays])));
  } catch (error) {
    say(box, error.message);
  }
}

async function searchText(text) {
  const q = text.trim().toLowerCase();
  if (!q) {
    place = null;
    return search();
  }
  const box = $(".message", view());
  try {
    allZones ??= (await call("/zones?limit=500")).items;
  } catch (error) {
    return say(box, error.message);
  }
  const fields = (zone) => [zone.name, zone.address, zone.district, zone.id];
  const match = allZones.find((zone) => fields(zone).some((f) => (f || "").toLowerCase().includes(q)));
  if (!match) return say(box, t("no_match", { q: text.trim() }));
  place = { lat: match.lat, lon: match.lon, label: match.name };
  return search();
}

function locate() {
  const box = $(".message", view());
  if (!navigator.geolocation) return say(box, t("err_location"));
  navigator.geolocation.getCurrentPosition(
    (position) => {
      place = { lat: position.coords.latitude, lon: position.coords.longitude, label: t("here") };
      search();
    },
    () => say(box, t("err_location")),
    { enableHighAccuracy: true, timeout: 10_000, maximumAge: 60_000 },
  );
}

/** The find screen. */
export async function showFind() {
  const form = $("#find-form");
  bindChoice(form);
  const map = ensureMap($("#map"), {
    onPick: (lat, lon) => {
      place = { lat, lon, label: t("map_point") };
      search();
    },
    onTilesFailed: () => {
      $("#no-tiles").hidden = false;
    },
  });
  await search();
  if (await map) drawMap();
}

// ---- booking a bay in a zone --------------------------------------------------------------

let bookingZone = null;

function vehicleChoices(vehicles) {
  for (const vehicle of vehicles) saved.savePlate(vehicle.plate, vehicle.plate_display);
  const list = $("#book-form .vehicle-list");
  const last = localStorage.getItem(PLATE_KEY);
  const bare = (plate) => (plate || "").replace(/[^0-9A-Za-zÄÖÜäöü]/g, "").toUpperCase();
  const preferred = vehicles.find((v) => bare(v.plate_display) === bare(last)) || vehicles[0];
  const items = vehicles.map((vehicle) => {
    const input = h("input", { type: "radio", name: "vehicle", value: vehicle.id });
    input.checked = vehicle === preferred;
    return h("label", { class: "chip" }, input, " ", vehicle.plate_display);
  });
  if (vehicles.length) {
    const other = h("input", { type: "radio", name: "vehicle", value: "" });
    items.push(h("label", { class: "chip" }, other, " ", t("other_plate")));
  }
  fill(list, ...items);
  const plate = $("#plate");
  const sync = () => {
    const value = $("#book-form").elements.vehicle?.value;
    const typing = !vehicles.length || value === "";
    plate.hidden = !typing;
    plate.previousElementSibling.hidden = !typing;
  };
  list.onchange = sync;
  if (!vehicles.length && last) plate.value = last;
  sync();
}

function alternatives(list, items) {
  list.hidden = !items.length;
  fill(
    list,
    ...items.map((alt) =>
      h(
        "li",
        { class: "card" },
        h(
          "p",
          {},
          t("alt_item", {
            zone: alt.zone_name,
            free: alt.free_bays,
            m: Math.round(alt.distance_m ?? 0),
            start: formatTime(alt.start),
            end: formatTime(alt.end),
          }),
        ),
        h(
          "button",
          {
            type: "button",
            class: "primary",
            "aria-label": t("book_at", { zone: alt.zone_name }),
            onclick: () => bookAlternative(alt),
          },
          t("book"),
        ),
      ),
    ),
  );
}

/** Offer another zone or time: the booking form opens with it chosen. */
export function bookAlternative(alt) {
  const start = Date.parse(alt.start);
  const minutes = Math.round((Date.parse(alt.end) - start) / 60_000);
  choice.duration = minutes;
  choice.when = start > serverNow() + 60_000 ? "at" : "now";
  choice.time = choice.when === "at" ? hhmm(start) : choice.time;
  go(`#/book/${encodeURIComponent(alt.zone_id)}`);
}
export { alternatives as renderAlternatives };

/** The booking form for a zone. */
export async function showBook(zoneId) {
  const form = $("#book-form");
  const box = $(".message", form);
  say(box, "");
  alternatives($(".alternatives", form), []);
  bookingZone = found.get(zoneId) || saved.zone(zoneId);
  try {
    bookingZone = bookingZone || (await zoneDetails(zoneId));
  } catch (error) {
    return say(box, error.message);
  }
  $("#book-zone").textContent = [bookingZone.name, bookingZone.address].filter(Boolean).join(" · ");
  bindChoice(form, bookingZone);
  try {
    vehicleChoices(await call("/me/vehicles"));
  } catch (error) {
    vehicleChoices([]);
    say(box, error.message);
  }
}

async function submitBooking(event) {
  event.preventDefault();
  const form = event.target;
  const box = $(".message", form);
  readChoice(form);
  const period = wanted();
  const body = { zone_id: bookingZone.id, start: period.start ?? "now", duration_min: choice.duration };
  const vehicle = form.elements.vehicle?.value;
  if (vehicle) body.vehicle_id = Number(vehicle);
  else body.plate = $("#plate").value.trim();
  await busy(form.querySelector("button[type=submit]"), async () => {
    try {
      const booked = await book(body);
      localStorage.setItem(PLATE_KEY, body.plate || saved.plate(booked.plate));
      if (body.plate) saved.savePlate(booked.plate, body.plate);
      saved.saveBooking(booked);
      say(box, "");
      go(`#/booking/${encodeURIComponent(booked.id)}`);
    } catch (error) {
      say(box, error.message);
      alternatives($(".alternatives", form), error.problem?.alternatives || []);
    }
  });
}

export function setUp() {
  const findForm = $("#find-form");
  findForm.addEventListener("submit", (event) => {
    event.preventDefault();
    searchText(findForm.elements.destination.value);
  });
  findForm.addEventListener("change", (event) => {
    if (event.target.name === "destination") return;
    readChoice(findForm);
    search();
  });
  $("#locate").addEventListener("click", locate);
  const bookForm = $("#book-form");
  bookForm.addEventListener("change", () => readChoice(bookForm));
  bookForm.addEventListener("submit", submitBooking);
}

