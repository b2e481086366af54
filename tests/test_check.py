"""``leadsync check`` asks the workspace: one line per problem with its fix, and the exit codes.

0 all good, 1 the workspace disagrees with the config, 2 the config itself is
invalid (the workspace is not asked), 75 the API is unreachable. The issue's
findings, each reproduced: the placeholders of a fresh ``init``, a wrong token,
``notion_database = "not-an-id"`` and an unmapped required column all exited
0 before.
"""

from __future__ import annotations

import json
import socket
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import notion_client
import pytest
from click.testing import CliRunner, Result

from leadsync.cli import main
from leadsync.emulator import Emulator, Limits, SampleOrg


@pytest.fixture(params=["notion", "airtable"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def emu(kind: str) -> Iterator[Emulator]:
    org = SampleOrg.generate(seed=6, members=6, signals=30)
    with Emulator(seed=6, limits=Limits.unlimited(), sample=org,
                  workspaces=(kind,)) as emulator:
        yield emulator


def tokens(emu: Emulator | None = None) -> dict[str, str]:
    if emu is None:
        return {"NOTION_TOKEN": "ntn_not_checked", "AIRTABLE_TOKEN": "pat.not_checked"}
    return {"NOTION_TOKEN": emu.notion_token, "AIRTABLE_TOKEN": emu.airtable_token}


def write(path: Path, emu: Emulator, kind: str, edit: Any = None) -> Path:
    text = emu.config_toml(kind, store_path=str(path.parent / "leadsync.db"))
    text += "\n[limits]\nnotion_rps = 1000.0\nairtable_rps = 1000.0\n"
    if edit is not None:
        text = edit(text)
    path.write_text(text)
    return path


def check(config: Path, env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, ["--config", str(config), "check", *args], env=env)


def problems(result: Result) -> list[str]:
    return [line for line in result.output.splitlines() if line.startswith("problem ")]


# ---------------------------------------------------------------------------
# The config itself: exit 2, nothing asked


@pytest.mark.parametrize("init_kind", ["notion", "airtable"])
def test_the_placeholders_of_a_fresh_init_are_each_named(tmp_path: Path, init_kind: str) -> None:
    config = tmp_path / "leadsync.toml"
    assert CliRunner().invoke(main, ["--config", str(config), "init", "--kind",
                                     init_kind]).exit_code == 0
    result = check(config, tokens())
    assert result.exit_code == 2, result.output
    found = problems(result)
    if init_kind == "notion":
        assert found == [
            f"problem {t}: tables.{t}.notion_database is still the placeholder "
            "'PASTE-THE-DATABASE-URL-OR-ID'. Fix: paste the database's URL (in Notion: "
            "Share → Copy link) or id" for t in ("members", "signals")]
    else:
        assert len(found) == 4
        assert all("is still the placeholder" in line and "Fix:" in line for line in found)
        assert {line.split(":")[0] for line in found} == {"problem members",
                                                          "problem signals"}
    assert result.output.splitlines()[-1].startswith("summary: 2 problems" if init_kind ==
                                                     "notion" else "summary: 4 problems")
    assert "the workspace was not asked" in result.output
    as_json = json.loads(check(config, tokens(), "--json").output)
    assert as_json["exit_code"] == 2
    assert {t: v["ok"] for t, v in as_json["tables"].items()} == {"members": False,
                                                                   "signals": False}


def test_a_malformed_id_and_an_unmapped_required_column(tmp_path: Path) -> None:
    config = tmp_path / "leadsync.toml"
    config.write_text('[workspace]\nkind = "notion"\n\n[tables.signals]\nnotion_database = '
                      '"not-an-id"\nfields = { member_id = "Team Member", signal_type = '
                      '"Signal Type", date = "Date" }\n\n[tables.members]\nnotion_database = "'
                      + "a" * 32 + '"\n')
    result = check(config, tokens())
    assert result.exit_code == 2
    assert problems(result) == [
        "problem signals: tables.signals.notion_database is not a Notion id or a Notion URL "
        "holding one (got 'not-an-id'). Fix: paste the database's URL (Share → Copy link) or "
        "its 32-character id",
        "problem signals.impact: required, and tables.signals.fields maps nothing to it. "
        'Fix: add impact = "<property name>" to the fields of [tables.signals]']


def test_offline_keeps_the_config_only_check(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = tmp_path / "leadsync.toml"
    config.write_text(f'[workspace]\nkind = "notion"\nnotion_base_url = "http://127.0.0.1:{port}"'
                      '\n\n[tables.signals]\nnotion_database = "' + "a" * 32 + '"\n\n'
                      '[tables.members]\nnotion_database = "' + "b" * 32 + '"\n')
    result = check(config, tokens(), "--offline")
    assert result.exit_code == 0, result.output
    assert "token: NOTION_TOKEN is set" in result.output
    assert "offline: the workspace was not asked" in result.output
    online = check(config, tokens())
    assert online.exit_code == 75  # nothing listens there: transient, one line
    assert online.stderr.strip().splitlines()[-1].startswith("leadsync: error: notion: the "
                                                             "token (users/me): the connection")


# ---------------------------------------------------------------------------
# The workspace: exit 1 with a line per problem, 0 when it agrees


def test_a_good_workspace_exits_0(emu: Emulator, kind: str, tmp_path: Path) -> None:
    config = write(tmp_path / "leadsync.toml", emu, kind)
    result = check(config, tokens(emu))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    variable = "NOTION_TOKEN" if kind == "notion" else "AIRTABLE_TOKEN"
    assert lines[1].startswith(f"token: {variable} accepted: ")
    assert sum(line.startswith("ok ") for line in lines) == 7  # projects included
    assert lines[-1].startswith("summary: all good: 7 tables, ")


def delete_field(emu: Emulator, kind: str, table: str, name: str) -> None:
    if kind == "notion":
        client = notion_client.Client(auth=emu.notion_token, base_url=emu.url)
        client.data_sources.update(data_source_id=emu.notion.data_source_ids[table],
                                   properties={name: None})
        client.close()
        return
    with emu.lock:
        found = emu.airtable.table(emu.airtable.sample_base_id,
                                   emu.airtable.sample_table_ids[table])
        found.fields = [f for f in found.fields if f.name != name]
        found.reindex()


def rename_field(emu: Emulator, kind: str, table: str, old: str, new: str) -> None:
    if kind == "notion":
        emu.notion.rename_property(emu.notion.data_source_ids[table], old, new)
    else:
        emu.airtable.rename_field(emu.airtable.sample_base_id,
                                  emu.airtable.sample_table_ids[table], old, new)


def missing_table(kind: str) -> Any:
    def edit(text: str) -> str:
        data = tomllib.loads(text)
        spec = data["tables"]["milestones"]
        if kind == "notion":
            return text.replace(spec["notion_database"], "f" * 32)
        return text.replace(f'airtable_table = "{spec["airtable_table"]}"',
                            'airtable_table = "Milestones (old)"', 1)
    return edit


def test_three_problems_three_distinct_actionable_lines(
        emu: Emulator, kind: str, tmp_path: Path) -> None:
    """A renamed-then-deleted property, a missing table, a wrong token: each its line."""
    config = write(tmp_path / "leadsync.toml", emu, kind)
    synced = CliRunner().invoke(main, ["--config", str(config), "sync"], env=tokens(emu))
    assert synced.exit_code == 0, synced.stderr  # the store knows the property ids
    rename_field(emu, kind, "signals", "Impact", "Impact level (old)")
    delete_field(emu, kind, "signals", "Impact level (old)")
    config = write(tmp_path / "leadsync.toml", emu, kind, missing_table(kind))

    both = check(config, tokens(emu))
    assert both.exit_code == 1, both.output
    deleted, table = (next(p for p in problems(both) if p.startswith(f"problem {w}"))
                      for w in ("signals.impact:", "milestones:"))
    assert "the last sync read it as id" in deleted
    assert "renamed, then deleted?" in deleted
    assert ("not found, or not shared" in table if kind == "notion"
            else "no table 'Milestones (old)'" in table)
    assert both.output.splitlines()[-1] == (
        f"summary: 2 problems in 7 tables: the workspace disagrees with {config} (exit 1)")

    wrong = {**tokens(emu), "NOTION_TOKEN": "ntn_wrong", "AIRTABLE_TOKEN": "pat.wrong"}
    refused = check(config, wrong)
    assert refused.exit_code == 1
    (token,) = problems(refused)
    assert token.startswith("problem token: ")
    assert "was refused" in token
    assert "ntn_wrong" not in refused.output
    assert "pat.wrong" not in refused.output

    lines = [deleted, table, token]
    assert len(set(lines)) == 3
    assert all(". Fix: " in line for line in lines)
    assert "create a property named 'Impact'" in deleted
    assert ("share the database with the integration" in table if kind == "notion"
            else "correct tables.milestones.airtable_table" in table)
    assert ("my-integrations" in token if kind == "notion" else "create/tokens" in token)


def test_a_renamed_property_is_a_note_and_a_close_name_is_suggested(
        emu: Emulator, kind: str, tmp_path: Path) -> None:
    config = write(tmp_path / "leadsync.toml", emu, kind)
    assert CliRunner().invoke(main, ["--config", str(config), "sync"],
                              env=tokens(emu)).exit_code == 0
    rename_field(emu, kind, "signals", "Impact", "Impact level")
    result = check(config, tokens(emu))
    assert result.exit_code == 0, result.output
    note = next(line for line in result.output.splitlines() if line.startswith("note "))
    assert "'Impact' in leadsync.toml is now named 'Impact level'" in note
    assert 'Fix: set impact = "Impact level"' in note

    (tmp_path / "leadsync.db").unlink()  # without the store, only the name is known
    result = check(config, tokens(emu))
    assert result.exit_code == 1
    (line,) = problems(result)
    assert "no property 'Impact'" in line
    assert "close: 'Impact level'" in line
    assert 'Fix: set impact = "Impact level" in [tables.signals] fields' in line


def test_a_property_of_a_type_the_column_cannot_read(emu: Emulator, kind: str,
                                                     tmp_path: Path) -> None:
    config = write(tmp_path / "leadsync.toml", emu, kind,
                   lambda text: text.replace('date = "Date"', 'date = "Impact"', 1))
    result = check(config, tokens(emu))
    assert result.exit_code == 1
    (line,) = problems(result)
    assert line.startswith("problem signals.date: 'Impact' is a ")
    assert "which cannot feed date" in line


def test_json(emu: Emulator, kind: str, tmp_path: Path) -> None:
    config = write(tmp_path / "leadsync.toml", emu, kind, missing_table(kind))
    result = check(config, tokens(emu), "--json")
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data["status"] == "problems"
    assert data["exit_code"] == 1
    assert data["tables"]["members"]["ok"] is True
    assert data["tables"]["milestones"]["ok"] is False
    (finding,) = data["findings"]
    assert finding["level"] == "problem"
    assert finding["where"] == "milestones"
    assert finding["fix"]
