"""``leadsync bootstrap`` against empty emulated workspaces: bootstrap, sync, report, end to end.

The acceptance of the issue: with an empty workspace, ``bootstrap`` → ``sync``
→ ``report`` works for Notion and for Airtable, and a second ``bootstrap``
creates nothing (no database, table, property, page or row more) and writes
the same config.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from leadsync import open_store
from leadsync.blueprint import BLUEPRINT, blueprint
from leadsync.bootstrap import MARKER
from leadsync.cli import main
from leadsync.config import load_config
from leadsync.emulator import Emulator, Limits
from leadsync.layout import LAYOUT
from leadsync.tables import TABLES

NOW = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(params=["notion", "airtable"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(seed=4, limits=Limits.unlimited()) as emulator:
        yield emulator


def env(emu: Emulator) -> dict[str, str]:
    return {"NOTION_TOKEN": emu.notion_token, "AIRTABLE_TOKEN": emu.airtable_token}


def parent(emu: Emulator, kind: str) -> list[str]:
    if kind == "notion":
        return ["--notion", emu.notion.root_page_id]
    return ["--airtable", emu.empty_base()]


def empty_config(emu: Emulator, kind: str, tmp_path: Path) -> Path:
    """What ``leadsync emulator serve --empty --write-config`` writes, unpaced."""
    path = tmp_path / "leadsync.toml"
    path.write_text(emu.config_toml(kind) + "\n[limits]\nnotion_rps = 1000.0\n"
                    "airtable_rps = 1000.0\n")
    return path


def invoke(emu: Emulator, config: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--config", str(config), *args], env=env(emu),
                              obj={"now": NOW})


def census(emu: Emulator, kind: str) -> dict[str, Any]:
    """Everything a bootstrap could have created, counted."""
    with emu.lock:
        if kind == "notion":
            ws = emu.notion.ws
            return {"databases": len(ws.databases), "pages": len(ws.pages),
                    "properties": sorted((ds.id, name) for ds in ws.data_sources.values()
                                         for name in ds.properties)}
        base = emu.airtable.bases[emu.empty_base()]
        return {"tables": sorted(t.name for t in base.tables.values()),
                "fields": sorted((t.name, f.name) for t in base.tables.values()
                                 for f in t.fields),
                "records": sum(len(t.records) for t in base.tables.values())}


def test_bootstrap_sync_report_end_to_end_and_a_second_bootstrap_creates_nothing(
        emu: Emulator, kind: str, tmp_path: Path) -> None:
    config = empty_config(emu, kind, tmp_path)
    first = invoke(emu, config, "bootstrap", *parent(emu, kind), "--sample")
    assert first.exit_code == 0, first.output + first.stderr
    assert "wrote" in first.output.splitlines()[-1]
    written = config.read_text()
    loaded = load_config(config)
    assert list(loaded.tables) == [p.table for p in BLUEPRINT]
    assert loaded.tables["signals"].fields["impact"] == "Impact"
    assert loaded.tables["signals"].fields["member_id"] == "Team Member"
    if kind == "notion":
        assert loaded.report.notion_parent_page
    else:
        assert loaded.report.airtable_base == emu.empty_base()
    before = census(emu, kind)

    second = invoke(emu, config, "bootstrap", *parent(emu, kind), "--sample")
    assert second.exit_code == 0, second.output + second.stderr
    assert census(emu, kind) == before
    assert not [line for line in second.output.splitlines() if line.startswith("created")]
    assert "found members, signals" in second.output.splitlines()[-1]
    assert config.read_text() == written

    synced = invoke(emu, config, "sync")
    assert synced.exit_code == 0, synced.stderr
    with open_store(tmp_path / "leadsync.db") as store:
        members = store.frame("members")
        signals = store.frame("signals")
        assert len(members) == 12
        assert signals["member_id"].isin(members["member_id"]).all()
        assert set(signals["impact"].dropna()) <= {"Low", "Medium", "High"}
        reasons = " ".join(store.quarantine("signals")["reason"])
        assert "matches no member" not in reasons  # every relation points at a member
        assert len(store.frame("checkins")) > 0
        assert store.frame("checkins")["mentor_id"].notna().any()
        assert store.frame("members")["mentor_id"].notna().any()  # the self-relation
        assert len(store.frame("reviews")) > 0

    out = tmp_path / "report"
    report = invoke(emu, config, "report", "--month", "2026-10", "--out", str(out))
    assert report.exit_code == 0, report.stderr
    html = (out / "report.html").read_text()
    assert members["name"].iloc[0] in html


def test_bootstrap_fills_only_empty_tables_and_adds_missing_properties(
        emu: Emulator, tmp_path: Path) -> None:
    config = empty_config(emu, "notion", tmp_path)
    assert invoke(emu, config, "bootstrap", *parent(emu, "notion")).exit_code == 0
    ws = emu.notion.ws
    signals = next(ds for ds in ws.data_sources.values()
                   if ds.title[0]["plain_text"] == "Leadership Signals")
    with emu.lock:  # someone deletes a property in the UI
        signals.remove_property(signals.properties["Evidence"])
    again = invoke(emu, config, "bootstrap", *parent(emu, "notion"), "--sample")
    assert again.exit_code == 0, again.stderr
    assert "added Evidence" in again.output
    assert "Evidence" in signals.properties
    assert len(signals.page_ids) > 0  # the tables were empty: sample rows went in


def test_a_config_bootstrap_did_not_write_is_left_alone_without_force(
        emu: Emulator, tmp_path: Path) -> None:
    config = tmp_path / "leadsync.toml"
    text = ('[workspace]\nkind = "notion"\n\n[tables.signals]\nnotion_database = "'
            + "1" * 32 + '"\n\n[tables.members]\nnotion_database = "' + "2" * 32 + '"\n')
    config.write_text(text)
    refused = invoke(emu, config, "bootstrap", "--notion", emu.notion.root_page_id)
    assert refused.exit_code == 2
    assert "pass --force" in refused.stderr
    assert config.read_text() == text
    assert len(emu.notion.ws.databases) == 0  # nothing was created either


def test_bootstrap_keeps_the_other_sections_and_comments(emu: Emulator, tmp_path: Path) -> None:
    config = empty_config(emu, "airtable", tmp_path)
    config.write_text(config.read_text() + "\n[scoring]\nhalf_life_days = 60  # ours\n")
    assert invoke(emu, config, "bootstrap", *parent(emu, "airtable")).exit_code == 0
    text = config.read_text()
    assert "half_life_days = 60  # ours" in text
    assert MARKER in text
    assert load_config(config).scoring.half_life_days == 60


@pytest.mark.parametrize(("args", "code", "words"), [
    ([], 2, "give one of --notion PAGE or --airtable BASE"),
    (["--notion", "x", "--airtable", "y"], 2, "give one of"),
    (["--airtable", "not-a-base"], 2, "is not an Airtable base id"),
    (["--notion", "0" * 32], 1, "share it with the integration"),
])
def test_bad_parents_are_one_line(emu: Emulator, tmp_path: Path, args: list[str], code: int,
                                  words: str) -> None:
    config = empty_config(emu, "notion", tmp_path)
    result = invoke(emu, config, "bootstrap", *args)
    assert result.exit_code == code, result.output
    assert words in result.stderr
    assert "Traceback" not in result.stderr


def test_without_the_token_bootstrap_says_which_variable(emu: Emulator, tmp_path: Path) -> None:
    config = empty_config(emu, "airtable", tmp_path)
    result = CliRunner().invoke(main, ["--config", str(config), "bootstrap",
                                       *parent(emu, "airtable")], env={"AIRTABLE_TOKEN": ""})
    assert result.exit_code == 2
    assert "AIRTABLE_TOKEN is not set" in result.stderr


def test_the_blueprint_is_the_layout_with_member_references_as_relations() -> None:
    assert [p.table for p in BLUEPRINT] == sorted((item.table for item in LAYOUT),
                                                  key=lambda t: t != "members")
    for plan in BLUEPRINT:
        members = set(TABLES[plan.table].member_columns)
        for f in plan.fields:
            if f.column in members:
                assert (f.notion, f.airtable, f.target) == (
                    "relation", "multipleRecordLinks", "members"), (plan.table, f.name)
            assert f.notion != "status"  # selects: the API creates status options of its own
        assert "member_id" not in plan.mapping("notion") or plan.table != "members"
    signals = next(p for p in BLUEPRINT if p.table == "signals")
    by_name = {f.name: f for f in signals.fields}
    assert by_name["Signal Type"].options == ("Technical", "Operational", "Communication")
    assert by_name["Impact"].options == ("Low", "Medium", "High")
    reviews = next(p for p in BLUEPRINT if p.table == "reviews")
    assert {"Technical Excellence", "Leadership Behaviors", "Business Impact",
            "Cultural Contribution", "Growth Trajectory"} <= {f.name for f in reviews.fields}
    # data-driven: a layout entry is a table to create, with nothing else to change
    assert blueprint(LAYOUT[:2]) == BLUEPRINT[:2]


def test_the_other_service_from_the_same_served_config(emu: Emulator, tmp_path: Path) -> None:
    """`serve --empty --write-config` prints `(or --airtable app…)`: that works from its file."""
    config = empty_config(emu, "notion", tmp_path)
    result = invoke(emu, config, "bootstrap", "--airtable", emu.empty_base())
    assert result.exit_code == 0, result.output + result.stderr
    loaded = load_config(config)
    assert loaded.workspace.kind == "airtable"
    assert loaded.workspace.airtable_endpoint_url == emu.url
    assert census(emu, "airtable")["tables"]


def test_without_a_config_the_url_serve_prints_is_used_and_written(
        emu: Emulator, kind: str, tmp_path: Path) -> None:
    config = tmp_path / "leadsync.toml"
    variable = "NOTION_BASE_URL" if kind == "notion" else "AIRTABLE_ENDPOINT_URL"
    result = CliRunner().invoke(main, ["--config", str(config), "bootstrap", *parent(emu, kind)],
                                env={**env(emu), variable: emu.url}, obj={"now": NOW})
    assert result.exit_code == 0, result.output + result.stderr
    workspace = load_config(config).workspace
    assert workspace.kind == kind
    url = workspace.notion_base_url if kind == "notion" else workspace.airtable_endpoint_url
    assert url == emu.url  # the nightly sync, without the variable, goes to the same place
    checked = CliRunner().invoke(main, ["--config", str(config), "check"], env=env(emu),
                                 obj={"now": NOW})
    assert checked.exit_code == 0, checked.output + checked.stderr
