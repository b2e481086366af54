"""The command line: one line on stderr per error, and the architecture's exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from leadsync.cli import main
from leadsync.config import load_config


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_help_lists_the_commands(runner: CliRunner) -> None:
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("init", "check", "emulator"):
        assert command in result.output
    assert "75" in result.output  # the exit codes are documented where users look


def fill_in_ids(path: Path) -> None:
    """What a user does after `leadsync init`: paste the ids over the placeholders."""
    text = path.read_text()
    for n in range(2):
        text = text.replace('"PASTE-THE-DATABASE-URL-OR-ID"',
                            f'"{n}f2e3d4c5b6a79881f2e3d4c5b6a7988"', 1)
    path.write_text(text)


@pytest.mark.parametrize("kind", ["notion", "airtable"])
def test_init_writes_a_config_that_loads(runner: CliRunner, tmp_path: Path, kind: str) -> None:
    path = tmp_path / "leadsync.toml"
    result = runner.invoke(main, ["--config", str(path), "init", "--kind", kind])
    assert result.exit_code == 0, result.output
    fill_in_ids(path)
    config = load_config(path)
    assert config.workspace.kind == kind
    assert set(config.tables) == {"signals", "members"}
    assert config.tables["signals"].fields["member_id"] == "Team Member"
    assert "TOKEN" in path.read_text()


def test_init_refuses_to_overwrite(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "leadsync.toml"
    path.write_text("keep me")
    result = runner.invoke(main, ["--config", str(path), "init"])
    assert result.exit_code == 2
    assert "already exists; pass --force" in result.stderr
    assert path.read_text() == "keep me"


def test_bad_config_is_one_line_and_exit_2(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "leadsync.toml"
    path.write_text('[workspace]\nkind = "notion"\ncolour = 1\n')
    result = runner.invoke(main, ["--config", str(path), "check"])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"leadsync: error: {path}: ")
    assert "workspace.colour: unknown key" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_names_the_missing_token_and_never_prints_one(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "leadsync.toml"
    runner.invoke(main, ["--config", str(path), "init"])
    monkeypatch.delenv("NOTION_TOKEN", raising=False)
    result = runner.invoke(main, ["--config", str(path), "check"])
    assert result.exit_code == 2
    assert "NOTION_TOKEN is not set" in result.output  # with the placeholders, as problems
    monkeypatch.setenv("NOTION_TOKEN", "ntn_checktoken_value_1")
    result = runner.invoke(main, ["--config", str(path), "check", "--offline"])
    assert result.exit_code == 2  # the placeholders of `init` are still there
    assert "NOTION_TOKEN is set" in result.output
    assert "is still the placeholder" in result.output
    assert "ntn_checktoken_value_1" not in result.output + result.stderr


def test_check_names_the_placeholders_a_fresh_init_leaves(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "leadsync.toml"
    runner.invoke(main, ["--config", str(path), "init"])
    monkeypatch.setenv("NOTION_TOKEN", "ntn_checktoken_value_1")
    result = runner.invoke(main, ["--config", str(path), "check"])
    assert result.exit_code == 2
    for table in ("signals", "members"):  # check names each as a finding with its fix
        assert (f"problem {table}: tables.{table}.notion_database is still the placeholder "
                "'PASTE-THE-DATABASE-URL-OR-ID'. Fix: ") in result.stdout
    result = runner.invoke(main, ["--config", str(path), "sync"])
    assert result.exit_code == 2  # any other command refuses the file at load
    for table in ("signals", "members"):
        assert f"tables.{table}.notion_database: not a Notion id" in result.stderr
    assert "PASTE-THE-DATABASE-URL-OR-ID" in result.stderr


def test_usage_errors_exit_2(runner: CliRunner) -> None:
    assert runner.invoke(main, ["no-such-command"]).exit_code == 2
    assert runner.invoke(main, ["init", "--kind", "coda"]).exit_code == 2
