// Small DOM helpers: build elements, announce to screen readers, show messages.

/** h("li", {class: "x", dataset: {id: 1}, onclick}, "text", child) */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") element.className = value;
    else if (key === "dataset") Object.assign(element.dataset, value);
    else if (key.startsWith("on")) element.addEventListener(key.slice(2), value);
    else if (key in element && typeof value !== "string") element[key] = value;
    else element.setAttribute(key, value === true ? "" : value);
  }
  element.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return element;
}

export const $ = (selector, root = document) => root.querySelector(selector);

/** Say it to screen readers (a polite live region). */
export function announce(sentence) {
  const region = $("#announce");
  region.textContent = "";
  // A fresh text node after a tick, so the same sentence twice is read twice.
  setTimeout(() => {
    region.textContent = sentence;
  }, 50);
}

/** Show a message (or hide it when empty); `kind` is "error", "ok" or "" */
export function message(element, text, kind = "") {
  element.textContent = text || "";
  element.hidden = !text;
  element.classList.toggle("error", kind === "error");
  element.classList.toggle("ok", kind === "ok");
}

/** A label for a snake_case value: "unreserved_occupancy" → "Unreserved occupancy". */
export function humanise(value) {
  const text = String(value ?? "").replaceAll("_", " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** A battery level in percent, as the ingest stores it. */
export function batteryPercent(value) {
  return Math.round(value);
}

/** "12 %" */
export function battery(value) {
  return `${batteryPercent(value)} %`;
}

/** Run `fn` at most once per `ms`, the last call winning. */
export function throttle(fn, ms) {
  let timer = null;
  return (...args) => {
    if (timer) return;
    timer = setTimeout(() => {
      timer = null;
      fn(...args);
    }, ms);
  };
}
