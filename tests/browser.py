"""Headless Chromium via Playwright, for the browser tests (skips outside CI when unavailable)."""

from __future__ import annotations

import shutil
from contextlib import contextmanager
from typing import Iterator

from conftest import require_or_skip

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]


@contextmanager
def browser_page() -> Iterator[object]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require_or_skip(False, "playwright is not installed (pip install 'pix2pix[test]')")
    require_or_skip(shutil.which("chromium") is not None or shutil.which("chromium-browser") is not None,
                    "chromium is not installed (apt-get install chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser.new_page()
        finally:
            browser.close()
