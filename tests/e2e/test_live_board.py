"""The venue's big screen in headless Chromium: a newly locked entry appears within 1 s."""

from __future__ import annotations

import random

import pytest
from selenium.webdriver.common.by import By

from testkit.boai import CONTEST, set_up, submit_all
from testkit.stack import ORGANISER_TOKEN, SCREEN_TOKEN, judge_token, ok
from tests.support.browser import chromium, screenshot
from tests.support.browser import wait as wait_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def browser():
    with chromium(1920, 1080) as driver:  # the venue's screen
        yield driver


def wait(driver, seconds: float, condition, what: str) -> None:
    wait_for(driver, seconds, condition, what, "live-board")


def highlight(driver) -> tuple[str | None, str]:
    element = driver.find_element(By.ID, "highlight")
    return element.get_attribute("data-entry"), element.text


def test_the_big_screen_shows_a_newly_locked_entry_within_a_second(stack, browser):
    orders = set_up(stack)
    submit_all(stack, "s1", orders["s1"]["order"], random.Random(1))
    browser.get(f"{stack.base}/live/{CONTEST}/prelim?token={SCREEN_TOKEN}")
    wait(browser, 15, lambda d: d.find_element(By.ID, "status").text == "实时", "the page to connect")

    locked = ok(stack.call("POST", "/sessions/s1/lock", {}, judge_token("J1")))
    last = locked["results"][-1]  # scored last, so the one the screen features
    wait(
        browser,
        1.0,
        lambda d: highlight(d)[0] == last["entry_id"] and f"最后得分 {last['stage_score']}" in highlight(d)[1],
        f"{last['entry_id']} scored {last['stage_score']} on screen within 1 s of the lock",
    )

    _, text = highlight(browser)
    assert "去掉一个最高分" in text and "去掉一个最低分" in text and "当前排名 第" in text
    # the board's rows follow the same stream as the featured line, one update apart at most
    wait(browser, 1.0, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#board tr")) == 15, "all 15 rows on the board")
    rows = browser.find_elements(By.CSS_SELECTOR, "#board tr")
    assert rows[0].text.startswith("第1名") and "清化镇" in rows[0].text
    box = browser.find_element(By.ID, "highlight").rect  # the featured line is whole, not cut off by the table
    assert box["y"] + box["height"] <= browser.find_element(By.ID, "table").rect["y"]
    screenshot(browser, "live-board")


def test_the_live_stream_is_for_the_screen_and_organisers_only(stack):
    assert stack.call("GET", f"/live/{CONTEST}/prelim/events")[0] == 401
    assert stack.call("GET", f"/live/{CONTEST}/prelim/events?token={judge_token('J1')}")[0] == 403
    assert stack.call("GET", f"/live/{CONTEST}/nowhere/events?token={ORGANISER_TOKEN}")[0] == 404
