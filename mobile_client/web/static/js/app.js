// The driver app: log in, find a zone, book, and manage bookings. Hash routes:
// #/login, #/find, #/book/<zone>, #/booking/<id>, #/bookings.
import { login, logout, register, saved, session } from "./api.js";
import { connection, leave, refresh, showBooking, showBookings, showing } from "./bookings.js";
import { $, busy, go, say } from "./dom.js";
import { setUp as setUpFind, showBook, showFind } from "./find.js";
import { lang, t, toggle, translate } from "./i18n.js";
import { listen, stop, toast } from "./notify.js";

const VIEWS = ["login", "find", "book", "booking", "bookings"];

function show(name) {
  for (const view of VIEWS) $(`#view-${view}`).hidden = view !== name;
  const loggedIn = Boolean(session.token);
  $("#nav").hidden = !loggedIn;
  $("#logout").hidden = !loggedIn;
  for (const link of document.querySelectorAll("#nav a")) {
    const current = link.getAttribute("href") === `#/${name}`;
    if (current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  // Move focus to the new screen's heading, so keyboard and screen-reader users land there.
  $(`#view-${name} h1`).focus({ preventScroll: false });
}

async function route() {
  const [, name = "", param = ""] = location.hash.match(/^#\/([\w-]*)\/?(.*)$/) || [];
  const id = decodeURIComponent(param);
  if (name !== "booking") leave();
  const offlineWithBookings = connection.offline && saved.bookings().length;
  if (!session.token && !offlineWithBookings) return show("login");
  if (name === "booking" && id) {
    show("booking");
    return showBooking(id);
  }
  if (name === "bookings") {
    show("bookings");
    return showBookings();
  }
  if (name === "book" && id) {
    show("book");
    return showBook(id);
  }
  if (connection.offline) {
    location.replace("#/bookings");
    return null;
  }
  show("find");
  return showFind();
}

function setOffline(offline) {
  connection.offline = offline;
  $("#offline").hidden = !offline;
}

// The booking screen already says a booking is confirmed: no toast for that one.
const notifications = () =>
  listen(refresh, (note) => note.kind === "confirmed" && note.reservation_id === showing());

function loggedIn() {
  notifications();
  go("#/find");
}

function setUpAuth() {
  const loginForm = $("#login-form");
  const registerForm = $("#register-form");
  const switcher = $("#auth-switch");
  switcher.addEventListener("click", () => {
    const registering = registerForm.hidden;
    registerForm.hidden = !registering;
    loginForm.hidden = registering;
    switcher.dataset.i18n = registering ? "to_login" : "to_register";
    $("#login-title").dataset.i18n = registering ? "register_title" : "login_title";
    translate();
    (registering ? registerForm : loginForm).querySelector("input").focus();
  });
  loginForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const { email, password } = loginForm.elements;
    await busy(loginForm.querySelector("button"), async () => {
      try {
        await login(email.value.trim(), password.value);
        say($(".message", loginForm), "");
        loggedIn();
      } catch (error) {
        say($(".message", loginForm), error.message);
      }
    });
  });
  registerForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const { email, password, name } = registerForm.elements;
    await busy(registerForm.querySelector("button"), async () => {
      try {
        await register(email.value.trim(), password.value, name.value.trim());
        await login(email.value.trim(), password.value);
        say($(".message", registerForm), "");
        loggedIn();
      } catch (error) {
        say($(".message", registerForm), error.message);
      }
    });
  });
  session.onLoggedOut = (detail) => {
    stop();
    go("#/login");
    say($(".message", loginForm), detail);
  };
  $("#logout").addEventListener("click", () => {
    stop();
    logout();
    go("#/login");
  });
}

// The switch names the other language, in that language ("Deutsch" / "English").
function labelSwitch() {
  const button = $("#lang");
  button.lang = lang === "de" ? "en" : "de";
  button.textContent = lang === "de" ? "English" : "Deutsch";
  button.title = t("switch_lang");
}

function start() {
  translate();
  labelSwitch();
  $("#lang").addEventListener("click", () => {
    toggle();
    labelSwitch();
    leave(); // redraw the booking in the new language
    route();
  });
  setUpAuth();
  setUpFind();
  session.onConnection = setOffline;
  setOffline(!navigator.onLine);
  window.addEventListener("offline", () => setOffline(true));
  window.addEventListener("online", () => {
    setOffline(false);
    route();
  });
  window.addEventListener("hashchange", route);
  window.addEventListener("unhandledrejection", (event) => {
    toast(t("err_server"), event.reason?.message);
  });
  if (session.token) notifications();
  route();
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/app/sw.js", { scope: "/app/" }).catch(() => {});
  }
}

start();
