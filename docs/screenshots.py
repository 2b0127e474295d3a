"""The README's dashboard screenshots, taken from a real `linli demo`.

    .venv/bin/python docs/screenshots.py [--out docs/screenshots] [--port N]

It runs the demo headless in a fresh data directory, waits for the first home's blood-pressure
crisis to be alerted, then signs in with Debian's chromium (driven by Playwright) as the demo's
doctor and its family member and photographs their pages: today.png, today-en.png, panel.png,
resident.png, community.png and family.png. The demo is stopped and its directory removed
however it ends; a failure is one line on stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, sync_playwright

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the repository's tests package: its Chromium flags
import tests.chromium  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [*tests.chromium.CHROMIUM_ARGS, "--hide-scrollbars"]
PASSWORD = "linli-demo"  # noqa: S105 (the demo's published password)
DURATION_S = 150  # the demo's --duration: enough for every page below
STARTUP_S = 300  # a first start seeds the district (and initialises the embedded database)
CRISIS_S = 60  # the first home's 204/122 comes about 3 s into the live part
PAGE_TIMEOUT_MS = 15_000
STOP_S = 60
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}

RUNNING = re.compile(r"Linli demo running:\s*(http://\S+)")
HOMES = re.compile(r"Homes measuring at \S+ speed: (.+?)\.(?:\s|$)")
CRISIS = re.compile(r"^\d{1,2}:\d{2}(?::\d{2})? SMS to .*204/122")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class ScreenshotError(Exception):
    """What stopped the screenshots, in one line."""


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Demo:
    """`linli demo --headless` running in a child process, its output read line by line."""

    process: subprocess.Popen[str]
    data_dir: Path
    lines: queue.Queue[str | None] = field(default_factory=queue.Queue)
    seen: deque[str] = field(default_factory=lambda: deque(maxlen=20))
    live: bool = False  # the banner was printed: the demo stops cleanly on SIGTERM

    @classmethod
    def start(cls, data_dir: Path, port: int) -> Demo:
        env = {key: value for key, value in os.environ.items() if not key.startswith("LINLI_")}
        env |= {
            "LINLI_DATA_DIR": str(data_dir),
            "LINLI_PORT": str(port),
            "PYTHONUNBUFFERED": "1",  # each line as it is printed, not when a buffer fills
            "PYTHONIOENCODING": "utf-8",
            "COLUMNS": "300",  # the banner's lines unwrapped
            "NO_COLOR": "1",
        }
        command = [
            sys.executable,
            "-m",
            "service.cli",
            "demo",
            "--headless",
            "--duration",
            str(DURATION_S),
        ]
        process = subprocess.Popen(  # noqa: S603 (this interpreter, fixed arguments)
            command,
            cwd=HERE.parent,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        demo = cls(process, data_dir)
        threading.Thread(target=demo._read, daemon=True).start()
        return demo

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(ANSI.sub("", line).rstrip())
        self.lines.put(None)

    def wait_for(self, pattern: re.Pattern[str], within: float, what: str) -> re.Match[str]:
        """The first output line from now on that matches `pattern`."""
        deadline = time.monotonic() + within
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                last = next((s for s in reversed(self.seen) if s.strip()), "no output")
                raise ScreenshotError(f"the demo ended before {what}: {last.strip()}")
            self.seen.append(line)
            if found := pattern.search(line):
                return found
        raise ScreenshotError(f"{what} did not come within {within:g} s")

    def stop(self) -> None:
        """Stop the demo and wait for it (its embedded database stops with it)."""
        if self.process.poll() is None:
            # Before the live part only Ctrl-C unwinds cleanly (and stops the database).
            self.process.send_signal(signal.SIGTERM if self.live else signal.SIGINT)
            try:
                self.process.wait(STOP_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._stop_database()

    def _stop_database(self) -> None:
        """The embedded PostgreSQL, when the demo could not stop it (it was killed)."""
        pid_file = self.data_dir / "postgres" / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().split()[0])
            if b"postgres" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                return
            os.kill(pid, signal.SIGINT)  # PostgreSQL's fast shutdown
        except (OSError, ValueError, IndexError):
            return
        deadline = time.monotonic() + STOP_S
        while pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)


@contextlib.contextmanager
def running_demo(port: int) -> Iterator[Demo]:
    """The demo in a fresh temporary data directory; stopped and removed afterwards."""
    data_dir = Path(tempfile.mkdtemp(prefix="linli-screenshots-"))
    try:
        demo = Demo.start(data_dir, port)
        try:
            yield demo
        finally:
            demo.stop()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


# -- the pages ------------------------------------------------------------------------------


def new_context(browser: Browser, *, phone: bool = False) -> BrowserContext:
    """A fresh browser context as a person in China has it, at desktop or phone size."""
    context = browser.new_context(
        viewport=PHONE if phone else DESKTOP,
        device_scale_factor=2 if phone else 1,
        is_mobile=phone,
        has_touch=phone,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
    )
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    return context


def open_path(page: Page, site: str, path: str) -> None:
    """Open a page of the service; a server error or a sign-in page instead is a failure."""
    response = page.goto(site + path)
    if response is None or response.status >= 400:
        status = response.status if response is not None else "no answer"
        raise ScreenshotError(f"{path} answered {status}")
    if page.url.startswith(site + "/login") and not path.startswith("/login"):
        raise ScreenshotError(f"{path} led to the sign-in page")


def sign_in(page: Page, site: str, username: str) -> None:
    """Sign in through the form, as a person would."""
    open_path(page, site, "/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("#sign-in")
    if page.url.startswith(site + "/login"):
        raise ScreenshotError(f"signing in as {username} failed")


def sign_out(page: Page, site: str) -> None:
    """Sign out with the header's button (a form posting to /logout)."""
    with page.expect_navigation():
        page.click("#logout")
    if not page.url.startswith(site + "/login"):
        raise ScreenshotError("signing out did not lead to the sign-in page")


def wait_for_charts(page: Page, least: int) -> None:
    """Wait until plotly.js has drawn every chart of the page, with data (at least `least`)."""
    charts = page.locator(".js-plotly-plot")
    charts.nth(least - 1).wait_for(state="attached")
    for i in range(charts.count()):
        charts.nth(i).locator(".main-svg").first.wait_for(state="visible")
        charts.nth(i).locator("g.trace").first.wait_for(state="attached")


def shoot(page: Page, out: Path, name: str) -> Path:
    """A full-page screenshot once the fonts are in."""
    page.evaluate("document.fonts.ready.then(() => true)")
    path = out / name
    page.screenshot(path=str(path), full_page=True, animations="disabled")
    print(f"{path} ({path.stat().st_size // 1024} KB)")
    return path


def resident_link(page: Page, name: str) -> str | None:
    """The path of the resident's page linked from the page shown, if it links to them."""
    links = page.locator("a[href^='/residents/']").filter(
        has_text=re.compile(f"^\\s*{re.escape(name)}\\s*$")
    )
    if links.count() == 0:
        return None
    found = re.match(r"/residents/(\d+)", links.first.get_attribute("href") or "")
    return f"/residents/{found.group(1)}" if found else None


def photograph(browser: Browser, site: str, first_home: str, out: Path) -> None:
    """Every page of the README, as the demo's doctor and then its family member."""
    context = new_context(browser)
    try:
        page = context.new_page()
        sign_in(page, site, "doctor")

        open_path(page, site, "/today")
        alert = page.locator("table.alerts tbody tr").filter(has_text=first_home)
        alert.first.wait_for(state="visible")
        shoot(page, out, "today.png")
        resident = resident_link(page, first_home)

        open_path(page, site, "/panel")
        page.locator("#panel").wait_for(state="visible")
        shoot(page, out, "panel.png")
        resident = resident or resident_link(page, first_home)
        if resident is None:
            raise ScreenshotError(f"neither /today nor /panel links to {first_home}")

        open_path(page, site, f"{resident}?days=30")
        wait_for_charts(page, 1)
        shoot(page, out, "resident.png")

        open_path(page, site, "/community")
        wait_for_charts(page, 3)
        shoot(page, out, "community.png")

        open_path(page, site, "/today")
        with page.expect_navigation():
            page.click("#switch-language")
        page.locator("html[lang='en']").wait_for(state="attached")
        shoot(page, out, "today-en.png")
        with page.expect_navigation():
            page.click("#switch-language")  # back to Chinese, as the demo's doctor had it

        sign_out(page, site)
    finally:
        context.close()

    context = new_context(browser, phone=True)
    try:
        page = context.new_page()
        sign_in(page, site, "family")
        open_path(page, site, "/family")
        wait_for_charts(page, 1)
        shoot(page, out, "family.png")
        sign_out(page, site)
    finally:
        context.close()


# -- small files ----------------------------------------------------------------------------


def take(out: Path, port: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with running_demo(port) as demo:
        site = demo.wait_for(RUNNING, STARTUP_S, "the line 'Linli demo running'").group(1)
        demo.live = True
        homes = demo.wait_for(HOMES, 10, "the line 'Homes measuring at'").group(1)
        first_home = homes.split(",")[0].strip()
        if not first_home or first_home == "none":
            raise ScreenshotError("the demo runs no home")
        demo.wait_for(CRISIS, CRISIS_S, "the SMS about the 204/122 blood pressure")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            try:
                photograph(browser, site.rstrip("/"), first_home, out)
            finally:
                browser.close()


def stopped(signum: int, frame: object) -> None:
    raise ScreenshotError(f"stopped by {signal.Signals(signum).name}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=HERE / "screenshots", help="where the PNGs go")
    parser.add_argument("--port", type=int, help="the demo's port (default: a free one)")
    args = parser.parse_args()
    # Unwind on SIGTERM and Ctrl-C, so that the demo is stopped too; Ctrl-C's handler also
    # gives the demo its own (it would inherit an ignored SIGINT from a background job).
    signal.signal(signal.SIGTERM, stopped)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        take(args.out, args.port or free_port())
    except KeyboardInterrupt:
        print("screenshots: interrupted", file=sys.stderr)
        return 1
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"screenshots: {first}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
