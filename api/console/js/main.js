// The console's start: login (operators and admins), tabs, the map, and the live stream.
import { auth, call } from "./api.js";
import { $, message } from "./dom.js";
import { initEnforcement, setZone } from "./enforcement.js";
import { connect, disconnect } from "./live.js";
import { focusZone, initMap } from "./map.js";
import * as sensors from "./sensors.js";
import * as stats from "./stats.js";
import { setServerClock } from "./time.js";
import * as violations from "./violations.js";
import { onZoneEvent, openZone } from "./zone.js";
import * as zones from "./zones.js";

const STAFF = new Set(["operator", "admin"]);
const RESYNC_MS = 60_000; // acknowledgements by colleagues and closures are not pushed
let config = {};
let started = false;
let resync = null;
const loaded = new Set(); // tabs whose data has been read once

async function boot() {
  try {
    const response = await fetch("/console/config.json");
    if (response.ok) config = await response.json();
  } catch {
    // Without config: no tiles, the browser's clock.
  }
  setServerClock(config.now, config.timezone);
  auth.onLoggedOut = (detail) => showLogin(detail);
  $("#login-form").addEventListener("submit", login);
  $("#logout").addEventListener("click", () => {
    auth.token = null;
    showLogin("You are logged out.");
  });
  initTabs();
  if (auth.token) {
    try {
      const me = await call("/api/v1/me");
      if (STAFF.has(me.role)) return start(me);
    } catch {
      // An old token: log in again.
    }
  }
  return showLogin();
}

async function login(event) {
  event.preventDefault();
  const form = event.target;
  const note = form.querySelector(".message");
  message(note, "");
  try {
    const token = await call("/api/v1/auth/token", {
      method: "POST",
      form: { username: form.elements.username.value, password: form.elements.password.value },
    });
    auth.token = token.access_token;
    const me = await call("/api/v1/me");
    if (!STAFF.has(me.role)) {
      auth.token = null;
      message(
        note,
        `This console is for operators and admins; ${me.email} is a ${me.role} account.`,
        "error",
      );
      return;
    }
    form.reset();
    await start(me);
  } catch (error) {
    message(note, error.message, "error");
  }
}

function showLogin(detail = "") {
  disconnect();
  clearInterval(resync);
  $("#console-view").hidden = true;
  $("#login-view").hidden = false;
  $("#live").hidden = true;
  $("#who").hidden = true;
  $("#logout").hidden = true;
  message($("#login-form .message"), detail, detail ? "error" : "");
  $("#login-email").focus();
}

async function start(me) {
  $("#login-view").hidden = true;
  $("#console-view").hidden = false;
  $("#who").hidden = false;
  $("#who").textContent = `${me.email} (${me.role})`;
  $("#logout").hidden = false;
  if (!started) {
    started = true;
    initMap($("#map"), config, {
      onSelect: pickZone,
      onTilesFailed: () => {
        $("#tiles-note").hidden = false;
      },
    });
    zones.initSearch(pickZone);
    violations.initViolations({ onShowZone: pickZone });
    initEnforcement();
    sensors.initSensors();
    stats.initStats();
  }
  connect({
    zone: (event) => {
      zones.applyEvent(event);
      onZoneEvent(event);
    },
    violation: (row) => violations.add(row),
    resync: refresh,
  });
  clearInterval(resync);
  resync = setInterval(refresh, RESYNC_MS);
  await refresh();
  document.body.dataset.ready = "true";
}

async function refresh() {
  fetch("/console/config.json")
    .then((response) => (response.ok ? response.json() : {}))
    .then((fresh) => setServerClock(fresh.now, fresh.timezone))
    .catch(() => {});
  await Promise.all([
    zones.loadAll().catch((error) => message($("#violations-message"), error.message, "error")),
    violations.load(),
  ]);
}

function pickZone(id) {
  focusZone(id);
  setZone(id);
  selectTab("zone");
  openZone(id);
}

const TABS = ["violations", "zone", "enforcement", "sensors", "stats"];

function selectTab(name, { focus = false } = {}) {
  for (const tab of TABS) {
    const button = $(`#tab-${tab}`);
    const selected = tab === name;
    button.setAttribute("aria-selected", String(selected));
    button.tabIndex = selected ? 0 : -1;
    $(`#pane-${tab}`).hidden = !selected;
    if (selected && focus) button.focus();
  }
  if (!loaded.has(name)) {
    if (name === "sensors") sensors.load();
    if (name === "stats") stats.load();
    if (name === "sensors" || name === "stats") loaded.add(name);
  }
}

function initTabs() {
  for (const tab of TABS) {
    const button = $(`#tab-${tab}`);
    button.addEventListener("click", () => selectTab(tab));
    button.addEventListener("keydown", (event) => {
      const at = TABS.indexOf(tab);
      const next = {
        ArrowRight: TABS[(at + 1) % TABS.length],
        ArrowLeft: TABS[(at - 1 + TABS.length) % TABS.length],
        Home: TABS[0],
        End: TABS[TABS.length - 1],
      }[event.key];
      if (next) {
        event.preventDefault();
        selectTab(next, { focus: true });
      }
    });
  }
}

boot();
