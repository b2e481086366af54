"""The Airtable connector against the emulator: real pyairtable, real HTTP, real limits.

Covers the issue's acceptance: a full pull equals the seeded records; an
incremental pull after edits misses and duplicates nothing (with a
last-modified-time field and with ``LAST_MODIFIED_TIME()``); deletions show in
the id listing; 429 storms, expired offsets and 5xx faults leave the data
exact; a renamed field still maps; an upsert with one invalid row writes the
others and reports it, reruns create nothing twice, unowned fields stay.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
from leadsync.connectors.airtable import (
    AirtableClient,
    AirtableSource,
    AirtableWriter,
    read_airtable,
)
from leadsync.connectors.base import Cursor, Record, RetryPolicy

from leadsync.config import parse_config
from leadsync.emulator import AIRTABLE_TOKEN, Emulator, Fault, FrozenClock, Limits, SampleOrg
from leadsync.errors import AuthError, NotFoundError, QuotaExceededError, SchemaError
from leadsync.tables import MemberRef
from tests.conftest import frozen_pacing

UTC = dt.UTC
SIGNALS = 2500
#: Fast backoff for 5xx in tests; 429 waits are the server's (scaled below a second).
QUICK = RetryPolicy(backoff_initial=0.02, backoff_max=0.2, default_rate_wait=30.0)
T0 = dt.datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def org() -> SampleOrg:
    return SampleOrg.generate(seed=7, members=60, signals=SIGNALS)


def emulator(org: SampleOrg, *, rps: float | None, clock: FrozenClock | None = None) -> Emulator:
    """The sample base on a frozen clock, which the clients' pacing shares (``client``)."""
    limits = Limits(airtable_rps=rps, airtable_penalty_seconds=0.5, fractional_retry_after=True)
    return Emulator(seed=7, limits=limits, clock=clock or FrozenClock(T0), sample=org,
                    workspaces=("airtable",))


@pytest.fixture
def emu(org: SampleOrg) -> Iterator[Emulator]:
    """The sample base behind a 20 requests/s limit with a half-second penalty."""
    with emulator(org, rps=20) as running:
        yield running


def client(emu: Emulator, *, rps: float | None = 20, policy: RetryPolicy = QUICK
           ) -> AirtableClient:
    """A client whose waits (pacing, Retry-After, backoff) move the emulator's frozen clock:
    whether it meets a 429 is exact, and nothing sleeps in real time."""
    assert isinstance(emu.clock, FrozenClock)
    return AirtableClient(AIRTABLE_TOKEN, endpoint_url=emu.url, rps=rps, policy=policy,
                          limiters=frozen_pacing(emu.clock))


def source(emu: Emulator, table: str = "Signals", canonical: str = "signals", *,
           rps: float | None = 20, mapping: dict[str, str] | None = None) -> AirtableSource:
    return AirtableSource(client(emu, rps=rps), emu.airtable.sample_base_id, table,
                          canonical=canonical, mapping=mapping, progress=False)


def expected_signal(emu: Emulator, org: SampleOrg, record: dict[str, Any]) -> dict[str, Any]:
    """A sample signal as the connector should decode it from the sample base."""
    at = emu.airtable
    when = record["date"]
    if isinstance(when, dt.datetime):
        when = when.astimezone(UTC)
    elif isinstance(when, dt.date):
        when = dt.datetime(when.year, when.month, when.day, tzinfo=UTC)
    observer = record["observed_by"]
    person = org.member(observer) if observer else None
    return {
        "notes": record["notes"],
        "member_id": (MemberRef("relation", at.member_record_ids[record["member_id"]])
                      if record["member_id"] else None),
        "signal_type": record["signal_type"],
        "indicator": record["indicator"],
        "evidence": record["evidence"],
        "date": when,
        "impact": record["impact"],
        "observed_by": (MemberRef("person", at.member_user_ids[observer], person["name"],
                                  person["email"]) if person else None),
    }


def by_id(records: list[Record]) -> dict[str, Record]:
    found = {r.source_id: r for r in records}
    assert len(found) == len(records), "a record came twice"
    return found


def assert_exact(emu: Emulator, org: SampleOrg, records: list[Record]) -> None:
    """Every seeded signal, once, with every mapped value as seeded."""
    pulled = by_id(records)
    ids = emu.airtable.record_for["signals"]
    assert set(pulled) == set(ids.values())
    for record in org.signals:
        got = pulled[ids[record["signal_id"]]]
        assert dict(got.values) == expected_signal(emu, org, record), record["signal_id"]
        assert got.problem is None


# ---------------------------------------------------------------------------
# Full pulls


def test_full_pull_equals_the_seeded_records_without_meeting_a_429(org: SampleOrg) -> None:
    with emulator(org, rps=5) as emu:  # Airtable's own rate
        signals = source(emu, rps=5)
        records = list(signals.fetch())
        assert_exact(emu, org, records)
        assert signals.stats.rate_limited == 0
        assert emu.stats.count("airtable.*", 429) == 0
        assert signals.stats.requests == 1 + SIGNALS // 100  # the schema, then 25 pages
        assert signals.stats.rows == SIGNALS


def test_canonical_frame_resolves_members_and_quarantines_the_malformed(
        emu: Emulator, org: SampleOrg, caplog: pytest.LogCaptureFixture) -> None:
    members = read_airtable(emu.airtable.sample_base_id, "Members", canonical="members",
                            token=AIRTABLE_TOKEN, endpoint_url=emu.url, progress=False, rps=20,
                            limiters=frozen_pacing(emu.clock))
    assert len(members) == len(org.members)
    assert members.attrs["quarantine"].empty
    caplog.set_level(logging.WARNING)
    frame = read_airtable(emu.airtable.sample_base_id, "Signals", members=members,
                          token=AIRTABLE_TOKEN, endpoint_url=emu.url, progress=False, rps=20,
                            limiters=frozen_pacing(emu.clock))
    quarantine = frame.attrs["quarantine"]
    ids = emu.airtable.record_for["signals"]
    malformed = {ids[r["signal_id"]] for r in org.signals if (
        r["impact"] not in ("Low", "Medium", "High") or r["date"] is None
        or r["member_id"] is None or r["signal_type"] == "Social"
        or (r["evidence"] is not None and not r["evidence"].startswith("https://")))}
    assert set(quarantine["source_id"]) == malformed
    assert len(frame) + len(quarantine) == SIGNALS
    assert [r.message for r in caplog.records if "quarantine" in r.message] == [
        caplog.records[-1].message]
    assert f"{len(malformed)} row(s) did not fit" in caplog.records[-1].message
    # a linked member resolves to that member's member_id
    members_by_source = dict(zip(members["source_id"], members["member_id"], strict=True))
    seeded = {ids[r["signal_id"]]: r for r in org.signals}
    for row in frame.head(200).itertuples():
        record = seeded[row.source_id]
        member_rec = emu.airtable.member_record_ids[record["member_id"]]
        assert row.member_id == members_by_source[member_rec]
        if record["observed_by"]:
            assert row.observed_by == members_by_source[
                emu.airtable.member_record_ids[record["observed_by"]]]
    assert isinstance(frame["date"].dtype, pd.DatetimeTZDtype)
    assert str(frame["date"].dtype.tz) == "UTC"
    assert frame.attrs["field_ids"]["impact"].startswith("fld")


def test_text_member_references_resolve_by_name(emu: Emulator, org: SampleOrg) -> None:
    members = read_airtable(emu.airtable.sample_base_id, "Members", canonical="members",
                            token=AIRTABLE_TOKEN, endpoint_url=emu.url, progress=False, rps=20,
                            limiters=frozen_pacing(emu.clock))
    rotations = read_airtable(emu.airtable.sample_base_id, "Rotation", canonical="rotations",
                              members=members, token=AIRTABLE_TOKEN, endpoint_url=emu.url,
                              progress=False, rps=20,
                            limiters=frozen_pacing(emu.clock))
    assert rotations.attrs["quarantine"].empty
    names = dict(zip(members["member_id"], members["name"], strict=True))
    expected = {r["sprint"]: org.member(r["lead_id"])["name"] for r in org.rotations}
    assert {s: names[m] for s, m in zip(rotations["sprint"], rotations["lead_id"],
                                        strict=True)} == expected


def test_every_field_as_airtable_types_it(emu: Emulator, org: SampleOrg) -> None:
    raw = read_airtable(emu.airtable.sample_base_id, "Signals", raw=True,
                        token=AIRTABLE_TOKEN, endpoint_url=emu.url, progress=False, rps=20,
                            limiters=frozen_pacing(emu.clock))
    assert len(raw) == SIGNALS
    assert raw["Impact points"].dtype == "float64"  # a formula with a number result
    assert set(raw["Impact points"].dropna()) <= {1.0, 3.0, 9.0}
    assert isinstance(raw["Impact"].dtype, pd.CategoricalDtype)
    assert str(raw["Last modified"].dtype.tz) == "UTC"  # type: ignore[union-attr]
    zones = raw["Member time zone"].dropna()
    assert all(isinstance(v, tuple) and len(v) == 1 for v in zones)


# ---------------------------------------------------------------------------
# Incremental pulls


def edit(emu: Emulator, table: str, record_id: str, fields: dict[str, Any]) -> None:
    emu.airtable.edit_record(emu.airtable.sample_base_id, table, record_id, fields)


def test_incremental_with_a_last_modified_field_misses_and_repeats_nothing(
        org: SampleOrg) -> None:
    clock = FrozenClock(T0)
    with emulator(org, rps=None, clock=clock) as emu:
        ids = list(emu.airtable.record_for["signals"].values())
        signals = source(emu, rps=None)
        table = signals.fetch_schema()
        assert table.last_modified_field() is not None  # "Last modified"
        clock.advance(3600)
        first_edits = ids[:20]
        for rid in first_edits:  # a value that changes (an unchanged one moves no edit time)
            edit(emu, "Signals", rid, {"Summary": f"first {rid}"})
        full = list(signals.fetch())
        cursor = Cursor(lag=dt.timedelta(minutes=2)).advanced(full)
        assert cursor.since == T0 + dt.timedelta(hours=1)

        clock.advance(3600)
        second_edits = ids[10:40]  # some edited twice
        for rid in second_edits:
            edit(emu, "Signals", rid, {"Summary": f"edited {rid}"})
        created = emu.airtable.insert_records(
            emu.airtable.sample_base_id, "Signals",
            [{"Summary": f"new {n}", "Impact": "Low", "Signal Type": "Technical",
              "Date": "2026-11-01T00:00:00.000Z"} for n in range(7)])
        emu.airtable.delete_records(emu.airtable.sample_base_id, "Signals", ids[-3:])

        changed = by_id(list(signals.fetch(cursor)))
        # everything changed since the cursor, plus the overlap at the cursor (the first
        # edits), each once; nothing else
        assert set(changed) == set(first_edits) | set(second_edits) | set(created)
        current = {r["id"]: r for r in emu.airtable.get_records(
            emu.airtable.sample_base_id, "Signals")}
        for rid in second_edits:
            assert changed[rid].values["notes"] == f"edited {rid}"
            assert changed[rid].last_edited_time == T0 + dt.timedelta(hours=2)
        for rid in created:
            assert changed[rid].values["notes"] == current[rid]["fields"]["Summary"]

        # the next run, from the advanced cursor, sees only the second wave
        after = Cursor(lag=dt.timedelta(minutes=2)).advanced(changed.values())
        again = by_id(list(signals.fetch(
            Cursor(after.since, lag=dt.timedelta(minutes=2)))))
        assert set(again) == set(second_edits) | set(created)


def test_incremental_without_such_a_field_uses_last_modified_time(org: SampleOrg) -> None:
    clock = FrozenClock(T0)
    with emulator(org, rps=None, clock=clock) as emu:
        base = emu.airtable.sample_base_id
        rotation = source(emu, "Rotation", "rotations", rps=None)
        assert rotation.fetch_schema().last_modified_field() is None
        old = list(emu.airtable.record_for["rotations"].values())
        clock.advance(3600)
        added = emu.airtable.insert_records(base, "Rotation", [
            {"Sprint": f"Sprint X{n}", "Starts": "2026-11-02", "Lead": "Someone"}
            for n in range(4)])
        full = list(rotation.fetch())
        assert len(full) == len(old) + 4
        # without an edit-time field the created time stands in: a safe lower bound
        cursor = Cursor(lag=dt.timedelta(seconds=30)).advanced(full)
        assert cursor.since == T0 + dt.timedelta(hours=1)

        clock.advance(3600)
        edited = old[:3]
        for rid in edited:
            edit(emu, "Rotation", rid, {"Lead": "Changed Lead"})
        changed = by_id(list(rotation.fetch(cursor)))
        # the server-side LAST_MODIFIED_TIME() filter: untouched old records stay out
        assert set(changed) == set(edited) | set(added)
        assert {changed[r].values["lead_id"] for r in edited} == {
            MemberRef("text", "Changed Lead")}


def test_deleted_records_show_in_the_id_listing(emu: Emulator) -> None:
    signals = source(emu)
    before = signals.list_ids()
    assert before == set(emu.airtable.record_for["signals"].values())
    gone = sorted(before)[::250]
    emu.airtable.delete_records(emu.airtable.sample_base_id, "Signals", gone)
    after = signals.list_ids()
    assert before - after == set(gone)
    assert after - before == set()


# ---------------------------------------------------------------------------
# Faults


def test_storms_expired_offsets_and_5xx_leave_the_data_exact(
        emu: Emulator, org: SampleOrg) -> None:
    emu.faults.add(Fault("storm", route="airtable.*", rate=0.2, length=3, retry_after=0.2,
                         limit=2))
    emu.faults.add(Fault("expire_offset", route="airtable.records.list", rate=0.1, limit=2))
    emu.faults.add(Fault("error", route="airtable.*", rate=0.1, status=503))
    emu.faults.add(Fault("error", route="airtable.*", rate=0.03, status=502))
    emu.faults.add(Fault("reset", route="airtable.*", rate=0.02))
    signals = source(emu)
    records = list(signals.fetch())
    assert_exact(emu, org, records)
    assert signals.restarts == 2
    assert signals.stats.rate_limited == 6  # two storms of three 429s, each waited out
    assert signals.stats.retries > signals.stats.rate_limited
    faults = emu.stats.snapshot()["faults"]
    assert faults["storm"] > 0
    assert faults["error"] > 0
    ids = signals.list_ids()  # the id listing survives them too
    assert ids == set(emu.airtable.record_for["signals"].values())


def test_a_mapped_field_renamed_in_airtable_still_maps(emu: Emulator, org: SampleOrg) -> None:
    signals = source(emu)
    field_ids = signals.field_ids  # what the sync persists
    emu.airtable.rename_field(emu.airtable.sample_base_id, "Signals", "Impact", "Impact level")
    emu.airtable.rename_field(emu.airtable.sample_base_id, "Signals", "Team Member", "Engineer")
    # the same source keeps its resolved ids
    assert_exact(emu, org, list(signals.fetch()))
    # a new run with the persisted ids maps too
    assert_exact(emu, org, list(source(emu, mapping=field_ids).fetch()))
    # a name that no longer exists is a clear error naming the fields that do
    names = {"member_id": "Team Member", "signal_type": "Signal Type", "date": "Date",
             "impact": "Impact"}
    with pytest.raises(SchemaError) as caught:
        source(emu, mapping=names).field_ids  # noqa: B018
    message = str(caught.value)
    assert "member_id -> 'Team Member'; impact -> 'Impact'" in message
    assert "'Impact level' (singleSelect)" in message
    assert "'Engineer' (multipleRecordLinks)" in message


def test_from_config_reads_the_configured_table(emu: Emulator, org: SampleOrg) -> None:
    config = parse_config({
        "workspace": {"kind": "airtable", "airtable_endpoint_url": emu.url},
        "tables": {
            "signals": {"airtable_base": emu.airtable.sample_base_id,
                        "airtable_table": emu.airtable.sample_table_ids["signals"],
                        "fields": {"member_id": "Team Member", "signal_type": "Signal Type",
                                   "indicator": "Indicator", "evidence": "Evidence",
                                   "date": "Date", "impact": "Impact",
                                   "observed_by": "Observed by", "notes": "Summary"}},
            "members": {"airtable_base": emu.airtable.sample_base_id,
                        "airtable_table": "Members"},
        },
        "limits": {"airtable_rps": 20.0},
    })
    env = {"AIRTABLE_TOKEN": AIRTABLE_TOKEN}
    assert isinstance(emu.clock, FrozenClock)
    pacing = frozen_pacing(emu.clock)
    signals = AirtableSource.from_config(config, "signals", env=env, limiters=pacing)
    assert_exact(emu, org, list(signals.fetch()))
    assert signals.client.rps == 20.0
    assert signals.client.policy.max_wait == config.sync.max_wait_seconds
    # the next run: the config still says "Impact", the field is now "Impact level";
    # the ids the sync persisted keep it mapping
    persisted = signals.field_ids
    emu.airtable.rename_field(emu.airtable.sample_base_id, "Signals", "Impact", "Impact level")
    with pytest.raises(SchemaError, match="impact -> 'Impact'"):
        AirtableSource.from_config(config, "signals", env=env, limiters=pacing).open()
    next_run = AirtableSource.from_config(config, "signals", env=env, field_ids=persisted,
                                          limiters=pacing)
    assert_exact(emu, org, list(next_run.fetch()))


# ---------------------------------------------------------------------------
# Writes


REPORT_FIELDS = [
    {"name": "Report key", "type": "singleLineText"},
    {"name": "Month", "type": "date", "options": {"dateFormat": {"name": "iso"}}},
    {"name": "Metric", "type": "singleSelect",
     "options": {"choices": [{"name": "Signals"}, {"name": "Leaders"}, {"name": "Quiet"}]}},
    {"name": "Value", "type": "number", "options": {"precision": 1}},
    {"name": "Manager note", "type": "multilineText"},
]


def report_rows(n: int, *, bad: int | None = None) -> pd.DataFrame:
    metrics = ["Signals", "Leaders", "Quiet"]
    return pd.DataFrame({
        "Report key": [f"2026-10|team-{i:03d}" for i in range(n)],
        "Month": [pd.Timestamp("2026-10-01", tz="UTC")] * n,
        "Metric": ["Social" if i == bad else metrics[i % 3] for i in range(n)],
        "Value": pd.array([float(i) if i % 9 else None for i in range(n)], dtype="Float64"),
    })


def test_upsert_of_95_rows_with_one_invalid_writes_94_and_reports_it(emu: Emulator) -> None:
    at = emu.airtable
    base = at.sample_base_id
    table_id = at.create_table(base, "Monthly Report", REPORT_FIELDS)
    # ten rows exist already, each with a note a manager wrote by hand
    existing = at.insert_records(base, table_id, [
        {"Report key": f"2026-10|team-{i:03d}", "Manager note": f"note {i}", "Value": -1}
        for i in range(10)])
    writer = AirtableWriter(client(emu), base, "Monthly Report")
    rows = report_rows(95, bad=42)
    result = writer.write_rows(rows, key_fields=["Report key"],
                               owned=["Report key", "Month", "Metric", "Value"])
    assert len(result.created) == 84
    assert sorted(result.updated) == sorted(existing)
    assert [row["Report key"] for row, _ in result.failed] == ["2026-10|team-042"]
    assert "INVALID_MULTIPLE_CHOICE_OPTIONS" in result.failed[0][1]
    assert "Social" in result.failed[0][1]

    stored = {r["fields"]["Report key"]: r for r in at.get_records(base, table_id)}
    assert len(stored) == 94
    assert "2026-10|team-042" not in stored
    for i in range(10):  # a field leadsync does not own is untouched
        assert stored[f"2026-10|team-{i:03d}"]["fields"]["Manager note"] == f"note {i}"
    assert stored["2026-10|team-001"]["fields"]["Value"] == 1.0  # owned: overwritten
    assert "Value" not in stored["2026-10|team-009"]["fields"]  # NA cleared the cell
    assert stored["2026-10|team-050"]["fields"]["Month"] == "2026-10-01"


def test_rerunning_an_upsert_creates_no_duplicates_even_when_an_answer_is_lost(
        emu: Emulator) -> None:
    at = emu.airtable
    base = at.sample_base_id
    table_id = at.create_table(base, "Monthly Report", REPORT_FIELDS)
    writer = AirtableWriter(client(emu), base, table_id)
    rows = report_rows(35)
    first = writer.write_rows(rows, key_fields=["Report key", "Month"])
    assert len(first.created) == 35
    # the write is committed, then the answer is lost; the retry merges on the key
    emu.faults.add(Fault("error", route="airtable.records.update", phase="after", status=502,
                         limit=2))
    rows["Value"] = 7.0
    second = writer.write_rows(rows, key_fields=["Report key", "Month"])
    assert second.ok
    assert second.created == []
    assert sorted(second.updated) == sorted(first.created)
    stored = at.get_records(base, table_id)
    assert len(stored) == 35
    assert {r["fields"]["Value"] for r in stored} == {7.0}
    assert emu.stats.snapshot()["faults"]["error"] == 2


# ---------------------------------------------------------------------------
# Refusals, as the emulator gives them


def test_refusals_reach_the_caller_translated(emu: Emulator) -> None:
    base = emu.airtable.sample_base_id
    wrong = AirtableClient("patWrongToken.0123456789", endpoint_url=emu.url, rps=None,
                           policy=QUICK)
    with pytest.raises(AuthError, match="AIRTABLE_TOKEN"):
        AirtableSource(wrong, base, "Signals").list_ids()
    with pytest.raises(AuthError, match="may not exist"):
        AirtableSource(client(emu), "appNOPENOPENOPE12", "Signals").list_ids()
    with pytest.raises(NotFoundError, match="'Signals' \\(tbl"):
        AirtableSource(client(emu), base, "Signalz").list_ids()
    emu.airtable.quota_remaining = 0
    signals = source(emu)
    before = emu.stats.total("airtable.records")
    with pytest.raises(QuotaExceededError, match="monthly Airtable API call quota"):
        list(signals.fetch())
    assert emu.stats.total("airtable.records") - before == 1  # never retried
