// The map: Leaflet from this server (never a CDN), loaded when first needed. Optional by design:
// without Leaflet or tiles the list still shows every zone.
const LEAFLET = "/app/vendor/leaflet/";
const HAMBURG = [53.5511, 9.9937];
const BLUE = "#0b4f9c";

let map = null;
let layer = null;
let destination = null;
let loading = null;

function loadLeaflet() {
  loading ??= new Promise((resolve, reject) => {
    const css = Object.assign(document.createElement("link"), { rel: "stylesheet" });
    css.href = `${LEAFLET}leaflet.css`;
    document.head.append(css);
    const script = Object.assign(document.createElement("script"), { src: `${LEAFLET}leaflet.js` });
    script.onload = () => resolve(window.L);
    script.onerror = () => reject(new Error("Leaflet could not be loaded"));
    document.head.append(script);
  });
  return loading;
}

async function tileConfig() {
  try {
    const response = await fetch("/app/config.json");
    if (response.ok) return await response.json();
  } catch {
    // Offline: no tiles either; the map shows the zones on a blank background.
  }
  return { tile_url: "", attribution: "" };
}

/** Create the map once; `onPick(lat, lon)` runs when the driver taps a spot. */
export async function ensureMap(container, { onPick, onTilesFailed }) {
  if (map) return map;
  let L;
  try {
    L = await loadLeaflet();
  } catch {
    container.hidden = true;
    return null;
  }
  if (map) return map;
  map = L.map(container, { zoomControl: true }).setView(HAMBURG, 14);
  const config = await tileConfig();
  if (config.tile_url) {
    let failed = false;
    L.tileLayer(config.tile_url, { attribution: config.attribution, maxZoom: 19 })
      .on("tileerror", () => {
        if (!failed) onTilesFailed();
        failed = true;
      })
      .addTo(map);
  } else {
    onTilesFailed();
  }
  layer = L.layerGroup().addTo(map);
  map.on("click", (event) => onPick(event.latlng.lat, event.latlng.lng));
  return map;
}

// Leaflet puts strings in as HTML; zone names go in as text.
function label(text) {
  const span = document.createElement("span");
  span.textContent = text;
  return span;
}

/** Draw the zones (kerb lines and a dot coloured by free bays), and the destination if any. */
export function showZones(zones, { near, onSelect }) {
  if (!map) return;
  const L = window.L;
  layer.clearLayers();
  const points = [];
  for (const zone of zones) {
    const colour = zone.free_bays > 0 ? "#1d6b2f" : "#a4161a";
    L.geoJSON(zone.geometry, { style: { color: colour, weight: 7 } }).addTo(layer);
    L.circleMarker([zone.lat, zone.lon], { radius: 9, color: colour, fillOpacity: 0.9 })
      .bindTooltip(label(`${zone.name}: ${zone.free_bays}/${zone.bay_count}`))
      .on("click", (event) => {
        L.DomEvent.stopPropagation(event);
        onSelect(zone);
      })
      .addTo(layer);
    points.push([zone.lat, zone.lon]);
  }
  if (destination) destination.remove();
  destination = null;
  if (near) {
    destination = L.circleMarker([near.lat, near.lon], { radius: 7, color: BLUE, fillOpacity: 1 });
    destination.addTo(map);
    points.push([near.lat, near.lon]);
  }
  map.invalidateSize();
  if (points.length) map.fitBounds(points, { padding: [24, 24], maxZoom: 17 });
}
