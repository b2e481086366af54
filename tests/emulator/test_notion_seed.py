"""The sample organisation in the emulated Notion workspace, read back over HTTP."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from notion_client import Client, collect_paginated_api

from leadsync.emulator import LAYOUT, Emulator, FrozenClock, Limits, SampleOrg
from leadsync.tables import TABLES

NOW = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(seed=0, limits=Limits.unlimited(), clock=FrozenClock(NOW), sample=True,
                  workspaces=("notion",)) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def pulled(emu: Emulator) -> dict[str, list[dict[str, Any]]]:
    """Every sample table, pulled through notion-client."""
    notion = Client(auth=emu.notion_token, base_url=emu.url, logger=logging.getLogger("t"))
    out = {}
    for table, db_id in emu.notion.sample_ids.items():
        database = notion.databases.retrieve(database_id=db_id)
        (source,) = database["data_sources"]
        assert source["id"] == emu.notion.data_source_ids[table]
        out[table] = collect_paginated_api(notion.data_sources.query,
                                           data_source_id=source["id"])
    return out


def by_key(emu: Emulator, rows: list[dict[str, Any]], table: str) -> dict[str, dict[str, Any]]:
    page_to_key = {page: key for key, page in emu.notion.page_for[table].items()}
    return {page_to_key[r["id"]]: r["properties"] for r in rows}


def test_every_table_has_one_page_per_record(emu: Emulator,
                                             pulled: dict[str, list[dict[str, Any]]]) -> None:
    org: SampleOrg = emu.sample
    assert set(pulled) == {t.table for t in LAYOUT}
    for table, rows in pulled.items():
        records = org.table(table)
        assert len(rows) == len(records), table
        assert set(emu.notion.page_for[table]) == {str(r[TABLES[table].key]) for r in records}
        assert {r["id"] for r in rows} == set(emu.notion.page_for[table].values())


def test_schema_follows_the_layout(emu: Emulator) -> None:
    notion = Client(auth=emu.notion_token, base_url=emu.url, logger=logging.getLogger("t"))
    for table in LAYOUT:
        schema = notion.data_sources.retrieve(
            data_source_id=emu.notion.data_source_ids[table.table])
        assert schema["title"][0]["plain_text"] == table.notion_title
        expected = [(f.name, f.notion) for f in table.for_service("notion")]
        assert [(name, p["type"]) for name, p in schema["properties"].items()] == expected
    members = emu.notion.data_source_ids["members"]
    mentor = notion.data_sources.retrieve(data_source_id=members)["properties"]["Mentor"]
    assert mentor["relation"]["data_source_id"] == members  # a self-relation


def test_member_references_resolve(emu: Emulator,
                                   pulled: dict[str, list[dict[str, Any]]]) -> None:
    org: SampleOrg = emu.sample
    users, pages = emu.notion.member_user_ids, emu.notion.member_page_ids
    names = {m["member_id"]: m["name"] for m in org.members}
    signals = by_key(emu, pulled["signals"], "signals")
    for record in org.signals:
        props = signals[record["signal_id"]]
        people = [p["id"] for p in props["Team Member"]["people"]]
        assert people == ([users[record["member_id"]]] if record["member_id"] else [])
        observers = [p["id"] for p in props["Observed by"]["people"]]
        assert observers == ([users[record["observed_by"]]] if record["observed_by"] else [])
        assert props["Signal ID"]["unique_id"] == {
            "prefix": "SIG", "number": int(record["signal_id"].split("-")[1])}
    members = by_key(emu, pulled["members"], "members")
    for record in org.members:
        props = members[record["member_id"]]
        assert props["Person"]["people"][0]["id"] == users[record["member_id"]]
        assert props["Person"]["people"][0]["person"]["email"] == record["email"]
        mentor = [r["id"] for r in props["Mentor"]["relation"]]
        assert mentor == ([pages[record["mentor_id"]]] if record["mentor_id"] else [])
    rotations = by_key(emu, pulled["rotations"], "rotations")
    for record in org.rotations:
        lead = rotations[record["rotation_id"]]["Lead"]["rich_text"]
        assert lead[0]["plain_text"] == names[record["lead_id"]]
    checkins = by_key(emu, pulled["checkins"], "checkins")
    for record in org.checkins:
        assert checkins[record["checkin_id"]]["Mentee"]["relation"] == [
            {"id": pages[record["mentee_id"]]}]
    reviews = by_key(emu, pulled["reviews"], "reviews")
    for record in org.reviews:
        approvers = [p["id"] for p in reviews[record["review_id"]]["Approvers"]["people"]]
        assert approvers == [users[k] for k in record["approvers"]]


def test_values_use_labels_dates_and_empties(emu: Emulator,
                                             pulled: dict[str, list[dict[str, Any]]]) -> None:
    org: SampleOrg = emu.sample
    members = by_key(emu, pulled["members"], "members")
    for record in org.members:
        props = members[record["member_id"]]
        stage = props["Stage"]["status"]
        assert (stage["name"] if stage else None) == {
            None: None, "early_leadership": "Early leadership",
            "emerging_leader": "Emerging leader",
            "established_leader": "Established leader"}[record["stage"]]
        track = props["Track"]["select"]
        assert (track["name"] if track else None) == (
            "Technical leadership" if record["track"] else None)
        assert props["Leader"]["checkbox"] is record["is_leader"]
        assert props["Time zone"]["select"]["name"] == record["timezone"]
    signals = by_key(emu, pulled["signals"], "signals")
    with_offset = [s for s in org.signals if isinstance(s["date"], dt.datetime)]
    assert with_offset
    for record in org.signals:
        date = signals[record["signal_id"]]["Date"]["date"]
        if record["date"] is None:
            assert date is None
        elif isinstance(record["date"], dt.datetime):
            with_ms = record["date"].isoformat(timespec="milliseconds")  # Notion's format
            assert date["start"] == with_ms
            assert dt.datetime.fromisoformat(date["start"]) == record["date"]
        else:
            assert date["start"] == record["date"].isoformat()
        impact = signals[record["signal_id"]]["Impact"]["select"]["name"]
        assert impact == record["impact"]  # also the malformed "Huge"/"Critical"
        points = signals[record["signal_id"]]["Impact points"]["formula"]
        assert points == {"type": "number",
                          "number": {"High": 9, "Medium": 3}.get(record["impact"], 1)}
        evidence = signals[record["signal_id"]]["Evidence"]["url"]
        assert evidence == record["evidence"]


def test_milestone_rollup_shows_the_members_time_zone(
        emu: Emulator, pulled: dict[str, list[dict[str, Any]]]) -> None:
    org: SampleOrg = emu.sample
    zones = {m["member_id"]: m["timezone"] for m in org.members}
    milestones = by_key(emu, pulled["milestones"], "milestones")
    for record in org.milestones:
        rollup = milestones[record["milestone_id"]]["Member time zone"]["rollup"]
        assert rollup["type"] == "array"
        assert [item["select"]["name"] for item in rollup["array"]] == [
            zones[record["member_id"]]]


def test_rows_were_created_over_the_past_year_in_record_order(
        emu: Emulator, pulled: dict[str, list[dict[str, Any]]]) -> None:
    for table, rows in pulled.items():
        order = {page: n for n, page in enumerate(emu.notion.page_for[table].values())}
        stamps = [r["created_time"] for r in sorted(rows, key=lambda r: order[r["id"]])]
        assert stamps == sorted(stamps), table
        first = dt.datetime.fromisoformat(stamps[0])
        last = dt.datetime.fromisoformat(stamps[-1])
        assert NOW - dt.timedelta(days=366) <= first < last < NOW
        assert all(r["last_edited_time"] == r["created_time"] for r in rows)


def test_seeding_a_larger_org_keeps_ids_and_counts() -> None:
    org = SampleOrg.generate(seed=1, members=12, signals=5_000)
    with Emulator(seed=1, limits=Limits.unlimited(), clock=FrozenClock(NOW)) as emu:
        emu.seed_sample(org, ("notion",))
        signals = emu.notion.ws.data_sources[emu.notion.data_source_ids["signals"]]
        assert len(signals.page_ids) == 5_000
        assert emu.notion.page_for["signals"]["SIG-5000"] == signals.page_ids[-1]
        assert len(emu.notion.member_user_ids) == 12
