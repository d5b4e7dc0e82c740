"""
What the browser tests share: Debian's Chromium driven by Playwright (never a downloaded browser), a page
fixture, screenshots and the password step. The ``browser_page`` fixture is registered in conftest.py.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest
from django.db import connections
from factories import PASSWORD

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOTS = Path(
    os.environ.get("MFA_SCREENSHOT_DIR")
    or Path(__file__).resolve().parents[1] / "test-results" / "screenshots"
)
# Chromium on a closed network: no background connections, no first-run, no sandbox as root (CI runs as root).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@pytest.fixture
def browser_page(live_server, monkeypatch):
    sync_api = pytest.importorskip("playwright.sync_api")
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (apt-get install chromium chromium-driver)")
    # Playwright's sync API runs an event loop in this thread; the ORM calls made while it runs are ours.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1100, "height": 900}, locale="en-GB")
        page = context.new_page()
        page.set_default_timeout(15_000)
        yield page
        context.close()
        browser.close()


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(800)  # let Wagtail's message animation settle
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_in(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")


def from_the_database(ask):
    """
    ``ask()`` run in a thread of its own, which closes its connection: while Playwright's event loop runs
    in the test's thread, a query there opens a connection of its own that nothing closes (and PostgreSQL
    then cannot drop the test database).
    """
    answer = {}

    def run():
        try:
            answer["value"] = ask()
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return answer["value"]
