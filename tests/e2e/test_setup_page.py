"""Issue 29: a county sets up a contest from an empty system in the console's 比武设置 page,
in headless Chromium against the real services, without curl, JSON or a region code: the region
tree, the contest from a format, its stage and criteria, judges and entries from an Excel sheet
(a bad sheet listed row by row and nothing stored), sessions, panels with a reserve, the draw
and the opening. Screenshots of every step are kept in test-artifacts/."""

from __future__ import annotations

import io
import urllib.request
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from testkit.servers import wait_until
from testkit.stack import ORGANISER_TOKEN, SUPERVISOR_TOKEN, ok
from tests.support.browser import (
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
    unlabelled_controls,
)
from tests.support.browser import wait as wait_for

pytestmark = pytest.mark.integration

CONTEST = "haian-2026"
TREE = "haian-regions"
TREE_CSV = """code,name,level,parent
haian,海安县,county,
chengdong,城东镇,township,haian
chengxi,城西镇,township,haian
cd-1,东风村,village,chengdong
cd-2,红星社区,village,chengdong
cx-1,西湖村,village,chengxi
cx-2,新桥村,village,chengxi
"""
ENTRIES = [  # 姓名, 乡镇, 村, 职务, 题目, 手机, 邮箱, 编号
    ["王建国", "城东镇", "东风村", "党支部书记", "抓党建促振兴", "13800138001", "", ""],
    ["李秀兰", "城东镇", "红星社区", "党委书记", "小网格大治理", "", "", ""],
    ["张伟", "城西镇", "西湖村", "党支部书记", "集体经济破零记", "13800138003", "", ""],
    ["陈芳", "城西镇", "新桥村", "党支部书记", "人居环境整治", "", "", ""],
]
JUDGES = [  # 姓名, 单位, 所在乡镇, 回避选手, 手机, 邮箱, 编号
    ["周明", "县委组织部", "", "", "13900139001", "", ""],
    ["吴刚", "县委党校", "", "", "", "", ""],
    ["郑红", "县纪委监委", "", "张伟", "", "", ""],
    ["孙丽", "县农业农村局", "", "", "", "", ""],
    ["钱程", "城东镇党委", "城东镇", "", "", "", ""],
    ["赵磊", "县委宣传部", "", "", "", "", ""],
]


@pytest.fixture(scope="module")
def desk():
    with chromium(1280, 900) as driver:
        yield driver


@pytest.fixture(autouse=True)
def under_the_policy(desk):
    csp_violations(desk)
    yield
    assert csp_violations(desk) == []


def wait(driver, condition, what: str, seconds: float = 20) -> None:
    wait_for(driver, seconds, condition, what, "setup")


def text_of(driver, css: str) -> str:
    found = driver.find_elements(By.CSS_SELECTOR, css)
    return found[0].text if found else ""


def typed(driver, element_id: str, text: str) -> None:
    field = driver.find_element(By.ID, element_id)
    field.clear()
    field.send_keys(text)


def roster(stack, entries: list[list], judges: list[list], path) -> str:
    """The contest's own template, downloaded as the console does, with these rows typed in."""
    request = urllib.request.Request(
        f"{stack.base}/contests/{CONTEST}/roster.xlsx", headers={"Authorization": f"Bearer {ORGANISER_TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        book = load_workbook(io.BytesIO(answer.read()))
    for sheet, rows in (("选手", entries), ("评委", judges)):
        for row in rows:
            book[sheet].append(row)
    book.save(path)
    return str(path)


def contest(stack) -> dict:
    return ok(stack.call("GET", f"/contests/{CONTEST}", token=ORGANISER_TOKEN))


def test_an_organiser_sets_up_a_contest_from_an_empty_system_in_the_console(stack, desk, tmp_path):
    # the set-up signs in on the console, which comes back
    open_as(desk, f"{stack.base}/console/setup")
    wait(desk, lambda d: d.find_element(By.ID, "sign-in").is_displayed(), "the console's sign-in")
    assert "then=setup" in desk.current_url
    typed(desk, "token-input", ORGANISER_TOKEN)
    desk.find_element(By.CSS_SELECTOR, "#sign-in-form button").click()
    wait(desk, lambda d: d.find_elements(By.CSS_SELECTOR, "#format-select option"), "the set-up page, signed in")
    assert desk.current_url.endswith("/console/setup")

    # an empty system: the console says so and leads to the set-up
    open_as(desk, f"{stack.base}/console#token={ORGANISER_TOKEN}")
    wait(desk, lambda d: "还没有比武" in text_of(d, "#notice"), "the console's empty state")
    desk.find_element(By.LINK_TEXT, "新建一场比武").click()
    wait(desk, lambda d: d.find_elements(By.CSS_SELECTOR, "#format-select option"), "the set-up page's formats")
    screenshot(desk, "setup-1-empty")
    assert accessibility_violations(desk) == [], "setup-1-empty"
    assert foreign_words(desk) == [], "setup-1-empty"

    # the region tree, imported from a CSV file
    choose(desk, "format-select", "qidong", "contest")
    assert "五项成对的评分项" in desk.find_element(By.ID, "format-summary").text
    typed(desk, "tree-id", TREE)
    desk.find_element(By.ID, "load-tree").click()
    wait(desk, lambda d: "还没有编号为" in d.find_element(By.ID, "tree-summary").text, "the tree to be missing")
    csv_file = tmp_path / "regions.csv"
    csv_file.write_text(TREE_CSV, encoding="utf-8")
    desk.find_element(By.ID, "tree-file").send_keys(str(csv_file))
    desk.find_element(By.ID, "import-tree").click()
    wait(desk, lambda d: "2 个乡镇（街道）、4 个村（社区）" in d.find_element(By.ID, "tree-summary").text, "the tree")
    assert Select(desk.find_element(By.ID, "county-select")).first_selected_option.text == "海安县"

    # the contest
    typed(desk, "contest-name", "海安县新任村党组织书记“五比五拼”擂台比武")
    typed(desk, "contest-id", CONTEST)
    typed(desk, "organiser-name", "县委组织部组织科")
    typed(desk, "organiser-phone", "0513-88812345")
    screenshot(desk, "setup-2-contest")
    assert accessibility_violations(desk) == [], "setup-2-contest"
    assert foreign_words(desk) == [], "setup-2-contest"
    desk.find_element(By.ID, "create-contest").click()
    wait(desk, lambda d: d.find_elements(By.CSS_SELECTOR, '[data-stage-form="wubi"]'), "the format's stage")
    assert contest(stack)["organiser"]["name"] == "县委组织部组织科"
    assert "contest=haian-2026" in desk.current_url

    # its stage, from the format, edited: one criterion fewer, another's weight changed
    form = desk.find_element(By.CSS_SELECTOR, '[data-stage-form="wubi"]')
    rows = form.find_elements(By.CSS_SELECTOR, "tbody tr")
    assert [r.find_element(By.TAG_NAME, "input").get_attribute("value") for r in rows][0] == "比站位高度·拼工作成效"
    rows[-1].find_element(By.TAG_NAME, "button").click()  # 删除 比贡献程度·拼干事激情
    weight = rows[0].find_elements(By.TAG_NAME, "input")[2]
    weight.clear()
    weight.send_keys("１.５")  # a full-width digit, as a Chinese input method types it
    screenshot(desk, "setup-3-stage", whole_page=True)
    assert accessibility_violations(desk) == [], "setup-3-stage"
    assert foreign_words(desk) == [], "setup-3-stage"
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait(desk, lambda d: "已保存" in text_of(d, '[data-stage="wubi"] h3'), "the stage saved")
    stage = contest(stack)["stages"][0]
    assert [c["criterion_id"] for c in stage["criteria"]] == ["standing", "ideas", "delivery", "service"]
    assert stage["criteria"][0]["weight"] == "1.5"
    groups = [(g["name"], g["townships"]) for g in stage["groups"]]
    assert groups == [("城东镇", ["chengdong"]), ("城西镇", ["chengxi"])]
    assert stage["advancement"]["per_group"] == 3 and stage["panel_size"] == 5

    # the template, downloaded as the organiser does: a workbook with the two sheets to fill in
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    desk.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    tap(desk, By.ID, "roster-template", "setup")
    wait(desk, lambda d: list(downloads.glob("*-名单模板.xlsx")), "the template downloaded")
    (template,) = downloads.glob("*-名单模板.xlsx")
    assert template.name.startswith("海安县") and {"选手", "评委"} <= set(load_workbook(template).sheetnames)

    # a sheet with mistakes: every bad row listed, nothing stored
    bad = roster(
        stack,
        [
            *ENTRIES[:2],
            ["刘洋", "城南镇", "南村", "", "题目", "12345", "", ""],
            ["", "城西镇", "西湖村", "", "", "", "", ""],
        ],
        [["周明", "", "", "查无此人", "", "", ""]],
        tmp_path / "bad.xlsx",
    )
    desk.find_element(By.ID, "roster-file").send_keys(bad)
    desk.find_element(By.ID, "roster-upload").click()
    wait(desk, lambda d: d.find_elements(By.CSS_SELECTOR, "#roster-problems tbody tr"), "the sheet's problems")
    problems = [
        [td.text for td in tr.find_elements(By.TAG_NAME, "td")]
        for tr in desk.find_elements(By.CSS_SELECTOR, "#roster-problems tbody tr")
    ]
    where = [(sheet, row) for sheet, row, _ in problems]
    assert where == [("评委", "第 2 行"), ("选手", "第 4 行"), ("选手", "第 5 行")]
    assert "城南镇" in problems[1][2] and "12345" in problems[1][2] and "查无此人" in problems[0][2]
    assert "什么也没有导入" in desk.find_element(By.ID, "roster-notice").text
    screenshot(desk, "setup-4-roster-problems", whole_page=True)
    assert accessibility_violations(desk) == [], "setup-4-roster-problems"
    assert foreign_words(desk) == [], "setup-4-roster-problems"
    assert contest(stack)["entries"] == [] and contest(stack)["judges"] == []

    # the sheet put right
    desk.find_element(By.ID, "roster-file").clear()
    desk.find_element(By.ID, "roster-file").send_keys(roster(stack, ENTRIES, JUDGES, tmp_path / "good.xlsx"))
    desk.find_element(By.ID, "roster-upload").click()
    wait(desk, lambda d: "已导入评委 6 名、选手 4 名" in d.find_element(By.ID, "roster-notice").text, "the import")
    registered = contest(stack)
    assert [j["name"] for j in registered["judges"]] == [j[0] for j in JUDGES]
    zhang = next(e for e in registered["entries"] if e["name"] == "张伟")
    assert next(j for j in registered["judges"] if j["name"] == "郑红")["conflicts"] == [zhang["contestant_id"]]
    assert next(j for j in registered["judges"] if j["name"] == "钱程")["township_code"] == "chengdong"

    # a session for each township: when, where, its panel with a reserve, the draw, the opening
    for group, day in (("g-chengdong", "2026-12-20T09:00"), ("g-chengxi", "2026-12-21T14:30")):
        session_set_up(desk, group, day)
    screenshot(desk, "setup-5-sessions-open", whole_page=True)
    assert accessibility_violations(desk) == [], "setup-5-sessions-open"
    assert foreign_words(desk) == [], "setup-5-sessions-open"

    sessions = contest(stack)["sessions"]
    assert [(s["session_id"], s["opened"], s["place"]) for s in sessions] == [
        (f"{CONTEST}-wubi-chengdong", True, "镇党群服务中心"),
        (f"{CONTEST}-wubi-chengxi", True, "镇党群服务中心"),
    ]
    assert sessions[1]["starts_at"] == "2026-12-21T14:30:00+08:00"
    assert sorted(sessions[0]["order"]) == sorted(e["entry_id"] for e in registered["entries"][:2])
    scoring = ok(stack.call("GET", f"/sessions/{CONTEST}-wubi-chengdong/scoring", token=ORGANISER_TOKEN))
    assert len(scoring["entries"]) == 2


def test_judges_invited_from_the_console_score_on_their_phones_and_a_second_person_approves_a_correction(stack, desk):
    """The contest set up above, run to its result and past it with only the console and the
    judges' phones: links issued, every sheet typed on a phone, both sessions locked, the stage
    published, an appeal filed and a correction proposed by the organiser, which the supervisor
    (纪检), in the console too, approves: the stage is published again."""
    open_as(desk, f"{stack.base}/console?contest={CONTEST}#token={ORGANISER_TOKEN}")
    wait(desk, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#judges tr[data-judge]")) == 6, "the judges to invite")
    tap(desk, By.ID, "invite-all", "contest")
    wait(desk, lambda d: len(d.find_elements(By.CSS_SELECTOR, ".invitation")) == 6, "six invitation cards")
    links = {
        card.get_attribute("data-judge"): card.find_element(By.CSS_SELECTOR, ".link").text
        for card in desk.find_elements(By.CSS_SELECTOR, ".invitation")
    }
    screenshot(desk, "contest-1-invitations", whole_page=True)
    assert accessibility_violations(desk) == [], "contest-1-invitations"
    assert foreign_words(desk) == [], "contest-1-invitations"

    with chromium(390, 844) as phone:
        for n, (_, link) in enumerate(sorted(links.items())):
            scored_on_the_phone(stack, phone, link, Decimal(12 + n))
        screenshot(phone, "contest-2-judge-phone", whole_page=True)
        assert accessibility_violations(phone) == [], "contest-2-judge-phone"
        assert foreign_words(phone) == [], "contest-2-judge-phone"

    # the console, left open, followed the sheets as they came: the stage's live stream said so
    wait(desk, lambda d: int(d.execute_script("return document.body.dataset.streamed || 0")) > 0, "the stream")
    for session, group in ((f"{CONTEST}-wubi-chengdong", "城东镇"), (f"{CONTEST}-wubi-chengxi", "城西镇")):
        card = f'section[data-session="{session}"]'
        wait(desk, lambda d, c=card: d.find_elements(By.CSS_SELECTOR, f"{c} button.lock"), f"{group}'s lock")
        wait(  # every sheet typed on a phone arrived
            desk,
            lambda d, c=card: (
                [n.text for n in d.find_elements(By.CSS_SELECTOR, f"{c} td.received-count")] == ["5 / 5", "5 / 5"]
            ),
            f"{group}'s sheets",
        )
        tap(desk, By.CSS_SELECTOR, f"{card} button.lock", "contest")
        confirmed(desk, f"锁定“{group}”这一场后", "contest")
        wait(desk, lambda d, g=group: f"“{g}”已锁定" in d.find_element(By.ID, "stage-notice").text, f"{group} locked")
    tap(desk, By.ID, "publish", "contest")
    confirmed(desk, "确定公布吗", "contest")
    wait(desk, lambda d: "已公布：" in d.find_element(By.ID, "publish-notice").text, "the stage published")
    results = f"/contests/{CONTEST}/stages/wubi/results"
    wait_until(lambda: stack.call("GET", results)[0] == 200, what="the public results")  # a read model, soon
    published = ok(stack.call("GET", results))
    assert published["version"] == 1 and len(published["standings"]) == 4

    # an appeal, and the correction that answers it, proposed by the organiser
    last = published["standings"][-1]
    choose(desk, "appeal-entry", last["entry_id"], "contest")
    desk.find_element(By.ID, "appeal-reason").send_keys("评委漏看了现场展示的材料")
    desk.find_element(By.CSS_SELECTOR, "#appeal-form button[type=submit]").click()
    wait(desk, lambda d: d.find_elements(By.CSS_SELECTOR, "#appeals tr[data-appeal]"), "the appeal filed")
    session = next(s for s in contest(stack)["sessions"] if last["entry_id"] in s["order"])
    choose(desk, "correction-session", session["session_id"], "contest")
    choose(desk, "correction-entry", last["entry_id"], "contest")
    judge = next(s["judge_id"] for s in session["seats"] if not s["reserve"] and not s["head"])
    choose(desk, "correction-judge", judge, "contest")
    for field in desk.find_elements(By.CSS_SELECTOR, "#correction-scores input"):
        field.send_keys("２０")  # full-width, as typed
    desk.find_element(By.ID, "correction-reason").send_keys("复核录像，评委漏看材料，改为满分")
    desk.find_element(By.CSS_SELECTOR, "#correction-form button[type=submit]").click()
    wait(desk, lambda d: d.find_elements(By.CSS_SELECTOR, "#corrections tr[data-correction]"), "the proposal")
    proposed = desk.find_element(By.CSS_SELECTOR, "#corrections tr[data-correction]")
    assert "待另一人批准" in proposed.text and "须由另一人批准" in proposed.text
    assert not proposed.find_elements(By.XPATH, ".//button[text()='批准']")  # never offered to its proposer
    screenshot(desk, "contest-3-correction-proposed", whole_page=True)
    assert accessibility_violations(desk) == [], "contest-3-correction-proposed"
    assert foreign_words(desk) == [], "contest-3-correction-proposed"

    # the supervisor, in the console: appeals and corrections, nothing else
    open_as(desk, f"{stack.base}/console?contest={CONTEST}#token={SUPERVISOR_TOKEN}")
    wait(desk, lambda d: d.find_elements(By.CSS_SELECTOR, "#corrections tr[data-correction] button"), "the review")
    assert not desk.find_element(By.ID, "publish").is_displayed()
    assert not desk.find_element(By.ID, "invitations").is_displayed()
    tap(desk, By.XPATH, "//tr[@data-correction]//button[text()='批准']", "contest")
    confirmed(desk, "批准后更正立即生效", "contest")
    wait(desk, lambda d: "已批准" in d.find_element(By.CSS_SELECTOR, "#corrections tr[data-correction]").text, "done")
    desk.find_element(By.CSS_SELECTOR, "#appeals tr[data-appeal] input").send_keys(
        "经复核，申诉成立"
    )  # typing: no refresh
    tap(desk, By.XPATH, "//tr[@data-appeal]//button[text()='支持申诉']", "contest")
    confirmed(desk, "支持申诉", "contest")
    wait(desk, lambda d: "支持申诉（经复核，申诉成立）" in d.find_element(By.ID, "appeals").text, "the appeal decided")
    screenshot(desk, "contest-4-supervisor", whole_page=True)
    assert accessibility_violations(desk) == [], "contest-4-supervisor"
    assert foreign_words(desk) == [], "contest-4-supervisor"
    wait_until(
        lambda: ok(stack.call("GET", f"/contests/{CONTEST}/stages/wubi/results"))["version"] == 2,
        what="the stage published again",
    )


def scored_on_the_phone(stack, phone, link: str, base: Decimal) -> None:
    """Every sheet the judge of ``link`` may give, typed on the phone; ``base``: their scores."""
    token = link.split("#token=", 1)[1]
    open_as(phone, link)
    wait(phone, lambda d: d.find_elements(By.CSS_SELECTOR, "#entries button"), "the judge's desk")
    desk = ok(stack.call("GET", "/judges/me/sessions", token=token))
    for n, session in enumerate(desk["sessions"]):
        choose(phone, "session-select", session["session_id"], "contest")
        for m, entry in enumerate(e for e in session["entries"] if e["may_score"]):
            button = f'#entries button[data-entry="{entry["entry_id"]}"]'
            wait(phone, lambda d, b=button: d.find_elements(By.CSS_SELECTOR, b), "the entry")
            tap(phone, By.CSS_SELECTOR, button, "contest")
            for criterion in session["criteria"]:
                phone.find_element(By.ID, f"score-{criterion['criterion_id']}").send_keys(str(base + n + m))
            tap(phone, By.ID, "submit", "contest")
            wait(
                phone,
                lambda d, b=button: d.find_element(By.CSS_SELECTOR, f"{b} .tag").text.startswith("已收到"),
                "the sheet received",
            )


def session_set_up(desk, group: str, day: str) -> None:
    """A township's session scheduled, its panel seated, its order drawn and the session opened."""
    form = desk.find_element(By.CSS_SELECTOR, f'form[data-group="{group}"]')
    when = form.find_element(By.CSS_SELECTOR, "input[type=datetime-local]")
    desk.execute_script("arguments[0].value = arguments[1]", when, day)
    form.find_element(By.CSS_SELECTOR, "input:not([type])").send_keys("镇党群服务中心")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    session = f"{CONTEST}-wubi-{group.removeprefix('g-')}"

    def card(d):
        return d.find_element(By.CSS_SELECTOR, f'[data-session="{session}"]')

    wait(desk, lambda d: d.find_elements(By.CSS_SELECTOR, f'[data-session="{session}"]'), f"session {session}")
    # four judges are too few: said so, nothing saved
    for n, row in enumerate(card(desk).find_elements(By.CSS_SELECTOR, "tbody tr[data-judge]")):
        Select(row.find_element(By.TAG_NAME, "select")).select_by_value("seat" if n < 4 else "")
    card(desk).find_element(By.XPATH, ".//button[text()='保存评委席']").click()
    wait(desk, lambda d: "本轮每场评委 5 人，现在选了 4 人" in card(d).text, "the panel refused")
    rows = card(desk).find_elements(By.CSS_SELECTOR, "tbody tr[data-judge]")
    Select(rows[4].find_element(By.TAG_NAME, "select")).select_by_value("seat")
    Select(rows[5].find_element(By.TAG_NAME, "select")).select_by_value("reserve")
    rows[0].find_element(By.CSS_SELECTOR, "input[type=radio]").click()
    card(desk).find_element(By.XPATH, ".//button[text()='保存评委席']").click()
    wait(desk, lambda d: "评委席：周明（主评）" in card(d).text and "候补：赵磊" in card(d).text, "the panel")
    card(desk).find_element(By.XPATH, ".//button[text()='抽签']").click()
    wait(desk, lambda d: "出场顺序：1. " in card(d).text, "the draw")
    assert not card(desk).find_elements(By.XPATH, ".//button[text()='重新抽签']")  # drawn once, not until liked
    card(desk).find_element(By.XPATH, ".//button[text()='开始评分']").click()
    confirmed(desk, "本场的评委席和出场顺序不能再改", "setup")
    wait(desk, lambda d: "评分中" in card(d).text, "the session open")


def test_the_set_up_page_has_a_label_for_every_control_and_fits_a_phone(stack):
    with chromium(390, 844) as phone:
        phone.get(f"{stack.base}/console/setup?contest={CONTEST}#token={ORGANISER_TOKEN}")
        wait(phone, lambda d: d.find_elements(By.CSS_SELECTOR, "[data-session]"), "the set-up of the contest")
        assert unlabelled_controls(phone) == []
        assert fits_the_width(phone)
        screenshot(phone, "setup-phone", whole_page=True)
        assert accessibility_violations(phone) == [], "setup-phone"
        assert foreign_words(phone) == [], "setup-phone"
        assert csp_violations(phone) == []
