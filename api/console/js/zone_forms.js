// The zone view's forms: a new closure (dry run first) and the zone's settings.
import { call } from "./api.js";
import { announce, h, message } from "./dom.js";
import { now, wallValue, zonedToUtc } from "./time.js";
import { detailsOf } from "./zones.js";

/** The new-closure form: a dry run says what it cancels; only then can it be created. */
export function closureForm(detail, { onCreated }) {
  const tz = detail.timezone;
  const start = new Date(Math.ceil(now().getTime() / 900_000) * 900_000);
  const end = new Date(start.getTime() + 2 * 3_600_000);
  const note = h("p", { class: "message", role: "status", hidden: true });
  const create = h(
    "button",
    { type: "button", class: "primary", disabled: true },
    "Create closure",
  );
  const form = h(
    "form",
    { id: "closure-form", class: "stack", novalidate: true },
    h("h3", {}, "New closure"),
    h("label", { for: "closure-start" }, `Start (${tz})`),
    h("input", {
      id: "closure-start",
      name: "start",
      type: "datetime-local",
      required: true,
      value: wallValue(start, tz),
    }),
    h("label", { for: "closure-end" }, `End (${tz})`),
    h("input", {
      id: "closure-end",
      name: "end",
      type: "datetime-local",
      required: true,
      value: wallValue(end, tz),
    }),
    h("label", { for: "closure-reason" }, "Reason"),
    h("input", {
      id: "closure-reason",
      name: "reason",
      required: true,
      maxlength: "300",
      placeholder: "Roadworks",
    }),
    h(
      "fieldset",
      {},
      h("legend", {}, "Bays (none ticked: the whole zone)"),
      ...detail.bays.map((bay) =>
        h(
          "label",
          { class: "inline" },
          h("input", { type: "checkbox", name: "bays", value: bay.label }),
          ` ${bay.label}`,
        ),
      ),
    ),
    h("button", { type: "submit" }, "Check impact"),
    note,
    create,
  );
  const body = () => {
    const data = new FormData(form);
    const bays = data.getAll("bays");
    if (!data.get("start") || !data.get("end") || !data.get("reason").trim()) {
      throw new Error("Give a start, an end and a reason.");
    }
    return {
      start: zonedToUtc(data.get("start"), tz).toISOString(),
      end: zonedToUtc(data.get("end"), tz).toISOString(),
      reason: data.get("reason").trim(),
      bays: bays.length ? bays : null,
    };
  };
  let checked = null;
  form.addEventListener("input", () => {
    // Any change needs a new dry run before the closure can be created.
    checked = null;
    create.disabled = true;
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const closure = body();
      const plan = await call(
        `/api/v1/zones/${encodeURIComponent(detail.id)}/closures?dry_run=true`,
        {
          method: "POST",
          json: closure,
        },
      );
      checked = closure;
      create.disabled = false;
      const n = plan.cancelled;
      message(
        note,
        n === 0
          ? "This closure cancels no bookings."
          : `This closure will cancel ${n} booking${n === 1 ? "" : "s"}; their drivers are told.`,
        n === 0 ? "ok" : "",
      );
      note.dataset.cancelled = String(n);
      create.focus();
    } catch (error) {
      message(note, error.message, "error");
    }
  });
  create.addEventListener("click", async () => {
    if (!checked) return;
    create.disabled = true;
    try {
      const made = await call(`/api/v1/zones/${encodeURIComponent(detail.id)}/closures`, {
        method: "POST",
        json: checked,
      });
      const n = made.cancelled;
      message(note, `Closure created; ${n} booking${n === 1 ? "" : "s"} cancelled.`, "ok");
      announce(note.textContent);
      checked = null;
      onCreated();
    } catch (error) {
      message(note, error.message, "error");
      create.disabled = false;
    }
  });
  return form;
}

const EDITABLE = [
  ["name", "Name", "text"],
  ["address", "Address", "text"],
  ["district", "District", "text"],
  ["loading_hours", "Loading hours", "text"],
  ["max_stay_min", "Max stay (min)", "number"],
  ["min_stay_min", "Min stay (min)", "number"],
  ["max_vehicle_length_m", "Max vehicle length (m)", "number"],
  ["reservable_share", "Reservable share (0–1)", "number"],
];

/** The zone's settings; only changed fields are sent. */
export function editForm(detail, { onSaved }) {
  let shown = detail;
  const note = h("p", { class: "message", role: "status", hidden: true });
  const form = h(
    "form",
    { id: "zone-edit", class: "stack", novalidate: true },
    ...EDITABLE.flatMap(([name, label, type]) => [
      h("label", { for: `edit-${name}` }, label),
      h("input", {
        id: `edit-${name}`,
        name,
        type,
        step: type === "number" ? "any" : null,
        value: String(detail[name] ?? ""),
      }),
    ]),
    h("button", { type: "submit", class: "primary" }, "Save zone"),
    note,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const patch = {};
    for (const [name, , type] of EDITABLE) {
      const value = String(data.get(name)).trim();
      const old = shown[name];
      const parsed = type === "number" ? Number(value) : value;
      if (value !== "" && parsed !== old) patch[name] = parsed;
    }
    if (Object.keys(patch).length === 0) {
      message(note, "Nothing changed.");
      return;
    }
    try {
      shown = await call(`/api/v1/zones/${encodeURIComponent(detail.id)}`, {
        method: "PATCH",
        json: patch,
      });
      await detailsOf(detail.id, { fresh: true });
      message(note, "Saved.", "ok");
      announce("Zone saved.");
      onSaved(shown);
    } catch (error) {
      message(note, error.message, "error");
    }
  });
  return h("details", { class: "edit" }, h("summary", {}, "Edit the zone"), form);
}
