"""The month's report pushed as a Notion page, against the emulator: one page, kept in place."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from leadsync.connectors.notion import parse_notion_id
from leadsync.reports import render_html
from leadsync.reports.writers.notion_blocks import SKIPPED, document_blocks
from leadsync.reports.writers.push import push_report
from push_helpers import (
    base_report,
    changed_report,
    flat,
    frames_of,
    html_sections,
    notion_config,
    page_sections,
    renamed,
    report_of,
    with_signal,
)

from leadsync.emulator import Emulator, Fault, Limits
from leadsync.errors import ReportWriteError
from leadsync.store import Store

HOSTILE = '<script>alert(1)</script>'
FORMULA = '=HYPERLINK("x")'


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(seed=3, limits=Limits.unlimited()) as emulator:
        yield emulator


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "leadsync.db", create=True, writable=True) as opened:
        yield opened


def push(emu: Emulator, store: Store | None, report: Any = None, **options: Any) -> Any:
    report = report or base_report()
    (outcome,) = push_report(report, notion_config(emu), document=report.document,
                             store=store, env={"NOTION_TOKEN": emu.notion_token}, **options)
    return outcome


def live_pages(emu: Emulator) -> list[dict[str, Any]]:
    return emu.notion.child_pages(emu.notion.root_page_id)


def page_id(outcome: Any) -> str:
    return str(parse_notion_id(outcome.url))


def writes(emu: Emulator) -> int:
    stats = emu.stats
    return sum(stats.count(route) for route in (
        "notion.pages.create", "notion.pages.update", "notion.blocks.children.append",
        "notion.blocks.delete", "notion.file_uploads.*"))


def test_pushing_twice_leaves_one_page_and_the_second_costs_at_most_two_requests(
        emu: Emulator, store: Store) -> None:
    first = push(emu, store)
    assert first.action == "created"
    assert first.pages_created == 1
    assert first.uploads == 6  # six charts
    before = emu.stats.total("notion")
    written = writes(emu)
    second = push(emu, store)
    assert second.action == "unchanged"
    assert emu.stats.total("notion") - before <= 2
    assert second.requests <= 2
    assert writes(emu) == written  # nothing written
    pages = live_pages(emu)
    assert len(pages) == 1
    assert pages[0]["properties"]["title"]["title"][0]["plain_text"] == \
        "Leadership sync: October 2026"
    assert store.push_entry("notion", "report", "2026-10", emu.notion.root_page_id).status \
        == "done"


def test_the_page_says_what_the_local_render_says(emu: Emulator, store: Store) -> None:
    report = base_report()
    outcome = push(emu, store, report)
    page = page_sections(emu.notion.block_tree(page_id(outcome)))
    local = html_sections(render_html(report))
    skipped = {s.title for s in report.document.sections if s.key in SKIPPED}
    assert set(page) == set(local) - skipped
    assert local[""]["paragraphs"][0].startswith(page[""]["paragraphs"][0])  # subtitle
    assert page[""]["paragraphs"][1:] == local[""]["paragraphs"][1:]  # the lead
    for title, section in local.items():
        if title in skipped or title == "":
            continue
        pushed = page[title]
        assert pushed["paragraphs"] == section["paragraphs"], title
        assert len(pushed["images"]) == len(section["images"]), title
        for alt, caption in zip(section["images"], pushed["images"], strict=True):
            assert alt in caption
        if title == "Evidence behind each score":
            (table,) = section["tables"]
            for row in table[1:]:
                bullet = next(b for b in pushed["bullets"] if b.startswith(row[0] + ":"))
                assert " · ".join(row[1:]) in bullet
            assert len(pushed["bullets"]) == len({row[0] for row in table[1:]})
        else:
            assert pushed["tables"] == section["tables"], title
            assert pushed["bullets"] == section["bullets"], title


def test_a_changed_month_updates_the_same_page_and_leaves_no_old_block(
        emu: Emulator, store: Store) -> None:
    first = push(emu, store)
    changed = changed_report()
    second = push(emu, store, changed)
    assert second.action == "updated"
    assert page_id(second) == page_id(first)
    assert second.pages_created == 0
    assert 0 < second.blocks_deleted < 40  # only what changed was replaced
    assert second.blocks_kept > 20
    assert len(live_pages(emu)) == 1
    tree = emu.notion.block_tree(page_id(second))
    pushed = page_sections(tree)
    local = html_sections(render_html(changed))
    for title in ("At a glance", "Leadership scores", "Talent matrix (9-box)"):
        assert pushed[title]["tables"] == local[title]["tables"]
    entry = store.push_entry("notion", "report", "2026-10", emu.notion.root_page_id)
    assert entry is not None
    assert [b["id"] for b in tree] == [block_id for block_id, _ in entry.state["blocks"]]
    # every block left on the page is one the record knows: no block of the old version
    trashed = [b for b in emu.notion.block_tree(page_id(second), include_trashed=True)
               if b["in_trash"]]
    assert len(trashed) == second.blocks_deleted
    third = push(emu, store, changed)
    assert third.action == "unchanged"


def test_a_block_a_person_added_survives_a_changed_push(emu: Emulator, store: Store) -> None:
    first = push(emu, store)
    person = emu.notion.add_person("Ana Lima", "ana@example.org")
    tree = emu.notion.block_tree(page_id(first))
    scores_heading = next(b for b in tree if b["type"] == "heading_2"
                          and "Leadership scores" in b["heading_2"]["rich_text"][0]["plain_text"])
    (note,) = emu.notion.add_blocks_as(person, page_id(first), [
        {"type": "paragraph", "paragraph": {"rich_text": [
            {"type": "text", "text": {"content": "Discuss Oskar's growth in the sync."}}]}}],
        after=scores_heading["id"])
    (tail,) = emu.notion.add_blocks_as(person, page_id(first), [
        {"type": "to_do", "to_do": {"rich_text": [
            {"type": "text", "text": {"content": "Follow up"}}]}}])
    member = str(base_report().scores["member_id"].iloc[0])
    second = push(emu, store, report_of(with_signal(frames_of(), member)))
    assert second.action == "updated"
    ids = [b["id"] for b in emu.notion.block_tree(page_id(second))]
    assert note in ids
    assert tail in ids
    assert ids[ids.index(note) - 1] == scores_heading["id"]  # still where the person put it
    assert push(emu, store, report_of(with_signal(frames_of(), member))).action == "unchanged"


def test_a_page_a_person_deleted_is_created_anew(emu: Emulator, store: Store) -> None:
    first = push(emu, store)
    emu.notion.trash_page(page_id(first))
    second = push(emu, store)
    assert second.action == "created"
    assert page_id(second) != page_id(first)
    assert [p["id"] for p in live_pages(emu)] == [page_id(second)]
    assert second.notes == ["the page was deleted in Notion; created anew"]


def test_workspace_text_goes_in_as_plain_text(emu: Emulator, store: Store) -> None:
    report = report_of(renamed(frames_of(), {0: HOSTILE, 1: FORMULA, 2: "[x](http://e.vil)"}))
    outcome = push(emu, store, report)
    tree = emu.notion.block_tree(page_id(outcome))
    table = next(b for b in tree if b["type"] == "table"
                 and b["children"][0]["table_row"]["cells"][0][0]["plain_text"] == "Name")
    cells = {row["table_row"]["cells"][0][0]["plain_text"]: row["table_row"]["cells"][0]
             for row in table["children"][1:]}
    for name in (HOSTILE, FORMULA, "[x](http://e.vil)"):
        (item,) = cells[name]
        assert item["type"] == "text"
        assert item["text"] == {"content": name, "link": None}
        assert item["href"] is None
    everything = str(tree)
    assert "'mention'" not in everything
    assert "'equation'" not in everything


def test_a_push_killed_anywhere_ends_with_one_complete_page(emu: Emulator,
                                                           store: Store) -> None:
    changed = changed_report()
    points = ["push-creating", "push-page-created", "push-appended", "push-appended",
              "push-layout-saved", "push-deleted", "push-done", "push-creating"]
    page: str | None = None
    for n, point in enumerate(points):
        class Killed(Exception):
            pass

        def crash(name: str, table: str | None = None, point: str = point) -> None:
            if name == point:
                raise Killed(point)

        if point in ("push-creating", "push-page-created") and page is not None:
            emu.notion.trash_page(page)  # so that this push creates a page
        report = changed if n % 2 else base_report()
        with pytest.raises(Killed):
            push(emu, store, report, checkpoint=crash)
        again = push(emu, store, report)
        page = page_id(again)
        assert len(live_pages(emu)) == 1, point
        tree = emu.notion.block_tree(page_id(again))
        entry = store.push_entry("notion", "report", "2026-10", emu.notion.root_page_id)
        assert entry is not None
        assert entry.status == "done"
        assert [b["id"] for b in tree] == [i for i, _ in entry.state["blocks"]], point
        local = html_sections(render_html(report))
        assert page_sections(tree)["Leadership scores"]["tables"] == \
            local["Leadership scores"]["tables"], point


def test_an_append_whose_answer_was_lost_is_not_left_twice(emu: Emulator,
                                                          store: Store) -> None:
    emu.faults.add(Fault("error", route="notion.blocks.children.append", status=503,
                         phase="after", limit=1))
    outcome = push(emu, store)
    tree = emu.notion.block_tree(page_id(outcome))
    assert len(tree) == len(document_blocks(base_report().document))  # none twice
    entry = store.push_entry("notion", "report", "2026-10", emu.notion.root_page_id)
    assert entry is not None
    assert [b["id"] for b in tree] == [i for i, _ in entry.state["blocks"]]
    headings = [flat(b["heading_2"]["rich_text"][0]["plain_text"]) for b in tree
                if b["type"] == "heading_2"]
    assert len(headings) == len(set(headings))


def test_a_dry_run_writes_nothing_and_says_what_it_would_do(emu: Emulator,
                                                           store: Store) -> None:
    plan = push(emu, store, dry_run=True)
    assert plan.action == "created"
    assert plan.dry_run
    assert plan.blocks_added > 100
    assert writes(emu) == 0
    assert live_pages(emu) == []
    assert store.push_entries() == []
    made = push(emu, store)
    assert (made.blocks_added, made.requests) == (plan.blocks_added, plan.requests)
    changed = changed_report()
    before = writes(emu)
    plan = push(emu, store, changed, dry_run=True)
    assert plan.action == "updated"
    assert writes(emu) == before
    done = push(emu, store, changed)
    assert (plan.blocks_added, plan.blocks_deleted, plan.blocks_kept, plan.requests) == \
        (done.blocks_added, done.blocks_deleted, done.blocks_kept, done.requests)


def test_an_integration_that_may_not_insert_is_told_which_capability_and_writes_nothing(
        emu: Emulator, store: Store) -> None:
    emu.notion.capabilities = frozenset({"read_content", "update_content"})
    with pytest.raises(ReportWriteError, match='lacks the "Insert content" capability'):
        push(emu, store)
    assert live_pages(emu) == []
    emu.notion.capabilities = frozenset({"read_content", "update_content", "insert_content"})
    first = push(emu, store)
    tree = emu.notion.block_tree(page_id(first))
    emu.notion.capabilities = frozenset({"read_content", "insert_content"})
    with pytest.raises(ReportWriteError, match='lacks the "Update content" capability'):
        push(emu, store, changed_report())
    after = emu.notion.block_tree(page_id(first))
    assert [(b["id"], b["last_edited_time"], b.get("children")) for b in after] == \
        [(b["id"], b["last_edited_time"], b.get("children")) for b in tree]  # not half written
