"""A table whose records carry only creation times is not re-read every night.

The sample's Airtable Rotation table has no last-modified field on purpose:
its records only say when they were created, so a cursor taken from record
times would stop at the newest creation and every record edited since would
come back each night. The connector's watermark (the server's time when the
listing began) lets the cursor move on without missing an edit.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from leadsync.config import parse_config
from leadsync.emulator import Emulator, FrozenClock, Limits, SampleOrg
from leadsync.store import open_store
from leadsync.sync import SyncSummary, run_sync

TABLES = ("members", "rotations")


def _table(summary: SyncSummary, name: str) -> dict[str, int]:
    return next(vars(t) for t in summary.tables if t.table == name)


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Emulator, FrozenClock, object, dict[str, str]]:
    clock = FrozenClock("2026-11-20T03:00:00Z")
    org = SampleOrg.generate(seed=12, members=10, signals=30)
    emu = Emulator(seed=12, limits=Limits.unlimited(), clock=clock, sample=org,
                   workspaces=("airtable",)).start()
    text = emu.config_toml("airtable", store_path="leadsync.db")
    data = tomllib.loads(text)
    (tmp_path / "leadsync.toml").write_text(text)
    config = parse_config(data, str(tmp_path / "leadsync.toml"))
    yield emu, clock, config, {"AIRTABLE_TOKEN": emu.airtable_token}
    emu.stop()


def test_quiet_nights_read_nothing_and_edits_still_arrive(setup: tuple) -> None:
    emu, clock, config, env = setup
    assert "Last modified" not in {f["name"] for f in emu.airtable.table(
        emu.airtable.sample_base_id, emu.airtable.sample_table_ids["rotations"]).schema()["fields"]}
    clock.advance(3600)  # the first sync runs an hour after the records were created
    first = run_sync(config, env=env, tables=TABLES)
    assert _table(first, "rotations")["added"] == 26

    clock.advance(3600)
    quiet = run_sync(config, env=env, tables=TABLES)
    rotations = _table(quiet, "rotations")
    assert rotations["added"] + rotations["updated"] + rotations["unchanged"] == 0
    assert rotations["requests"] == 1

    base, table = emu.airtable.sample_base_id, emu.airtable.sample_table_ids["rotations"]
    record = emu.airtable.record_for["rotations"]["ROT-3"]
    emu.airtable.edit_record(base, table, record, {"Sprint": "Sprint 3 (extended)"})
    clock.advance(60)
    after_edit = run_sync(config, env=env, tables=TABLES)
    assert _table(after_edit, "rotations")["updated"] == 1
    with open_store(Path(config.source).parent / "leadsync.db") as store:
        sprints = store.frame("rotations").set_index("source_id")["sprint"]
    assert sprints[record] == "Sprint 3 (extended)"


def test_notion_bulk_import_is_not_read_again_each_night(tmp_path: Path) -> None:
    clock = FrozenClock("2026-11-20T03:00:00Z")
    org = SampleOrg.generate(seed=13, members=8, signals=20)
    with Emulator(seed=13, limits=Limits.unlimited(), clock=clock, sample=org,
                  workspaces=("notion",)) as emu:
        notion = emu.notion
        user = next(iter(notion.member_user_ids.values()))
        # a bulk import: 150 signals stamped in the same minute, never edited since
        notion.create_data_source_rows(notion.data_source_ids["signals"], [
            {"Summary": f"Imported {n}", "Team Member": [user], "Signal Type": "Technical",
             "Impact": "Low", "Date": org.as_of} for n in range(150)])
        text = emu.config_toml("notion", store_path="leadsync.db")
        (tmp_path / "leadsync.toml").write_text(text)
        config = parse_config(tomllib.loads(text), str(tmp_path / "leadsync.toml"))
        env = {"NOTION_TOKEN": emu.notion_token}
        tables = ("members", "signals")

        clock.advance(3600)
        run_sync(config, env=env, tables=tables)
        clock.advance(86_400)
        quiet = _table(run_sync(config, env=env, tables=tables), "signals")
        assert quiet["added"] + quiet["updated"] + quiet["unchanged"] == 0

        page = notion.page_for["signals"][org.signals[0]["signal_id"]]
        notion.edit_page(page, {"Impact": "High"})
        clock.advance(30)
        edited = _table(run_sync(config, env=env, tables=tables), "signals")
        assert edited["updated"] == 1


def test_an_edit_seconds_after_the_pull_is_found_with_no_overlap(tmp_path: Path) -> None:
    """Notion rounds edit times down to the minute: an edit 20 s after a pull's
    answer shows a time before that answer's ``Date``. With ``overlap_seconds =
    0`` only the watermark's own flooring keeps the next pull from missing it."""
    clock = FrozenClock("2026-11-20T03:00:10Z")
    org = SampleOrg.generate(seed=14, members=6, signals=12)
    with Emulator(seed=14, limits=Limits.unlimited(), clock=clock, sample=org,
                  workspaces=("notion",)) as emu:
        data = tomllib.loads(emu.config_toml("notion", store_path="leadsync.db"))
        data.setdefault("sync", {})["overlap_seconds"] = 0
        config = parse_config(data, str(tmp_path / "leadsync.toml"))
        env = {"NOTION_TOKEN": emu.notion_token}
        tables = ("members", "signals")

        run_sync(config, env=env, tables=tables)
        clock.advance(20)
        page = emu.notion.page_for["signals"][org.signals[0]["signal_id"]]
        emu.notion.edit_page(page, {"Impact": "High"})
        shown = {p["id"]: p for p in emu.notion.pages(emu.notion.data_source_ids["signals"])}
        assert shown[page]["last_edited_time"] == "2026-11-20T03:00:00.000Z"
        clock.advance(3600)
        assert _table(run_sync(config, env=env, tables=tables), "signals")["updated"] == 1


def test_the_watermark_is_floored_to_the_minute_less_a_margin() -> None:
    from leadsync.connectors.base import ServerClock

    clock = ServerClock()
    with clock.watch() as seen:
        clock.note("Fri, 20 Nov 2026 03:00:10 GMT")
        clock.note("Fri, 20 Nov 2026 03:04:59 GMT")
        clock.note("not a date")
        clock.note(None)
    clock.note("Fri, 20 Nov 2026 02:00:00 GMT")  # after the block: not seen
    assert len(seen) == 2
    assert ServerClock.watermark(seen).isoformat() == "2026-11-20T02:59:00+00:00"
    assert ServerClock.watermark([]) is None


def test_an_edit_during_a_pull_to_a_row_already_read_arrives_next_night(tmp_path: Path) -> None:
    """A row read early in a pull and edited while the pull goes on is not in
    this pull's answers with its edit; a row edited later still is. The cursor
    must not move past the pull's start (the watermark) to that later edit
    time, or the next night's query starts after the first edit and misses it."""
    from leadsync.sources import open_source

    clock = FrozenClock("2026-11-20T03:00:00Z")
    org = SampleOrg.generate(seed=15, members=6, signals=250)
    with Emulator(seed=15, limits=Limits.unlimited(), clock=clock, sample=org,
                  workspaces=("notion",)) as emu:
        notion = emu.notion
        config = parse_config(tomllib.loads(emu.config_toml("notion", store_path="leadsync.db")),
                              str(tmp_path / "leadsync.toml"))
        env = {"NOTION_TOKEN": emu.notion_token}
        tables = ("members", "signals")
        pages = [p["id"] for p in notion.pages(notion.data_source_ids["signals"])]
        first, last = pages[0], pages[-1]  # the pull reads in creation order
        edited: list[str] = []

        def editing(config: object, table: str, **kwargs: object) -> object:
            source = open_source(config, table, **kwargs)  # type: ignore[arg-type]
            if table != "signals":
                return source
            fetch = source.fetch

            def fetch_and_edit(cursor: object = None) -> object:
                for n, record in enumerate(fetch(cursor)):  # type: ignore[arg-type]
                    yield record
                    if n == 0:  # the first row is in the store's hands: edit it upstream
                        clock.advance(60)
                        notion.edit_page(first, {"Summary": "edited while the pull ran"})
                        clock.advance(300)  # and, minutes later, a row not read yet
                        notion.edit_page(last, {"Summary": "edited later, then read"})
                        edited.extend([first, last])

            source.fetch = fetch_and_edit  # type: ignore[method-assign]
            return source

        clock.advance(3600)
        run_sync(config, env=env, tables=tables, sources=editing)  # type: ignore[arg-type]
        assert edited == [first, last]
        with open_store(tmp_path / "leadsync.db") as store:
            notes = store.frame("signals").set_index("source_id")["notes"]
        assert notes[first] != "edited while the pull ran"  # read before its edit
        assert notes[last] == "edited later, then read"
        clock.advance(86_400)
        run_sync(config, env=env, tables=tables)
        with open_store(tmp_path / "leadsync.db") as store:
            notes = store.frame("signals").set_index("source_id")["notes"]
        assert notes[first] == "edited while the pull ran"
        assert notes[last] == "edited later, then read"
