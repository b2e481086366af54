"""Open a report in headless Chromium (Debian's ``chromium``), screenshot it, and check it.

Used by the test suite (``test_report_browser.py``) and to make the README's
screenshot, so the picture in the README is what the test looked at::

    .venv/bin/python tests/reports/report_browser.py docs/report-screenshot.png

Playwright drives the system's Chromium (``executable_path``); it never
downloads a browser. Every request the page makes is recorded, and any that
is not the report file itself or a ``data:`` URL is aborted and reported.
"""

from __future__ import annotations

import io
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Where Debian's package puts it; ``LEADSYNC_CHROMIUM`` overrides.
CHROMIUM_PATHS = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
#: The flags the project runs Chromium with (no sandbox: CI runs as root).
CHROMIUM_ARGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
)
DESKTOP = {"width": 1200, "height": 900}
PHONE = {"width": 390, "height": 844}


def chromium_path() -> str | None:
    """The Chromium binary to use, or None when there is none on this machine."""
    chosen = os.environ.get("LEADSYNC_CHROMIUM")
    if chosen:
        return chosen if os.access(chosen, os.X_OK) else None
    for path in CHROMIUM_PATHS:
        if os.access(path, os.X_OK):
            return path
    return shutil.which("chromium")


def unavailable() -> str | None:
    """Why the browser check cannot run here, in a plain sentence; None when it can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return ("Playwright for Python is not installed (it is in the test extra: "
                "pip install -e '.[test]')")
    if chromium_path() is None:
        return ("Chromium is not installed; on Debian `apt-get install chromium` "
                "(scripts/test does it when run as root)")
    return None


@dataclass
class PageCheck:
    """What the browser saw: the screenshot and the page's facts."""

    png: bytes
    images: list[dict[str, Any]]
    blocked: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    scripts: int = 0
    text: str = ""
    width: int = 0


def check_page(path: Path, *, viewport: dict[str, int] | None = None,
               full_page: bool = True, print_media: bool = False) -> PageCheck:
    """Load ``path`` (an HTML file) in headless Chromium and report what it did."""
    from playwright.sync_api import Route, sync_playwright

    binary = chromium_path()
    if binary is None:
        raise RuntimeError(unavailable() or "no chromium")
    page_url = path.resolve().as_uri()
    requests: list[str] = []
    blocked: list[str] = []

    def route(route: Route) -> None:
        url = route.request.url
        if url == page_url or url.startswith("data:"):
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    with tempfile.TemporaryDirectory() as profile, sync_playwright() as driver:
        browser = driver.chromium.launch_persistent_context(
            profile, executable_path=binary, headless=True, args=list(CHROMIUM_ARGS),
            viewport=viewport or DESKTOP, device_scale_factor=1, offline=True,
        )
        try:
            page = browser.new_page()
            page.on("request", lambda request: requests.append(request.url))
            page.route("**/*", route)
            if print_media:
                page.emulate_media(media="print")
            page.goto(page_url, wait_until="load")
            page.wait_for_function("Array.from(document.images).every(i => i.complete)")
            images = page.evaluate(
                "Array.from(document.images).map(i => ({alt: i.alt, "
                "naturalWidth: i.naturalWidth, naturalHeight: i.naturalHeight, "
                "src: i.src.slice(0, 22)}))")
            scripts = page.evaluate("document.querySelectorAll('script').length")
            text = page.evaluate("document.body.innerText")
            width = page.evaluate("document.documentElement.scrollWidth")
            png = page.screenshot(full_page=full_page, type="png")
        finally:
            browser.close()
    return PageCheck(png, images, blocked, requests, int(scripts), str(text), int(width))


def is_blank(png: bytes) -> bool:
    """True when the screenshot is one flat colour (nothing drawn)."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        extrema = image.convert("L").getextrema()
    low, high = extrema if isinstance(extrema[0], int) else extrema[0]
    return bool(high - low < 16)


def sample_report_html(directory: Path) -> Path:
    """The sample organisation's October 2026 report, written as ``report.html``."""
    from leadsync.reports import write_report
    from report_sample import sample_report

    return write_report(sample_report(), directory, formats=["html"]).files["html"]


def main(argv: list[str]) -> int:
    """Write the README's screenshot (the top of the sample report, desktop width)."""
    target = Path(argv[0]) if argv else Path("docs/report-screenshot.png")
    reason = unavailable()
    if reason:
        print(f"cannot take the screenshot: {reason}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        page = check_page(sample_report_html(Path(tmp)), full_page=False,
                          viewport={"width": 1100, "height": 1500})
    assert not page.blocked
    assert not is_blank(page.png)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(page.png)
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
