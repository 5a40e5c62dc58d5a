// The violations panel: a live list with filters; acknowledge and resolve.
import { call, query } from "./api.js";
import { $, announce, h, humanise, message } from "./dom.js";
import { ago, when } from "./time.js";
import { detailsOf, zones } from "./zones.js";

export const KIND_LABEL = {
  unreserved_occupancy: "Unreserved occupancy",
  overstay: "Overstay",
  no_show: "No-show",
  sensor_offline: "Sensor offline",
  battery_low: "Battery low",
  bay_blocked: "Blocked bay (driver report)",
};
const RESOLUTIONS = ["handled", "fined", "towed", "false_alarm"];
const rows = new Map(); // violation id → row
let filters = { status: "active", kind: "", zone_id: "" };
let showZone = () => {};

/** Wire the panel; `onShowZone(id)` opens a zone. */
export function initViolations({ onShowZone }) {
  showZone = onShowZone;
  $("#violation-filters").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    filters = {
      status: form.get("status"),
      kind: form.get("kind"),
      zone_id: form.get("zone_id").trim(),
    };
    load();
  });
  for (const select of document.querySelectorAll("#violation-filters select")) {
    select.addEventListener("change", () => $("#violation-filters").requestSubmit());
  }
}

function matches(v) {
  if (filters.status === "active" && v.status === "resolved") return false;
  if (filters.status && filters.status !== "active" && v.status !== filters.status) return false;
  if (filters.kind && v.kind !== filters.kind) return false;
  if (filters.zone_id && v.zone_id !== filters.zone_id) return false;
  return true;
}

/** Read the list again with the current filters. */
export async function load() {
  const status = filters.status === "active" ? "" : filters.status;
  try {
    const found = await call(
      `/api/v1/violations${query({ status, kind: filters.kind, zone_id: filters.zone_id, limit: 200 })}`,
    );
    rows.clear();
    for (const v of found.filter(matches)) rows.set(v.id, v);
    await bayLabels([...rows.values()]);
    render();
    message($("#violations-message"), rows.size ? "" : "No violations match these filters.");
  } catch (error) {
    message($("#violations-message"), error.message, "error");
  }
  updateCount();
}

/** A violation pushed by the stream. */
export async function add(v) {
  const zone = zones.get(v.zone_id);
  announce(
    `New violation: ${KIND_LABEL[v.kind] || humanise(v.kind)} at ${zone?.name || v.zone_id}.`,
  );
  if (!matches(v) || rows.has(v.id)) {
    updateCount();
    return;
  }
  rows.set(v.id, v);
  await bayLabels([v]);
  render(v.id);
  message($("#violations-message"), "");
  updateCount();
}

const labels = new Map(); // bay id → label

async function bayLabels(list) {
  const wanted = [
    ...new Set(list.filter((v) => v.bay_id && !labels.has(v.bay_id)).map((v) => v.zone_id)),
  ];
  await Promise.all(
    wanted.map(async (zoneId) => {
      try {
        for (const bay of (await detailsOf(zoneId)).bays) labels.set(bay.id, bay.label);
      } catch {
        // A retired or unknown zone: the bay is shown by its id.
      }
    }),
  );
}

function updateCount() {
  const open = [...rows.values()].filter((v) => v.status === "open").length;
  const pill = $("#open-count");
  pill.textContent = String(open);
  pill.dataset.count = String(open);
}

function render(freshId = null) {
  const list = $("#violations");
  const ordered = [...rows.values()].sort(
    (a, b) => new Date(b.opened_at) - new Date(a.opened_at) || b.id - a.id,
  );
  list.replaceChildren(...ordered.map((v) => item(v, v.id === freshId)));
}

function item(v, fresh) {
  const zone = zones.get(v.zone_id);
  const since = v.detail?.since || v.opened_at;
  const bay = v.bay_id ? `bay ${labels.get(v.bay_id) ?? `#${v.bay_id}`}` : null;
  const note = h("p", { class: "message", role: "status", hidden: true });
  const resolution = h(
    "select",
    { "aria-label": "Resolution" },
    ...RESOLUTIONS.map((r) => h("option", { value: r }, humanise(r))),
  );
  const act = (verb, body) => async (event) => {
    event.target.disabled = true;
    try {
      const updated = await call(`/api/v1/violations/${v.id}/${verb}`, {
        method: "POST",
        json: body,
      });
      rows.set(v.id, updated);
      announce(`Violation ${verb === "ack" ? "acknowledged" : "resolved"}.`);
      if (!matches(updated)) rows.delete(v.id);
      render();
      updateCount();
    } catch (error) {
      event.target.disabled = false;
      message(note, error.message, "error");
    }
  };
  const title = KIND_LABEL[v.kind] || humanise(v.kind);
  const about = `violation-${v.id}-title violation-${v.id}-facts`;
  const facts = [
    `${zone?.name || v.zone_id} (${v.zone_id})`,
    bay,
    `since ${when(since)} (${ago(since)})`,
    since !== v.opened_at ? `flagged ${when(v.opened_at)}` : null,
    v.plate ? `plate ${v.plate}` : null,
    v.sensor_id && v.kind !== "unreserved_occupancy" ? `sensor ${v.sensor_id}` : null,
  ].filter(Boolean);
  return h(
    "li",
    {
      class: `violation status-${v.status}${fresh ? " fresh" : ""}`,
      dataset: { violationId: v.id, status: v.status, kind: v.kind, zoneId: v.zone_id },
    },
    h(
      "div",
      { class: "v-head" },
      h("strong", { id: `violation-${v.id}-title` }, title),
      h("span", { class: `badge ${v.status}` }, humanise(v.status)),
    ),
    h("p", { class: "facts", id: `violation-${v.id}-facts` }, facts.join(" · ")),
    v.status === "resolved"
      ? h(
          "p",
          { class: "facts" },
          `Resolved ${when(v.resolved_at)}: ${humanise(v.resolution || "")}`,
        )
      : h(
          "div",
          { class: "actions" },
          v.status === "open"
            ? h(
                "button",
                { type: "button", "aria-describedby": about, onclick: act("ack") },
                "Acknowledge",
              )
            : h("span", { class: "facts" }, `Acknowledged ${when(v.acknowledged_at)}`),
          resolution,
          h(
            "button",
            {
              type: "button",
              "aria-describedby": about,
              onclick: (e) => act("resolve", { resolution: resolution.value })(e),
            },
            "Resolve",
          ),
        ),
    h(
      "button",
      {
        type: "button",
        class: "link",
        "aria-describedby": about,
        onclick: () => showZone(v.zone_id),
      },
      "Show zone",
    ),
    note,
  );
}
