"""``leadsync sync`` through its runner: output, exit codes, bad input leaving the store alone."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from leadsync.cli import main
from leadsync.errors import UpstreamError
from leadsync.store import SyncLock
from leadsync.testing import FAKE_TOKEN, FakeWorkspace, fake_database_id


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("NOTION_TOKEN", FAKE_TOKEN)
    monkeypatch.delenv("LEADSYNC_CRASH_AT", raising=False)
    return CliRunner()


def setup(tmp_path: Path, **sample: int) -> tuple[FakeWorkspace, Path, Path]:
    ws = FakeWorkspace.sample(**sample)
    config = tmp_path / "leadsync.toml"
    config.write_text(ws.config_toml("leadsync.db"))
    return ws, config, tmp_path / "leadsync.db"


def sync(runner: CliRunner, ws: FakeWorkspace, config: Path, *args: str) -> Result:
    return runner.invoke(main, ["--config", str(config), "sync", *args],
                         obj={"sources": ws.open_source})


def error_line(result: Result) -> str:
    lines = result.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("leadsync: error: ")]
    assert len(errors) == 1, result.stderr
    assert lines[-1] == errors[0]
    assert "Traceback" not in result.stderr
    return errors[0]


def test_sync_is_a_documented_command(runner: CliRunner) -> None:
    assert "sync" in runner.invoke(main, ["--help"]).output
    result = runner.invoke(main, ["sync", "--help"])
    for option in ("--full", "--dry-run", "--json", "--table"):
        assert option in result.output


def test_sync_prints_a_json_summary(runner: CliRunner, tmp_path: Path) -> None:
    ws, config, path = setup(tmp_path, signals=120)
    result = sync(runner, ws, config, "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["status"] == "ok"
    assert summary["store"] == str(path)  # relative to the config file
    assert summary["added"] == 126
    assert summary["tables"]["signals"]["requests"] == 3
    for key in ("updated", "deleted", "quarantined", "requests", "rate_limited", "seconds"):
        assert key in summary
    # cron sees plain, timestamped log lines on stderr
    assert "INFO leadsync.sync: signals: 120 added" in result.stderr


def test_sync_without_json_prints_a_short_summary(runner: CliRunner, tmp_path: Path) -> None:
    ws, config, _ = setup(tmp_path, signals=10)
    result = sync(runner, ws, config)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("synced ")
    assert "(run 1): 16 added, 0 updated, 0 deleted" in result.stdout
    assert len(result.stdout.splitlines()) == 1
    assert "INFO leadsync.sync: signals: 10 added" in result.stderr  # a log line per table
    result = sync(runner, ws, config, "--dry-run")
    assert result.exit_code == 0
    assert "(dry run, nothing written): 0 added" in result.stdout
    assert "INFO leadsync.sync: dry run: signals: 0 would add" in result.stderr


def test_a_running_sync_makes_the_next_exit_75(runner: CliRunner, tmp_path: Path) -> None:
    ws, config, path = setup(tmp_path, signals=10)
    with SyncLock(path):
        result = sync(runner, ws, config, "--json")
    assert result.exit_code == 75
    assert "another leadsync sync is running (pid " in error_line(result)
    assert not path.exists()  # nothing was written
    assert json.loads(result.stdout) == {"status": "failed", "error": error_line(result)
                                         .removeprefix("leadsync: error: "), "exit_code": 75}


def break_unreachable(ws: FakeWorkspace, config: Path) -> None:
    ws.failure = UpstreamError("cannot reach api.notion.com: [Errno 111] Connection refused",
                               service="notion")


def break_token(ws: FakeWorkspace, config: Path) -> None:
    ws.token = "a-different-token-entirely"


def break_database(ws: FakeWorkspace, config: Path) -> None:
    ws.tables["signals"].dropped = True


def break_field(ws: FakeWorkspace, config: Path) -> None:
    config.write_text(config.read_text().replace('impact = "Impact"', 'impact = "Impakt"'))


@pytest.mark.parametrize(("breaker", "code", "message"), [
    (break_unreachable, 75, "notion: cannot reach api.notion.com"),
    (break_token, 1, "notion: API token is invalid. (HTTP 401, unauthorized)"),
    (break_database, 1, f"Could not find database with ID: {fake_database_id('signals')}"),
    (break_field, 1, "mapped field(s) not found: impact -> 'Impakt'"),
])
def test_bad_input_is_one_clear_line_the_right_code_and_no_change(
        runner: CliRunner, tmp_path: Path, breaker: Callable[[FakeWorkspace, Path], None],
        code: int, message: str) -> None:
    ws, config, path = setup(tmp_path, signals=60)
    assert sync(runner, ws, config).exit_code == 0
    before = path.read_bytes()
    ws.tick(minutes=10)
    ws.edit("signals", min(ws.live_ids("signals")), notes="an edit that must not land")
    breaker(ws, config)
    result = sync(runner, ws, config, "--full")
    assert result.exit_code == code, result.stderr
    assert message in error_line(result)
    assert path.read_bytes() == before  # every source opens before anything is written


def test_a_corrupt_store_is_one_line_exit_1_and_untouched(runner: CliRunner,
                                                         tmp_path: Path) -> None:
    ws, config, path = setup(tmp_path, signals=300)
    assert sync(runner, ws, config).exit_code == 0
    data = bytearray(path.read_bytes())
    data[2 * 4096:4 * 4096] = b"\xde\xad\xbe\xef" * 2048
    path.write_bytes(bytes(data))
    result = sync(runner, ws, config)
    assert result.exit_code == 1
    assert f"{path}: the store is damaged" in error_line(result)
    assert path.read_bytes() == bytes(data)
    path.write_bytes(b"name,email\nAna,ana@example.org\n")
    result = sync(runner, ws, config)
    assert result.exit_code == 1
    assert f"{path}: not a leadsync store" in error_line(result)
    assert path.read_bytes() == b"name,email\nAna,ana@example.org\n"


def test_config_and_usage_errors_exit_2(runner: CliRunner, tmp_path: Path) -> None:
    ws, config, path = setup(tmp_path, signals=5)
    result = sync(runner, ws, config, "--table", "reviews")
    assert result.exit_code == 2
    assert "--table reviews: not configured" in error_line(result)
    assert runner.invoke(main, ["--config", str(config), "sync", "--fast"]).exit_code == 2
    assert not path.exists()
