"""Project-lead experiments end to end, Notion and Airtable: the real clients over HTTP.

``leadsync bootstrap`` creates the table in an empty workspace. The emulated
sample organisation holds a ``projects`` table (the lead a
person in Notion and a linked member in Airtable, the sponsor a relation in
Notion and a collaborator in Airtable); ``leadsync sync`` stores it, typed,
with its one malformed row quarantined with the reason; ``leadsync report``
shows the section; ``leadsync packet`` lists a nominee's projects under
operational leadership and counts them in the impact metrics. A config
without the table syncs and reports too, and the report says which table
would fill the section.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from leadsync import open_store
from leadsync.cli import main
from leadsync.emulator import Emulator, Limits, SampleOrg

NOW = dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.UTC)
ORG = SampleOrg.generate(seed=0, members=60, signals=900)


@pytest.fixture(scope="module", params=["notion", "airtable"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def emu(kind: str) -> Iterator[Emulator]:
    with Emulator(seed=0, limits=Limits.unlimited(), sample=ORG,
                  workspaces=(kind,)) as emulator:
        yield emulator


def env(emu: Emulator) -> dict[str, str]:
    return {"NOTION_TOKEN": emu.notion_token, "AIRTABLE_TOKEN": emu.airtable_token}


def write_config(emu: Emulator, kind: str, root: Path, *, without: tuple[str, ...] = ()
                 ) -> Path:
    text = emu.config_toml(kind, store_path=str(root / "leadsync.db"))
    if without:
        # Drop whole [tables.x] sections as a person would.
        kept, skipping = [], False
        for line in text.splitlines():
            if line.startswith("["):
                skipping = line.strip("[] ") in {f"tables.{t}" for t in without}
            if not skipping:
                kept.append(line)
        text = "\n".join(kept) + "\n"
    text += "\n[limits]\nnotion_rps = 1000.0\nairtable_rps = 1000.0\n"
    path = root / "leadsync.toml"
    path.write_text(text, encoding="utf-8")
    return path


def run(config: Path, emu: Emulator, *args: str) -> Any:
    result = CliRunner().invoke(main, ["--config", str(config), *args], env=env(emu),
                                obj={"now": NOW})
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def synced(emu: Emulator, kind: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp(f"projects-{kind}")
    config = write_config(emu, kind, root)
    assert "[tables.projects]" in config.read_text(encoding="utf-8")
    run(config, emu, "sync")
    return config


def member_keys(emu: Emulator, kind: str) -> dict[str, str]:
    """The stored member_id of each sample member -> the sample's member key."""
    if kind == "notion":
        return {uid: key for key, uid in emu.notion.member_user_ids.items()}
    return {rid: key for key, rid in emu.airtable.member_record_ids.items()}


def row_ids(emu: Emulator, kind: str) -> dict[str, str]:
    """The sample's project_id -> its page / record id in the workspace."""
    if kind == "notion":
        return dict(emu.notion.page_for["projects"])
    return dict(emu.airtable.record_for["projects"])


def test_sync_stores_the_projects_typed_with_members_resolved(
        synced: Path, emu: Emulator, kind: str) -> None:
    config = tomllib.loads(synced.read_text(encoding="utf-8"))
    with open_store(config["store"]["path"]) as store:
        frame = store.frame("projects")
        quarantine = store.quarantine("projects")
    assert len(frame) + len(quarantine) == len(ORG.projects)
    assert quarantine["reason"].tolist() == [
        "kind 'Hackathon' is not one of Shadow, Pilot, Improvement"]
    assert isinstance(frame["kind"].dtype, pd.CategoricalDtype)
    assert list(frame["kind"].cat.categories) == ["Shadow", "Pilot", "Improvement"]
    assert list(frame["outcome"].cat.categories) == ["Succeeded", "Partly", "Did not",
                                                     "Ongoing"]
    assert str(frame["started_on"].dtype) == "datetime64[ns, UTC]"
    keys = member_keys(emu, kind)
    by_row = frame.set_index("source_id")
    for record in ORG.projects:
        if record["kind"] == "Hackathon":
            continue
        row = by_row.loc[row_ids(emu, kind)[record["project_id"]]]
        assert keys[row["lead_id"]] == record["lead_id"]
        if record["sponsor_id"] is None:
            assert pd.isna(row["sponsor_id"])
        else:
            assert keys[row["sponsor_id"]] == record["sponsor_id"]
        assert row["name"] == record["name"]
        assert row["kind"] == record["kind"]
        assert row["started_on"] == pd.Timestamp(record["started_on"], tz="UTC")
        assert (pd.isna(row["outcome"]) if record["outcome"] is None
                else row["outcome"] == record["outcome"])
        if kind == "notion":  # the unique id; Airtable's key is the record id
            assert row["project_id"] == record["project_id"]


def test_the_report_shows_the_section(synced: Path, emu: Emulator, kind: str,
                                      tmp_path: Path) -> None:
    run(synced, emu, "report", "--month", "2026-10", "--out", str(tmp_path))
    markdown = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "## Project-lead experiments" in markdown
    assert "](chart-project-leads.png)" in markdown
    assert (tmp_path / "chart-project-leads.png").exists()
    section = markdown.split("## Project-lead experiments", 1)[1].split("\n## ", 1)[0]
    names = {m["member_id"]: m["name"] for m in ORG.members}
    october = [r for r in ORG.projects if r["kind"] != "Hackathon"
               and r["started_on"] <= dt.date(2026, 10, 31)
               and r["ended_on"] >= dt.date(2026, 10, 1)]
    assert october
    for record in october:
        assert names[record["lead_id"]] in section
    assert "pilot has no sponsor" in section
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "Project-lead experiments" in html


def test_a_workspace_without_the_table_syncs_and_reports(
        emu: Emulator, kind: str, tmp_path: Path) -> None:
    config = write_config(emu, kind, tmp_path, without=("projects",))
    assert "[tables.projects]" not in config.read_text(encoding="utf-8")
    run(config, emu, "sync")
    run(config, emu, "report", "--month", "2026-10", "--out", str(tmp_path / "out"))
    markdown = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    section = markdown.split("## Project-lead experiments", 1)[1].split("\n## ", 1)[0]
    assert "No projects table is tracked" in section
    assert "\\[tables.projects\\]" in section  # Markdown-escaped text
    assert not (tmp_path / "out" / "chart-project-leads.png").exists()


# ---------------------------------------------------------------------------
# An empty workspace: bootstrap creates the projects table with the others


def test_bootstrap_creates_the_projects_table_then_sync_and_report_use_it(
        kind: str, tmp_path: Path) -> None:
    with Emulator(seed=4, limits=Limits.unlimited()) as empty:
        config = tmp_path / "leadsync.toml"
        config.write_text(empty.config_toml(kind) + "\n[limits]\nnotion_rps = 1000.0\n"
                          "airtable_rps = 1000.0\n", encoding="utf-8")
        parent = (["--notion", empty.notion.root_page_id] if kind == "notion"
                  else ["--airtable", empty.empty_base()])
        run(config, empty, "bootstrap", *parent, "--sample")
        loaded = tomllib.loads(config.read_text(encoding="utf-8"))
        fields = loaded["tables"]["projects"]["fields"]
        assert fields["kind"] == "Kind"
        assert fields["lead_id"] == "Lead"
        assert fields["sponsor_id"] == "Sponsor"
        run(config, empty, "sync")
        with open_store(tmp_path / "leadsync.db") as store:
            members = store.frame("members")
            projects = store.frame("projects")
            reasons = " ".join(store.quarantine("projects")["reason"])
        assert len(projects) > 0
        assert projects["lead_id"].isin(members["member_id"]).all()
        assert "matches no member" not in reasons
        out = tmp_path / "report"
        run(config, empty, "report", "--month", "2026-10", "--out", str(out))
        markdown = (out / "report.md").read_text(encoding="utf-8")
        section = markdown.split("## Project-lead experiments", 1)[1].split("\n## ", 1)[0]
        assert "No projects table is tracked" not in section


def test_a_nominees_packet_lists_the_projects_they_led(
        synced: Path, emu: Emulator, kind: str, tmp_path: Path) -> None:
    config = tomllib.loads(synced.read_text(encoding="utf-8"))
    with open_store(config["store"]["path"]) as store:
        projects = store.frame("projects")
    keys = member_keys(emu, kind)
    led = projects[projects["started_on"] <= pd.Timestamp("2026-10-31T23:59Z")]
    lead_id = str(led["lead_id"].value_counts().index[0])  # whoever led most
    run(synced, emu, "packet", lead_id, "--month", "2026-10", "--out", str(tmp_path))
    written = sorted(tmp_path.rglob("*.md"))
    assert written
    markdown = written[0].read_text(encoding="utf-8")
    heading = "## Leadership evidence: operational leadership"
    operational = markdown.split(heading, 1)[1].split("\n## ", 1)[0]
    assert "Project-lead experiments the nominee led" in operational
    mine = [r for r in ORG.projects if r["lead_id"] == keys[lead_id]
            and r["kind"] != "Hackathon" and r["started_on"] <= dt.date(2026, 10, 31)]
    assert mine
    for record in mine:
        assert record["name"] in operational
    impact = markdown.split("## Impact metrics", 1)[1].split("\n## ", 1)[0]
    assert "Project-lead experiments led (shadow / pilot / improvement)" in impact
    counts = [sum(1 for r in mine if r["kind"] == k) for k in ("Shadow", "Pilot", "Improvement")]
    assert " / ".join(str(c) for c in counts) in impact
