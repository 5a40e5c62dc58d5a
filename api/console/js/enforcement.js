// Enforcement: check a plate against the zone's bookings; valid / expired / none, colour-coded.
import { call, query } from "./api.js";
import { $, announce, h } from "./dom.js";
import { clock, now, when } from "./time.js";

const VERDICT = {
  valid: "Valid booking",
  expired: "Booking expired",
  none: "No booking",
};

/** Wire the form; the zone field follows the zone last opened. */
export function initEnforcement() {
  $("#check-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const plate = $("#check-plate").value.trim();
    const zoneId = $("#check-zone").value.trim();
    const box = $("#check-result");
    box.hidden = false;
    if (!plate || !zoneId) {
      box.dataset.result = "error";
      box.replaceChildren(h("p", {}, "Give a plate and a zone id."));
      return;
    }
    try {
      const verdict = await call(`/api/v1/enforcement/check${query({ plate, zone_id: zoneId })}`);
      show(verdict);
      log(verdict);
    } catch (error) {
      box.dataset.result = "error";
      box.replaceChildren(h("p", {}, error.message));
    }
  });
}

/** Put a zone id into the form (when a zone is opened). */
export function setZone(zoneId) {
  $("#check-zone").value = zoneId;
}

function show(v) {
  const box = $("#check-result");
  box.dataset.result = v.result;
  const lines = [h("p", { class: "verdict-head" }, `${VERDICT[v.result]}: ${v.plate}`)];
  if (v.code) {
    lines.push(
      h(
        "p",
        {},
        `Booking ${v.code}, bay ${v.bay ?? "–"}, ${when(v.start)}–${clock(v.end)} (${v.status})`,
      ),
    );
  } else {
    lines.push(h("p", {}, `No booking for this plate in ${v.zone_id} now.`));
  }
  box.replaceChildren(...lines);
  announce(`${VERDICT[v.result]} for ${v.plate}.`);
}

function log(v) {
  $("#check-log").prepend(
    h(
      "tr",
      { dataset: { result: v.result } },
      h("td", {}, clock(now())),
      h("td", {}, v.plate),
      h("td", {}, v.zone_id),
      h("td", {}, h("span", { class: `badge result-${v.result}` }, v.result)),
    ),
  );
}
