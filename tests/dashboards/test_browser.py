"""The pages in a real headless Chromium, as doctors, families and admins use them: signing in,
acknowledging an alert, charts that plotly.js really draws (served by Linli, no Internet),
switching language, signing out, the family view on a phone, the audit trail.

Every page visited is photographed under the run's basetemp (`screenshots/`), and no page may
ask for anything outside the service."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from tests.chromium import CHROMIUM_ARGS
from tests.dashboards.browser import TIMEOUT_MS, Tab, chromium_path
from tests.dashboards.clinic import (  # noqa: F401 (clinic, site: fixtures)
    PASSWORD,
    Clinic,
    clinic,
    site,
)

OpenTab = Callable[..., Tab]

expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """One headless Chromium for the module (each test gets fresh contexts)."""
    path = chromium_path()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=path, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config) -> Path:
    """The run's screenshot directory, named once on the terminal."""
    directory = tmp_path_factory.getbasetemp() / "screenshots"
    directory.mkdir(parents=True, exist_ok=True)
    capture = pytestconfig.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        print(f"\nscreenshots of the pages: {directory}")
    return directory


@pytest.fixture
def open_tab(chromium: Browser, site: str, screenshots: Path) -> Iterator[OpenTab]:
    """Open a tab in a fresh context (its own cookies): `open_tab("doctor")`, the name
    starting its screenshots' file names."""
    tabs: list[Tab] = []

    def open_one(who: str, viewport: tuple[int, int] = (1280, 900)) -> Tab:
        tab = Tab.open(chromium, site, screenshots, who, viewport)
        tabs.append(tab)
        return tab

    yield open_one
    for tab in tabs:
        tab.close()


def test_a_doctor_acknowledges_opens_the_resident_switches_language_and_signs_out(
    open_tab: OpenTab, clinic: Clinic, db: psycopg.Connection[Any]
) -> None:
    tab = open_tab("doctor")
    page = tab.page
    tab.goto("/login")
    expect(page.locator("h1")).to_have_text("登录")
    tab.screenshot("login")

    tab.sign_in("dr.li", PASSWORD)
    assert tab.path() == "/today"
    expect(page.locator("h1")).to_have_text("今天谁需要您")
    row = page.locator(f"tr#alert-{clinic.alert_id}")
    expect(row).to_contain_text("王秀英")
    expect(row).to_contain_text("血压超过紧急转诊线")
    tab.screenshot("today")

    row.locator("input[name=note]").fill("已电话联系，明天复诊")
    with page.expect_navigation():
        row.locator(".acknowledge").click()
    assert tab.path() == "/today"
    row = page.locator(f"tr#alert-{clinic.alert_id}")
    expect(row.locator("td").nth(4)).to_contain_text("已确认")
    expect(row.locator(".acknowledge")).to_have_count(0)  # done; only "resolve" is left
    tab.screenshot("today-acknowledged")
    stored = db.execute("SELECT state FROM alerts WHERE id = %s", (clinic.alert_id,))
    assert stored.fetchone() == ("acknowledged",)
    assert db.execute("SELECT text FROM notes").fetchall() == [("已电话联系，明天复诊",)]

    with page.expect_navigation():
        row.locator(f"a[href='/residents/{clinic.mother}']").click()
    assert tab.path() == f"/residents/{clinic.mother}"
    expect(page.locator("h1")).to_contain_text("王秀英")
    tab.wait_for_chart("#blood-pressure")
    expect(page.locator("#blood-pressure .legend")).to_contain_text("收缩压")
    tab.wait_for_chart("#glucose", data=False)  # the clinic has no glucose readings
    assert f"{tab.site}/static/plotly.min.js" in tab.requests  # Linli's own plotly.js
    tab.screenshot("resident")

    with page.expect_navigation():
        page.click("#switch-language")
    assert tab.path() == f"/residents/{clinic.mother}"
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#blood-pressure h2")).to_contain_text("Blood pressure")
    tab.wait_for_chart("#blood-pressure")
    expect(page.locator("#blood-pressure .legend")).to_contain_text("Systolic")
    tab.screenshot("resident-english")
    with page.expect_navigation():
        page.click("header nav a[href='/today']")
    expect(page.locator("h1")).to_have_text("Who needs you today")
    expect(page.locator("#switch-language")).to_have_text("中文")
    tab.screenshot("today-english")

    tab.sign_out()
    expect(page.locator("#sign-in")).to_be_visible()
    tab.goto("/today")
    assert tab.path() == "/login", "the session outlived signing out"
    tab.check()


def test_the_community_page_draws_the_control_rates(open_tab: OpenTab) -> None:
    tab = open_tab("doctor-community")
    tab.sign_in("dr.li", PASSWORD)
    with tab.page.expect_navigation():
        tab.page.click("header nav a[href='/community']")
    assert tab.path() == "/community"
    expect(tab.page.locator("select[name=community] option")).to_contain_text(
        ["我负责的所有社区", "敦仁社区"]
    )
    expect(tab.page.locator("#managed")).to_have_text("2")
    expect(tab.page.locator("#control-rates")).to_contain_text("血压控制率")
    tab.wait_for_chart("#control-rates")
    tab.screenshot("community")
    tab.check()


def test_a_daughter_sees_her_mother_with_a_chart_and_not_the_neighbour(
    open_tab: OpenTab, clinic: Clinic
) -> None:
    tab = open_tab("daughter")
    page = tab.page
    tab.sign_in("xiaohong", PASSWORD)
    assert tab.path() == "/family"
    mother = page.locator(f"#relative-{clinic.mother}")
    expect(mother.locator("h1")).to_have_text("王秀英")
    expect(mother).to_contain_text("血压超过紧急转诊线")
    tab.wait_for_chart(f"#relative-{clinic.mother}")
    expect(mother.locator(".legend")).to_contain_text("收缩压")
    assert "李桂兰" not in page.content()
    tab.screenshot("family")

    answer = tab.goto(f"/residents/{clinic.neighbour}")
    assert answer is not None
    assert answer.status == 404
    expect(page.locator("h1")).to_have_text("找不到页面")
    assert "李桂兰" not in page.content()
    tab.screenshot("404")
    tab.check()


def test_an_admin_reads_who_looked_at_whom(open_tab: OpenTab, clinic: Clinic) -> None:
    # One computer at the clinic, used in turn: the daughter, the doctor, then the admin.
    tab = open_tab("admin")
    page = tab.page
    tab.sign_in("xiaohong", PASSWORD)  # her mother, on /family
    tab.wait_for_chart(f"#relative-{clinic.mother}")
    tab.sign_out()
    tab.sign_in("dr.li", PASSWORD)
    tab.goto(f"/residents/{clinic.mother}")
    expect(page.locator("h1")).to_contain_text("王秀英")
    tab.sign_out()

    tab.sign_in("admin", PASSWORD)
    with page.expect_navigation():
        page.click("header nav a[href='/audit']")
    assert tab.path() == "/audit"
    expect(page.locator("h1")).to_have_text("Audit trail")
    rows = page.locator("#audit tbody tr")
    mother = f"王秀英 (#{clinic.mother})"
    expect(rows.filter(has_text="王小红").filter(has_text=mother)).to_have_count(1)
    expect(rows.filter(has_text="李医生").filter(has_text=mother)).to_have_count(1)
    expect(rows.filter(has_text="127.0.0.1")).to_have_count(2)
    tab.screenshot("audit")
    tab.check()


def test_the_family_page_fits_a_phone_in_large_type(open_tab: OpenTab, clinic: Clinic) -> None:
    tab = open_tab("daughter-phone", viewport=(390, 844))
    page = tab.page
    tab.sign_in("xiaohong", PASSWORD)
    assert tab.path() == "/family"
    tab.wait_for_chart(f"#relative-{clinic.mother}")
    page.wait_for_load_state("load")
    scroll_width = page.evaluate("document.scrollingElement.scrollWidth")
    assert scroll_width <= 390 + 1, f"the page scrolls sideways on a phone ({scroll_width}px)"

    def font_px(selector: str) -> float:
        size: str = page.eval_on_selector(selector, "e => getComputedStyle(e).fontSize")
        return float(size.removesuffix("px"))

    assert font_px(".family") >= 18, "the family page's text is small on a phone"
    assert font_px(f"#relative-{clinic.mother} .big") >= 28, "the latest reading is not large"
    tab.screenshot("family-phone")
    tab.check()
