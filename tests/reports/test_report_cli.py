"""``leadsync report`` after a real sync against the emulated sample organisation."""

from __future__ import annotations

import datetime as dt
import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from leadsync.cli import main
from leadsync.emulator import Emulator, Limits, SampleOrg

NOW = dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    """A config and a store synced from the emulated Notion sample (20 members)."""
    root = tmp_path_factory.mktemp("synced")
    org = SampleOrg.generate(seed=0, members=20)
    with Emulator(seed=0, limits=Limits.unlimited(), sample=org) as emu:
        config = root / "leadsync.toml"
        config.write_text(emu.config_toml("notion", store_path="leadsync.db")
                          + "\n[limits]\nnotion_rps = 1000.0\n", encoding="utf-8")
        env = {"NOTION_TOKEN": emu.notion_token}
        result = CliRunner().invoke(main, ["--config", str(config), "sync"], env=env)
        assert result.exit_code == 0, result.output
        yield config, env


def report(config: Path, *args: str, now: dt.datetime = NOW) -> Result:
    return CliRunner().invoke(main, ["--config", str(config), "report", *args],
                              obj={"now": now})


def error_line(result: Result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("leadsync: error")]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_report_writes_html_markdown_and_charts(synced: tuple[Path, dict[str, str]],
                                                tmp_path: Path) -> None:
    config, _ = synced
    out = tmp_path / "new" / "october"
    result = report(config, "--month", "2026-10", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("wrote the October 2026 report (as of 2026-10-31")
    names = sorted(p.name for p in out.iterdir())
    assert "report.html" in names
    assert "report.md" in names
    charts = [n for n in names if n.startswith("chart-") and n.endswith(".png")]
    assert len(charts) == 6
    for path in out.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        assert not path.name.endswith(".tmp")
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Leadership sync: October 2026" in html
    assert "sync run 1" in html
    assert 'href="https://www.notion.so/' in html  # each signal's page in the workspace
    markdown = (out / "report.md").read_text(encoding="utf-8")
    for chart in charts:
        assert f"]({chart})" in markdown


def test_json_names_every_file(synced: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    config, _ = synced
    result = report(config, "--month", "2026-10", "--out", str(tmp_path), "--json")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["status"] == "ok"
    assert answer["month"] == "2026-10"
    assert answer["as_of"].startswith("2026-10-31T23:59:59")
    assert set(answer["files"]) == {"html", "md"}
    assert len(answer["charts"]) == 6
    for path in [*answer["files"].values(), *answer["charts"]]:
        assert Path(path).is_file()
    assert answer["sync"]["run_id"] == 1
    assert answer["headline"]["members"] == 20


def test_html_only(synced: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    config, _ = synced
    result = report(config, "--month", "2026-10", "--out", str(tmp_path), "--format", "html")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


def test_the_month_defaults_to_the_last_complete_one(synced: tuple[Path, dict[str, str]],
                                                     tmp_path: Path) -> None:
    config, _ = synced
    result = report(config, "--out", str(tmp_path), "--json",
                    now=dt.datetime(2026, 11, 3, tzinfo=dt.UTC))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["month"] == "2026-10"


@pytest.mark.parametrize(("month", "message"), [
    ("2026-13", "'2026-13' is not a month like 2026-10"),
    ("October", "'October' is not a month like 2026-10"),
    ("2026-11", "2026-11 is not over yet"),
    ("2027-03", "2027-03 is in the future"),
])
def test_a_bad_month_is_a_usage_error(synced: tuple[Path, dict[str, str]], tmp_path: Path,
                                      month: str, message: str) -> None:
    config, _ = synced
    result = report(config, "--month", month, "--out", str(tmp_path / "x"))
    assert result.exit_code == 2
    assert message in error_line(result)
    assert not (tmp_path / "x").exists()


def test_a_bad_format_is_a_usage_error(synced: tuple[Path, dict[str, str]],
                                       tmp_path: Path) -> None:
    config, _ = synced
    result = report(config, "--month", "2026-10", "--out", str(tmp_path), "--format", "pdf")
    assert result.exit_code == 2
    assert "formats are html, md" in error_line(result)


def test_a_stale_store_is_reported_with_a_warning(synced: tuple[Path, dict[str, str]],
                                                  tmp_path: Path) -> None:
    config, _ = synced
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=5)
    result = report(config, "--month", "2026-10", "--out", str(tmp_path), now=later)
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines()
                if line.startswith("leadsync: warning: ")]
    assert len(warnings) == 1
    assert "last successful sync (run 1)" in warnings[0]
    assert "Warning:" in (tmp_path / "report.md").read_text(encoding="utf-8")


def test_nothing_to_report_on(tmp_path: Path) -> None:
    org = SampleOrg.generate(seed=0, members=5)
    with Emulator(seed=0, limits=Limits.unlimited(), sample=org) as emu:
        config = tmp_path / "leadsync.toml"
        config.write_text(emu.config_toml("notion", store_path="leadsync.db"),
                          encoding="utf-8")
    result = report(config, "--month", "2026-10", "--out", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert "run `leadsync sync`" in error_line(result)
    json_result = report(config, "--month", "2026-10", "--json")
    assert json.loads(json_result.stdout)["exit_code"] == 1


def test_report_is_documented() -> None:
    result = CliRunner().invoke(main, ["report", "--help"])
    for option in ("--month", "--out", "--format", "--json"):
        assert option in result.output


def test_row_links_for_airtable_and_notion(tmp_path: Path) -> None:
    from leadsync.reports import row_links

    from leadsync.config import load_config

    path = tmp_path / "leadsync.toml"
    path.write_text(
        '[workspace]\nkind = "airtable"\n'
        '[tables.signals]\nairtable_base = "appAAAAAAAAAAAAAA"\n'
        'airtable_table = "tblBBBBBBBBBBBBBB"\n'
        '[tables.members]\nairtable_base = "appAAAAAAAAAAAAAA"\nairtable_table = "People"\n',
        encoding="utf-8")
    link = row_links(load_config(path))
    assert link("signals", "recCCCCCCCCCCCCCC") == (
        "https://airtable.com/appAAAAAAAAAAAAAA/tblBBBBBBBBBBBBBB/recCCCCCCCCCCCCCC")
    assert link("members", "recCCCCCCCCCCCCCC") is None  # a table named, not an id
    assert link("signals", "javascript:alert(1)") is None
