"""The venue's big screen in headless Chromium: a newly locked entry appears within 1 s; it gets
in with its token in the link's fragment (or typed), never in a URL, and its stream by a ticket."""

from __future__ import annotations

import http.client
import json
import random
import time

import pytest
from selenium.webdriver.common.by import By

from services.gateway.tickets import COOKIE, Tickets
from testkit.boai import CONTEST, set_up, submit_all
from testkit.stack import ORGANISER_TOKEN, SCREEN_TOKEN, judge_token, ok
from tests.support.browser import accessibility_violations, chromium, csp_violations, foreign_words, screenshot
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
    browser.get(f"{stack.base}/live/{CONTEST}/prelim#token={SCREEN_TOKEN}")
    wait(browser, 15, lambda d: d.find_element(By.ID, "status").text == "实时", "the page to connect")
    assert "token" not in browser.current_url  # taken from the link, kept on the device, gone from the address bar

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
    assert accessibility_violations(browser) == [], "live-board"
    assert foreign_words(browser) == [], "live-board"
    assert csp_violations(browser) == []  # its script and style sheet are the gateway's files, the stream its own


def test_the_screen_asks_for_its_token_and_says_why_it_refused_one(stack, browser):
    page = f"{stack.base}/live/{CONTEST}/prelim"
    browser.get(page)
    browser.execute_script("localStorage.clear()")  # a new screen: no token kept
    browser.get("about:blank")
    browser.get(f"{page}#token={judge_token('J1')}")  # a judge's link is no screen's
    wait(browser, 15, lambda d: d.find_elements(By.CSS_SELECTOR, "#screen-sign-in [role=alert]"), "the refusal")
    refusal = browser.find_element(By.CSS_SELECTOR, "#screen-sign-in [role=alert]").text
    assert "只有组织者或大屏幕可以打开实时大屏幕" in refusal  # the judge's token is not a screen's
    field = browser.find_element(By.ID, "screen-token")
    assert browser.find_element(By.CSS_SELECTOR, "label[for=screen-token]").text  # labelled
    field.send_keys(SCREEN_TOKEN)
    browser.find_element(By.CSS_SELECTOR, "#screen-sign-in button").click()
    wait(browser, 15, lambda d: d.find_element(By.ID, "status").text == "实时", "the page to connect")
    assert not browser.find_elements(By.ID, "screen-sign-in") and "token" not in browser.current_url


def first_event(stack, path: str, headers: dict) -> tuple[int, str]:
    """The status of a GET of the stream ``path``, and its first event's data (or the error body)."""
    connection = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=15)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        if response.status != 200:
            return response.status, response.read().decode()
        while not (line := response.readline()).startswith(b"data: "):
            assert line, "the stream ended"
        return 200, line[len(b"data: ") :].decode()
    finally:
        connection.close()


def test_the_live_stream_is_for_the_screen_and_organisers_only_and_never_by_a_token_in_a_url(stack):
    page, other = f"/live/{CONTEST}/prelim", f"/live/{CONTEST}/final"
    for path in (page, f"{page}/events"):  # the way that was: refused, and told the way that is
        code, body = stack.call("GET", f"{path}?token={SCREEN_TOKEN}")
        assert code == 400 and "#token=" in body["error"]["message_id"], body
    code, body = stack.call("GET", f"{page}/events")
    assert code == 401 and "no screen ticket" in body["error"]["message_id"], body
    assert stack.call("POST", f"{page}/ticket")[0] == 401
    assert stack.call("POST", f"{page}/ticket", token=judge_token("J1"))[0] == 403
    assert stack.call("POST", f"/live/{CONTEST}/nowhere/ticket", token=ORGANISER_TOKEN)[0] == 404

    code, body, headers = stack.exchange("POST", f"{page}/ticket", token=SCREEN_TOKEN)
    assert code == 200 and body == {"stream": f"{page}/events", "expires_in": 60}, body
    (cookie,) = headers.get_all("Set-Cookie")
    attributes = [a.strip() for a in cookie.split(";")]
    assert {"HttpOnly", "SameSite=Strict", f"Path={page}/events", "Max-Age=60"} <= set(attributes), cookie
    assert "Secure" not in attributes and SCREEN_TOKEN not in cookie  # plain http here: it could not come back
    over_https = stack.exchange("POST", f"{page}/ticket", token=SCREEN_TOKEN, headers={"X-Forwarded-Proto": "https"})
    assert "Secure" in [a.strip() for a in over_https[2]["Set-Cookie"].split(";")]

    name, _, ticket = attributes[0].partition("=")
    assert name == COOKIE
    code, data = first_event(stack, f"{page}/events", {"Cookie": f"{COOKIE}={ticket}"})
    assert code == 200 and json.loads(data)["stage_id"] == "prelim", data
    code, body = stack.call("GET", f"{other}/events", headers={"Cookie": f"{COOKIE}={ticket}"})
    assert code == 401 and "another stage" in body["error"]["message_id"], body
    forged = ticket[:-4] + ("AAAA" if not ticket.endswith("AAAA") else "BBBB")
    code, body = stack.call("GET", f"{page}/events", headers={"Cookie": f"{COOKIE}={forged}"})
    assert code == 401 and "not valid" in body["error"]["message_id"], body
    expired = Tickets.derived(stack.consistency_key).issue(
        {"role": "organiser", "id": "org1"}, CONTEST, "prelim", time.time() - 120
    )
    code, body = stack.call("GET", f"{page}/events", headers={"Cookie": f"{COOKIE}={expired}"})
    assert code == 401 and "expired" in body["error"]["message_id"], body
    # a program sends its token in the header, as with any route
    code, data = first_event(stack, f"{page}/events", {"Authorization": f"Bearer {ORGANISER_TOKEN}"})
    assert code == 200 and json.loads(data)["stage_id"] == "prelim", data
    assert first_event(stack, f"{page}/events", {"Authorization": f"Bearer {judge_token('J1')}"})[0] == 403


def test_the_halls_screen_shows_each_contestant_as_their_panel_completes_and_the_standings(stack, browser):
    """现场亮分 (session s2, still open): the contestant just scored, each seat's score, the drops
    struck through, the score; the standings so far; and who is on stage."""
    order = ok(stack.call("GET", f"/contests/{CONTEST}"))["sessions"]
    [s2] = [s for s in order if s["session_id"] == "s2"]
    submit_all(stack, "s2", s2["order"][:2], random.Random(2))
    hall = ok(stack.call("GET", "/sessions/s2/hall", token=SCREEN_TOKEN))
    second = next(e for e in hall["entries"] if e["entry_id"] == s2["order"][1])
    assert second["complete"] and len(hall["standings"]) == 2
    assert stack.call("GET", "/sessions/s2/hall", token=judge_token("J6"))[0] == 403  # a judge's is not the hall's
    assert stack.call("GET", "/sessions/s2/hall")[0] == 401

    browser.get(f"{stack.base}/hall/s2#token={SCREEN_TOKEN}")
    wait(browser, 15, lambda d: d.find_element(By.ID, "status").text == "实时", "the hall's screen to connect")
    wait(browser, 5, lambda d: "乡镇初赛 · 柏山镇" in d.find_element(By.ID, "title").text, "the hall's heading")
    text = browser.find_element(By.ID, "highlight").text
    assert second["name"] in text and f"最后得分 {second['stage_score']}" in text, text
    seats = browser.find_elements(By.CSS_SELECTOR, "#highlight .seat")
    assert [s.text for s in seats] == [f"{s['seat']}号评委 {s['total']}" for s in second["seats"]]
    assert len(browser.find_elements(By.CSS_SELECTOR, "#highlight .seat.dropped")) == sum(
        s["dropped"] for s in second["seats"]
    )
    assert len(browser.find_elements(By.CSS_SELECTOR, "#board tr")) == 2
    assert "当前上场：第3位" in browser.find_element(By.ID, "progress").text
    assert csp_violations(browser) == []
    screenshot(browser, "hall-screen")
    assert accessibility_violations(browser) == [], "hall-screen"
    assert foreign_words(browser) == [], "hall-screen"
