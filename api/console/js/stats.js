// Statistics from GET /api/v1/stats: heatmap, daily trend, zone ranking, CSV export.
// The endpoint's figures are read tolerantly (a metric is the first known numeric field), and
// when the server cannot answer, its sentence is shown instead of the charts.
import { call, download, query } from "./api.js";
import { $, h, humanise, message } from "./dom.js";
import { heatmap, ranking, trend } from "./charts.js";
import { DAY, dateValue, now, zonedToUtc } from "./time.js";

const METRICS = [
  "occupancy",
  "occupancy_rate",
  "occupancy_share",
  "occupied_share",
  "utilisation",
  "utilization",
  "rate",
  "share",
  "value",
  "mean",
  "average",
];
const LABELS = ["label", "key", "group", "date", "day", "zone_name", "zone_id", "zone", "name", "hour", "start"];

/** The metric of a cell or group: a number, or its first known numeric field. */
function metricOf(x) {
  if (typeof x === "number") return { name: null, value: x };
  if (!x || typeof x !== "object") return { name: null, value: Number.NaN };
  for (const key of METRICS) if (typeof x[key] === "number") return { name: key, value: x[key] };
  const entry = Object.entries(x).find(([key, v]) => typeof v === "number" && !LABELS.includes(key));
  return entry ? { name: entry[0], value: entry[1] } : { name: null, value: Number.NaN };
}

function labelOf(x) {
  for (const key of LABELS) if (x && x[key] !== undefined && x[key] !== null) return String(x[key]);
  return "?";
}

const WEEKDAY_NAMES = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/** The heatmap as 7 rows (Mon..Sun) of 24 numbers, from the shapes it may come in. */
export function heatmapMatrix(raw) {
  let cells = raw;
  if (cells && !Array.isArray(cells) && typeof cells === "object") {
    cells = cells.values ?? cells.cells ?? cells.matrix ?? cells.data ?? null;
  }
  if (!Array.isArray(cells)) return null;
  if (cells.length === 7 && cells.every((row) => Array.isArray(row))) {
    return cells.map((row) => Array.from({ length: 24 }, (_, i) => metricOf(row[i]).value));
  }
  const matrix = Array.from({ length: 7 }, () => Array(24).fill(Number.NaN));
  let placed = 0;
  for (const cell of cells) {
    if (!cell || typeof cell !== "object" || cell.hour === undefined) continue;
    let day = cell.weekday ?? cell.dow ?? cell.day;
    if (typeof day === "string") day = WEEKDAY_NAMES.indexOf(day.slice(0, 3).toLowerCase());
    if (!Number.isInteger(day) || day < 0 || day > 6 || cell.hour < 0 || cell.hour > 23) continue;
    matrix[day][cell.hour] = metricOf(cell).value;
    placed += 1;
  }
  return placed ? matrix : null;
}

function groupsOf(body) {
  const groups = Array.isArray(body?.groups) ? body.groups : [];
  return groups.map((g) => ({ label: labelOf(g), ...metricOf(g) }));
}

function figures(object) {
  if (!object || typeof object !== "object") return [];
  return Object.entries(object)
    .filter(([, v]) => typeof v === "number" || typeof v === "string")
    .map(([k, v]) => `${humanise(k)}: ${typeof v === "number" && !Number.isInteger(v) ? v.toFixed(2) : v}`);
}

let range = null;

export function initStats() {
  const form = $("#stats-form");
  const today = dateValue(now());
  form.elements.to.value = today;
  form.elements.from.value = dateValue(new Date(now().getTime() - 27 * DAY));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
  $("#stats-csv").addEventListener("click", async (event) => {
    event.preventDefault();
    if (!range) return;
    try {
      await download(`/api/v1/stats${query({ ...range, group_by: "day", format: "csv" })}`, "kerbside-stats.csv");
    } catch (error) {
      message($("#stats-message"), `The export failed: ${error.message}`, "error");
    }
  });
}

/** Ask the server for the figures and draw them. */
export async function load() {
  const form = $("#stats-form");
  const from = zonedToUtc(`${form.elements.from.value}T00:00`);
  const to = new Date(zonedToUtc(`${form.elements.to.value}T00:00`).getTime() + DAY);
  range = { from: from.toISOString(), to: to.toISOString(), zone_id: form.elements.zone_id.value.trim() };
  const body = $("#stats-body");
  message($("#stats-message"), "Loading statistics…");
  try {
    const [byDay, byZone] = await Promise.all([
      call(`/api/v1/stats${query({ ...range, group_by: "day" })}`),
      call(`/api/v1/stats${query({ ...range, group_by: "zone" })}`),
    ]);
    draw(byDay, byZone);
    body.hidden = false;
    message($("#stats-message"), "");
  } catch (error) {
    body.hidden = true;
    const box = $("#stats-message");
    message(box, `Statistics are not available: ${error.message}`, "error");
    box.dataset.status = String(error.status || 0);
  }
}

function draw(byDay, byZone) {
  $("#stats-totals").textContent = [...figures(byDay.totals), ...figures(byDay.impact)].join(" · ");
  const matrix = heatmapMatrix(byDay.heatmap ?? byZone.heatmap);
  const days = groupsOf(byDay);
  const zonesRanked = groupsOf(byZone);
  const metric = humanise(days[0]?.name || zonesRanked[0]?.name || "occupancy");
  $("#heatmap").replaceChildren(
    ...(matrix ? heatmap(matrix, { label: metric }) : [h("p", { class: "hint" }, "No hourly figures for this period.")]),
  );
  $("#trend").replaceChildren(
    ...(days.length ? trend(days, { label: metric }) : [h("p", { class: "hint" }, "No daily figures for this period.")]),
  );
  $("#ranking").replaceChildren(
    ...(zonesRanked.length
      ? ranking(zonesRanked, { label: `${metric} by zone` })
      : [h("p", { class: "hint" }, "No zones in this period.")]),
  );
  $("#stats-csv").href = `/api/v1/stats${query({ ...range, group_by: "day", format: "csv" })}`;
}
