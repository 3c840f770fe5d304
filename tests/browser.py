"""Real headless Chromium (Debian's, driven by Playwright) for the browser tests: launch flags,
a page that records Content-Security-Policy violations, and screenshots at two widths."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def chromium_launched() -> Iterator[Browser]:
    """Headless Chromium, closed after: each browser test module's ``browser`` fixture yields from it."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


# Runs before any page script: counts violations that never reach the console (e.g. blocked styles).
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__cspViolations.push(
    [location.pathname, e.violatedDirective, e.blockedURI, e.sourceFile + ':' + e.lineNumber, e.sample].join(' ')
  );
});
"""


@dataclass
class Tab:
    """One browser context (its own cookies) with one page, recording CSP problems as it goes."""

    context: BrowserContext
    page: Page
    base_url: str
    violations: list[str] = field(default_factory=list)

    @classmethod
    def open(cls, browser: Browser, base_url: str, *, javascript: bool = True) -> Tab:
        context = browser.new_context(viewport=DESKTOP, java_script_enabled=javascript, base_url=base_url)
        context.add_init_script(RECORD_VIOLATIONS)
        page = context.new_page()
        tab = cls(context=context, page=page, base_url=base_url)
        page.on("console", tab._console)
        return tab

    def _console(self, message) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.violations.append(f"{self.page.url}: {message.text} at {message.location}")

    def csp_violations(self) -> list[str]:
        """Console reports plus the page's own securitypolicyviolation events (current document)."""
        recorded = []
        if self.context.pages and not self.page.is_closed():
            try:
                recorded = self.page.evaluate("window.__cspViolations || []")
            except Exception:  # noqa: BLE001 — JS disabled or mid-navigation: console still counts
                recorded = []
        return [*self.violations, *recorded]

    def shoot(self, name: str) -> None:
        """``<name>-desktop.png`` and ``<name>-phone.png`` of the whole page."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        safe = re.sub(r"[^a-z0-9_-]+", "-", name.lower())
        self.page.screenshot(path=SCREENSHOTS / f"{safe}-desktop.png", full_page=True)
        self.page.set_viewport_size(PHONE)
        self.page.screenshot(path=SCREENSHOTS / f"{safe}-phone.png", full_page=True)
        self.page.set_viewport_size(DESKTOP)

    def close(self) -> None:
        self.context.close()
