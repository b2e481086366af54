"""The demo runs the whole job against the emulator, for both workspaces."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from leadsync import open_store
from leadsync.cli import main


@pytest.mark.parametrize("kind", ["notion", "airtable"])
def test_demo_syncs_then_reports(kind: str, tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = CliRunner().invoke(main, ["demo", "--kind", kind, "--out", str(out), "--fast",
                                       "--members", "20"])
    assert result.exit_code == 0, result.output + str(result.exception)
    text = result.output
    assert "[2/5] First sync: synced" in text
    assert "[3/5] Nightly sync: synced" in text
    assert "3 added, 1 updated" in text  # the day's edits, and only them
    assert "Leadership scores" in text
    assert "[4/5] Report for October 2026" in text
    assert (out / "report.md").read_text().startswith("# Leadership sync: October 2026")
    assert "<!DOCTYPE html>" in (out / "report.html").read_text()
    for name in ("report.md", "report.html"):  # written by the report writer: owner-only
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o600
    assert len(list(out.glob("chart-*.png"))) == 6
    where = "Notion" if kind == "notion" else "Airtable"
    assert (f"[5/5] Pushed into the emulated {kind} workspace: {where}: "
            "Leadership sync: October 2026: created") in text
    assert "In the emulator: GET http://127.0.0.1:" in text
    again = next(line for line in text.splitlines() if "Pushed again: " in line)
    assert ": unchanged (" in again
    assert "; 1 request," in again
    with open_store(out / "leadsync.db") as store:
        assert len(store.frame("members")) == 20
        assert store.runs(10)["status"].tolist() == ["ok", "ok"]
        (pushed,) = store.push_entries()
        assert (pushed.service, pushed.kind, pushed.key, pushed.status) == (
            kind, "report", "2026-10", "done")


def test_demo_twice_starts_from_a_fresh_store(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    args = ["demo", "--out", str(out), "--fast", "--members", "8"]
    assert CliRunner().invoke(main, args).exit_code == 0
    second = CliRunner().invoke(main, args)
    assert second.exit_code == 0
    assert "(run 1)" in second.output
