"""End to end against the emulator: the real notion-client over real HTTP on loopback.

Rate limits and Retry-After are scaled down (``fractional_retry_after``) so the
suite stays fast; one test keeps Notion's real 10,000-result cap.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator, Mapping
from typing import Any

import pandas as pd
import pytest
from leadsync.connectors.base import Record, RetryPolicy, records_to_frame
from leadsync.connectors.notion import (
    NotionAPI,
    NotionSource,
    NotionWriter,
    open_data_source,
    read_notion,
    read_notion_config,
)

from leadsync.config import parse_config
from leadsync.emulator import Emulator, Fault, FrozenClock, Limits, SampleOrg
from leadsync.errors import ConnectorError, SchemaError
from leadsync.tables import IMPACT_LEVELS, SIGNAL_TYPES, MemberRef
from tests.conftest import frozen_pacing

UTC = dt.UTC
SIGNALS = 2500


def make_api(emu: Emulator, rps: float = 1000.0, *, frozen: bool = False,
             **policy: Any) -> NotionAPI:
    """A client of ``emu``; ``frozen``: its waits move the emulator's frozen clock (exact
    pacing against the emulator's limits, no real sleeping)."""
    retry = RetryPolicy(**{"backoff_initial": 0.01, "backoff_max": 0.1, "max_attempts": 10,
                           **policy})
    limiters = None
    if frozen:
        assert isinstance(emu.clock, FrozenClock)
        limiters = frozen_pacing(emu.clock)
    return NotionAPI(emu.notion_token, base_url=emu.url, rps=rps, policy=retry,
                     limiters=limiters)


def plain(values: Mapping[str, Any]) -> dict[str, Any]:
    """Record values with member references as their keys (user or page ids)."""
    return {k: v.key if isinstance(v, MemberRef) else v for k, v in values.items()}


def expected_signal(record: Mapping[str, Any], users: Mapping[str, str]) -> dict[str, Any]:
    """A seeded signal as the connector should decode it (members are their Notion users)."""
    return {
        "notes": record["notes"],
        "signal_id": record["signal_id"],
        "member_id": users[record["member_id"]] if record["member_id"] else None,
        "signal_type": record["signal_type"],
        "indicator": record["indicator"],
        "evidence": record["evidence"],
        "date": record["date"],
        "impact": record["impact"],
        "observed_by": users[record["observed_by"]] if record["observed_by"] else None,
    }


def utc_timestamp(value: dt.date | dt.datetime) -> pd.Timestamp:
    """How a canonical frame holds a date: aware UTC, a date-only value at midnight."""
    if isinstance(value, dt.datetime):
        return pd.Timestamp(value).tz_convert("UTC")
    return pd.Timestamp(value.year, value.month, value.day, tz="UTC")


def malformed(record: Mapping[str, Any]) -> bool:
    evidence = record["evidence"]
    return (record["impact"] not in IMPACT_LEVELS or record["signal_type"] not in SIGNAL_TYPES
            or record["date"] is None or record["member_id"] is None
            or (evidence is not None and not evidence.startswith("https://")))


@pytest.fixture(scope="module")
def org() -> SampleOrg:
    return SampleOrg.generate(7, members=60, signals=SIGNALS)


@pytest.fixture(scope="module")
def seeded(org: SampleOrg) -> Iterator[Emulator]:
    """The sample org in Notion, unlimited, shared by the read-only tests."""
    with Emulator(seed=7, limits=Limits.unlimited(), sample=org,
                  workspaces=("notion",)) as emu:
        yield emu


def pull(emu: Emulator, table: str, api: NotionAPI | None = None,
         **kwargs: Any) -> tuple[NotionSource, list[Record]]:
    source = NotionSource(api or make_api(emu), emu.notion.sample_ids[table], table,
                          progress=False, **kwargs)
    return source, list(source.fetch())


# ---------------------------------------------------------------------------
# Full pull


def test_a_full_pull_equals_the_seeded_rows(seeded: Emulator, org: SampleOrg) -> None:
    svc = seeded.notion
    source, records = pull(seeded, "signals")
    assert source.stats.rate_limited == 0
    by_page = {r.source_id: r for r in records}
    assert len(records) == len(by_page) == SIGNALS
    assert set(by_page) == set(svc.page_for["signals"].values())
    for record in org.signals:
        pulled = by_page[svc.page_for["signals"][record["signal_id"]]]
        assert pulled.problem is None
        assert plain(pulled.values) == expected_signal(record, svc.member_user_ids), \
            record["signal_id"]

    # and as a canonical frame: every good row exact, every malformed one quarantined
    _, member_records = pull(seeded, "members")
    members = records_to_frame("members", member_records)
    assert members.ok
    frame = records_to_frame("signals", records, members=members.frame)
    bad = {svc.page_for["signals"][r["signal_id"]] for r in org.signals if malformed(r)}
    assert set(frame.quarantine["source_id"]) == bad
    assert len(frame.frame) == SIGNALS - len(bad)
    rows = frame.frame.set_index("source_id")
    for record in org.signals:
        page_id = svc.page_for["signals"][record["signal_id"]]
        if page_id in bad:
            continue
        row = rows.loc[page_id]
        want = expected_signal(record, svc.member_user_ids)
        assert row["member_id"] == want["member_id"]
        assert row["date"] == utc_timestamp(want["date"])
        assert row["impact"] == want["impact"]
        assert (pd.isna(row["observed_by"]) if want["observed_by"] is None
                else row["observed_by"] == want["observed_by"])
    assert str(frame.frame["date"].dtype) == "datetime64[ns, UTC]"
    assert isinstance(frame.frame["impact"].dtype, pd.CategoricalDtype)


def test_every_sample_table_maps_and_member_references_resolve(seeded: Emulator,
                                                               org: SampleOrg) -> None:
    svc = seeded.notion
    _, member_records = pull(seeded, "members")
    members = records_to_frame("members", member_records).frame
    key_of = {uid: key for key, uid in svc.member_user_ids.items()}
    for table, column, ref_kind in (("milestones", "member_id", "relation"),
                                    ("checkins", "mentor_id", "person"),
                                    ("rotations", "lead_id", "text"),
                                    ("reviews", "approvers", "person")):
        _, records = pull(seeded, table)
        assert len(records) == len(org.table(table)), table
        kinds = {ref.kind for r in records for ref in (
            [r.values[column]] if isinstance(r.values[column], MemberRef | None)
            else r.values[column]) if ref is not None}
        assert kinds == {ref_kind}, table
        result = records_to_frame(table, records, members=members)
        assert result.ok, result.quarantine["reason"].tolist()
        expected = {svc.page_for[table][str(rec[result.frame.columns[0]])]: rec[column]
                    for rec in org.table(table)}
        for source_id, value in zip(result.frame["source_id"], result.frame[column],
                                    strict=True):
            got = tuple(key_of[v] for v in value) if isinstance(value, tuple) else (
                None if pd.isna(value) else key_of[str(value)])
            want = expected[source_id]
            assert got == (tuple(want) if isinstance(want, list) else want), (table, source_id)


# ---------------------------------------------------------------------------
# Incremental pulls in the cursor's own minute


def test_edits_in_the_cursors_minute_are_neither_missed_nor_duplicated() -> None:
    clock = FrozenClock("2026-11-01T09:00:05Z")
    org = SampleOrg.generate(3, members=12, signals=300)
    with Emulator(seed=3, limits=Limits.unlimited(), clock=clock, sample=org,
                  workspaces=("notion",)) as emu:
        svc = emu.notion
        page_of = svc.page_for["signals"]
        source = NotionSource(make_api(emu), svc.sample_ids["signals"], "signals",
                              progress=False)
        store = {r.source_id: r for r in source.fetch()}
        cursor = source.cursor(None).advanced(store.values())

        def sync() -> list[Record]:
            nonlocal cursor
            got = list(source.fetch(cursor))
            store.update((r.source_id, r) for r in got)
            cursor = cursor.advanced(got)
            return got

        svc.edit_page(page_of["SIG-5"], {"Impact": "High"})  # 09:00:05, shown as 09:00
        first = sync()
        assert page_of["SIG-5"] in {r.source_id for r in first}
        assert cursor.since == dt.datetime(2026, 11, 1, 9, 0, tzinfo=UTC)

        # later in the same minute: the edit shows the cursor's own (rounded) time
        clock.advance(40)
        svc.edit_page(page_of["SIG-9"], {"Impact": "Low", "Summary": "edited at 09:00:45"})
        [new] = svc.create_data_source_rows(svc.data_source_ids["signals"], [{
            "Summary": "created at 09:00:45", "Team Member": [svc.member_user_ids["m001"]],
            "Signal Type": "Technical", "Date": dt.date(2026, 11, 1), "Impact": "Medium"}])
        second = sync()
        ids = [r.source_id for r in second]
        assert len(ids) == len(set(ids))  # de-duplicated within the pull
        assert {page_of["SIG-9"], new} <= set(ids)  # nothing missed
        assert page_of["SIG-5"] in ids  # the overlap re-reads the minute; the store dedups

        clock.advance(60)
        assert {r.source_id for r in sync()} <= {page_of["SIG-5"], page_of["SIG-9"], new}

        # the store built incrementally is exactly a fresh full pull
        full = {r.source_id: r for r in source.fetch()}
        assert set(store) == set(full)
        assert all(store[i].values == full[i].values for i in full)
        assert store[page_of["SIG-9"]].values["notes"] == "edited at 09:00:45"
        assert store[page_of["SIG-5"]].values["impact"] == "High"


# ---------------------------------------------------------------------------
# The 10,000-result cap


def cap_emulator(rows: int, cap: int, per_minute: int) -> tuple[Emulator, list[str]]:
    emu = Emulator(seed=11, limits=Limits(notion_rps=None, notion_query_cap=cap),
                   clock=FrozenClock("2026-11-01T09:00:00Z"),
                   sample=SampleOrg.generate(11, members=5, signals=0), workspaces=("notion",))
    svc = emu.notion
    user = next(iter(svc.member_user_ids.values()))
    start = dt.datetime(2026, 1, 1, tzinfo=UTC)
    times = [start + dt.timedelta(minutes=n // per_minute,
                                  seconds=(n % per_minute) * 59 / per_minute)
             for n in range(rows)]
    ids = svc.create_data_source_rows(svc.data_source_ids["signals"], (
        {"Summary": f"row {n}", "Team Member": [user], "Signal Type": "Technical",
         "Date": dt.date(2026, 1, 1), "Impact": "Low"} for n in range(rows)), created_time=times)
    return emu.start(), ids


@pytest.mark.slow
@pytest.mark.soak  # the real 10,000 cap; test_a_scaled_cap_is_passed_several_times runs always
def test_12000_rows_are_pulled_completely_past_the_real_cap() -> None:
    emu, ids = cap_emulator(12_000, cap=10_000, per_minute=7)
    with emu:
        source = NotionSource(make_api(emu), emu.notion.sample_ids["signals"], "signals",
                              progress=False)
        pulled = [r.source_id for r in source.fetch()]
        assert len(pulled) == len(set(pulled)) == 12_000
        assert set(pulled) == set(ids)
        assert emu.stats.count("notion.data_sources.query") > 120  # two windows at least
        assert source.list_ids() == set(ids)


def test_a_scaled_cap_is_passed_several_times() -> None:
    emu, ids = cap_emulator(1_200, cap=250, per_minute=30)
    with emu:
        source = NotionSource(make_api(emu), emu.notion.sample_ids["signals"], "signals",
                              progress=False)
        pulled = [r.source_id for r in source.fetch()]
        assert sorted(pulled) == sorted(ids)
        assert source.list_ids() == set(ids)


def test_more_rows_in_one_minute_than_the_cap_fail_loudly() -> None:
    emu, _ = cap_emulator(300, cap=250, per_minute=300)
    with emu:
        source = NotionSource(make_api(emu), emu.notion.sample_ids["signals"], "signals",
                              progress=False)
        with pytest.raises(ConnectorError, match="cannot page past them"):
            list(source.fetch())


# ---------------------------------------------------------------------------
# Deletions


def test_trashed_rows_are_reported_deleted() -> None:
    org = SampleOrg.generate(5, members=10, signals=250)
    with Emulator(seed=5, limits=Limits.unlimited(), sample=org,
                  workspaces=("notion",)) as emu:
        svc = emu.notion
        source = NotionSource(make_api(emu), svc.sample_ids["signals"], "signals",
                              progress=False)
        known = {r.source_id for r in source.fetch()}
        trashed = {svc.page_for["signals"][k] for k in ("SIG-1", "SIG-100", "SIG-250")}
        for page_id in trashed:
            svc.trash_page(page_id)
        before = emu.stats.count("notion.data_sources.query")
        assert source.fetch_deleted(known) == trashed
        assert emu.stats.count("notion.data_sources.query") - before == 3  # 247 ids, 100 a page
        assert not trashed & {r.source_id for r in source.fetch()}
        assert source.list_ids() == known - trashed


# ---------------------------------------------------------------------------
# Faults: 429 storms, 5xx, resets, and the emulator's own rate limit


def test_429_storms_and_5xx_faults_leave_the_pull_exact(org: SampleOrg) -> None:
    limits = Limits(notion_rps=400, notion_burst=20, fractional_retry_after=True)
    with Emulator(seed=7, limits=limits, clock=FrozenClock(), sample=org,
                  workspaces=("notion",)) as emu:
        svc = emu.notion
        emu.faults.add(Fault("storm", route="notion.*", rate=0.05, length=3, retry_after=0.02))
        emu.faults.add(Fault("error", route="notion.*", rate=0.1, status=503))
        emu.faults.add(Fault("error", route="notion.*", rate=0.02, status=502))
        emu.faults.add(Fault("reset", route="notion.*", rate=0.02))
        api = make_api(emu, rps=2000, frozen=True)  # faster than the emulator: real 429s too
        source, records = pull(emu, "signals", api=api)
        assert emu.stats.count("notion.*", 503) > 0
        assert emu.stats.count("notion.*", 429) > 0
        assert source.stats.retries > 0
        by_page = {r.source_id: r for r in records}
        assert len(by_page) == len(records) == SIGNALS
        for record in org.signals:
            pulled = by_page[svc.page_for["signals"][record["signal_id"]]]
            assert plain(pulled.values) == expected_signal(record, svc.member_user_ids)


def test_at_the_real_rate_limit_a_paced_pull_meets_no_429() -> None:
    org = SampleOrg.generate(2, members=6, signals=150)
    limits = Limits(notion_rps=30, fractional_retry_after=True)  # Notion's burst allowance
    with Emulator(seed=2, limits=limits, clock=FrozenClock(), sample=org,
                  workspaces=("notion",)) as emu:
        _, records = pull(emu, "signals", api=make_api(emu, rps=30, frozen=True))
        assert len(records) == 150
        assert emu.stats.count("notion.*", 429) == 0


# ---------------------------------------------------------------------------
# Renames and removed properties


def test_a_renamed_property_still_maps_by_id(org: SampleOrg) -> None:
    with Emulator(seed=7, limits=Limits.unlimited(), sample=org,
                  workspaces=("notion",)) as emu:
        svc = emu.notion
        first, records = pull(emu, "signals")
        ids = first.field_ids
        svc.rename_property(svc.data_source_ids["signals"], "Impact", "Impact level")
        svc.rename_property(svc.data_source_ids["signals"], "Team Member", "Engineer")
        again, renamed = pull(emu, "signals", mapping=ids)
        assert again.fields["impact"].name == "Impact level"
        assert [r.values for r in renamed] == [r.values for r in records]
        # by name, the old mapping now fails, naming what exists
        with pytest.raises(SchemaError) as info:
            pull(emu, "signals", mapping={**{c: r.name for c, r in first.fields.items()}})
        assert "impact -> 'Impact'" in str(info.value)
        assert "'Impact level' (select)" in str(info.value)


def test_a_removed_property_is_a_schema_error_listing_what_exists(org: SampleOrg) -> None:
    with Emulator(seed=7, limits=Limits.unlimited(), sample=org,
                  workspaces=("notion",)) as emu:
        svc = emu.notion
        first, _ = pull(emu, "signals")
        api = make_api(emu)
        api.client.data_sources.update(data_source_id=svc.data_source_ids["signals"],
                                       properties={"Evidence": None})
        with pytest.raises(SchemaError) as info:
            pull(emu, "signals", mapping=first.field_ids)
        text = str(info.value)
        assert f"evidence -> '{first.field_ids['evidence']}'" in text
        assert "'Impact' (select)" in text
        assert "'Evidence'" not in text


# ---------------------------------------------------------------------------
# Writing


REPORTS = {"Name": {"title": {}}, "Report key": {"rich_text": {}}, "Score": {"number": {}},
           "Notes": {"rich_text": {}}, "Tags": {"multi_select": {"options": []}},
           "Reviewer notes": {"rich_text": {}}, "Due": {"date": {}}}


@pytest.fixture
def reports() -> Iterator[tuple[Emulator, NotionWriter]]:
    limits = Limits(notion_rps=None, fractional_retry_after=True)
    with Emulator(seed=9, limits=limits) as emu:
        svc = emu.notion
        _, ds = svc.create_database(svc.root_page_id, [{"type": "text", "text": {
            "content": "Monthly report"}}], REPORTS)
        api = make_api(emu)
        yield emu, NotionWriter(open_data_source(api, ds.id))


def report_rows(n: int) -> list[dict[str, Any]]:
    return [{"Report key": f"2026-10|team-{i}", "Name": f"Team {i}", "Score": i * 1.5,
             "Notes": f"month summary {i}", "Tags": ["Technical"],
             "Due": dt.date(2026, 11, 5)} for i in range(n)]


def test_writes_are_idempotent_and_leave_other_properties_alone(
        reports: tuple[Emulator, NotionWriter]) -> None:
    emu, writer = reports
    rows = report_rows(12)
    first = writer.write_rows(rows, key="Report key")
    assert len(first.created) == 12
    assert first.ok
    page_id = first.created[3]
    emu.notion.edit_page(page_id, {"Reviewer notes": "Calibrated with Ada"})
    again = writer.write_rows(rows, key="Report key")
    assert again.created == again.updated == []
    assert len(again.unchanged) == 12
    rows[3]["Score"] = 99.0
    changed = writer.write_rows(rows, key="Report key", owned=["Name", "Score", "Notes"])
    assert changed.updated == [page_id]
    pages = {p["id"]: p for p in emu.notion.pages(writer.ds.id)}
    assert len(pages) == 12
    props = pages[page_id]["properties"]
    assert props["Score"]["number"] == 99.0
    assert props["Reviewer notes"]["rich_text"][0]["plain_text"] == "Calibrated with Ada"


def test_a_create_whose_answer_is_lost_is_not_duplicated(
        reports: tuple[Emulator, NotionWriter]) -> None:
    emu, writer = reports
    emu.faults.add(Fault("error", route="notion.pages.create", status=503, phase="after",
                         limit=1))
    emu.faults.add(Fault("reset", route="notion.pages.create", phase="after", limit=1))
    result = writer.write_rows(report_rows(3), key="Report key")
    assert emu.stats.faults["error"] == 1
    assert emu.stats.faults["reset"] == 1
    assert len(result.created) == 3
    assert len(emu.notion.pages(writer.ds.id)) == 3
    assert writer.write_rows(report_rows(3), key="Report key").created == []


def test_long_text_is_split_and_oversized_arrays_are_refused(
        reports: tuple[Emulator, NotionWriter]) -> None:
    emu, writer = reports
    notes = "Coordinated the hand-off between Lagos and Sao Paulo. " * 100
    rows = [{"Report key": "long", "Notes": notes},
            {"Report key": "tags", "Tags": [f"tag {i}" for i in range(101)]}]
    result = writer.write_rows(rows, key="Report key")
    assert len(result.created) == 1
    assert "property 'Tags': 101 items" in result.failed[0][1]
    (page,) = emu.notion.pages(writer.ds.id)
    items = page["properties"]["Notes"]["rich_text"]
    assert len(items) == 3
    assert "".join(i["plain_text"] for i in items) == notes
    assert writer.write_rows(rows[:1], key="Report key").unchanged == [page["id"]]


# ---------------------------------------------------------------------------
# Notebook calls


def test_read_notion_config_pulls_members_first_and_resolves_them(
        seeded: Emulator, org: SampleOrg, caplog: pytest.LogCaptureFixture) -> None:
    svc = seeded.notion
    config = parse_config({
        "workspace": {"kind": "notion", "notion_base_url": seeded.url},
        "tables": {table: {"notion_database": svc.sample_ids[table]}
                   for table in ("members", "signals", "reviews")},
        "limits": {"notion_rps": 1000.0},
    })
    env = {"NOTION_TOKEN": seeded.notion_token}
    with caplog.at_level(logging.INFO, logger="leadsync"):
        reviews = read_notion_config(config, "reviews", env=env, progress=False)
    key_of = {uid: key for key, uid in svc.member_user_ids.items()}
    assert sorted(reviews["review_id"]) == sorted(r["review_id"] for r in org.reviews)
    for row in reviews.itertuples():
        record = next(r for r in org.reviews if r["review_id"] == row.review_id)
        assert tuple(key_of[a] for a in row.approvers) == tuple(record["approvers"])
        assert key_of[row.nominee_id] == record["nominee_id"]
    assert reviews.attrs["quarantine"].empty
    assert "pull members from Notion: 60 rows in" in caplog.text  # progress off a terminal
    assert "pull reviews from Notion" in caplog.text

    signals = read_notion_config(config, "signals", env=env, progress=False)
    assert len(signals) + len(signals.attrs["quarantine"]) == SIGNALS
    assert set(signals["member_id"].dropna()) <= set(svc.member_user_ids.values())
    assert signals.attrs["source"]["data_source_id"] == svc.data_source_ids["signals"]


def test_read_notion_takes_a_database_url_and_a_members_frame(seeded: Emulator) -> None:
    svc = seeded.notion
    url = f"https://www.notion.so/acme/Members-{svc.sample_ids['members'].replace('-', '')}"
    members = read_notion(url, table="members", token=seeded.notion_token,
                          base_url=seeded.url, rps=1000, progress=False)
    assert len(members) == 60
    checkins = read_notion(svc.data_source_ids["checkins"], table="checkins", members=members,
                           token=seeded.notion_token, base_url=seeded.url, rps=1000,
                           progress=False)
    assert checkins.attrs["quarantine"].empty
    assert set(checkins["mentee_id"]) <= set(members["member_id"])
