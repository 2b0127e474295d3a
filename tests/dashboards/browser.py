"""A real headless Chromium for page tests: Debian's chromium driven by Playwright, never a
downloaded browser, and a tab that remembers every request it made, every server error it
got and every script error it hit, and can photograph each page it visits."""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Request, Response

TIMEOUT_MS = 10_000


def chromium_path() -> str:
    """Where Debian's chromium is; a failure in CI without it, a skip elsewhere."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        message = (
            "the browser tests need Debian's chromium (apt-get install chromium); "
            "`playwright install` is not used: Linli's machines have no Internet"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@dataclass
class Tab:
    """A page in a fresh browser context, with what it requested and what went wrong."""

    site: str  # the service's URL, http://127.0.0.1:port
    context: BrowserContext
    page: Page
    shots: Path
    name: str  # the test's prefix for screenshot files
    requests: list[str] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)
    script_errors: list[str] = field(default_factory=list)
    _count: int = 0

    @classmethod
    def open(
        cls,
        browser: Browser,
        site: str,
        shots: Path,
        name: str,
        viewport: tuple[int, int] = (1280, 900),
    ) -> Tab:
        width, height = viewport
        context = browser.new_context(
            viewport={"width": width, "height": height},
            locale="zh-CN",  # Accept-Language as a browser in China sends it
            timezone_id="Asia/Shanghai",
        )
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        tab = cls(site, context, page, shots, name)
        context.on("request", tab._requested)
        context.on("response", tab._answered)
        page.on("pageerror", lambda error: tab.script_errors.append(f"{page.url}: {error}"))
        return tab

    def _requested(self, request: Request) -> None:
        self.requests.append(request.url)

    def _answered(self, response: Response) -> None:
        if response.status >= 500:
            self.server_errors.append(f"{response.status} {response.request.method} {response.url}")

    def goto(self, path: str) -> Response | None:
        """Open a path of the service, as if typed into the address bar."""
        return self.page.goto(self.site + path)

    def path(self) -> str:
        """The path (and query) the tab shows now."""
        return self.page.url.removeprefix(self.site)

    def sign_in(self, username: str, password: str) -> None:
        """Sign in through the form, as a person would."""
        self.goto("/login")
        self.page.fill("#username", username)
        self.page.fill("#password", password)
        with self.page.expect_navigation():
            self.page.click("#sign-in")

    def sign_out(self) -> None:
        """Sign out with the header's button; the tab is back on the sign-in page."""
        with self.page.expect_navigation():
            self.page.click("#logout")
        assert self.path() == "/login", f"signing out led to {self.path()}"

    def wait_for_chart(self, within: str, *, data: bool = True) -> None:
        """Wait until plotly.js has drawn the chart inside `within` (with data, unless told)."""
        chart = self.page.locator(f"{within} .js-plotly-plot").first
        chart.locator(".main-svg").first.wait_for(state="visible")
        if data:
            # plotly draws every trace as a g.trace (lines, markers, bars) once laid out
            chart.locator("g.trace").first.wait_for(state="attached")

    def screenshot(self, what: str) -> Path:
        """A full-page screenshot, numbered in the order the test took them."""
        self._count += 1
        name = re.sub(r"[^a-z0-9-]+", "-", f"{self.name}-{self._count:02d}-{what}".lower())
        path = self.shots / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def outside_requests(self) -> list[str]:
        """Requests to anywhere but the service (inline data and blank pages are fine)."""
        return [
            url
            for url in self.requests
            if not (url.startswith(self.site + "/") or url.startswith(("data:", "about:")))
        ]

    def check(self) -> None:
        """What every visit must also get right: nothing fetched from outside 127.0.0.1, no
        server error, no script error."""
        assert self.requests, "the browser recorded no requests at all"
        assert self.outside_requests() == [], "pages asked for something outside the service"
        assert self.server_errors == [], "the service answered with a server error"
        assert self.script_errors == [], "a page's scripts failed"

    def close(self) -> None:
        self.context.close()
