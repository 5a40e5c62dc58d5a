// Hand-drawn SVG charts (no chart library offline): a heatmap, a line trend, ranked bars.
// Each has a text alternative: a description and, for the heatmap, a table to expand.
import { h } from "./dom.js";

const NS = "http://www.w3.org/2000/svg";
export const WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

function svg(tag, attrs = {}, ...children) {
  const element = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined) element.setAttribute(key, String(value));
  }
  element.append(...children.filter((c) => c !== null && c !== undefined));
  return element;
}

/** Percentages as "62 %", other figures with at most one decimal. */
export function formatter(unit = "") {
  return (v) => {
    if (!Number.isFinite(v)) return "–";
    const text = Number.isInteger(v) ? String(v) : v.toFixed(unit === "%" ? 0 : 1);
    return unit ? `${text} ${unit}` : text;
  };
}

function shade(t) {
  // From pale to dark blue; lightness alone carries the value (readable in greyscale).
  const lightness = 96 - 68 * Math.max(0, Math.min(1, t));
  return `hsl(215 75% ${lightness}%)`;
}

/** A 7 x 24 heatmap (rows Mon..Sun, columns hours); `label` names the figure. */
export function heatmap(matrix, { label, unit = "" }) {
  const values = matrix.flat().filter((v) => Number.isFinite(v));
  const max = Math.max(...values, 0) || 1;
  const fmt = formatter(unit);
  const [cell, left, top] = [18, 34, 16];
  const chart = svg("svg", {
    viewBox: `0 0 ${left + 24 * cell + 4} ${top + 7 * cell + 4}`,
    class: "heatmap",
    role: "img",
    "aria-label": `${label} by weekday and hour; darker is higher, the peak is ${fmt(max)}.`,
  });
  for (let hour = 0; hour < 24; hour += 3) {
    chart.append(
      svg(
        "text",
        { x: left + hour * cell + cell / 2, y: top - 4, "text-anchor": "middle", class: "axis" },
        String(hour),
      ),
    );
  }
  matrix.forEach((row, day) => {
    chart.append(
      svg("text", { x: 0, y: top + day * cell + cell * 0.7, class: "axis" }, WEEKDAYS[day]),
    );
    row.forEach((value, hour) => {
      chart.append(
        svg(
          "rect",
          {
            x: left + hour * cell,
            y: top + day * cell,
            width: cell - 1,
            height: cell - 1,
            fill: Number.isFinite(value) ? shade(value / max) : "#ffffff",
            stroke: Number.isFinite(value) ? null : "#d1d5db",
            class: "cell",
            "data-day": day,
            "data-hour": hour,
          },
          svg(
            "title",
            {},
            `${WEEKDAYS[day]} at ${String(hour).padStart(2, "0")}:00: ${fmt(value)}`,
          ),
        ),
      );
    });
  });
  const table = h(
    "details",
    {},
    h("summary", {}, "As a table"),
    h(
      "table",
      { class: "grid compact" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", { scope: "col" }, "Day"),
          ...Array.from({ length: 24 }, (_, i) => h("th", { scope: "col" }, String(i))),
        ),
      ),
      h(
        "tbody",
        {},
        ...matrix.map((row, day) =>
          h(
            "tr",
            {},
            h("th", { scope: "row" }, WEEKDAYS[day]),
            ...row.map((v) => h("td", {}, fmt(v))),
          ),
        ),
      ),
    ),
  );
  return [
    chart,
    h(
      "p",
      { class: "chart-legend" },
      h("span", { class: "key", style: `background:${shade(0)}` }),
      " low ",
      h("span", { class: "key", style: `background:${shade(1)}` }),
      ` high (${fmt(max)})`,
    ),
    table,
  ];
}

/** A line over time: points [{label, value}] in order. */
export function trend(points, { label, unit = "" }) {
  const [width, height, left, bottom, top] = [520, 180, 44, 24, 10];
  const values = points.map((p) => p.value).filter((v) => Number.isFinite(v));
  const max = Math.max(...values, 0) || 1;
  const fmt = formatter(unit);
  const span = width - left - 10;
  const x = (i) => left + (points.length === 1 ? span / 2 : (i / (points.length - 1)) * span);
  const y = (v) => top + (1 - v / max) * (height - top - bottom);
  const chart = svg("svg", {
    viewBox: `0 0 ${width} ${height}`,
    class: "trend",
    role: "img",
    "aria-label": `${label} per day, ${points.length} days; highest ${fmt(max)}.`,
  });
  for (const t of [0, 0.5, 1]) {
    chart.append(
      svg("line", { x1: left, x2: width - 10, y1: y(t * max), y2: y(t * max), class: "grid-line" }),
      svg(
        "text",
        { x: left - 4, y: y(t * max) + 4, "text-anchor": "end", class: "axis" },
        fmt(t * max),
      ),
    );
  }
  const path = points
    .map((p, i) =>
      Number.isFinite(p.value) ? `${x(i).toFixed(1)},${y(p.value).toFixed(1)}` : null,
    )
    .filter(Boolean);
  if (path.length > 1) chart.append(svg("polyline", { points: path.join(" "), class: "line" }));
  const every = Math.max(1, Math.ceil(points.length / 6));
  points.forEach((p, i) => {
    if (Number.isFinite(p.value)) {
      chart.append(
        svg(
          "circle",
          { cx: x(i), cy: y(p.value), r: 3, class: "point" },
          svg("title", {}, `${p.label}: ${fmt(p.value)}`),
        ),
      );
    }
    const last = points.length - 1;
    if (i === last || (i % every === 0 && last - i >= every / 2)) {
      chart.append(
        svg(
          "text",
          {
            x: x(i),
            y: height - 6,
            "text-anchor": i === last && i > 0 ? "end" : "middle",
            class: "axis",
          },
          String(p.label).slice(5, 10) || p.label,
        ),
      );
    }
  });
  return [chart];
}

/** Horizontal bars, highest first: items [{label, value}]. */
export function ranking(items, { label, unit = "", limit = 10 }) {
  const top = [...items]
    .filter((i) => Number.isFinite(i.value))
    .sort((a, b) => b.value - a.value)
    .slice(0, limit);
  const max = Math.max(...top.map((i) => i.value), 0) || 1;
  const fmt = formatter(unit);
  const [row, left, width] = [22, 130, 520];
  const chart = svg("svg", {
    viewBox: `0 0 ${width} ${top.length * row + 4}`,
    class: "ranking",
    role: "img",
    "aria-label": `${label}: ${top.map((i) => `${i.label} ${fmt(i.value)}`).join(", ")}.`,
  });
  top.forEach((item, i) => {
    const y = i * row + 2;
    const barWidth = ((width - left - 60) * item.value) / max;
    chart.append(
      svg(
        "text",
        { x: left - 6, y: y + 14, "text-anchor": "end", class: "axis" },
        String(item.label).slice(0, 18),
      ),
      svg(
        "rect",
        { x: left, y: y + 3, width: Math.max(1, barWidth), height: row - 7, class: "bar" },
        svg("title", {}, `${item.label}: ${fmt(item.value)}`),
      ),
      svg("text", { x: left + barWidth + 4, y: y + 14, class: "axis" }, fmt(item.value)),
    );
  });
  return [chart];
}
