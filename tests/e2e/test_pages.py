"""Issue 16 acceptance: the judge's tablet page and the organiser's console in headless
Chromium, against the real services. A judge scores a whole session through the page; a
sheet submitted while the gateway is down waits on the device and arrives once; a recused
entry cannot be scored; an organiser locks and publishes from the console. All of it under the
gateway's Content-Security-Policy: nothing a page does is refused by it."""

from __future__ import annotations

import json
import random
import urllib.error
import urllib.request
from decimal import Decimal

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from services.gateway.http import PRIVATE, PUBLIC_CACHE, SECURITY_HEADERS
from testkit.boai import CONTEST, CRITERIA, PANELS, random_scores, set_up, sheet
from testkit.servers import wait_until
from testkit.stack import ORGANISER_TOKEN, judge_token, ok
from tests.support.browser import (
    ARTIFACTS,
    accessibility_violations,
    choose,
    chromium,
    confirmed,
    csp_violations,
    fits_the_width,
    foreign_words,
    open_as,
    screenshot,
    tap,
    typed_into,
    unlabelled_controls,
)
from tests.support.browser import wait as wait_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def tablet():
    with chromium(1024, 768) as driver:
        yield driver


@pytest.fixture(scope="module")
def orders(stack) -> dict:
    return set_up(stack)


@pytest.fixture(autouse=True)
def under_the_policy(tablet):
    """Whatever a test does on the tablet, the Content-Security-Policy refuses none of it."""
    csp_violations(tablet)  # what came before: another test's
    yield
    assert csp_violations(tablet) == []


def wait(driver, condition, what: str, seconds: float = 20) -> None:
    wait_for(driver, seconds, condition, what, "pages")


def entry_button(driver, entry_id: str):
    return driver.find_element(By.CSS_SELECTOR, f'#entries button[data-entry="{entry_id}"]')


def tag(driver, entry_id: str) -> str:
    return entry_button(driver, entry_id).find_element(By.CSS_SELECTOR, ".tag").text


def fill(driver, scores: dict[str, str]) -> None:
    for criterion_id, value in scores.items():
        field = driver.find_element(By.ID, f"score-{criterion_id}")
        field.send_keys(Keys.CONTROL, "a")
        field.send_keys(Keys.DELETE)
        field.send_keys(value)


def refreshes(driver) -> int:
    """How often the console has finished loading what it shows."""
    return int(driver.execute_script("return document.body.dataset.refreshed || 0"))


def weighted(scores: dict[str, str]) -> Decimal:
    return sum(Decimal(c["weight"]) * Decimal(scores[c["criterion_id"]]) for c in CRITERIA)


def sheets_of(stack, session: str, judge: str) -> dict[str, dict]:
    status = ok(stack.call("GET", f"/sessions/{session}/scoring", token=ORGANISER_TOKEN))
    return {e["entry_id"]: s for e in status["entries"] for s in e["sheets"] if s["judge_id"] == judge}


def test_a_judge_scores_a_whole_session_through_the_page(stack, orders, tablet):
    open_as(tablet, f"{stack.base}/judge#token={judge_token('J1')}")
    order = orders["s1"]["order"]
    wait(
        tablet,
        lambda d: len(d.find_elements(By.CSS_SELECTOR, "#entries button")) == len(order),
        "the session's order of appearance",
    )
    assert "token" not in tablet.current_url  # taken from the link, kept on the device, gone from the address bar
    assert tablet.find_element(By.ID, "who").text == "评委1"  # the name the organiser registered, not the id
    assert tablet.find_element(By.ID, "on-stage").text.startswith("当前上场：1 号")
    timing = tablet.execute_script("return performance.getEntriesByType('paint').map(p => [p.name, p.startTime])")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "judge-page-paint.json").write_text(json.dumps(dict(timing)))

    # refused in the page, in Chinese, with the criterion's name (the checks are the API's), and nothing sent
    entry_button(tablet, order[0]).click()
    labels = [label.text for label in tablet.find_elements(By.CSS_SELECTOR, "#criteria label")]
    assert labels[1] == "讲工作（满分 40，每档 0.5，权重 1.5）"
    fill(tablet, {"party": "31", "work": "20.25", "results": ""})
    tablet.find_element(By.ID, "submit").click()
    errors = {c["criterion_id"]: tablet.find_element(By.ID, f"error-{c['criterion_id']}").text for c in CRITERIA}
    assert errors == {
        "party": "讲党建：应在 0 到 30 分之间",
        "work": "讲工作：须按 0.5 分一档给分",
        "results": "讲成效：请填写分数",
    }
    assert tablet.switch_to.active_element.get_attribute("id") == "score-party"  # the first problem has the focus
    code, refused = stack.call(
        "PUT",
        f"/sessions/s1/sheets/{order[0]}",
        sheet({"party": "31", "work": "20.5", "results": "10"}),
        judge_token("J1"),
    )
    assert code == 400 and refused["error"]["fields"]["scores.party"] == ["讲党建：须在 0 到 30 之间"]
    assert sheets_of(stack, "s1", "J1") == {}

    rng = random.Random(16)
    given = {}
    for n, entry in enumerate(order):
        entry_button(tablet, entry).click()
        scores = random_scores(rng)
        fill(tablet, scores)
        assert tablet.find_element(By.ID, "total").text == f"加权合计：{weighted(scores).normalize():f} 分"
        tablet.find_element(By.ID, "strengths").send_keys("思路清晰")
        tablet.find_element(By.ID, "submit").click()
        wait(tablet, lambda d, entry=entry: tag(d, entry) == "已收到 · 第1次", f"entry {n + 1} to be received")
        beside = tablet.find_element(By.ID, "submitted").text  # the confirmation beside the button
        assert beside.startswith("已收到 · 第1次 · 合计 ") and beside.endswith(" 分"), beside
        if n + 1 < len(order):  # the way on: the next contestant, from the button beside it
            tablet.find_element(By.ID, "next").click()
            wait(tablet, lambda d, n=n: d.find_element(By.ID, "sheet-title").text.startswith(f"{n + 2} 号"), "next")
        given[entry] = scores
    # a revision before the lock
    entry_button(tablet, order[0]).click()
    assert tablet.find_element(By.ID, "submit").text == "提交修改"
    given[order[0]] = dict(given[order[0]], party="20")
    fill(tablet, {"party": "20"})
    tablet.find_element(By.ID, "submit").click()
    wait(tablet, lambda d: tag(d, order[0]) == "已收到 · 第2次", "the revision to be received")
    assert "已收到：第2次提交" in tablet.find_element(By.ID, "sheet-status").text

    stored = sheets_of(stack, "s1", "J1")
    assert {e: s["scores"] for e, s in stored.items()} == {
        e: {k: str(Decimal(v)) for k, v in scores.items()} for e, scores in given.items()
    } or {e: s["scores"] for e, s in stored.items()} == given
    assert {e: s["revision"] for e, s in stored.items()} == {e: 2 if e == order[0] else 1 for e in order}
    assert all(s["strengths"] == "思路清晰" for s in stored.values())
    tablet.execute_script("window.scrollTo(0, 0)")
    screenshot(tablet, "judge-page")
    assert accessibility_violations(tablet) == [], "judge-page"
    assert foreign_words(tablet) == [], "judge-page"


def test_a_sheet_submitted_while_the_gateway_is_down_waits_on_the_device_and_arrives_once(stack, orders, tablet):
    open_as(tablet, f"{stack.base}/judge#token={judge_token('J2')}")
    entry = orders["s1"]["order"][0]
    wait(tablet, lambda d: d.find_elements(By.CSS_SELECTOR, f'#entries button[data-entry="{entry}"]'), "J2's session")
    entry_button(tablet, entry).click()
    scores = {"party": "25", "work": "33.5", "results": "24"}
    fill(tablet, scores)
    gateway = stack.child("gateway")
    gateway.stop()
    try:
        tablet.find_element(By.ID, "submit").click()
        wait(tablet, lambda d: tag(d, entry) == "待发送", "the sheet to wait on the device")
        assert tablet.find_element(By.ID, "waiting").text == "1 份待发送"
        assert "待发送" in tablet.find_element(By.ID, "sheet-status").text
        assert tablet.find_element(By.ID, "network").text.startswith("离线")
        assert (
            json.loads(tablet.execute_script("return localStorage.getItem('leitai.judge.outbox')"))[0]["entry_id"]
            == entry
        )  # on the device, to survive a closed tab too
    finally:
        stack.respawn("gateway")

    def answering() -> bool:
        try:
            return stack.call("GET", "/health/ready")[0] == 200
        except urllib.error.URLError:
            return False

    wait_until(answering, what="the gateway to be back")
    wait(
        tablet,
        lambda d: (
            d.find_elements(By.CSS_SELECTOR, f'#entries button[data-entry="{entry}"]')
            and tag(d, entry) == "已收到 · 第1次"
        ),
        "the waiting sheet to be sent when the gateway answers",
    )
    assert tablet.find_element(By.ID, "waiting").get_attribute("class").split().count("hidden") == 1
    stored = sheets_of(stack, "s1", "J2")
    assert list(stored) == [entry] and stored[entry]["revision"] == 1  # counted once
    assert {k: Decimal(v) for k, v in stored[entry]["scores"].items()} == {k: Decimal(v) for k, v in scores.items()}


def test_a_recused_judge_sees_the_entry_as_such_and_cannot_score_it(stack, orders, tablet):
    open_as(tablet, f"{stack.base}/judge#token={judge_token('J10')}")  # from 柏山镇, like every entry in s2
    entry = orders["s2"]["order"][0]
    wait(tablet, lambda d: d.find_elements(By.CSS_SELECTOR, f'#entries button[data-entry="{entry}"]'), "J10's session")
    assert {tag(tablet, e) for e in orders["s2"]["order"]} == {"回避"}
    entry_button(tablet, entry).click()
    assert "您须回避该选手，不能评分" in tablet.find_element(By.ID, "sheet-status").text
    assert not tablet.find_element(By.ID, "sheet").is_displayed()
    screenshot(tablet, "judge-page-recused")
    assert accessibility_violations(tablet) == [], "judge-page-recused"
    assert foreign_words(tablet) == [], "judge-page-recused"


@pytest.mark.parametrize(
    "page, token, says",
    [
        ("judge", ORGANISER_TOKEN, "此页面供评委使用"),
        ("judge", "forged-token-0123456789", "此登录链接已失效"),  # and whom to ask: the organiser
        ("console", judge_token("J1"), "此页面供组织方和纪检监督人员使用"),
        ("console", "forged-token-0123456789", "此页面供组织方和纪检监督人员使用"),
    ],
)
def test_the_wrong_or_a_forged_token_is_told_so_on_the_page(stack, orders, tablet, page, token, says):
    open_as(tablet, f"{stack.base}/{page}#token={token}")
    wait(tablet, lambda d: says in d.find_element(By.ID, "notice").text, "the refusal")
    assert tablet.find_element(By.ID, "token-input").is_displayed()
    assert tablet.find_element(By.CSS_SELECTOR, "label[for=token-input]").text  # labelled


def test_an_organiser_invites_a_judge_whose_phone_opens_the_link_signed_in(stack, orders, tablet):
    open_as(tablet, f"{stack.base}/console#token={ORGANISER_TOKEN}")
    row = 'tr[data-judge="J4"]'
    wait(tablet, lambda d: d.find_elements(By.CSS_SELECTOR, row), "the judges to invite")
    assert tablet.find_element(By.CSS_SELECTOR, f"{row} .link-status").text == "未邀请"
    tablet.find_element(By.CSS_SELECTOR, f"{row} button").click()
    wait(tablet, lambda d: d.find_elements(By.CSS_SELECTOR, '.invitation[data-judge="J4"]'), "the invitation card")
    card = tablet.find_element(By.CSS_SELECTOR, '.invitation[data-judge="J4"]')
    assert "评委：评委4" in card.text and card.find_element(By.TAG_NAME, "canvas").size["width"] > 100
    link = card.find_element(By.CSS_SELECTOR, ".link").text
    assert link.startswith(f"{stack.base}/judge#token=lt_")
    wait(tablet, lambda d: d.find_element(By.CSS_SELECTOR, f"{row} .link-status").text.startswith("有效"), "有效")
    screenshot(tablet, "console-invitations", whole_page=True)
    assert accessibility_violations(tablet) == [], "console-invitations"
    assert foreign_words(tablet) == [], "console-invitations"
    open_as(tablet, link)  # the judge's phone, from the QR code
    wait(tablet, lambda d: d.find_element(By.ID, "who").text == "评委4", "the judge signed in by the link")
    wait(tablet, lambda d: d.find_elements(By.CSS_SELECTOR, "#entries button"), "the judge's order of appearance")


def test_an_organiser_locks_and_publishes_from_the_console(stack, orders, tablet):
    rng = random.Random(7)
    for session, drawn in orders.items():  # the rest of the panel scores over the API
        for entry in drawn["order"]:
            for judge in PANELS[session]:
                if judge in ("J1", "J10") or (judge == "J2" and entry == orders["s1"]["order"][0]):
                    continue
                far_off = (judge, entry) == ("J3", orders["s1"]["order"][0])  # a tolerance flag to review
                scores = {"party": "0", "work": "0", "results": "0"} if far_off else random_scores(rng)
                ok(stack.call("PUT", f"/sessions/{session}/sheets/{entry}", sheet(scores), judge_token(judge)))
    open_as(tablet, f"{stack.base}/console#token={ORGANISER_TOKEN}")
    wait(
        tablet,
        lambda d: len(d.find_elements(By.CSS_SELECTOR, "#sessions section[data-session]")) == 2,
        "the stage's two sessions",
    )
    s1 = 'section[data-session="s1"]'  # found anew each time: the console re-renders as it follows

    def shown(css: str) -> str:
        return tablet.find_element(By.CSS_SELECTOR, css).text

    counts = [c.text for c in tablet.find_elements(By.CSS_SELECTOR, f"{s1} td.received-count")]
    assert counts == ["5 / 5"] * 15
    flagged = shown(f'{s1} tr[data-entry="{orders["s1"]["order"][0]}"]')
    assert "评委3：评分偏差超出容差，待核" in flagged  # the judge's name, not their id
    tap(tablet, By.CSS_SELECTOR, f"{s1} button.lock")
    confirmed(tablet, "锁定“清化镇”这一场后，评委不能再提交或修改评分")
    wait(
        tablet,
        lambda d: "本场尚未锁定。评分偏差待核：" in shown(s1),
        "the refusal of a lock without a reason, in words",
    )
    assert "评委3" in shown(s1) and "请先核实" in shown(s1)  # who, by name, and what to do
    for session, group in (("s1", "清化镇"), ("s2", "柏山镇")):
        refreshed = refreshes(tablet)
        typed_into(tablet, f"reason-{session}", "偏差已与评委核实")
        tap(tablet, By.CSS_SELECTOR, f'section[data-session="{session}"] button.lock')
        confirmed(tablet, f"锁定“{group}”这一场后")
        wait(
            tablet,
            lambda d, group=group, refreshed=refreshed: (
                f"“{group}”已锁定" in d.find_element(By.ID, "stage-notice").text and refreshes(d) > refreshed
            ),
            f"{session} to be locked",
        )
        wait(
            tablet, lambda d, s=session: "已锁定" in shown(f'section[data-session="{s}"] h3'), f"{session} shown locked"
        )
    tap(tablet, By.ID, "publish")
    confirmed(tablet, "公布“乡镇初赛”的成绩后，名次和晋级名单对所有人公开")

    wait(tablet, lambda d: "已公布：" in d.find_element(By.ID, "publish-notice").text, "the stage to be published")
    wait(
        tablet,
        lambda d: d.find_element(By.ID, "standings-caption").text.startswith("已公布"),
        "the published standings",
    )
    # the table read at one moment: the console goes on refreshing as notices go out
    rows = tablet.execute_script(
        """return [...document.querySelectorAll('#standings tr')]
             .map((r) => [r.dataset.entry, r.innerText, r.querySelector('.decided-by').innerText])"""
    )
    results = ok(stack.call("GET", f"/contests/{CONTEST}/stages/prelim/results"))
    assert [entry for entry, _, _ in rows] == [r["entry_id"] for r in results["standings"]]
    advanced = [entry for entry, text, _ in rows if "晋级" in text]
    assert advanced == [r["entry_id"] for r in results["standings"] if r["advanced"]] and len(advanced) == 6
    decided = [by for _, _, by in rows]
    assert decided == [
        "—"
        if not r["decided_by"]
        else {"median_total": "全部评分的中位数", "lot": "抽签", "entry_id": "参赛编号"}.get(
            r["decided_by"], decided[i]
        )
        for i, r in enumerate(results["standings"])
    ]
    assert tablet.find_element(By.ID, "publish").get_attribute("disabled") is not None
    choose(tablet, "delivery-status", "")
    wait(tablet, lambda d: d.find_elements(By.CSS_SELECTOR, "#deliveries tr"), "the notices sent")
    wait(tablet, lambda d: d.find_element(By.ID, "delivery-notice").text.startswith("共 "), "every notice listed")
    screenshot(tablet, "console", whole_page=True)
    assert accessibility_violations(tablet) == [], "console"
    assert foreign_words(tablet) == [], "console"
    tablet.execute_script("window.scrollTo(0, 0)")
    screenshot(tablet, "console-top")
    assert accessibility_violations(tablet) == [], "console-top"
    assert foreign_words(tablet) == [], "console-top"


def test_a_sheet_that_reaches_the_gateway_after_the_lock_is_refused_in_the_page_and_not_stored(stack, orders, tablet):
    entry = orders["s1"]["order"][1]
    before = sheets_of(stack, "s1", "J4")[entry]
    open_as(tablet, f"{stack.base}/judge#token={judge_token('J4')}")
    wait(tablet, lambda d: d.find_elements(By.CSS_SELECTOR, f'#entries button[data-entry="{entry}"]'), "J4's session")
    assert tablet.find_element(By.ID, "on-stage").text == "本场已锁定，评分不能再修改。"
    entry_button(tablet, entry).click()
    assert tablet.find_element(By.ID, "submit").get_attribute("disabled") is not None
    # a sheet left waiting on the device from before the lock (the tablet was offline) goes now
    tablet.execute_script(
        "localStorage.setItem('leitai.judge.outbox', JSON.stringify([arguments[0]]))",
        {
            "session_id": "s1",
            "entry_id": entry,
            "submission_id": "6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b",
            "scores": {"party": "1", "work": "1", "results": "1"},
            "strengths": "",
            "suggestions": "",
        },
    )
    wait(tablet, lambda d: tag(d, entry) == "未被接受", "the late sheet to be refused")
    assert "评分未被接受：场次 s1 已锁定，不能再评分" in tablet.find_element(By.ID, "sheet-status").text
    assert sheets_of(stack, "s1", "J4")[entry] == before


@pytest.mark.parametrize("page", ["judge", "console"])
def test_every_control_has_a_label_and_a_phone_needs_no_sideways_scrolling(stack, orders, page):
    token = judge_token("J1") if page == "judge" else ORGANISER_TOKEN
    with chromium(390, 844) as phone:
        phone.get(f"{stack.base}/{page}#token={token}")
        wait(phone, lambda d: d.find_elements(By.CSS_SELECTOR, "#entries button, #standings tr"), f"the {page} page")
        if page == "judge":
            entry_button(phone, orders["s1"]["order"][0]).click()
        assert unlabelled_controls(phone) == []
        assert fits_the_width(phone)
        screenshot(phone, f"{page}-phone")
        assert accessibility_violations(phone) == [], f"{page}-phone"
        assert foreign_words(phone) == [], f"{page}-phone"
        assert csp_violations(phone) == []


def test_the_public_results_page_is_styled_under_the_policy_which_refuses_what_is_inline(stack, orders, tablet):
    results = ok(stack.call("GET", f"/contests/{CONTEST}/stages/prelim/results"))  # published from the console
    tablet.get(f"{stack.base}/results/{CONTEST}/prelim")
    assert len(tablet.find_elements(By.CSS_SELECTOR, "tbody tr")) == len(results["standings"])
    assert accessibility_violations(tablet) == [], "the public results page"
    assert foreign_words(tablet) == [], "the public results page"
    style = "return getComputedStyle(document.querySelector(arguments[0]))[arguments[1]]"
    assert tablet.execute_script(style, "h1", "color") == "rgb(139, 0, 0)"  # /pages/results.css, loaded
    # what the policy is for: script and style that come inline are refused, and said so
    tablet.execute_script("""
        const script = document.createElement("script");
        script.textContent = "window.injected = true";
        document.body.append(script);
        document.querySelector("h1").setAttribute("style", "color: blue");""")
    assert tablet.execute_script("return window.injected === undefined")
    assert tablet.execute_script(style, "h1", "color") == "rgb(139, 0, 0)"
    refused = csp_violations(tablet)
    assert any("inline script" in message for message in refused), refused
    assert any("inline style" in message for message in refused), refused


def answer_headers(stack, path: str, token: str | None = None):
    request = urllib.request.Request(stack.base + path, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.headers


def test_every_answer_carries_the_security_headers_and_none_to_a_token_is_cached(stack, orders):
    answers = {  # what: (path, token, status, its Cache-Control: None, a cache decides)
        "a page": ("/judge", None, 200, None),
        "a page's script": ("/pages/judge.js", None, 200, None),
        "the OpenAPI document": ("/openapi.json", None, 200, None),
        # what the public gateway serves (docs/deploy.md, "Two gateways"), here from one serving all
        "a published result": (f"/contests/{CONTEST}/stages/prelim/results", None, 200, PUBLIC_CACHE),
        "an API answer": ("/contests", ORGANISER_TOKEN, 200, PRIVATE),
        "the same, to a token": (f"/contests/{CONTEST}/stages/prelim/results", ORGANISER_TOKEN, 200, PRIVATE),
        "an error": ("/contests", None, 401, PRIVATE),
        "a public route's error": (f"/results/{CONTEST}/nowhere", None, 404, PRIVATE),
        "a path the gateway does not know": ("/nowhere", None, 404, PRIVATE),
    }
    for what, (path, token, status, cache) in answers.items():
        answered, headers = answer_headers(stack, path, token)
        assert answered == status, what
        for name, value in SECURITY_HEADERS.items():
            assert headers.get_all(name) == [value], f"{what}: {name}"
        assert headers.get_all("Cache-Control") == (cache and [cache]), what
