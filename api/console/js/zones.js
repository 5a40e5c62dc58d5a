// Every zone's live state: loaded from the zones feed, updated by `zone` events; the legend,
// the hidden zone index (the canvas map has no DOM) and the zone search read it.
import { call } from "./api.js";
import { $, h, throttle } from "./dom.js";

export const STATES = ["free", "partly", "full", "closed", "offline"];
export const STATE_LABEL = {
  free: "free",
  partly: "partly taken",
  full: "full",
  closed: "closed",
  offline: "offline / no data",
};
export const zones = new Map();
const listeners = new Set();
const items = new Map(); // zone id → its <li> in the hidden index

/** The colour class of a zone: free / partly / full / closed / offline. */
export function stateOf(zone) {
  if (zone.status === "closed" || zone.status === "outside_loading_hours") return "closed";
  if (zone.status === "no_data" || zone.free === null || zone.free === undefined) return "offline";
  if (zone.free <= 0) return "full";
  if (zone.free >= zone.bays) return "free";
  return "partly";
}

/** A bay's colour class from {occupied, reserved, closed}. */
export function bayStateOf(bay) {
  if (!bay) return "unknown";
  if (bay.closed) return "closed";
  if (bay.occupied === true) return "occupied";
  if (bay.reserved) return "reserved";
  if (bay.occupied === false) return "free";
  return "unknown";
}

function centre(geometry) {
  let points = [];
  if (geometry?.type === "Point") points = [geometry.coordinates];
  else if (geometry?.type === "LineString") points = geometry.coordinates;
  else if (geometry?.type === "Polygon") points = geometry.coordinates[0];
  else if (geometry?.type === "MultiLineString") points = geometry.coordinates.flat();
  if (points.length === 0) return [0, 0];
  const lon = points.reduce((s, p) => s + p[0], 0) / points.length;
  const lat = points.reduce((s, p) => s + p[1], 0) / points.length;
  return [lat, lon];
}

/** Subscribe to changes: fn(changedIds | null) (null: everything was reloaded). */
export function onChange(fn) {
  listeners.add(fn);
}

function emit(ids) {
  for (const fn of listeners) fn(ids);
}

/** (Re)load every zone from the open feed. */
export async function loadAll() {
  const feed = await call("/feed/zones.geojson");
  const seen = new Set();
  for (const feature of feed.features) {
    const p = feature.properties;
    const [lat, lon] = centre(feature.geometry);
    const old = zones.get(feature.id);
    zones.set(feature.id, {
      id: feature.id,
      name: p.name,
      address: p.address || "",
      district: p.district || "",
      geometry: feature.geometry,
      lat,
      lon,
      bays: p.bays,
      free: p.free_now,
      occupied: p.occupied_now,
      reserved: p.reserved_now,
      status: p.status,
      withheld: p.withheld_reason,
      timezone: p.timezone,
      loadingHours: p.loading_hours,
      // Bay states come with `zone` events; the feed has counts only.
      bayStates: old?.bayStates ?? null,
    });
    seen.add(feature.id);
  }
  for (const id of [...zones.keys()]) if (!seen.has(id)) zones.delete(id);
  rebuildIndex();
  emit(null);
}

/** Apply a `zone` event from the stream. */
export function applyEvent(event) {
  const zone = zones.get(event.zone_id);
  if (!zone) return;
  Object.assign(zone, {
    status: event.status,
    bays: event.bays,
    free: event.free,
    occupied: event.occupied,
    reserved: event.reserved,
    withheld: event.withheld,
    bayStates: event.bay_states,
  });
  updateItem(zone);
  emit([zone.id]);
}

/** Bay states read from the zone's sign (when no event has brought them yet). */
export async function loadBayStates(zone) {
  const sign = await call(`/api/v1/zones/${encodeURIComponent(zone.id)}/sign`);
  if (zone.bayStates) return; // an event was quicker and is more precise
  const offline = stateOf(zone) === "offline";
  zone.bayStates = sign.bays.map((line) => ({
    bay: line.bay,
    // The sign shows "free" for a silent sensor; do not claim that on the map.
    occupied: line.state === "occupied" ? true : offline ? null : false,
    reserved: line.state === "reserved",
    closed: line.state === "closed",
  }));
  emit([zone.id]);
}

function itemText(zone, state) {
  const counts =
    zone.free === null || zone.free === undefined ? "" : `, ${zone.free} of ${zone.bays} free`;
  return `${zone.name} (${zone.id}): ${STATE_LABEL[state]}${counts}`;
}

function updateItem(zone) {
  const item = items.get(zone.id);
  if (!item) return;
  const state = stateOf(zone);
  item.dataset.zoneState = state;
  item.dataset.free = zone.free ?? "";
  item.textContent = itemText(zone, state);
  renderLegend();
}

function rebuildIndex() {
  const list = $("#zone-index");
  const fragment = document.createDocumentFragment();
  items.clear();
  for (const zone of zones.values()) {
    const state = stateOf(zone);
    const item = h("li", { dataset: { zoneId: zone.id, zoneState: state, free: zone.free ?? "" } });
    item.textContent = itemText(zone, state);
    items.set(zone.id, item);
    fragment.append(item);
  }
  list.replaceChildren(fragment);
  renderLegend();
}

const renderLegend = throttle(() => {
  const counts = Object.fromEntries(STATES.map((s) => [s, 0]));
  for (const zone of zones.values()) counts[stateOf(zone)] += 1;
  for (const item of document.querySelectorAll("#legend li")) {
    item.querySelector(".count").textContent = counts[item.dataset.state];
  }
}, 200);

/** Zones whose id, name or address contains the text (at most `limit`). */
export function search(text, limit = 12) {
  const needle = text.trim().toLowerCase();
  if (!needle) return [];
  const found = [];
  for (const zone of zones.values()) {
    if (zone.id.toLowerCase() === needle) return [zone];
    const haystack = `${zone.id} ${zone.name} ${zone.address}`.toLowerCase();
    if (haystack.includes(needle)) found.push(zone);
    if (found.length >= limit) break;
  }
  return found;
}

/** Wire the search box: results are buttons that open the zone. */
export function initSearch(onPick) {
  const input = $("#zone-query");
  const results = $("#zone-results");
  let timer = null;
  const choose = (zone) => {
    clearTimeout(timer);
    results.replaceChildren();
    onPick(zone.id);
  };
  const show = () => {
    results.replaceChildren(
      ...search(input.value).map((zone) =>
        h(
          "li",
          {},
          h(
            "button",
            { type: "button", class: "link", onclick: () => choose(zone) },
            `${zone.name} · ${zone.id} (${STATE_LABEL[stateOf(zone)]})`,
          ),
        ),
      ),
    );
  };
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(show, 150);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      clearTimeout(timer);
      results.replaceChildren();
    }
  });
  $("#zone-search").addEventListener("submit", (event) => {
    event.preventDefault();
    const [first] = search(input.value, 1);
    if (first) choose(first);
  });
}

/** Zone details (bays with ids and sensors), cached: violations name bays by id. */
const details = new Map();
export async function detailsOf(zoneId, { fresh = false } = {}) {
  if (fresh || !details.has(zoneId)) {
    details.set(
      zoneId,
      call(`/api/v1/zones/${encodeURIComponent(zoneId)}`).catch((error) => {
        details.delete(zoneId);
        throw error;
      }),
    );
  }
  return details.get(zoneId);
}
