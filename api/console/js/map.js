// The live map: Leaflet from this server, drawn on one canvas (circle markers and polylines),
// zones gathered into grid clusters when zoomed out and split into their bays when zoomed in.
// Only what is in view is drawn, so 10,000 zones stay smooth.
import { h, throttle } from "./dom.js";
import {
  bayStateOf,
  loadBayStates,
  onChange,
  STATE_LABEL,
  STATES,
  stateOf,
  zones,
} from "./zones.js";

export const COLOURS = {
  free: "#15803d",
  partly: "#b45309",
  full: "#b91c1c",
  closed: "#1f2937",
  offline: "#9ca3af",
};
const BAY_COLOURS = {
  free: COLOURS.free,
  reserved: COLOURS.partly,
  occupied: COLOURS.full,
  closed: COLOURS.closed,
  unknown: COLOURS.offline,
};
const HAMBURG = [53.5511, 9.9937];
const CLUSTER_BELOW = 15; // zoom levels below this gather zones into clusters
const BAYS_FROM = 17; // from this zoom on, each bay is drawn on the kerb
const FOCUS_ZOOM = 19; // a zone picked in the search: its bays large enough to tell apart
const CELL_PX = 64; // the clustering grid
const MAX_SIGN_FETCHES = 40;

let L = null;
let map = null;
let renderer = null;
let layer = null;
let pick = () => {};
let selectedId = null;
let fitted = false;
const dots = new Map(); // zone id → circle marker, for zones drawn alone
const pending = new Set(); // zones whose bay states are being read

/** Create the map; returns null (the console works on) when Leaflet is missing. */
export function initMap(container, config, { onSelect, onTilesFailed }) {
  L = window.L;
  if (!L) {
    container.replaceChildren(
      h("p", { class: "note" }, "The map library could not be loaded; use the zone search."),
    );
    return null;
  }
  pick = onSelect;
  renderer = L.canvas({ padding: 0.25, tolerance: 5 });
  map = L.map(container, { preferCanvas: true, renderer, minZoom: 3, maxZoom: 20 });
  map.setView(HAMBURG, 13);
  if (config.tile_url) {
    let failed = false;
    L.tileLayer(config.tile_url, {
      attribution: config.attribution,
      maxZoom: 20,
      maxNativeZoom: 19,
    })
      .on("tileerror", () => {
        if (!failed) onTilesFailed();
        failed = true;
      })
      .addTo(map);
  } else {
    onTilesFailed();
  }
  layer = L.layerGroup().addTo(map);
  map.on("moveend", scheduleRender);
  onChange((ids) => {
    if (ids === null) {
      if (!fitted) fitAll();
      scheduleRender();
      return;
    }
    for (const id of ids) restyle(id);
  });
  return map;
}

function fitAll() {
  if (zones.size === 0) return;
  let [s, w, n, e] = [90, 180, -90, -180];
  for (const z of zones.values()) {
    s = Math.min(s, z.lat);
    n = Math.max(n, z.lat);
    w = Math.min(w, z.lon);
    e = Math.max(e, z.lon);
  }
  map.fitBounds(
    [
      [s, w],
      [n, e],
    ],
    { padding: [30, 30], maxZoom: 16, animate: false },
  );
  fitted = true;
}

/** Centre the map on a zone, zoomed in far enough to show its bays. */
export function focusZone(id) {
  selectedId = id;
  const zone = zones.get(id);
  if (!map || !zone) return;
  map.setView([zone.lat, zone.lon], Math.max(map.getZoom(), FOCUS_ZOOM), { animate: false });
  scheduleRender();
}

const scheduleRender = throttle(render, 100);
const scheduleSlowRender = throttle(render, 1000);

function render() {
  if (!map) return;
  const began = performance.now();
  layer.clearLayers();
  dots.clear();
  const zoom = map.getZoom();
  const bounds = map.getBounds().pad(0.25);
  const [s, w, n, e] = [bounds.getSouth(), bounds.getWest(), bounds.getNorth(), bounds.getEast()];
  const visible = [];
  for (const z of zones.values()) {
    if (z.lat >= s && z.lat <= n && z.lon >= w && z.lon <= e) visible.push(z);
  }
  let mode = "clusters";
  if (zoom >= BAYS_FROM) {
    mode = "bays";
    for (const zone of visible) drawBays(zone);
    readBayStates(visible);
  } else if (zoom >= CLUSTER_BELOW) {
    mode = "zones";
    for (const zone of visible) drawDot(zone);
  } else {
    drawClusters(visible, zoom);
  }
  // What was drawn and how long it took: for diagnostics and the browser tests.
  Object.assign(map.getContainer().dataset, {
    mode,
    layers: String(layer.getLayers().length),
    renderMs: (performance.now() - began).toFixed(1),
  });
}

function restyle(id) {
  const dot = dots.get(id);
  const zone = zones.get(id);
  if (dot && zone) dot.setStyle(dotStyle(zone));
  else if (map && map.getZoom() >= BAYS_FROM) scheduleRender();
  else scheduleSlowRender(); // inside a cluster: its colours change, not urgently
}

function describe(zone) {
  const counts =
    zone.free === null || zone.free === undefined
      ? zone.withheld || ""
      : `${zone.free} of ${zone.bays} free`;
  return `${zone.name} (${zone.id}): ${STATE_LABEL[stateOf(zone)]}${counts ? ` · ${counts}` : ""}`;
}

function dotStyle(zone) {
  const state = stateOf(zone);
  const selected = zone.id === selectedId;
  return {
    renderer,
    radius: selected ? 10 : 7,
    color: selected ? "#1d4ed8" : state === "offline" ? "#374151" : "#ffffff",
    weight: selected ? 4 : 2,
    dashArray: state === "offline" ? "3 3" : null,
    fillColor: COLOURS[state],
    fillOpacity: 0.95,
  };
}

function drawDot(zone) {
  const dot = L.circleMarker([zone.lat, zone.lon], dotStyle(zone))
    .bindTooltip(() => describe(zone))
    .on("click", () => pick(zone.id));
  layer.addLayer(dot);
  dots.set(zone.id, dot);
}

function kerbLine(geometry) {
  if (geometry?.type === "LineString") return geometry.coordinates;
  if (geometry?.type === "Polygon") return geometry.coordinates[0];
  if (geometry?.type === "MultiLineString") return geometry.coordinates[0];
  return null;
}

/** The part of a line between two fractions of its length, as [lat, lon] points. */
function slice(line, from, to) {
  const scale = Math.cos((line[0][1] * Math.PI) / 180);
  const lengths = [0];
  for (let i = 1; i < line.length; i += 1) {
    const dx = (line[i][0] - line[i - 1][0]) * scale;
    const dy = line[i][1] - line[i - 1][1];
    lengths.push(lengths[i - 1] + Math.hypot(dx, dy));
  }
  const total = lengths[lengths.length - 1] || 1;
  const at = (fraction) => {
    const target = fraction * total;
    let i = 1;
    while (i < lengths.length - 1 && lengths[i] < target) i += 1;
    const span = lengths[i] - lengths[i - 1] || 1;
    const t = (target - lengths[i - 1]) / span;
    const [a, b] = [line[i - 1], line[i]];
    return [a[1] + (b[1] - a[1]) * t, a[0] + (b[0] - a[0]) * t];
  };
  const points = [at(from)];
  for (let i = 1; i < line.length - 1; i += 1) {
    const f = lengths[i] / total;
    if (f > from && f < to) points.push([line[i][1], line[i][0]]);
  }
  points.push(at(to));
  return points;
}

function drawBays(zone) {
  const line = kerbLine(zone.geometry);
  if (!line || line.length < 2 || !zone.bays) {
    drawDot(zone);
    return;
  }
  const state = stateOf(zone);
  const selected = zone.id === selectedId;
  // The zone underneath in its own colour, then each bay on top.
  layer.addLayer(
    L.polyline(
      line.map(([lon, lat]) => [lat, lon]),
      {
        renderer,
        color: selected ? "#1d4ed8" : COLOURS[state],
        weight: selected ? 20 : 16,
        opacity: selected ? 0.6 : 0.35,
        lineCap: "butt",
      },
    )
      .bindTooltip(() => describe(zone))
      .on("click", () => pick(zone.id)),
  );
  const n = zone.bays;
  for (let i = 0; i < n; i += 1) {
    const bay = zone.bayStates?.[i];
    const bayState = bayStateOf(bay);
    const gap = 0.06 / n;
    layer.addLayer(
      L.polyline(slice(line, i / n + gap, (i + 1) / n - gap), {
        renderer,
        color: BAY_COLOURS[bayState],
        weight: 9,
        opacity: 1,
        lineCap: "butt",
        dashArray: bayState === "unknown" ? "4 3" : null,
      })
        .bindTooltip(() => `${zone.name} bay ${bay?.bay ?? i + 1}: ${bayState}`)
        .on("click", () => pick(zone.id)),
    );
  }
}

function readBayStates(visible) {
  let started = 0;
  for (const zone of visible) {
    if (zone.bayStates || pending.has(zone.id)) continue;
    if (started >= MAX_SIGN_FETCHES) break;
    started += 1;
    pending.add(zone.id);
    loadBayStates(zone)
      .catch(() => {})
      .finally(() => pending.delete(zone.id));
  }
}

function drawClusters(visible, zoom) {
  const cells = new Map();
  for (const zone of visible) {
    const p = map.project([zone.lat, zone.lon], zoom);
    const key = `${Math.floor(p.x / CELL_PX)}:${Math.floor(p.y / CELL_PX)}`;
    if (!cells.has(key)) cells.set(key, []);
    cells.get(key).push(zone);
  }
  for (const members of cells.values()) {
    if (members.length === 1) drawDot(members[0]);
    else drawCluster(members);
  }
}

function drawCluster(members) {
  const counts = Object.fromEntries(STATES.map((s) => [s, 0]));
  let lat = 0;
  let lon = 0;
  for (const zone of members) {
    counts[stateOf(zone)] += 1;
    lat += zone.lat;
    lon += zone.lon;
  }
  const n = members.length;
  let start = 0;
  const stops = [];
  for (const state of STATES) {
    if (!counts[state]) continue;
    const end = start + (counts[state] / n) * 100;
    stops.push(`${COLOURS[state]} ${start.toFixed(1)}% ${end.toFixed(1)}%`);
    start = end;
  }
  const summary = `${n} zones: ${STATES.filter((s) => counts[s])
    .map((s) => `${counts[s]} ${STATE_LABEL[s]}`)
    .join(", ")}. Select to zoom in.`;
  const size = Math.min(60, 30 + Math.round(Math.log2(n) * 3));
  const icon = L.divIcon({
    className: "cluster",
    iconSize: [size, size],
    html: `<span class="ring" style="background: conic-gradient(${stops.join(", ")})"><span class="n">${n}</span></span>`,
  });
  const marker = L.marker([lat / n, lon / n], { icon, keyboard: true, title: summary });
  marker.on("add", () => marker.getElement()?.setAttribute("aria-label", summary));
  marker.on("click", () => {
    const bounds = L.latLngBounds(members.map((z) => [z.lat, z.lon]));
    map.fitBounds(bounds.pad(0.2), { maxZoom: CLUSTER_BELOW + 1 });
  });
  layer.addLayer(marker);
}
