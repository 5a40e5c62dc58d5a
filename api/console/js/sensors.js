// Sensor health: last seen, battery, bay state, offline filter; and the dead letters.
import { call, query } from "./api.js";
import { $, battery, batteryPercent, h, message } from "./dom.js";
import { ago, when } from "./time.js";

const LOW_BATTERY = 15; // booking's Policy.battery_low_pct

const PAGE = 100;
let all = [];
let page = 0;

export function initSensors() {
  $("#sensor-filters").addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
  $("#sensor-filters input[name=offline]").addEventListener("change", () => load());
  $("#sensor-filters input[name=text]").addEventListener("input", () => {
    page = 0;
    render();
  });
  $("#sensors-prev").addEventListener("click", () => {
    page = Math.max(0, page - 1);
    render();
  });
  $("#sensors-next").addEventListener("click", () => {
    page += 1;
    render();
  });
}

/** Read sensors and dead letters again. */
export async function load() {
  const offline = $("#sensor-filters input[name=offline]").checked;
  try {
    all = await call(`/api/v1/sensors${query({ offline: offline ? "true" : "" })}`);
    page = 0;
    render();
  } catch (error) {
    message($("#sensors-message"), error.message, "error");
  }
  try {
    const dead = await call("/api/v1/sensors/dead-letters?limit=20");
    $("#dead-total").textContent = String(dead.total);
    $("#dead-letters").replaceChildren(
      ...dead.items.map((d) =>
        h("tr", {}, h("td", {}, when(d.received_at)), h("td", {}, d.topic), h("td", {}, d.reason)),
      ),
    );
  } catch (error) {
    $("#dead-letters").replaceChildren(h("tr", {}, h("td", { colspan: "3" }, error.message)));
  }
}

function render() {
  const needle = $("#sensor-filters input[name=text]").value.trim().toLowerCase();
  const shown = needle
    ? all.filter((s) =>
        `${s.sensor_id} ${s.zone_id} ${s.dev_eui || ""}`.toLowerCase().includes(needle),
      )
    : all;
  const pages = Math.max(1, Math.ceil(shown.length / PAGE));
  page = Math.min(page, pages - 1);
  $("#sensors").replaceChildren(
    ...shown.slice(page * PAGE, (page + 1) * PAGE).map((s) =>
      h(
        "tr",
        {
          class: s.offline ? "offline" : "",
          dataset: { sensorId: s.sensor_id, offline: String(s.offline) },
        },
        h("th", { scope: "row" }, s.sensor_id),
        h("td", {}, s.zone_id ? `${s.zone_id} / ${s.bay}` : "unassigned"),
        h("td", {}, s.offline ? h("span", { class: "badge bay-unknown" }, "offline") : s.state),
        h("td", { title: s.last_seen_at || "" }, ago(s.last_seen_at)),
        s.battery === null
          ? h("td", {}, "–")
          : h(
              "td",
              { class: batteryPercent(s.battery) <= LOW_BATTERY ? "low" : "" },
              battery(s.battery),
            ),
      ),
    ),
  );
  message(
    $("#sensors-message"),
    shown.length ? `${shown.length} sensor${shown.length === 1 ? "" : "s"}.` : "No sensors match.",
  );
  $("#sensors-page").textContent = `Page ${page + 1} of ${pages}`;
  $("#sensors-prev").disabled = page === 0;
  $("#sensors-next").disabled = page >= pages - 1;
}
