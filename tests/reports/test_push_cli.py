"""``leadsync report --push`` and ``leadsync packet`` after a real sync against the emulator."""

from __future__ import annotations

import datetime as dt
import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from leadsync.cli import main
from leadsync.emulator import Emulator, Fault, Limits, SampleOrg
from leadsync.store import SyncLock, open_store

NOW = dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.UTC)


def synced(root: Path, kind: str) -> Iterator[tuple[Emulator, Path, dict[str, str]]]:
    org = SampleOrg.generate(seed=0, members=20)
    with Emulator(seed=0, limits=Limits.unlimited(), sample=org) as emu:
        config = root / "leadsync.toml"
        config.write_text(emu.config_toml(kind, store_path="leadsync.db")
                          + "\n[limits]\nnotion_rps = 1000.0\nairtable_rps = 1000.0\n"
                          + "\n[sync]\nmax_wait_seconds = 5\n", encoding="utf-8")
        env = {"NOTION_TOKEN": emu.notion_token, "AIRTABLE_TOKEN": emu.airtable_token}
        result = CliRunner().invoke(main, ["--config", str(config), "sync"], env=env)
        assert result.exit_code == 0, result.output
        yield emu, config, env


@pytest.fixture
def notion(tmp_path: Path) -> Iterator[tuple[Emulator, Path, dict[str, str]]]:
    yield from synced(tmp_path, "notion")


@pytest.fixture
def airtable(tmp_path: Path) -> Iterator[tuple[Emulator, Path, dict[str, str]]]:
    yield from synced(tmp_path, "airtable")


def run(config: Path, env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, ["--config", str(config), *args], env=env,
                              obj={"now": NOW})


def error_line(result: Result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("leadsync: error")]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_report_push_creates_the_page_then_finds_it_unchanged(
        notion: tuple[Emulator, Path, dict[str, str]], tmp_path: Path) -> None:
    emu, config, env = notion
    out = tmp_path / "out"
    first = run(config, env, "report", "--month", "2026-10", "--out", str(out), "--push")
    assert first.exit_code == 0, first.output
    assert (out / "report.html").exists()
    line = first.stdout.splitlines()[-1]
    assert line.startswith("Notion: Leadership sync: October 2026: created "
                           "(https://www.notion.so/")
    second = run(config, env, "report", "--month", "2026-10", "--out", str(out), "--push",
                 "--json")
    assert second.exit_code == 0, second.output
    answer = json.loads(second.stdout)
    (pushed,) = answer["pushed"]
    assert pushed["action"] == "unchanged"
    assert pushed["requests"] <= 2
    assert len(emu.notion.child_pages(emu.notion.root_page_id)) == 1
    with open_store(tmp_path / "leadsync.db") as store:
        (entry,) = store.push_entries()
    assert (entry.service, entry.kind, entry.key, entry.status) == \
        ("notion", "report", "2026-10", "done")


def test_a_dry_run_writes_no_file_and_nothing_upstream(
        notion: tuple[Emulator, Path, dict[str, str]], tmp_path: Path) -> None:
    emu, config, env = notion
    out = tmp_path / "out"
    result = run(config, env, "report", "--month", "2026-10", "--out", str(out), "--push",
                 "--dry-run")
    assert result.exit_code == 0, result.output
    assert "would create" in result.stdout
    assert "(dry run, nothing written)" in result.stdout
    assert not out.exists()
    assert emu.stats.count("notion.pages.create") == 0
    assert emu.stats.count("notion.blocks.children.append") == 0
    bare = run(config, env, "report", "--month", "2026-10", "--dry-run")
    assert bare.exit_code == 2
    assert "--dry-run" in error_line(bare)


def test_a_push_without_its_token_or_parent_page_is_a_usage_error(
        notion: tuple[Emulator, Path, dict[str, str]]) -> None:
    _emu, config, env = notion
    result = run(config, {}, "report", "--month", "2026-10", "--push")
    assert result.exit_code == 2
    assert "NOTION_TOKEN is not set" in error_line(result)
    text = config.read_text().replace("[report]\nnotion_parent_page", "[report]\n# gone")
    config.write_text(text)
    result = run(config, env, "report", "--month", "2026-10", "--push", "--dry-run")
    assert result.exit_code == 2
    assert "report.notion_parent_page: not set" in error_line(result)


def test_an_integration_without_insert_content_fails_in_one_line_writing_nothing(
        notion: tuple[Emulator, Path, dict[str, str]], tmp_path: Path) -> None:
    emu, config, env = notion
    emu.notion.capabilities = frozenset({"read_content", "update_content"})
    result = run(config, env, "report", "--month", "2026-10", "--out", str(tmp_path / "o"),
                 "--push")
    assert result.exit_code == 1
    line = error_line(result)
    assert 'lacks the "Insert content" capability' in line
    assert "nothing was written" in line
    assert emu.notion.child_pages(emu.notion.root_page_id) == []


def test_a_token_without_data_records_write_fails_in_one_line_writing_nothing(
        airtable: tuple[Emulator, Path, dict[str, str]], tmp_path: Path) -> None:
    emu, config, env = airtable
    base = emu.airtable.sample_base_id
    tables = sorted(t.name for t in emu.airtable.bases[base].tables.values())
    emu.airtable.token_scopes = frozenset({"data.records:read", "schema.bases:read",
                                           "schema.bases:write"})
    result = run(config, env, "report", "--month", "2026-10", "--out", str(tmp_path / "o"),
                 "--push")
    assert result.exit_code == 1
    assert "lacks the data.records:write scope" in error_line(result)
    assert sorted(t.name for t in emu.airtable.bases[base].tables.values()) == tables


def test_rate_limited_past_the_wait_it_accepts_exits_75(
        notion: tuple[Emulator, Path, dict[str, str]], tmp_path: Path) -> None:
    emu, config, env = notion
    emu.faults.add(Fault("storm", route="notion.*", length=50, retry_after=3600))
    result = run(config, env, "report", "--month", "2026-10", "--out", str(tmp_path / "o"),
                 "--push")
    assert result.exit_code == 75
    assert "asked to wait 3600s" in error_line(result)


def test_a_second_push_while_one_runs_exits_75(
        notion: tuple[Emulator, Path, dict[str, str]], tmp_path: Path) -> None:
    _, config, env = notion
    with SyncLock(tmp_path / "leadsync.db", activity="push"):
        result = run(config, env, "report", "--month", "2026-10", "--out",
                     str(tmp_path / "o"), "--push")
    assert result.exit_code == 75
    assert "another leadsync push is running (pid " in error_line(result)


def test_report_push_to_airtable_upserts_rows_once(
        airtable: tuple[Emulator, Path, dict[str, str]], tmp_path: Path) -> None:
    emu, config, env = airtable
    for _ in range(2):
        result = run(config, env, "report", "--month", "2026-10", "--out",
                     str(tmp_path / "o"), "--push")
        assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1].startswith(
        "Airtable: Leadership sync: October 2026: unchanged (https://airtable.com/app")
    base = emu.airtable.sample_base_id
    scores = emu.airtable.get_records(base, "Scores")
    assert len(scores) == 20
    members = set(emu.airtable.member_record_ids.values())
    assert all(set(r["fields"]["Member"]) <= members for r in scores)
    assert len(emu.airtable.get_records(base, "Reports")) == 1


def test_packet_by_name_and_all_open_nominations(
        notion: tuple[Emulator, Path, dict[str, str]], tmp_path: Path) -> None:
    emu, config, env = notion
    out = tmp_path / "packets"
    everyone = run(config, env, "packet", "--all", "--month", "2026-10", "--out", str(out),
                   "--push", "--json")
    assert everyone.exit_code == 0, everyone.output
    answer = json.loads(everyone.stdout)
    assert answer["packets"]
    assert all(p["status"] == "awaiting consensus" for p in answer["packets"])
    for packet in answer["packets"]:
        for path in packet["files"].values():
            assert stat.S_IMODE(Path(path).stat().st_mode) == 0o600
    pages = emu.notion.child_pages(emu.notion.root_page_id)
    assert len(pages) == len(answer["packets"])
    name = answer["packets"][0]["name"]
    again = run(config, env, "packet", name, "--month", "2026-10", "--out", str(out), "--push")
    assert again.exit_code == 0, again.output
    assert "unchanged" in again.stdout.splitlines()[-1]
    assert len(emu.notion.child_pages(emu.notion.root_page_id)) == len(pages)


def test_an_unknown_or_ambiguous_member_lists_the_candidates(
        notion: tuple[Emulator, Path, dict[str, str]]) -> None:
    _, config, env = notion
    with open_store(config.parent / "leadsync.db") as store:
        members = store.frame("members")
    surname = str(members["name"].iloc[0]).split()[-1]
    result = run(config, env, "packet", surname.lower(), "--month", "2026-10")
    assert result.exit_code == 2
    line = error_line(result)
    assert f"no member is named {surname.lower()!r}; did you mean" in line
    assert str(members["name"].iloc[0]) in line
    result = run(config, env, "packet", "Zzyzx Qwerty", "--month", "2026-10")
    assert result.exit_code == 2
    assert "no member is named or has the id 'Zzyzx Qwerty'" in error_line(result)
    result = run(config, env, "packet", "--month", "2026-10")
    assert result.exit_code == 2


def test_packets_go_into_the_airtable_packets_table_once(
        airtable: tuple[Emulator, Path, dict[str, str]], tmp_path: Path) -> None:
    emu, config, env = airtable
    out = tmp_path / "packets"
    args = ("packet", "--all", "--month", "2026-10", "--out", str(out), "--push", "--json")
    plan = run(config, env, *args, "--dry-run")
    assert plan.exit_code == 0, plan.output
    planned = json.loads(plan.stdout)["pushed"]
    assert "Packets" not in {t.name for t in emu.airtable.bases[
        emu.airtable.sample_base_id].tables.values()}
    first = run(config, env, *args)
    assert first.exit_code == 0, first.output
    answer = json.loads(first.stdout)
    assert [(p["rows_created"], p["uploads"], p["requests"]) for p in planned] == [
        (p["rows_created"], p["uploads"], p["requests"]) for p in answer["pushed"]]
    packets = answer["packets"]
    assert packets
    assert [p["action"] for p in answer["pushed"]] == ["created"] * len(packets)
    base = emu.airtable.sample_base_id
    rows = emu.airtable.get_records(base, "Packets")
    assert sorted(r["fields"]["Member ID"] for r in rows) == sorted(
        p["member_id"] for p in packets)
    for row in rows:
        fields = row["fields"]
        assert fields["Month"] == "2026-10"
        assert fields["Status"] == "awaiting consensus"
        (attachment,) = fields["Packet file"]
        assert attachment["filename"] == "packet.html"
        assert fields["Packet"] == f"{fields['Name']} · 2026-10"
    again = run(config, env, *args)
    assert again.exit_code == 0, again.output
    assert [p["action"] for p in json.loads(again.stdout)["pushed"]] == [
        "unchanged"] * len(packets)
    assert [r["id"] for r in emu.airtable.get_records(base, "Packets")] == [r["id"]
                                                                            for r in rows]
