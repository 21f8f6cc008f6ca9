"""A headless Chromium (Debian's `chromium` + `chromium-driver`) driven by Selenium, and page helpers."""

from __future__ import annotations

import json
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--no-first-run", "--disable-dev-shm-usage", "--window-size=1600,1200")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_deployment(path: Path, chain_id: int, d: Any) -> Path:
    """A deployments/<chainId>.json for a brownie Deployment (what perp_client reads)."""
    roles = {"quote_token": d.quote_token, "vault": d.vault, "insurance_fund": d.insurance_fund,
             "clearing_house": d.clearing_house, "price_feed": d.price_feed, **{f"amm_{s}": a for s, a in d.amms.items()},
             **({"multicall": d.multicall} if getattr(d, "multicall", None) is not None else {})}
    contracts = {role: {"contract": c._name, "address": c.address, "block": 0} for role, c in roles.items()}
    path.write_text(json.dumps({"chain_id": chain_id, "complete": True, "contracts": contracts}))
    return path


@contextmanager
def chromium() -> Iterator[WebDriver]:
    """A fresh headless browser with its own profile; the system binaries, nothing downloaded."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()]
    if missing:
        raise RuntimeError(f"{', '.join(missing)} missing: run `make setup` (it installs Debian's chromium and chromium-driver)")
    profile = tempfile.mkdtemp(prefix="dashboard-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


class Page:
    """The dashboard page in `driver`: waits that retry while the page redraws."""

    def __init__(self, driver: WebDriver, timeout: float = 20) -> None:
        self.driver = driver
        self.timeout = timeout

    def wait(self, what: str, check: Callable[[], Any]) -> Any:
        def attempt(_: WebDriver) -> Any:
            try:
                return check()
            except StaleElementReferenceException:
                return None

        try:
            return WebDriverWait(self.driver, self.timeout, poll_frequency=0.1).until(attempt)
        except TimeoutException:
            raise AssertionError(f"timed out waiting for {what}; message: {self.text('#message')!r}, banner: {self.text('#banner')!r}") from None

    def find(self, css: str) -> Any:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def all(self, css: str) -> list[Any]:
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def text(self, css: str) -> str:
        """The text of the first element matching `css` ("" when none is shown). The page redraws on every poll:
        an element replaced between the find and the read is found again."""
        for _ in range(5):
            try:
                found = self.all(css)
                return found[0].text if found and found[0].is_displayed() else ""
            except StaleElementReferenceException:
                continue
        raise AssertionError(f"{css} kept being redrawn while read")

    def wait_text(self, css: str, contains: str) -> str:
        return self.wait(f"{css} to contain {contains!r}", lambda: (t := self.text(css)) and contains in t and t)

    def click(self, css: str) -> None:
        """Click `css` once it is enabled; a button redrawn between the find and the click is found again."""
        def attempt() -> bool:
            element = self.find(css)
            if not element.is_enabled():
                return False
            element.click()
            return True

        self.wait(f"{css} to be enabled and clicked", attempt)

    def enabled(self, css: str) -> bool:
        """Whether `css` is enabled, read again if the page redraws it while we look."""
        for _ in range(50):
            try:
                return bool(self.find(css).is_enabled())
            except StaleElementReferenceException:
                continue
        raise AssertionError(f"{css} kept being redrawn")

    def type(self, css: str, value: str) -> None:
        el = self.find(css)
        el.clear()
        el.send_keys(value)

    def set_range(self, css: str, value: str) -> None:
        self.driver.execute_script(
            "const el = document.querySelector(arguments[0]); el.value = arguments[1];"
            "el.dispatchEvent(new Event('input', {bubbles: true}));", css, value)

    def act(self, css: str, done: str) -> None:
        """Click an action button and wait for the page's success line."""
        self.click(css)
        self.wait(f"the message {done!r}", lambda: "ok" in self.find("#message").get_attribute("class") and done in self.text("#message")
                  or ("error" in self.find("#message").get_attribute("class") and self._fail(self.text("#message"))))

    @staticmethod
    def _fail(text: str) -> bool:
        raise AssertionError(f"the page reported an error: {text}")
