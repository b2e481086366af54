"""The example notebooks run top to bottom against the emulator, and show something.

Each is executed in a fresh kernel with no token in the environment, so its
first cell starts the emulator and exports what ``leadsync emulator serve``
prints, exactly as a user without a workspace would see it. Their outputs are
then read: tables (HTML), at least one chart (PNG) each, no error, no
"IProgress not found" warning; the promotion notebook's packet with every
section of the template.
"""

from __future__ import annotations

import base64
import html as htmllib
import os
import re
from pathlib import Path
from typing import Any

import nbclient
import nbformat
import pytest
from leadsync.reports.packet_compose import PACKET_SECTIONS

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
EXPECTED = ("signals_and_quarantine", "timezones_and_meetings", "promotion_readiness")
TOKENS = ("NOTION_TOKEN", "NOTION_BASE_URL", "AIRTABLE_TOKEN", "AIRTABLE_ENDPOINT_URL")


def test_the_three_notebooks_are_there() -> None:
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == sorted(EXPECTED)


def executed(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    for variable in TOKENS:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    assert not [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs], (
        f"{name}.ipynb is committed with outputs; clear them")
    nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert os.environ.get("NOTION_TOKEN") is None
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def outputs(cells: list[Any]) -> list[dict[str, Any]]:
    return [o for cell in cells for o in cell.outputs]


def html(cells: list[Any]) -> list[str]:
    return [str(o["data"]["text/html"]) for o in outputs(cells)
            if "text/html" in o.get("data", {})]


def check_common(cells: list[Any]) -> None:
    found = outputs(cells)
    assert not [o for o in found if o["output_type"] == "error"]
    stderr = "".join(str(o.get("text", "")) for o in found if o.get("name") == "stderr")
    assert "IProgress" not in stderr
    assert "Traceback" not in stderr
    images = [base64.b64decode(o["data"]["image/png"]) for o in found
              if "image/png" in o.get("data", {})]
    assert images, "no chart was drawn"
    assert all(png.startswith(b"\x89PNG") and len(png) > 5_000 for png in images)
    tables = [markup for markup in html(cells) if "<table" in markup and "<td" in markup]
    assert len(tables) >= 3, "fewer than three tables shown"
    assert all(cell.outputs for cell in cells[:-1]), "a cell shows nothing"


@pytest.mark.slow
def test_signals_and_quarantine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cells = executed("signals_and_quarantine", tmp_path, monkeypatch)
    check_common(cells)
    markup = "\n".join(html(cells))
    assert "https://www.notion.so/" in markup  # each quarantined row links to its page
    reasons = "".join(str(o.get("data", {}).get("text/plain", "")) for o in outputs(cells))
    assert "is not an http(s) link" in reasons
    assert "member_id is missing" in reasons
    scores = next(m for m in html(cells) if "evidence_rate" in m)
    assert ">member_id</th>" in scores
    assert ">name</th>" in scores  # names beside the ids


@pytest.mark.slow
def test_timezones_and_meetings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cells = executed("timezones_and_meetings", tmp_path, monkeypatch)
    check_common(cells)
    images = sum("image/png" in o.get("data", {}) for o in outputs(cells))
    assert images >= 3  # representation, overlap between regions, rotation burden
    markup = "\n".join(html(cells))
    for shown in ("leaders_share", "available_share", "burden_hours", "proven optimal"):
        assert shown in markup, shown


@pytest.mark.slow
def test_promotion_readiness(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cells = executed("promotion_readiness", tmp_path, monkeypatch)
    check_common(cells)
    markup = "\n".join(html(cells))
    for shown in ("weighted_score", "milestones_missing", "<h1>Leadership sync: "):
        assert shown in markup, shown
    # the nominee's packet, shown inline as its HTML page, every section filled
    packet = next(m for m in html(cells) if "<h1>Promotion packet: " in m)
    parts = re.split(r"<h2[^>]*>(.*?)</h2>", packet, flags=re.DOTALL)
    sections = {htmllib.unescape(re.sub(r"<[^>]+>", "", title)).strip():
                body.split("</section>")[0]
                for title, body in zip(parts[1::2], parts[2::2], strict=True)}
    assert list(sections) == list(PACKET_SECTIONS.values())
    for title, body in sections.items():
        text = htmllib.unescape(re.sub(r"<style.*?</style>|<[^>]+>", " ", body, flags=re.DOTALL))
        assert len(text.split()) >= 5, f"the packet's {title!r} is empty"
    evidence = sum(body.count("<tr") - 1 for title, body in sections.items()
                   if title.startswith("Leadership evidence: ") and "<table" in body)
    assert evidence > 0, "the packet shows no leadership evidence"
    assert "Weighted total: " in sections["Decision matrix"]
    assert "Weighted total: not recorded" not in sections["Decision matrix"]
