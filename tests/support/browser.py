"""Headless Chromium for the pages' tests (the live screen, the judge's tablet, the console)."""

from __future__ import annotations

import base64
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from selenium import webdriver
from selenium.common.exceptions import (
    ElementClickInterceptedException,
    ElementNotInteractableException,
    NoAlertPresentException,
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from testkit.servers import ROOT

ARTIFACTS = ROOT / "test-artifacts"
AXE = ROOT / ".tools" / "axe" / "axe-4.14.1.min.js"  # tools/ensure-axe.sh (make browser)
# what the pages are held to: WCAG 2.1 A and AA (labels, names, contrast, roles, focus order)
AXE_RULES = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


@contextmanager
def chromium(width: int, height: int) -> Iterator[webdriver.Chrome]:
    """A fresh profile, a page of exactly ``width`` x ``height`` CSS pixels."""
    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--window-size={width},{height}",
        "--lang=zh-CN",  # the users' own: the browser's own words (a file chooser, a date field) in Chinese
        f"--user-data-dir={tempfile.mkdtemp(prefix='leitai-chromium-')}",
    ):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"intl.accept_languages": "zh-CN,zh"})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # the console, for csp_violations
    # Chromium on Linux takes its own words' language from the environment (LANGUAGE), not from
    # --lang; LANG a UTF-8 locale the machine has (zh_CN.UTF-8 rarely is), or it saves a download
    # with a Chinese name as "download"
    service = Service("/usr/bin/chromedriver", env={**os.environ, "LANGUAGE": "zh_CN", "LANG": "C.UTF-8"})
    driver = webdriver.Chrome(service=service, options=options)
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
    )
    try:
        yield driver
    finally:
        driver.quit()


def csp_violations(driver) -> list[str]:
    """What the page's console said the Content-Security-Policy refused since the last call
    (reading the console's log empties it)."""
    return [entry["message"] for entry in driver.get_log("browser") if "Content Security Policy" in entry["message"]]


PASSING = (StaleElementReferenceException, ElementNotInteractableException, ElementClickInterceptedException)


def wait(driver, seconds: float, condition: Callable, what: str, artifact: str) -> None:
    """Wait for ``condition``; on timeout keep a screenshot (``artifact``.png) and say what the page shows."""
    try:
        # a page that renders again replaces what a condition found a moment before, or has it
        # covered or not yet shown for an instant: look again
        WebDriverWait(driver, seconds, poll_frequency=0.05, ignored_exceptions=PASSING).until(condition)
    except TimeoutException:
        ARTIFACTS.mkdir(exist_ok=True)
        driver.save_screenshot(str(ARTIFACTS / f"{artifact}-failed.png"))
        shown = driver.find_element(By.TAG_NAME, "body").text[:800]
        raise AssertionError(f"waited {seconds}s for {what}; the page shows: {shown!r}") from None


def unlabelled_controls(driver) -> list[str]:
    """The visible inputs, selects and text areas with neither a label nor an aria-label."""
    return driver.execute_script(
        """return [...document.querySelectorAll('input, select, textarea')]
          .filter((c) => c.offsetParent !== null)
          .filter((c) => !(c.id && document.querySelector('label[for="' + c.id + '"]')))
          .filter((c) => !c.getAttribute('aria-label'))
          .map((c) => c.outerHTML)"""
    )


def fits_the_width(driver) -> bool:
    """Whether the page needs no sideways scrolling (a phone's)."""
    return driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1")


def tap(driver, by: str, selector: str, artifact: str = "pages") -> None:
    """Click what ``selector`` finds, found again if the page re-rendered it in between (the
    console refreshes itself)."""
    wait(driver, 20, lambda d: d.find_element(by, selector).click() or True, f"{selector} to click", artifact)


def choose(driver, element_id: str, value: str, artifact: str = "pages") -> None:
    """Choose ``value`` in the select ``element_id``, again if the page re-rendered its options
    in between (the judge's page and the console fill their selects anew as they refresh)."""
    wait(
        driver,
        20,
        lambda d: Select(d.find_element(By.ID, element_id)).select_by_value(value) or True,
        f"{value} in {element_id}",
        artifact,
    )


def typed_into(driver, element_id: str, text: str, artifact: str = "pages") -> None:
    """``text`` typed into the field ``element_id``, found again if the page re-rendered it
    before the typing began."""
    wait(driver, 20, lambda d: d.find_element(By.ID, element_id).send_keys(text) or True, element_id, artifact)


def open_as(driver, url: str) -> None:
    """A new visit: nothing left from the visit before (token, outbox) on this device."""
    driver.get(url.split("#")[0])
    driver.execute_script("localStorage.clear()")
    driver.get("about:blank")
    driver.get(url)


def confirmed(driver, says: str, artifact: str = "pages") -> None:
    """Accept the confirmation the page asks for, after checking it says what will happen."""
    wait(driver, 20, lambda d: _alert(d) is not None, "the confirmation", artifact)
    alert = driver.switch_to.alert
    assert says in alert.text, alert.text
    alert.accept()


def _alert(driver):
    try:
        return driver.switch_to.alert
    except NoAlertPresentException:
        return None


def screenshot(driver, name: str, whole_page: bool = False) -> None:
    """The viewport, or with ``whole_page`` the page from top to bottom."""
    ARTIFACTS.mkdir(exist_ok=True)
    if not whole_page:
        assert driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))
        return
    width, height = driver.execute_script(
        "return [document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
    )
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
        },
    )
    (ARTIFACTS / f"{name}.png").write_bytes(base64.b64decode(shot["data"]))


def accessibility_violations(driver) -> list[str]:
    """What axe-core finds on the page as it is now, against ``AXE_RULES``: one line a rule
    broken, with the elements that break it. Run in the page by the driver, not as a script the
    page loads: the Content-Security-Policy is the page's own and stays as it is."""
    driver.execute_script(AXE.read_text())
    found = driver.execute_async_script(
        """const done = arguments[arguments.length - 1];
        axe.run(document, {runOnly: {type: "tag", values: arguments[0]}, resultTypes: ["violations"]})
          .then((r) => done(r.violations.map((v) => [v.id, v.impact, v.help, v.nodes.map((n) => n.target.join(" "))])))
          .catch((e) => done([["axe", "error", String(e), []]]));""",
        AXE_RULES,
    )
    return [f"{rule} ({impact}): {words}: {', '.join(targets[:5])}" for rule, impact, words, targets in found]


# Latin words a zh-CN page may show: names of formats and things the user handles by that name
LATIN_ALLOWED = frozenset({"CSV", "Excel", "WPS", "xlsx", "QR"})


def foreign_words(driver) -> list[str]:
    """Every visible word a Chinese user should not meet: English, or an internal id. What a page
    shows as an id on purpose (a contest's number to type in a link) is marked ``class="id"``, a
    link to copy ``class="link"`` or an ``<a>``'s address; anything else in Latin letters is
    reported, with the text it stands in."""
    found = driver.execute_script(
        """const out = [];
        const visible = (e) => e && e.checkVisibility({visibilityProperty: true});
        const words = (text) => text.match(/[A-Za-z][A-Za-z0-9_-]*/g) || [];
        const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
        for (let n = walker.nextNode(); n; n = walker.nextNode()) {
          const p = n.parentElement;
          if (!visible(p) || p.closest("script, style, select, .id, .link")) continue;
          for (const w of words(n.textContent)) out.push([w, n.textContent.trim().slice(0, 80)]);
        }
        for (const s of document.querySelectorAll("select")) {  // a select shows its chosen option
          const chosen = visible(s) && s.selectedOptions[0];
          if (chosen && !chosen.closest(".id")) for (const w of words(chosen.text)) out.push([w, chosen.text]);
        }
        for (const i of document.querySelectorAll("input:not([type=hidden]), textarea")) {  // placeholders
          if (!visible(i) || i.value || i.closest(".id")) continue;
          for (const w of words(i.placeholder || "")) out.push([w, i.placeholder]);
        }
        return out;"""
    )
    return [f"{word} in {context!r}" for word, context in found if word not in LATIN_ALLOWED]
