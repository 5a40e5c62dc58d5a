// Today's timeline of a zone: per bay, the reservations against the measured occupancy, as SVG.
import { h } from "./dom.js";
import { clock, DAY, now } from "./time.js";

const NS = "http://www.w3.org/2000/svg";
const WIDTH = 560;
const LEFT = 52;
const RIGHT = 10;
const TOP = 22;
const ROW = 40;

function svg(tag, attrs = {}, ...children) {
  const element = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined) element.setAttribute(key, String(value));
  }
  element.append(...children.filter(Boolean));
  return element;
}

const title = (text) => svg("title", {}, text);

/**
 * The timeline as an <svg>: `bays` are labels; `reservations`, `sessions` and `closures` have
 * {bay, start, end} (Dates; `end` null while it lasts), reservations also plate and status.
 */
export function timeline({ bays, reservations, sessions, closures, dayStart, tz }) {
  const height = TOP + bays.length * ROW + 26;
  const span = WIDTH - LEFT - RIGHT;
  const x = (date) => LEFT + Math.max(0, Math.min(1, (date - dayStart) / DAY)) * span;
  const nowAt = now();
  const chart = svg("svg", {
    viewBox: `0 0 ${WIDTH} ${height}`,
    class: "timeline",
    role: "img",
    "aria-labelledby": "timeline-desc",
  });
  chart.append(
    svg(
      "desc",
      { id: "timeline-desc" },
      `Today per bay: ${reservations.length} reservations (upper bars) and ` +
        `${sessions.length} measured parking sessions (lower bars).`,
    ),
    svg(
      "defs",
      {},
      svg(
        "pattern",
        {
          id: "hatch",
          width: 6,
          height: 6,
          patternUnits: "userSpaceOnUse",
          patternTransform: "rotate(45)",
        },
        svg("rect", { width: 6, height: 6, fill: "#e5e7eb" }),
        svg("line", { x1: 0, y1: 0, x2: 0, y2: 6, stroke: "#4b5563", "stroke-width": 2 }),
      ),
    ),
  );
  for (let hour = 0; hour <= 24; hour += 3) {
    const at = LEFT + (hour / 24) * span;
    chart.append(
      svg("line", { x1: at, x2: at, y1: TOP - 4, y2: height - 22, class: "grid-line" }),
      svg(
        "text",
        { x: at, y: height - 8, "text-anchor": "middle", class: "axis" },
        `${String(hour).padStart(2, "0")}:00`,
      ),
    );
  }
  bays.forEach((bay, row) => {
    const y = TOP + row * ROW;
    chart.append(svg("text", { x: 4, y: y + 22, class: "axis" }, `Bay ${bay}`));
    chart.append(svg("rect", { x: LEFT, y: y + 2, width: span, height: ROW - 6, class: "lane" }));
    for (const c of closures.filter((c) => c.bay === null || c.bay === bay)) {
      chart.append(
        svg(
          "rect",
          {
            x: x(c.start),
            y: y + 2,
            width: Math.max(2, x(c.end) - x(c.start)),
            height: ROW - 6,
            fill: "url(#hatch)",
            class: "closure",
          },
          title(`Closed ${clock(c.start, tz)}–${clock(c.end, tz)}: ${c.reason}`),
        ),
      );
    }
    for (const r of reservations.filter((r) => r.bay === bay)) {
      chart.append(
        svg(
          "rect",
          {
            x: x(r.start),
            y: y + 5,
            width: Math.max(2, x(r.end) - x(r.start)),
            height: 12,
            class: `booking ${r.status}`,
          },
          title(`Reserved ${clock(r.start, tz)}–${clock(r.end, tz)} ${r.plate} (${r.status})`),
        ),
      );
    }
    for (const s of sessions.filter((s) => s.bay === bay)) {
      const end = s.end || nowAt;
      chart.append(
        svg(
          "rect",
          {
            x: x(s.start),
            y: y + 20,
            width: Math.max(2, x(end) - x(s.start)),
            height: 12,
            class: "occupied",
          },
          title(`Occupied ${clock(s.start, tz)}–${s.end ? clock(s.end, tz) : "now"}`),
        ),
      );
    }
  });
  if (nowAt >= dayStart && nowAt - dayStart < DAY) {
    const at = x(nowAt);
    chart.append(
      svg("line", { x1: at, x2: at, y1: TOP - 8, y2: height - 22, class: "now-line" }),
      svg(
        "text",
        { x: at, y: TOP - 10, "text-anchor": "middle", class: "axis now" },
        `now ${clock(nowAt, tz)}`,
      ),
    );
  }
  const legend = h(
    "p",
    { class: "chart-legend" },
    h("span", { class: "key booking" }),
    "reserved ",
    h("span", { class: "key occupied" }),
    "measured occupancy ",
    h("span", { class: "key closure" }),
    "closed",
  );
  return h("div", { class: "chart" }, chart, legend);
}
