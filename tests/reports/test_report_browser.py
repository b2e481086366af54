"""The HTML report in a real browser: headless Chromium (Debian's ``chromium``).

Skipped, with the reason, where Chromium or Playwright is missing
(``scripts/test`` installs Chromium with apt-get when it runs as root).
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from leadsync.reports import build_report, month_end, write_report
from report_browser import DESKTOP, PHONE, check_page, is_blank, sample_report_html, unavailable
from report_sample import MONTH, sample_frames

REASON = unavailable()
pytestmark = pytest.mark.skipif(REASON is not None, reason=REASON or "")

HOSTILE = '<script>alert(1)</script> | =HYPERLINK("x")\nsecond line'


@pytest.fixture(scope="module")
def html(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sample_report_html(tmp_path_factory.mktemp("html"))


def test_the_page_renders_with_every_image_and_no_request(html: Path) -> None:
    page = check_page(html, viewport=DESKTOP)
    assert not is_blank(page.png)
    assert len(page.images) == 6
    for image in page.images:
        assert image["naturalWidth"] > 0, image
        assert image["src"].startswith("data:image/png")
        assert image["alt"]
    assert page.blocked == []
    # the only request the page makes is for itself (data: images are not fetched)
    assert [u for u in page.requests if not u.startswith("data:")] == [html.resolve().as_uri()]
    assert page.scripts == 0
    assert "Leadership sync: October 2026" in page.text
    assert "not a ranking" in page.text


def test_a_phone_scrolls_tables_not_the_page(html: Path) -> None:
    page = check_page(html, viewport=PHONE)
    assert not is_blank(page.png)
    assert page.width <= PHONE["width"]  # nothing wider than the screen but the table boxes
    assert all(i["naturalWidth"] > 0 for i in page.images)


def test_print_shows_every_row(html: Path) -> None:
    page = check_page(html, viewport=DESKTOP, print_media=True)
    assert not is_blank(page.png)
    assert "Contents" not in page.text.split("At a glance")[0]  # the contents box is hidden


def test_a_hostile_name_is_text_in_the_dom(tmp_path: Path) -> None:
    frames = sample_frames()
    members = frames["members"].copy()
    members["name"] = members["name"].astype("object")
    members.loc[members.index[0], "name"] = HOSTILE
    members["name"] = members["name"].astype("string")
    frames["members"] = members
    report = build_report(frames, as_of=month_end(MONTH))
    path = write_report(report, tmp_path, formats=["html"]).files["html"]
    page = check_page(path, viewport=DESKTOP)
    assert page.scripts == 0
    assert '<script>alert(1)</script> | =HYPERLINK("x")' in page.text
    assert page.blocked == []


def test_the_readme_screenshot_is_a_real_render() -> None:
    from PIL import Image

    png = Path(__file__).resolve().parents[2] / "docs" / "report-screenshot.png"
    with Image.open(io.BytesIO(png.read_bytes())) as image:
        assert image.size == (1100, 1500)
    assert not is_blank(png.read_bytes())
