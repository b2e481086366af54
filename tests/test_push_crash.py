"""A push killed with SIGKILL anywhere, then run again, leaves exactly one complete page
(Notion) or one set of rows (Airtable).

Each case runs the real command, ``leadsync report --push``, in a child process
against the emulator served by this process, with ``LEADSYNC_CRASH_AT`` naming
the checkpoint where it kills itself (:mod:`leadsync.store_hooks`), checks it
died there, runs the command again to the end, and compares the workspace with
the month's report: one page whose blocks are the report's blocks, the ones the
store records, in order; one Reports row and one Scores row per member. Between
the killed push and the next, the page still holds at least a whole version
(never emptied) and no row is doubled.
Between cases a signal is added upstream and synced, so every push has
something to change (blocks to insert and delete, rows to update).
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from leadsync.reports.compose import document_of
from leadsync.reports.job import read_report
from leadsync.reports.writers.airtable_rows import score_rows
from leadsync.reports.writers.notion_blocks import document_blocks

from leadsync.config import load_config
from leadsync.emulator import Emulator, Limits, SampleOrg
from leadsync.store import open_store
from leadsync.store_hooks import CHECKPOINTS
from leadsync.sync import run_sync

MEMBERS = 12

#: Each case runs two child processes that build the month's report (about 20 s a
#: case on a loaded machine): the ones marked soak run with ``-m soak`` (CI runs them).
SOAK = pytest.mark.soak
NOTION_POINTS = [
    pytest.param("push-creating:notion", marks=SOAK), "push-page-created:notion",
    pytest.param("push-appended:notion#1", marks=SOAK), "push-appended:notion#2",
    "push-layout-saved:notion", "push-deleted:notion#1",
    pytest.param("push-done:notion", marks=SOAK),
]
AIRTABLE_POINTS = [
    pytest.param("push-rows:airtable#1", marks=SOAK), "push-uploaded:airtable#1",
    "push-rows:airtable#2", pytest.param("push-done:airtable", marks=SOAK),
]


def _name(point: Any) -> str:
    return str(point.values[0] if hasattr(point, "values") else point)


def test_the_kill_points_are_checkpoints() -> None:
    names = {_name(p).split(":")[0] for p in NOTION_POINTS + AIRTABLE_POINTS}
    assert names <= set(CHECKPOINTS)
    assert len(NOTION_POINTS) + len(AIRTABLE_POINTS) >= 10


class Workspace:
    """The emulated sample, a config and a synced store in ``root``."""

    def __init__(self, emu: Emulator, kind: str, root: Path):
        self.emu = emu
        self.kind = kind
        self.root = root
        self.config_path = root / "leadsync.toml"
        self.config_path.write_text(
            emu.config_toml(kind, store_path="leadsync.db")
            + "\n[limits]\nnotion_rps = 1000.0\nairtable_rps = 1000.0\n", encoding="utf-8")
        token = emu.notion_token if kind == "notion" else emu.airtable_token
        self.env = {"NOTION_TOKEN" if kind == "notion" else "AIRTABLE_TOKEN": token}
        self.added = 0
        self.sync()

    def sync(self) -> None:
        run_sync(load_config(self.config_path), env=self.env, progress=False)

    def a_signal_arrives(self) -> None:
        """One more High signal in October for a member, synced into the store."""
        self.added += 1
        org: SampleOrg = self.emu.sample
        member = org.members[self.added % len(org.members)]["member_id"]
        day = dt.date(2026, 10, 20)
        if self.kind == "notion":
            notion = self.emu.notion
            notion.create_data_source_rows(notion.data_source_ids["signals"], [{
                "Summary": f"Crash-test signal {self.added}",
                "Team Member": [notion.member_user_ids[member]], "Signal Type": "Technical",
                "Indicator": "Proposes architectural improvements", "Impact": "High",
                "Date": day}])
        else:
            airtable = self.emu.airtable
            airtable.insert_records(airtable.sample_base_id,
                                    airtable.sample_table_ids["signals"], [{
                                        "Summary": f"Crash-test signal {self.added}",
                                        "Team Member": [airtable.member_record_ids[member]],
                                        "Signal Type": "Technical",
                                        "Indicator": "Proposes architectural improvements",
                                        "Impact": "High", "Date": f"{day}T00:00:00.000Z"}])
        self.sync()

    def push(self, crash_at: str | None = None) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, **self.env}
        env.pop("LEADSYNC_CRASH_AT", None)
        if crash_at:
            env["LEADSYNC_CRASH_AT"] = crash_at
        return subprocess.run(
            [sys.executable, "-m", "leadsync", "--config", str(self.config_path), "report",
             "--month", "2026-10", "--out", str(self.root / "out"), "--push"],
            cwd=self.root, env=env, capture_output=True, text=True, timeout=240)

    def expected(self) -> Any:
        return read_report(load_config(self.config_path), month=pd.Period("2026-10"),
                           now=None)


@pytest.fixture(scope="module")
def notion(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    org = SampleOrg.generate(seed=2, members=MEMBERS)
    with Emulator(seed=2, limits=Limits.unlimited(), sample=org,
                  workspaces=("notion",)) as emu:
        yield Workspace(emu, "notion", tmp_path_factory.mktemp("notion-push"))


@pytest.fixture(scope="module")
def airtable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    org = SampleOrg.generate(seed=2, members=MEMBERS)
    with Emulator(seed=2, limits=Limits.unlimited(), sample=org,
                  workspaces=("airtable",)) as emu:
        yield Workspace(emu, "airtable", tmp_path_factory.mktemp("airtable-push"))


def killed(ws: Workspace, point: str) -> None:
    child = ws.push(point)
    assert child.returncode == -signal.SIGKILL, (
        f"the push did not die at {point} (exit {child.returncode}):\n{child.stderr}")


def content_blocks(ws: Workspace) -> list[dict[str, Any]]:
    """The top-level blocks of the one page under the parent (none when there is none)."""
    notion = ws.emu.notion
    pages = notion.child_pages(notion.root_page_id)
    assert len(pages) <= 1
    return notion.block_tree(pages[0]["id"]) if pages else []


def check_no_duplicate_rows(ws: Workspace, point: str) -> None:
    """Between the killed push and the next, at most one row per key."""
    airtable = ws.emu.airtable
    base = airtable.sample_base_id
    months = [r["fields"].get("Month") for r in airtable.get_records(base, "Reports")]
    assert len(months) == len(set(months)) <= 1, point
    keys = [(r["fields"].get("Month"), r["fields"].get("Member ID"))
            for r in airtable.get_records(base, "Scores")]
    assert len(keys) == len(set(keys)) <= MEMBERS, point


def finished(ws: Workspace) -> None:
    child = ws.push()
    assert child.returncode == 0, child.stderr


def check_one_complete_page(ws: Workspace, point: str) -> None:
    notion = ws.emu.notion
    pages = notion.child_pages(notion.root_page_id)
    assert len(pages) == 1, point
    tree = notion.block_tree(pages[0]["id"])
    blocks = document_blocks(ws.expected().document)
    assert [b["type"] for b in tree] == [b.type for b in blocks], point
    for have, want in zip(tree, blocks, strict=True):
        assert len(have.get("children", [])) == len(want.children), point
        if want.type in ("paragraph", "heading_2", "callout", "bulleted_list_item"):
            text = "".join(i["plain_text"] for i in have[have["type"]]["rich_text"])
            assert text == want.text, point
    with open_store(ws.root / "leadsync.db") as store:
        (entry,) = store.push_entries()
    assert entry.status == "done", point
    assert [b["id"] for b in tree] == [i for i, _ in entry.state["blocks"]], point


def check_one_set_of_rows(ws: Workspace, point: str) -> None:
    airtable = ws.emu.airtable
    base = airtable.sample_base_id
    reports = airtable.get_records(base, "Reports")
    assert [r["fields"]["Month"] for r in reports] == ["2026-10"], point
    report = ws.expected()
    charts = document_of(report).charts
    assert len(reports[0]["fields"]["Charts"]) == len(charts) > 0, point
    assert len(reports[0]["fields"]["Report"]) == 1, point
    assert reports[0]["fields"]["Signals in month"] == report.headline["signals_in_month"]
    scores = airtable.get_records(base, "Scores")
    keys = [(r["fields"]["Month"], r["fields"]["Member ID"]) for r in scores]
    assert len(keys) == len(set(keys)) == MEMBERS, point
    want = {row["Member ID"]: row["Score"] for row in score_rows(report)}
    assert {r["fields"]["Member ID"]: r["fields"].get("Score") for r in scores} == want, point


@pytest.mark.parametrize("point", NOTION_POINTS)
def test_a_notion_push_killed_anywhere_ends_with_one_complete_page(
        notion: Workspace, point: str) -> None:
    pages = notion.emu.notion.child_pages(notion.emu.notion.root_page_id)
    if point.startswith(("push-creating", "push-page-created")):
        for page in pages:  # a person deleted it: this push creates a page
            notion.emu.notion.trash_page(page["id"])
    elif not pages:  # the other points are those of a push that changes a page
        finished(notion)
    before = len(content_blocks(notion))
    notion.a_signal_arrives()
    killed(notion, point)
    # A reader between the two pushes sees a page with a whole version on it at least
    # (new blocks go in before old ones go out), never an emptied one.
    if before:
        assert len(content_blocks(notion)) >= min(
            before, len(document_blocks(notion.expected().document))), point
    finished(notion)
    check_one_complete_page(notion, point)


@pytest.mark.parametrize("point", AIRTABLE_POINTS)
def test_an_airtable_push_killed_anywhere_ends_with_one_set_of_rows(
        airtable: Workspace, point: str) -> None:
    airtable.a_signal_arrives()
    killed(airtable, point)
    check_no_duplicate_rows(airtable, point)
    finished(airtable)
    check_one_set_of_rows(airtable, point)
