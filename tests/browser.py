"""Browser tests' fixtures: Debian's Chromium through Playwright, phone pages, screenshots, bytes.

Register the fixtures in a conftest.py with
`from tests.browser import browser_locale, chromium, phone_context, phone_page  # noqa: F401`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

from tests.services import require

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, Request

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    # Nothing leaves the machine: every host name but loopback fails to resolve.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
PHONE = {"width": 360, "height": 640}
TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless; skips locally (fails with CI=true) when it is missing.

    One per test module, not per session: while Playwright's sync API runs, the main thread
    has a running event loop, and tests elsewhere that call `asyncio.run()` would fail.
    """
    require("Chromium", CHROMIUM.exists(), "apt-get install chromium")
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:  # pragma: no cover - the dev extra installs it
        require("Playwright", False, "pip install -e '.[dev]'")
        raise
    # A busy CI machine is slow, not broken: assertions wait as long as actions.
    expect.set_options(timeout=TIMEOUT_MS)
    # Never `playwright install`: Debian's browser is the one the tests drive.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browser_locale() -> str:
    """The browser's language; parametrize it (e.g. "de-DE") to test another."""
    return "en-GB"


@pytest.fixture
def phone_context(chromium: Browser, browser_locale: str) -> Iterator[BrowserContext]:
    """A fresh phone (360x640, touch) in Hamburg's time zone, service workers allowed."""
    context = chromium.new_context(
        viewport=PHONE,
        is_mobile=True,
        has_touch=True,
        locale=browser_locale,
        timezone_id="Europe/Berlin",
        service_workers="allow",
    )
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def phone_page(phone_context: BrowserContext) -> Page:
    """A new tab on the phone."""
    return phone_context.new_page()


def current_test() -> str:
    """The running test's name, safe as a file name: "test_books_a_bay-sqlite"."""
    running = os.environ.get("PYTEST_CURRENT_TEST", "test").split("::")[-1].split(" ")[0]
    return re.sub(r"[^\w.-]+", "-", running).strip("-")


def snap(page: Page, name: str) -> Path:
    """Save a screenshot of the whole page as tests/artifacts/<test>-<name>.png."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{current_test()}-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@dataclass
class Transfer:
    """Bytes a browser context received (headers + body as sent, i.e. compressed), by kind."""

    by_kind: dict[str, int] = field(default_factory=dict)
    by_worker: int = 0  # of which service workers fetched (e.g. precaching)
    requests: list[tuple[str, int]] = field(default_factory=list)
    classify: Callable[[str], str | None] = lambda url: "all"

    def record(self, request: Request) -> None:
        from playwright.sync_api import Error

        kind = self.classify(request.url)
        if kind is None:
            return
        try:
            response = request.response()
            if response is None or response.from_service_worker:
                return  # the worker's own fetch is counted; its answer to the page is no transfer
            sizes = request.sizes()
            from_worker = request.service_worker is not None
        except Error:
            return  # the page or context closed meanwhile
        size = sizes["responseBodySize"] + sizes["responseHeadersSize"]
        self.by_kind[kind] = self.by_kind.get(kind, 0) + size
        self.by_worker += size if from_worker else 0
        self.requests.append((request.url, size))

    def total(self, *kinds: str) -> int:
        return sum(n for kind, n in self.by_kind.items() if not kinds or kind in kinds)

    def reset(self) -> None:
        self.by_kind.clear()
        self.by_worker = 0
        self.requests.clear()


def count_transfer(
    context: BrowserContext, classify: Callable[[str], str | None] | None = None
) -> Transfer:
    """Start counting what the context downloads; `classify` names a URL's kind (None: skip)."""
    transfer = Transfer()
    if classify is not None:
        transfer.classify = classify
    context.on("requestfinished", transfer.record)
    return transfer


def same_origin(url: str, base: str) -> bool:
    """Whether a URL is served by the server at `base`."""
    return urlsplit(url).netloc == urlsplit(base).netloc
