// The zone view: bays with their sensors, today's timeline, closures (with a dry run first),
// and the zone's settings.
import { call, parseCsv, query, text } from "./api.js";
import { $, announce, battery, h, humanise } from "./dom.js";
import { closureForm, editForm } from "./zone_forms.js";
import { timeline } from "./timeline.js";
import { ago, DAY, dayStart, now, when } from "./time.js";
import {
  bayStateOf,
  detailsOf,
  loadAll,
  loadBayStates,
  STATE_LABEL,
  stateOf,
  zones,
} from "./zones.js";

let current = null; // {id, detail, sensors: Map bay label → sensor health, sign: Map label → line}

/** Open a zone in the panel. */
export async function openZone(id) {
  const view = $("#zone-view");
  $("#zone-empty").hidden = true;
  view.hidden = false;
  view.dataset.zoneId = id;
  view.replaceChildren(h("p", { role: "status" }, "Loading the zone…"));
  try {
    const [detail, sensors] = await Promise.all([
      detailsOf(id, { fresh: true }),
      // zone_id is a hint: servers that cannot filter send all, and we filter here.
      call(`/api/v1/sensors${query({ zone_id: id })}`).catch(() => []),
    ]);
    current = {
      id,
      detail,
      sensors: new Map(sensors.filter((s) => s.zone_id === id).map((s) => [s.bay, s])),
    };
    render();
  } catch (error) {
    view.replaceChildren(h("p", { class: "message error", role: "alert" }, error.message));
  }
}

/** A `zone` event: refresh the header and bay table of the zone on show. */
export function onZoneEvent(event) {
  if (current && event.zone_id === current.id) {
    renderHeader();
    renderBays();
  }
}

function render() {
  const { detail } = current;
  const view = $("#zone-view");
  view.replaceChildren(
    h("div", { id: "zone-header" }),
    h("h3", {}, "Bays"),
    h("table", { class: "grid", id: "zone-bays" }),
    h("h3", {}, "Today"),
    h("div", { id: "zone-timeline" }, h("p", {}, "Loading today's reservations and occupancy…")),
    h("h3", {}, "Closures"),
    h("ul", { id: "zone-closures", class: "plain-list" }),
    closureForm(detail, { onCreated: refreshAfterChange }),
    editForm(detail, {
      onSaved: (saved) => {
        current.detail = saved;
        renderHeader();
        setTimeout(() => loadAll().catch(() => {}), 6000);
      },
    }),
  );
  renderHeader();
  renderBays();
  loadTimeline();
  loadClosures();
  $("#zone-view h2")?.focus();
}

function renderHeader() {
  const zone = zones.get(current.id);
  const { detail } = current;
  const state = zone ? stateOf(zone) : "offline";
  const counts = zone
    ? zone.free === null || zone.free === undefined
      ? `Live counts withheld: ${zone.withheld || zone.status}.`
      : `${zone.free} of ${zone.bays} bays free · ${zone.occupied ?? "–"} occupied · ${zone.reserved} reserved`
    : "";
  $("#zone-header").replaceChildren(
    h("h2", { tabindex: "-1" }, detail.name),
    h(
      "p",
      { class: "facts" },
      h(
        "span",
        { class: `badge state-${state}`, dataset: { zoneState: state } },
        STATE_LABEL[state],
      ),
      ` ${detail.id} · ${detail.address || detail.district || ""}`,
    ),
    h("p", { class: "facts" }, counts),
    h(
      "p",
      { class: "facts" },
      `Loading hours ${detail.loading_hours} · max stay ${detail.max_stay_min} min · ${detail.timezone}`,
    ),
  );
}

function renderBays() {
  const zone = zones.get(current.id);
  const states = new Map((zone?.bayStates || []).map((b) => [b.bay, b]));
  const rows = current.detail.bays.map((bay) => {
    const health = current.sensors.get(bay.label);
    const live = states.get(bay.label);
    let sensorState = health?.state || (bay.sensor_id ? "unknown" : "no sensor");
    if (live && live.occupied !== null && live.occupied !== undefined) {
      sensorState = live.occupied ? "occupied" : "free";
    }
    const booking = live ? bayStateOf(live) : "–";
    return h(
      "tr",
      { dataset: { bay: bay.label, sensorState } },
      h("th", { scope: "row" }, bay.label),
      h("td", {}, bay.sensor_id || "–"),
      h("td", {}, h("span", { class: `badge bay-${sensorState.replace(" ", "-")}` }, sensorState)),
      h("td", {}, booking),
      h(
        "td",
        {},
        health ? `${ago(health.last_seen_at)}${health.offline ? " (offline)" : ""}` : "–",
      ),
      h(
        "td",
        {},
        health?.battery === null || health?.battery === undefined ? "–" : battery(health.battery),
      ),
    );
  });
  $("#zone-bays").replaceChildren(
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ...["Bay", "Sensor", "Sensor state", "Now", "Last seen", "Battery"].map((c) =>
          h("th", { scope: "col" }, c),
        ),
      ),
    ),
    h("tbody", {}, ...rows),
  );
}

async function loadTimeline() {
  const { detail } = current;
  const tz = detail.timezone;
  const start = dayStart(now(), tz);
  const end = new Date(start.getTime() + DAY);
  const target = $("#zone-timeline");
  try {
    const [reservations, sessions, closures] = await Promise.all([
      call(
        `/api/v1/reservations${query({ zone_id: detail.id, from: start.toISOString(), to: end.toISOString(), limit: 500 })}`,
      ),
      measured(detail.id, start, end).catch(() => null),
      call(`/api/v1/zones/${encodeURIComponent(detail.id)}/closures`),
    ]);
    const byId = new Map(detail.bays.map((b) => [b.id, b.label]));
    const booked = reservations
      .filter((r) => r.status !== "cancelled")
      .map((r) => ({
        bay: r.bay_label,
        start: new Date(r.start),
        end: new Date(r.end),
        plate: r.plate,
        status: r.status,
      }));
    const closed = closures.flatMap((c) =>
      (c.bay_ids ? c.bay_ids.map((id) => byId.get(id)) : [null]).map((bay) => ({
        bay,
        start: new Date(c.start),
        end: new Date(c.end),
        reason: c.reason,
      })),
    );
    target.replaceChildren(
      timeline({
        bays: detail.bays.map((b) => b.label),
        reservations: booked,
        sessions: sessions || [],
        closures: closed,
        dayStart: start,
        tz,
      }),
      sessions === null ? h("p", { class: "hint" }, "Measured occupancy is not available.") : "",
      bookingTable(reservations, tz),
    );
  } catch (error) {
    target.replaceChildren(h("p", { class: "message error" }, error.message));
  }
}

/** Parking sessions of the zone's bays today, from the CDS Metrics API. */
async function measured(zoneId, start, end) {
  const spaces = await call(`/cds/curbs/spaces${query({ zone: zoneId })}`);
  const list = spaces.data.spaces;
  if (list.length === 0) return [];
  const labels = new Map(list.map((s) => [s.curb_space_id, s.name]));
  const rows = parseCsv(
    await text(
      `/cds/metrics/sessions${query({
        curb_place_type: "zone",
        curb_place_id: list[0].curb_zone_id,
        // From a day earlier, so a van parked since last night is shown too.
        start_time: start.getTime() - DAY,
        end_time: end.getTime(),
      })}`,
    ),
  );
  return rows
    .map((r) => ({
      bay: labels.get(r.curb_space_id),
      start: new Date(Number(r.event_time_start)),
      end: r.event_time_end ? new Date(Number(r.event_time_end)) : null,
    }))
    .filter((s) => !s.end || s.end > start);
}

function bookingTable(reservations, tz) {
  if (reservations.length === 0) return h("p", { class: "hint" }, "No reservations today.");
  const sorted = [...reservations].sort((a, b) => new Date(a.start) - new Date(b.start));
  return h(
    "details",
    {},
    h("summary", {}, `Reservations today (${reservations.length})`),
    h(
      "table",
      { class: "grid" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ...["Time", "Bay", "Plate", "Code", "Status"].map((c) => h("th", { scope: "col" }, c)),
        ),
      ),
      h(
        "tbody",
        {},
        ...sorted.map((r) =>
          h(
            "tr",
            {},
            h("td", {}, `${when(r.start, tz)}–${when(r.end, tz)}`),
            h("td", {}, r.bay_label),
            h("td", {}, r.plate),
            h("td", {}, r.code),
            h("td", {}, humanise(r.status)),
          ),
        ),
      ),
    ),
  );
}

async function loadClosures() {
  const list = $("#zone-closures");
  const { detail } = current;
  try {
    const found = await call(`/api/v1/zones/${encodeURIComponent(detail.id)}/closures`);
    const byId = new Map(detail.bays.map((b) => [b.id, b.label]));
    list.replaceChildren(
      ...(found.length === 0
        ? [h("li", { class: "hint" }, "No current or upcoming closures.")]
        : found.map((c) =>
            h(
              "li",
              { dataset: { closureId: c.id } },
              `${when(c.start, detail.timezone)} – ${when(c.end, detail.timezone)} · ${c.reason} · `,
              c.bay_ids
                ? `bays ${c.bay_ids.map((id) => byId.get(id) ?? id).join(", ")}`
                : "whole zone",
              " ",
              h("button", { type: "button", class: "link", onclick: () => lift(c) }, "Lift"),
            ),
          )),
    );
  } catch (error) {
    list.replaceChildren(h("li", { class: "message error" }, error.message));
  }
}

async function lift(closure) {
  if (!window.confirm("Lift this closure? Bookings it cancelled stay cancelled.")) return;
  try {
    await call(`/api/v1/zones/${encodeURIComponent(current.id)}/closures/${closure.id}`, {
      method: "DELETE",
    });
    announce("Closure lifted.");
    refreshAfterChange();
  } catch (error) {
    announce(error.message);
  }
}

function refreshAfterChange() {
  const id = current.id;
  loadClosures();
  loadTimeline();
  // The feed is rebuilt every few seconds; read it again once it has seen the change, and the
  // bays' states from the sign (no sensor event reports a closure).
  setTimeout(async () => {
    await loadAll().catch(() => {});
    const zone = zones.get(id);
    if (zone) {
      zone.bayStates = null;
      await loadBayStates(zone).catch(() => {});
    }
    if (current?.id === id) {
      renderHeader();
      renderBays();
    }
  }, 6000);
}
