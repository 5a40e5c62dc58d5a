"""The driver's web app in Debian's Chromium on a phone-sized screen, against a live server.

The server's clock is fixed at Tuesday 2026-12-01 10:00 Berlin time; the browser's is not.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from playwright.sync_api import Page, Route, expect

from api.routes import webapp
from booking import accounts
from booking.database import transaction
from tests.browser import count_transfer, snap
from tests.factories import make_zone
from tests.mobile_client.conftest import FIGURES, UNREACHABLE_TILES

PASSWORD = "correct horse battery"
ABC = {"latitude": 53.55494, "longitude": 9.98576}
CODE = re.compile(r"^[A-Z0-9]{6}$")
KB = 1024
DASH = "\N{EN DASH}"


class Stopwatch:
    """The driver's time, leaving out the test's own pauses (screenshots, waiting for caches)."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.paused_s = 0.0

    @contextmanager
    def pause(self) -> Iterator[None]:
        paused = time.perf_counter()
        try:
            yield
        finally:
            self.paused_s += time.perf_counter() - paused

    def elapsed(self) -> float:
        return time.perf_counter() - self.started - self.paused_s


@pytest.fixture
def backend() -> str:
    # The browser tests check the app, not the database: SQLite is enough.
    return "sqlite"


@pytest.fixture
def api(app_url: str) -> Iterator[Callable[..., httpx.Client]]:
    """An HTTP client on the live server, logged in as a new account of a role."""
    clients: list[httpx.Client] = []
    base = app_url.removesuffix("/app/")

    def make(email: str, role: str = "driver") -> httpx.Client:
        client = httpx.Client(base_url=base, timeout=10)
        if role == "driver":
            registered = client.post(
                "/api/v1/auth/register", json={"email": email, "password": PASSWORD}
            )
            assert registered.status_code == 201, registered.text
        token = client.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD})
        assert token.status_code == 200, token.text
        client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def make_operator(app: FastAPI, email: str) -> None:
    with transaction(app.state.engine) as session:
        accounts.register(
            session=session,
            email=email,
            password=PASSWORD,
            role="operator",
            now=datetime(2026, 12, 1, 9, tzinfo=UTC),
        )


def register(page: Page, email: str, name: str = "Dana Driver") -> None:
    page.get_by_role("button", name="New here? Create an account").click()
    page.get_by_label("Name").fill(name)
    page.locator("#register-email").fill(email)
    page.locator("#register-password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()


def log_in(page: Page, email: str, password: str = PASSWORD) -> None:
    form = page.locator("#login-form")
    form.get_by_label("E-mail").fill(email)
    form.get_by_label("Password").fill(password)
    form.get_by_role("button", name="Log in").click()


def zone_card(page: Page, zone_id: str = "HH-ABC-1"):
    return page.locator(f"#zone-{zone_id}")


def book_now(page: Page, plate: str | None = "HH-AB 123", minutes: int = 30) -> str:
    """Book ABC-Straße from the zone list; returns the booking code shown."""
    zone_card(page).get_by_role("button", name="Book a bay at ABC-Straße").tap()
    if plate is not None:
        page.get_by_label("Number plate").fill(plate)
    page.locator("#book-form .durations label", has_text=f"{minutes} min").tap()
    page.get_by_role("button", name="Confirm booking").tap()
    expect(page.get_by_role("heading", name="Your booking")).to_be_visible()
    expect(page.locator("#code")).to_have_text(CODE)
    return page.locator("#code").inner_text()


def shell_kind(app_url: str) -> Callable[[str], str | None]:
    """Classify what the browser downloads: the app shell, API answers; tiles are left out."""

    def classify(url: str) -> str | None:
        if not url.startswith(app_url.removesuffix("/app/")):
            return None  # map tiles (and nothing else) come from elsewhere
        return "api" if "/api/" in url else "shell"

    return classify


def test_driver_registers_books_extends_cancels_and_sees_the_booking_offline(
    app_url: str, phone_page: Page
) -> None:
    page, context = phone_page, phone_page.context
    transfer = count_transfer(context, shell_kind(app_url))
    context.grant_permissions(["geolocation"])
    context.set_geolocation(ABC)

    watch = Stopwatch()
    page.goto(app_url)
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    with watch.pause():
        assert page.evaluate("navigator.serviceWorker.ready.then(() => true)")
        page.wait_for_load_state("networkidle")
        first_load, precached = transfer.total("shell"), transfer.by_worker
        snap(page, "1-login")

    register(page, "dana@example.com")
    expect(page.get_by_role("heading", name="Find a loading bay")).to_be_visible()
    registered = watch.elapsed()
    page.get_by_role("button", name="My location").tap()
    zone = zone_card(page)
    expect(page.get_by_role("heading", name="Zones near your location")).to_be_visible()
    expect(zone).to_contain_text("ABC-Straße")
    expect(zone).to_contain_text("2 of 2 bays free now")
    expect(zone).to_contain_text("2 free for 30 min from now")
    expect(zone).to_contain_text(re.compile(r"\d+ m · 1 min walk"))
    expect(page.locator("#no-tiles")).to_be_visible()  # no tiles, and the list is all there
    with watch.pause():
        snap(page, "2-zones")

    listed = watch.elapsed()
    code = book_now(page)  # three taps: Book, 30 min, Confirm
    booked = watch.elapsed()
    # Large, for the sign and the officer.
    page.wait_for_function(
        "parseFloat(getComputedStyle(document.getElementById('code')).fontSize) >= 40"
    )
    facts = page.locator(".facts")
    expect(facts).to_contain_text("Bay1")
    expect(facts).to_contain_text(f"10:00{DASH}10:30")
    # The countdown runs on the server's clock (10:00 Berlin), not the browser's.
    expect(page.locator(".countdown")).to_have_text(re.compile(r"^Ends in (30:00|29:\d\d)$"))
    navigate = page.get_by_role("link", name="Navigate there")
    expect(navigate).to_have_attribute("href", re.compile(r"^geo:53\.55\d*,9\.98\d*\?q="))
    snap(page, "3-booking")

    page.get_by_role("button", name="Extend 15 min").tap()
    expect(
        page.locator("#booking").get_by_role("status").filter(has_text="Extended until 10:45.")
    ).to_be_visible()
    expect(facts).to_contain_text(f"10:00{DASH}10:45")
    expect(page.locator("#code")).to_have_text(code)
    snap(page, "4-extended")

    page.get_by_role("button", name="Cancel booking").tap()
    page.get_by_role("button", name="Really cancel? Tap again").tap()
    expect(page.locator("#booking").get_by_text("Booking cancelled.")).to_be_visible()
    expect(page.locator(".facts")).to_contain_text("Cancelled")
    snap(page, "5-cancelled")

    page.get_by_role("link", name="Find a bay").tap()
    second = book_now(page, plate=None)  # the vehicle is known now: no typing
    assert second != code
    page.get_by_role("link", name="My bookings").tap()
    expect(page.locator("#bookings")).to_contain_text(second)
    page.get_by_role("link", name=re.compile(second)).tap()
    expect(page.locator("#code")).to_have_text(second)

    context.set_offline(True)
    page.reload()
    expect(page.locator("#code")).to_have_text(second)
    expect(page.get_by_text("You are offline")).to_be_visible()
    expect(page.get_by_text("Offline: read-only")).to_be_visible()
    expect(page.get_by_role("button", name="Extend 15 min")).to_have_count(0)
    snap(page, "6-offline")
    page.get_by_role("link", name="My bookings").tap()
    expect(page.locator("#bookings")).to_contain_text(second)
    snap(page, "7-offline-list")
    context.set_offline(False)

    FIGURES["app shell, first load (compressed, excluding tiles)"] = (
        f"{first_load / KB:.1f} KB (budget 250 KB), of which the service worker's precache "
        f"(Leaflet, 304s) {precached / KB:.1f} KB"
    )
    FIGURES["app shell + API through the whole test (excluding tiles)"] = (
        f"{transfer.total('shell') / KB:.1f} KB shell, {transfer.total('api') / KB:.1f} KB API"
    )
    FIGURES["opening the app to a confirmed booking"] = (
        f"{booked:.2f} s, of which registering and logging in {registered:.2f} s"
    )
    FIGURES["zone list to a confirmed booking (3 taps)"] = f"{booked - listed:.2f} s"


def test_a_refused_extension_shows_the_servers_sentence(
    app_url: str, phone_page: Page, api: Callable[..., httpx.Client]
) -> None:
    api("rule@example.com")
    page = phone_page
    page.goto(app_url)
    log_in(page, "rule@example.com", "not the password")
    expect(page.get_by_role("alert")).to_have_text("E-mail or password is wrong.")
    snap(page, "1-wrong-password")

    log_in(page, "rule@example.com")
    book_now(page, minutes=60)
    page.get_by_role("button", name="Extend 15 min").tap()
    expect(page.get_by_role("alert")).to_have_text(
        "ABC-Straße allows at most 60 minutes per booking."
    )
    snap(page, "2-max-stay")


@pytest.mark.parametrize("browser_locale", ["de-DE"])
def test_german_browser_gets_german_and_can_switch_to_english(
    app_url: str, phone_page: Page
) -> None:
    page = phone_page
    page.goto(app_url)
    expect(page.get_by_role("heading", name="Anmelden")).to_be_visible()
    assert page.evaluate("document.documentElement.lang") == "de"
    page.get_by_role("button", name="Neu hier? Konto anlegen").click()
    form = page.locator("#register-form")
    form.get_by_label("E-Mail").fill("deutsch@example.com")
    form.get_by_label("Passwort").fill(PASSWORD)
    page.get_by_role("button", name="Konto anlegen").click()
    expect(page.get_by_role("heading", name="Ladezone finden")).to_be_visible()
    expect(zone_card(page)).to_contain_text("2 von 2 Plätzen jetzt frei")
    expect(zone_card(page).get_by_role("button", name="Platz in ABC-Straße buchen")).to_be_visible()
    snap(page, "1-de")

    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", name="Find a loading bay")).to_be_visible()
    expect(zone_card(page)).to_contain_text("2 of 2 bays free now")
    page.reload()
    expect(page.get_by_role("heading", name="Find a loading bay")).to_be_visible()


def tab_to(page: Page, name: str, *, role: str = "button", limit: int = 60) -> None:
    """Press Tab until the element with the accessible name has the focus."""
    target = page.get_by_role(role, name=name, exact=True)
    for _ in range(limit):
        page.keyboard.press("Tab")
        if target.evaluate("e => e === document.activeElement"):
            return
    raise AssertionError(f"{name!r} is not reachable with Tab")


def test_keyboard_alone_books_a_bay(
    app_url: str, phone_page: Page, api: Callable[..., httpx.Client]
) -> None:
    api("keys@example.com")
    page = phone_page
    page.goto(app_url)
    tab_to(page, "E-mail", role="textbox")
    page.keyboard.type("keys@example.com")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Find a loading bay")).to_be_focused()
    expect(zone_card(page)).to_contain_text("2 of 2 bays free now")

    unnamed = page.evaluate(
        """[...document.querySelectorAll('input, button, select, a[href]')]
            .filter(e => !e.labels?.length && !e.ariaLabel && !e.textContent.trim())
            .map(e => e.outerHTML)"""
    )
    assert unnamed == []  # every control has a label a screen reader can read
    tab_to(page, "Book a bay at ABC-Straße")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"  # the focus is visible
    snap(page, "1-focus")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Book a bay")).to_be_focused()
    tab_to(page, "Number plate", role="textbox")
    page.keyboard.type("HH-KB 42")
    tab_to(page, "Confirm booking")
    page.keyboard.press("Enter")
    expect(page.locator("#code")).to_have_text(CODE)
    snap(page, "2-booked")


def test_a_closure_that_cancels_the_booking_pops_up_while_the_app_is_open(
    app_url: str, phone_page: Page, api: Callable[..., httpx.Client], driver_app: FastAPI
) -> None:
    api("closed@example.com")
    page = phone_page
    page.goto(app_url)
    log_in(page, "closed@example.com")
    expect(page.locator("body[data-live=open]")).to_have_count(1)
    book_now(page)

    make_operator(driver_app, "ops@city.example")
    operator = api("ops@city.example", role="operator")
    closure = operator.post(
        "/api/v1/zones/HH-ABC-1/closures",
        json={
            "start": "2026-12-01T09:00:00Z",
            "end": "2026-12-01T12:00:00Z",
            "reason": "Roadworks",
        },
    )
    assert closure.status_code == 201, closure.text
    toast = page.locator(".toast", has_text="Cancelled by a closure")
    expect(toast).to_be_visible()
    expect(page.locator("#toasts")).to_have_attribute("aria-live", "polite")
    expect(page.locator(".facts")).to_contain_text("Cancelled")
    snap(page, "1-toast")


def test_a_blocked_bay_moves_the_booking_or_offers_alternatives(
    app_url: str, phone_page: Page, api: Callable[..., httpx.Client]
) -> None:
    api("blocked@example.com")
    page = phone_page
    page.goto(app_url)
    log_in(page, "blocked@example.com")
    book_now(page)
    page.get_by_role("button", name="Report bay blocked").tap()
    expect(
        page.locator("#booking").get_by_role("status").filter(has_text="moved to bay 2")
    ).to_be_visible()
    expect(page.locator(".facts")).to_contain_text("Bay2")
    snap(page, "1-moved")

    other = api("other@example.com")
    taken = other.post(
        "/api/v1/reservations",
        json={"zone_id": "HH-ABC-1", "start": "now", "duration_min": 30, "plate": "HH-OT 1"},
    )
    assert taken.status_code == 201, taken.text
    page.get_by_role("button", name="Report bay blocked").tap()
    expect(page.locator("#booking").get_by_text("Reported to the city.")).to_be_visible()
    alternative = page.locator(".alternatives .card").first
    expect(alternative).to_contain_text(re.compile(r"free, \d+ m"))
    snap(page, "2-alternatives")
    alternative.get_by_role("button").tap()
    expect(page.get_by_role("heading", name="Book a bay")).to_be_visible()


def test_the_api_serves_the_app_leaflet_manifest_and_service_worker(
    driver_app: FastAPI,
) -> None:
    with TestClient(driver_app) as client:
        moved = client.get("/app", follow_redirects=False)
        assert moved.status_code == 308 and moved.headers["location"] == "/app/"
        assert 'rel="manifest"' in client.get("/app/").text
        worker = client.get("/app/sw.js")
        assert worker.headers["service-worker-allowed"] == "/app/"
        manifest = client.get("/app/manifest.webmanifest")
        assert manifest.headers["content-type"].startswith("application/manifest+json")
        assert manifest.json()["scope"] == "/app/"
        assert client.get("/app/config.json").json()["tile_url"] == UNREACHABLE_TILES
        leaflet = client.get("/app/vendor/leaflet/leaflet.js")
        assert leaflet.status_code == 200 and leaflet.headers["content-encoding"] == "gzip"
        missing = client.get("/app/static/js/nothing.js")
        assert missing.status_code == 404 and missing.json()["detail"]


def test_the_service_worker_caches_every_file_of_the_app_shell() -> None:
    worker = (webapp.WEB_DIR / "sw.js").read_text(encoding="utf-8")
    cached = set(re.findall(r'"(/app/static/[^"]+)"', worker))
    static = webapp.WEB_DIR / "static"
    shell = {f"/app/static/{p.relative_to(static)}" for p in static.rglob("*.js")}
    assert shell | {"/app/static/app.css"} <= cached


def test_the_app_loads_nothing_from_other_hosts() -> None:
    external = re.compile(r"""(?:https?:)?//[\w.-]+\.[a-z]{2,}""")
    for path in Path(webapp.WEB_DIR).rglob("*"):
        if path.suffix in {".html", ".js", ".css", ".webmanifest"}:
            assert not external.findall(path.read_text(encoding="utf-8")), path


def test_booking_for_a_later_time_near_a_typed_destination(
    app_url: str, phone_page: Page, api: Callable[..., httpx.Client]
) -> None:
    api("later@example.com")
    page = phone_page
    page.goto(app_url)
    log_in(page, "later@example.com")
    page.get_by_label("Destination").fill("Hermann")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_role("heading", name="Zones near Hermannstraße")).to_be_visible()
    search = page.get_by_role("search")
    search.locator("label", has_text="At a time").tap()
    search.get_by_label("Start time").fill("11:30")
    hermann = zone_card(page, "HH-HER-1")
    expect(hermann).to_contain_text("2 free at 11:30 for 30 min")
    expect(hermann).to_contain_text("0 m")
    snap(page, "1-later")

    hermann.get_by_role("button", name="Book a bay at Hermannstraße").tap()
    expect(page.locator("#book-form").get_by_label("Start time")).to_have_value("11:30")
    page.get_by_label("Number plate").fill("HH-LT 7")
    page.get_by_role("button", name="Confirm booking").tap()
    expect(page.locator(".facts")).to_contain_text(f"11:30{DASH}12:00")
    # 10:00 on the server's clock: 1 h 30 min to go, whatever the browser's clock says.
    expect(page.locator(".countdown")).to_have_text(re.compile(r"^Starts in 1:(30:00|29:\d\d)$"))
    snap(page, "2-booked")


def test_checks_in_and_out_where_the_bay_has_no_sensor(
    app_url: str, phone_page: Page, api: Callable[..., httpx.Client], driver_app: FastAPI
) -> None:
    with transaction(driver_app.state.engine) as session:
        make_zone(session, "HH-TST-1", name="Teststraße", bays=1, lon=9.9860, lat=53.5551)
    api("sensorless@example.com")
    page = phone_page
    page.goto(app_url)
    log_in(page, "sensorless@example.com")
    page.get_by_label("Destination").fill("Teststraße")
    page.get_by_role("button", name="Search", exact=True).click()
    zone_card(page, "HH-TST-1").get_by_role("button", name="Book a bay at Teststraße").tap()
    page.get_by_label("Number plate").fill("HH-NS 1")
    page.get_by_role("button", name="Confirm booking").tap()
    page.get_by_role("button", name="Check in: I have arrived").tap()
    expect(page.locator(".facts")).to_contain_text("Checked in")
    snap(page, "1-checked-in")
    page.get_by_role("button", name="Check out: I have left").tap()
    expect(page.locator(".facts")).to_contain_text("Completed")
    expect(page.get_by_role("button", name="Check out: I have left")).to_have_count(0)


def test_a_lost_answer_is_retried_with_the_same_key_and_books_once(
    app_url: str, phone_page: Page, api: Callable[..., httpx.Client]
) -> None:
    driver = api("flaky@example.com")
    page = phone_page
    keys: list[str] = []

    def lose_the_first_answer(route: Route) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        keys.append(route.request.headers["idempotency-key"])
        if len(keys) == 1:
            route.fetch()  # the server books...
            route.abort("connectionreset")  # ...and the answer is lost on the way
        else:
            route.continue_()

    page.route("**/api/v1/reservations", lose_the_first_answer)
    page.goto(app_url)
    log_in(page, "flaky@example.com")
    book_now(page)
    assert len(keys) == 2 and keys[0] == keys[1]
    assert len(driver.get("/api/v1/reservations").json()) == 1
