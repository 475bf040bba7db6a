"""Headless Chromium (Debian's /usr/bin/chromium, driven by Playwright; never a downloaded browser)
against the app on a live port, saving a screenshot of every screen a test visits."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pyotp

from tests.support import PASSWORD

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"
WRITTEN: list[Path] = []  # this session's screenshot folders, named in pytest's summary (conftest.py)


def launch(playwright):
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing: run scripts/browser_packages.sh (make test does)")
    # --no-sandbox: CI containers run as root, where Chromium's sandbox cannot start.
    return playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])


class Screens:
    """Numbered screenshots of one test, in test-artifacts/console/<test>/."""

    def __init__(self, test_name: str):
        self.folder = ARTIFACTS / re.sub(r"[^\w.-]+", "_", test_name)
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)
        self.count = 0
        WRITTEN.append(self.folder)

    def shot(self, page, name: str) -> None:
        self.count += 1
        page.screenshot(path=str(self.folder / f"{self.count:02d}-{name}.png"), full_page=True)


class Operator:
    """One operator's browser context: signs in (enrolling TOTP on first use) and visits screens."""

    def __init__(self, browser, base: str, clock, screens: Screens, username: str, totp_secrets: dict):
        self.context = browser.new_context(base_url=base, locale="zh-CN", viewport={"width": 1366, "height": 900})
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.clock, self.screens, self.username, self.secrets = clock, screens, username, totp_secrets

    def sign_in(self) -> None:
        page = self.page
        page.goto("/console/login")
        self.screens.shot(page, f"{self.username}-login")
        page.fill("#username", self.username)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        if "/console/totp/enrol" in page.url:
            self.screens.shot(page, f"{self.username}-totp-enrol")
            secret = page.inner_text("[data-testid=totp-secret]").replace(" ", "")
            self.secrets[self.username] = secret
            page.fill("#code", pyotp.TOTP(secret).at(self.clock.now()))
            page.click("button[type=submit]")
        elif "/console/totp" in page.url:
            self.clock.advance(seconds=30)  # each code once: a new time step for a new sign-in
            self.screens.shot(page, f"{self.username}-totp")
            page.fill("#code", pyotp.TOTP(self.secrets[self.username]).at(self.clock.now()))
            page.click("button[type=submit]")
        assert page.url.endswith("/console/"), page.url
        self.visit_current("home")

    def visit(self, path: str, name: str):
        self.page.goto(path)
        self.visit_current(name)
        return self.page

    def visit_current(self, name: str) -> None:
        self.page.wait_for_load_state()
        self.screens.shot(self.page, f"{self.username}-{name}")

    def submit(self, form_selector: str, name: str) -> None:
        self.page.click(f"{form_selector} button[type=submit]")
        self.visit_current(name)

    def close(self) -> None:
        # CSP violations and script errors show up as console errors: none are allowed.
        assert not self.errors, self.errors
        self.context.close()
