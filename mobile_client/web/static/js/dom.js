// Building the page from data without innerHTML: server strings are always text.

/** An element: h("button", {type: "button", onclick}, "Book"). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else el.setAttribute(name, value === true ? "" : value);
  }
  return fill(el, ...children);
}

/** Replace an element's children; nested arrays are flattened, null and false left out. */
export function fill(el, ...children) {
  el.replaceChildren(...children.flat(3).filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

export const $ = (selector, root = document) => root.querySelector(selector);

/** Go to a screen (#/...); shown afresh when it is the current one, which fires no hashchange. */
export function go(hash) {
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent("hashchange"));
  else location.hash = hash;
}

/** Show a message in a view's message area (role=alert for errors, status otherwise). */
export function say(box, text, kind = "error") {
  box.hidden = !text;
  box.textContent = text || "";
  box.className = `message ${kind}`;
  box.setAttribute("role", kind === "error" ? "alert" : "status");
}

/** Disable a button while its action runs, so a double tap does not act twice. */
export async function busy(button, action) {
  if (button) button.disabled = true;
  try {
    return await action();
  } finally {
    if (button) button.disabled = false;
  }
}
