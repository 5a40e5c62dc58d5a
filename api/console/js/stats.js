// Statistics from GET /api/v1/stats: the hour x weekday heatmap of occupancy, the daily trend,
// the zone ranking and a CSV export. When the server cannot answer, its sentence is shown.
import { call, download, query } from "./api.js";
import { $, h, message } from "./dom.js";
import { heatmap, ranking, trend } from "./charts.js";
import { DAY, dateValue, now, zonedToUtc } from "./time.js";
import { zones } from "./zones.js";

const METRIC = "occupancy_pct"; // what the charts draw: occupied bay-hours / available, in %
const TOTALS = [
  ["occupancy_pct", "Occupancy", "%"],
  ["bookings", "Bookings", ""],
  ["sessions", "Parking sessions", ""],
  ["no_show_rate_pct", "No-shows", "%"],
  ["overstay_rate_pct", "Overstays", "%"],
  ["mean_dwell_min", "Mean stay", "min"],
];
const IMPACT = [
  ["avoided_double_parking", "Double parking avoided", ""],
  ["cruising_km_avoided", "Cruising avoided", "km"],
  ["co2_kg_avoided", "CO₂ avoided", "kg"],
];
let range = null;

export function initStats() {
  const form = $("#stats-form");
  form.elements.to.value = dateValue(now());
  form.elements.from.value = dateValue(new Date(now().getTime() - 27 * DAY));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
  $("#stats-csv").addEventListener("click", async (event) => {
    event.preventDefault();
    if (!range) return;
    try {
      await download(csvPath(), "kerbside-stats.csv");
    } catch (error) {
      message($("#stats-message"), `The export failed: ${error.message}`, "error");
    }
  });
}

const csvPath = () => `/api/v1/stats${query({ ...range, group_by: "day", format: "csv" })}`;

/** Ask the server for the figures and draw them. */
export async function load() {
  const form = $("#stats-form");
  const from = zonedToUtc(`${form.elements.from.value}T00:00`);
  const to = new Date(zonedToUtc(`${form.elements.to.value}T00:00`).getTime() + DAY);
  range = {
    from: from.toISOString(),
    to: to.toISOString(),
    zone_id: form.elements.zone_id.value.trim(),
  };
  const body = $("#stats-body");
  const box = $("#stats-message");
  message(box, "Loading statistics…");
  try {
    const [byDay, byZone] = await Promise.all([
      call(`/api/v1/stats${query({ ...range, group_by: "day" })}`),
      call(`/api/v1/stats${query({ ...range, group_by: "zone" })}`),
    ]);
    draw(byDay, byZone);
    body.hidden = false;
    message(box, "");
  } catch (error) {
    body.hidden = true;
    message(box, `Statistics are not available: ${error.message}`, "error");
    box.dataset.status = String(error.status || 0);
  }
}

function figures(source, wanted) {
  return wanted
    .filter(([key]) => typeof source?.[key] === "number")
    .map(([key, label, unit]) => {
      const value = source[key];
      const text = Number.isInteger(value) ? String(value) : value.toFixed(1);
      return `${label}: ${text}${unit ? ` ${unit}` : ""}`;
    });
}

const metric = (group) => (typeof group[METRIC] === "number" ? group[METRIC] : Number.NaN);

function draw(byDay, byZone) {
  $("#stats-totals").textContent = [
    ...figures(byDay.totals, TOTALS),
    ...figures(byDay.impact, IMPACT),
  ].join(" · ");
  const matrix = Array.isArray(byDay.heatmap) && byDay.heatmap.length === 7 ? byDay.heatmap : null;
  const days = (byDay.groups || []).map((g) => ({ label: g.key, value: metric(g) }));
  const ranked = (byZone.groups || []).map((g) => ({
    label: g.name || zones.get(g.key)?.name || g.key,
    value: metric(g),
  }));
  const hint = (text) => [h("p", { class: "hint" }, text)];
  $("#heatmap").replaceChildren(
    ...(matrix
      ? heatmap(
          matrix.map((row) => row.map((v) => (typeof v === "number" ? v : Number.NaN))),
          { label: "Occupancy", unit: "%" },
        )
      : hint("No hourly figures for this period.")),
  );
  $("#trend").replaceChildren(
    ...(days.length
      ? trend(days, { label: "Occupancy", unit: "%" })
      : hint("No daily figures for this period.")),
  );
  $("#ranking").replaceChildren(
    ...(ranked.length
      ? ranking(ranked, { label: "Occupancy by zone", unit: "%" })
      : hint("No zones in this period.")),
  );
  $("#stats-csv").href = csvPath();
}
