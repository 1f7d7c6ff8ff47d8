"""Look at the dashboard in a real browser: serve it on a free port, open every page in headless Chromium
(the system's, driven by Playwright), check it and take screenshots. The browser test and the docs'
screenshots (``python -m mcq_analytics.dashboard.browser --env dev --out docs/img``) both use it.

Playwright is a development dependency: it is imported only when a browser is opened.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from mcq_analytics.dashboard.__main__ import streamlit_command

#: url path of each page (the Overview is the app's root).
PAGE_PATHS = {"overview": "", "test": "test", "items": "items", "health": "health"}
#: The system Chromium (scripts/setup_system.sh installs Debian's); Playwright's own download is not used.
CHROMIUM = os.environ.get("MCQ_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
#: Chromium as root in a container: no sandbox, no GPU, nothing fetched in the background.
CHROMIUM_ARGS = ("--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage")


class BrowserCheckFailed(AssertionError):
    """A page showed a Streamlit exception or never showed what it should."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(warehouse_url: str, log_path: Path, timeout: float = 90) -> Iterator[str]:
    """Run ``streamlit run`` on a free port against ``warehouse_url``; yields the base URL."""
    port = free_port()
    env = dict(os.environ, MCQ_DASHBOARD_URL=warehouse_url)
    with open(log_path, "w") as log:
        proc = subprocess.Popen(streamlit_command("127.0.0.1", port), env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise BrowserCheckFailed(f"the dashboard server did not start; see {log_path}")
            time.sleep(0.5)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class PageView:
    page: str
    text: str
    screenshot: Path


def visit_pages(base_url: str, out_dir: Path, expect: dict[str, str], pages: Sequence[str] = tuple(PAGE_PATHS),
                timeout_ms: int = 90_000, height: int = 1000) -> list[PageView]:
    """Open each page, wait until its ``expect[page]`` text shows and nothing is still loading, fail on a
    Streamlit exception box, and save a screenshot ``out_dir/dashboard_<page>.png`` of a window ``height``
    pixels tall (Streamlit scrolls inside its own container, so a "full page" is the window)."""
    from playwright.sync_api import sync_playwright

    out_dir.mkdir(parents=True, exist_ok=True)
    views = []
    with tempfile.TemporaryDirectory(prefix="mcq-chromium-") as profile, sync_playwright() as pw:
        browser = pw.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, headless=True,
                                                        args=list(CHROMIUM_ARGS),
                                                        viewport={"width": 1400, "height": height})
        try:
            page = browser.new_page()
            for name in pages:
                page.goto(f"{base_url}/{PAGE_PATHS[name]}")
                main = page.locator("[data-testid='stMain']")
                main.get_by_text(expect[name], exact=False).first.wait_for(timeout=timeout_ms)
                _settle(page, timeout_ms)
                if page.locator("[data-testid='stException']").count():
                    raise BrowserCheckFailed(f"{name}: Streamlit exception: "
                                             f"{page.locator('[data-testid=stException]').first.inner_text()}")
                shot = out_dir / f"dashboard_{name}.png"
                page.screenshot(path=str(shot))
                views.append(PageView(name, main.inner_text(), shot))
        finally:
            browser.close()
    return views


def _settle(page: object, timeout_ms: int) -> None:
    """Wait until the run is over and every element has arrived (no skeleton placeholders left)."""
    deadline = time.monotonic() + timeout_ms / 1000
    quiet = 0
    while time.monotonic() < deadline:
        busy = (page.locator("[data-testid='stStatusWidget']").count()  # type: ignore[attr-defined]
                + page.locator("[data-testid='stSkeleton']").count())  # type: ignore[attr-defined]
        quiet = 0 if busy else quiet + 1
        if quiet >= 4:  # two seconds without anything loading
            return
        page.wait_for_timeout(500)  # type: ignore[attr-defined]
    raise BrowserCheckFailed("the page kept loading")


def main(argv: Sequence[str] | None = None) -> int:
    """Screenshots of every page for the docs, from the warehouse of ``--env`` (run ``make demo`` first)."""
    from mcq_analytics.dashboard.settings import load_dashboard_settings

    parser = argparse.ArgumentParser(prog="python -m mcq_analytics.dashboard.browser")
    parser.add_argument("--env", default="dev")
    parser.add_argument("--out", type=Path, default=Path("docs/img"))
    parser.add_argument("--height", type=int, default=2000, help="window height in pixels")
    args = parser.parse_args(argv)
    url = load_dashboard_settings(args.env).warehouse_url
    expect = {"overview": "Funnel", "test": "Funnel", "items": "Items", "health": "Rejects by reason"}
    with serve(url, Path(tempfile.gettempdir()) / "mcq-dashboard-screenshots.log") as base:
        for view in visit_pages(base, args.out, expect, height=args.height):
            print(view.screenshot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
