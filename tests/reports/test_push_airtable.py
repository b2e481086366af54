"""The month's report pushed as Airtable rows, against the emulator: one set of rows, in place."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from leadsync.reports import render_html
from leadsync.reports.document import Column, format_value
from leadsync.reports.writers.push import push_report
from push_helpers import (
    base_report,
    changed_report,
    frames_of,
    html_sections,
    renamed,
    report_of,
)

from leadsync.config import Config, parse_config
from leadsync.emulator import Emulator, Limits
from leadsync.errors import ReportWriteError
from leadsync.store import Store

HOSTILE = '<script>alert(1)</script>'
FORMULA = '=HYPERLINK("x")'


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(seed=5, limits=Limits.unlimited()) as emulator:
        yield emulator


@pytest.fixture
def base(emu: Emulator) -> str:
    """A base holding the members table (so scores link to members)."""
    base_id = emu.airtable.create_base("Leadership")
    table = emu.airtable.create_table(base_id, "Members", [{"name": "Name",
                                                            "type": "singleLineText"}])
    members = frames_of()["members"]
    records = emu.airtable.insert_records(base_id, table, [{"Name": str(n)}
                                                           for n in members["name"]])
    emu.member_records = dict(zip(members["member_id"].astype(str), records,  # type: ignore[attr-defined]
                                  strict=True))
    emu.members_table = table  # type: ignore[attr-defined]
    return base_id


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "leadsync.db", create=True, writable=True) as opened:
        yield opened


def config_for(emu: Emulator, base: str) -> Config:
    return parse_config({
        "workspace": {"kind": "airtable", "airtable_endpoint_url": emu.url},
        "tables": {"signals": {"airtable_base": base, "airtable_table": "Signals"},
                   "members": {"airtable_base": base,
                               "airtable_table": emu.members_table}},  # type: ignore[attr-defined]
        "limits": {"airtable_rps": 1000.0},
    })


def push(emu: Emulator, base: str, store: Store | None, report: Any = None,
         **options: Any) -> Any:
    report = report or base_report()
    (outcome,) = push_report(report, config_for(emu, base), document=report.document,
                             store=store, env={"AIRTABLE_TOKEN": emu.airtable_token},
                             member_records=emu.member_records,  # type: ignore[attr-defined]
                             **options)
    return outcome


def rows(emu: Emulator, base: str, table: str) -> list[dict[str, Any]]:
    return emu.airtable.get_records(base, table)


def writes(emu: Emulator) -> int:
    return sum(emu.stats.count(r) for r in (
        "airtable.records.create", "airtable.records.update", "airtable.records.delete",
        "airtable.attachments.upload", "airtable.meta.tables.create",
        "airtable.meta.fields.create"))


def test_pushing_twice_leaves_one_set_of_rows_and_the_second_costs_at_most_two_requests(
        emu: Emulator, base: str, store: Store) -> None:
    first = push(emu, base, store)
    assert first.action == "created"
    assert first.rows_created == 21
    assert first.uploads == 7  # the HTML report and six charts
    before, written = emu.stats.total("airtable"), writes(emu)
    second = push(emu, base, store)
    assert second.action == "unchanged"
    assert emu.stats.total("airtable") - before <= 2
    assert writes(emu) == written
    (report_row,) = rows(emu, base, "Reports")
    assert report_row["fields"]["Month"] == "2026-10"
    assert report_row["fields"]["Members"] == 20
    assert [a["filename"] for a in report_row["fields"]["Report"]] == ["report.html"]
    assert len(report_row["fields"]["Charts"]) == 6
    scores = rows(emu, base, "Scores")
    assert len(scores) == 20
    assert len({(r["fields"]["Month"], r["fields"]["Member ID"]) for r in scores}) == 20
    member = scores[0]["fields"]
    assert member["Member"] == [emu.member_records[member["Member ID"]]]  # type: ignore[attr-defined]


def test_the_rows_say_what_the_local_render_says(emu: Emulator, base: str,
                                                store: Store) -> None:
    report = base_report()
    push(emu, base, store, report)
    local = html_sections(render_html(report))
    (figures, *_) = local["At a glance"]["tables"]
    shown = dict(figures[1:])
    (row,) = rows(emu, base, "Reports")
    fields = row["fields"]
    assert f"{fields['Members']:,}" == shown["Members"]
    assert f"{fields['Signals, last 12 months']:,}" == shown["Signals, last 12 months"]
    assert f"{fields['Median score']:.1f}" == shown["Median score"]
    assert f"{fields['Signals with evidence'] * 100:.0f}%" == shown["Signals with evidence"]
    assert fields["Notes"].splitlines() == local[""]["paragraphs"][1:]
    table = local["Leadership scores"]["tables"][0]
    header = table[0]
    html_rows = {r[0]: dict(zip(header, r, strict=True)) for r in table[1:]}
    for record in rows(emu, base, "Scores"):
        cell = record["fields"]
        html = html_rows[cell["Name"]]
        assert format_value(cell.get("Score"), Column("s", "s", "number")) == html["Score"]
        assert format_value(cell.get("Change, 1 month"), Column("c", "c", "change")) == \
            html["Change, 1 month"]
        assert format_value(cell.get("Change, 3 months"), Column("c", "c", "change")) == \
            html["Change, 3 months"]
        assert format_value(cell.get("Signals", 0), Column("n", "n", "int")) == html["Signals"]
        assert format_value(cell.get("With evidence"), Column("p", "p", "percent")) == \
            html["With evidence"]
        assert format_value(cell.get("Breadth"), Column("b", "b", "number", digits=2)) == \
            html["Breadth"]


def test_a_changed_month_updates_the_same_rows_and_leaves_none_of_the_old(
        emu: Emulator, base: str, store: Store) -> None:
    push(emu, base, store)
    before = {r["fields"]["Member ID"]: r["id"] for r in rows(emu, base, "Scores")}
    (old_report,) = rows(emu, base, "Reports")
    changed = changed_report()
    second = push(emu, base, store, changed)
    assert second.action == "updated"
    assert second.rows_created == 0
    assert second.rows_updated == 21
    after = {r["fields"]["Member ID"]: r for r in rows(emu, base, "Scores")}
    assert {m: r["id"] for m, r in after.items()} == before  # the same rows
    for member in changed.scores.itertuples():
        assert after[member.member_id]["fields"]["Score"] == round(member.score, 1)
    (new_report,) = rows(emu, base, "Reports")
    assert new_report["id"] == old_report["id"]
    assert new_report["fields"]["Signals in month"] == \
        old_report["fields"]["Signals in month"] + 1
    # only the files whose bytes changed were uploaded; the old ones are gone
    assert 0 < second.uploads < 7
    old_ids = {a["id"] for a in old_report["fields"]["Charts"] + old_report["fields"]["Report"]}
    new_ids = {a["id"] for a in new_report["fields"]["Charts"] + new_report["fields"]["Report"]}
    assert len(new_ids) == 7
    assert len(old_ids - new_ids) == second.uploads
    assert push(emu, base, store, changed).action == "unchanged"


def test_rows_of_members_who_left_are_deleted_and_a_persons_row_survives(
        emu: Emulator, base: str, store: Store) -> None:
    push(emu, base, store)
    scores_table = next(t for t in emu.airtable.bases[base].tables.values()
                        if t.name == "Scores").id
    (mine,) = emu.airtable.insert_records(base, scores_table, [
        {"Entry": "Guest reviewer · 2026-10", "Month": "2026-10", "Member ID": "guest-1",
         "Name": "Guest reviewer", "Score": 50.0}])
    frames = frames_of()
    gone = str(frames["members"]["member_id"].iloc[-1])
    smaller = {**frames, "members": frames["members"].iloc[:-1]}
    smaller["signals"] = frames["signals"][frames["signals"]["member_id"] != gone]
    outcome = push(emu, base, store, report_of(smaller))
    assert outcome.rows_deleted == 1
    members = {r["fields"]["Member ID"] for r in rows(emu, base, "Scores")}
    assert gone not in members
    assert "guest-1" in members
    assert mine in {r["id"] for r in rows(emu, base, "Scores")}
    assert len(members) == 20


def test_a_reports_row_a_person_deleted_is_written_anew(emu: Emulator, base: str,
                                                       store: Store) -> None:
    push(emu, base, store)
    (row,) = rows(emu, base, "Reports")
    reports_table = next(t for t in emu.airtable.bases[base].tables.values()
                         if t.name == "Reports").id
    emu.airtable.delete_records(base, reports_table, [row["id"]])
    again = push(emu, base, store)
    assert again.action == "updated"
    (fresh,) = rows(emu, base, "Reports")
    assert len(fresh["fields"]["Charts"]) == 6
    assert len(rows(emu, base, "Scores")) == 20


def test_names_go_in_as_values_never_formulas_or_markup(emu: Emulator, base: str,
                                                       store: Store) -> None:
    report = report_of(renamed(frames_of(), {0: HOSTILE, 1: FORMULA}))
    push(emu, base, store, report)
    names = {r["fields"]["Name"]: r["fields"] for r in rows(emu, base, "Scores")}
    assert names[HOSTILE]["Entry"] == f"{HOSTILE} · 2026-10"
    assert names[FORMULA]["Entry"] == f"{FORMULA} · 2026-10"
    scores = next(t for t in emu.airtable.bases[base].tables.values() if t.name == "Scores")
    assert {f.name: f.type for f in scores.fields}["Name"] == "singleLineText"


def test_a_token_without_write_scopes_is_told_which_and_writes_nothing(
        emu: Emulator, base: str, store: Store) -> None:
    emu.airtable.token_scopes = frozenset({"data.records:read", "schema.bases:read",
                                           "data.records:write"})
    with pytest.raises(ReportWriteError, match=r"lacks the schema\.bases:write scope"):
        push(emu, base, store)
    emu.airtable.token_scopes = frozenset({"data.records:read", "schema.bases:read",
                                           "schema.bases:write"})
    with pytest.raises(ReportWriteError, match=r"lacks the data\.records:write scope"):
        push(emu, base, store)
    assert writes(emu) == 0
    assert [t.name for t in emu.airtable.bases[base].tables.values()] == ["Members"]
    assert store.push_entries() == []


def test_a_token_whose_scopes_are_not_listed_is_refused_at_its_first_write_in_one_line(
        emu: Emulator, base: str, store: Store) -> None:
    """whoami without scopes: the first refused write names the scope, nothing is left
    half-written (no table, no row; on a second push, the rows of the last one intact)."""
    emu.airtable.whoami_lists_scopes = False
    emu.airtable.token_scopes = frozenset({"data.records:read", "schema.bases:read"})
    with pytest.raises(ReportWriteError, match=r"lacks the schema\.bases:write scope") as err:
        push(emu, base, store)
    assert "\n" not in str(err.value)
    assert "nothing was written" in str(err.value)
    assert [t.name for t in emu.airtable.bases[base].tables.values()] == ["Members"]
    assert store.push_entries() == []
    emu.airtable.token_scopes = frozenset({"data.records:read", "data.records:write",
                                           "schema.bases:read", "schema.bases:write"})
    push(emu, base, store)
    before = {t: rows(emu, base, t) for t in ("Reports", "Scores")}
    emu.airtable.token_scopes = frozenset({"data.records:read", "schema.bases:read",
                                           "schema.bases:write"})
    with pytest.raises(ReportWriteError, match=r"lacks the data\.records:write scope"):
        push(emu, base, store, changed_report())
    assert {t: rows(emu, base, t) for t in ("Reports", "Scores")} == before
    emu.airtable.token_scopes = frozenset({"data.records:read", "data.records:write",
                                           "schema.bases:read", "schema.bases:write"})
    assert push(emu, base, store, changed_report()).action == "updated"
    assert len(rows(emu, base, "Scores")) == 20


def test_a_dry_run_writes_nothing(emu: Emulator, base: str, store: Store) -> None:
    plan = push(emu, base, store, dry_run=True)
    assert (plan.action, plan.rows_created, plan.uploads) == ("created", 21, 7)
    assert writes(emu) == 0
    assert store.push_entries() == []
    done = push(emu, base, store)
    # the requests a plan announces are the ones the push then sends
    assert (plan.requests, plan.rows_created, plan.uploads) == (
        done.requests, done.rows_created, done.uploads)
    plan = push(emu, base, store, changed_report(), dry_run=True)
    assert (plan.action, plan.rows_created, plan.rows_updated) == ("updated", 0, 21)
    done = push(emu, base, store, changed_report())
    assert (plan.requests, plan.rows_updated, plan.uploads) == (
        done.requests, done.rows_updated, done.uploads)
