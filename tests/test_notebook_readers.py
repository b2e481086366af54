"""The notebook calls: the canonical table taken the same way by both services, and inferred.

The issue's findings: ``read_airtable(base, "Members")`` without ``canonical=``
failed with a SchemaError about the signals' columns; ``read_notion`` and
``read_airtable`` named the canonical table differently (``table=`` and
``canonical=``); the README's snippet needed ``base_url=``; a quarantined row
had no link to its page or record; the two services' ``attrs`` differed.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import leadsync
from leadsync.emulator import Emulator, Limits, SampleOrg
from leadsync.errors import ConfigError, NotFoundError
from leadsync.sources import FieldRef, infer_table


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    org = SampleOrg.generate(seed=8, members=8, signals=150)
    with Emulator(seed=8, limits=Limits.unlimited(), sample=org) as emulator:
        yield emulator


@pytest.fixture
def served(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    """The environment ``leadsync emulator serve`` tells a user to export."""
    monkeypatch.setenv("NOTION_TOKEN", emu.notion_token)
    monkeypatch.setenv("NOTION_BASE_URL", emu.url)
    monkeypatch.setenv("AIRTABLE_TOKEN", emu.airtable_token)
    monkeypatch.setenv("AIRTABLE_ENDPOINT_URL", emu.url)
    return emu


FAST = {"rps": 1000.0, "progress": False}


def test_read_airtable_infers_members_from_the_table_name(served: Emulator) -> None:
    base = served.airtable.sample_base_id
    members = leadsync.read_airtable(base, "Members", **FAST)  # no canonical=, no URL
    assert "timezone" in members.columns
    assert len(members) == 8
    signals = leadsync.read_airtable("Leadership", "Signals", members=members, **FAST)
    assert "impact" in signals.columns  # the base by its name, the table inferred
    assert signals["member_id"].dropna().isin(members["member_id"]).all()


def test_read_notion_takes_a_title_and_infers_the_table(served: Emulator) -> None:
    members = leadsync.read_notion("Team Members", **FAST)
    assert len(members) == 8
    assert "working_hours" in members.columns
    signals = leadsync.read_notion("leadership signals", members=members, **FAST)
    assert {"signal_type", "impact"} <= set(signals.columns)
    ids = served.notion.sample_ids["signals"]
    by_mapping = leadsync.read_notion(ids, mapping={"impact": "Impact", "date": "Date",
                                                    "member_id": "Team Member",
                                                    "signal_type": "Signal Type"}, **FAST)
    assert list(by_mapping.columns)[:2] == ["signal_id", "member_id"]  # signals, by its columns


def test_both_services_take_canonical_the_same_way_and_give_the_same_attrs(
        served: Emulator) -> None:
    notion = leadsync.read_notion(served.notion.sample_ids["signals"], canonical="signals",
                                  **FAST)
    airtable = leadsync.read_airtable(served.airtable.sample_base_id,
                                      served.airtable.sample_table_ids["signals"],
                                      canonical="signals", **FAST)
    assert set(notion.attrs) == set(airtable.attrs) == {"quarantine", "field_ids", "source"}
    assert list(notion.attrs["quarantine"].columns) == \
        list(airtable.attrs["quarantine"].columns) == \
        ["table", "source_id", "url", "reason", "record"]
    assert list(notion.columns) == list(airtable.columns)
    assert notion.attrs["source"]["service"] == "notion"
    assert airtable.attrs["source"]["service"] == "airtable"
    older = leadsync.read_notion(served.notion.sample_ids["members"], table="members", **FAST)
    assert "timezone" in older.columns  # table= is the older name of canonical=
    with pytest.raises(ConfigError, match="disagree"):
        leadsync.read_notion("Team Members", canonical="members", table="signals", **FAST)


def test_a_quarantined_row_carries_the_url_to_fix_it(served: Emulator) -> None:
    members = leadsync.read_airtable("Leadership", "Members", **FAST)
    signals = leadsync.read_airtable("Leadership", "Signals", members=members, **FAST)
    quarantine = signals.attrs["quarantine"]
    assert not quarantine.empty  # the sample's malformed signals
    base, table = served.airtable.sample_base_id, served.airtable.sample_table_ids["signals"]
    for row in quarantine.itertuples():
        assert row.url == f"https://airtable.com/{base}/{table}/{row.source_id}"
    notion = leadsync.read_notion("Leadership Signals", **FAST)
    for row in notion.attrs["quarantine"].itertuples():
        assert row.url == f"https://www.notion.so/{str(row.source_id).replace('-', '')}"
    pages = list(leadsync.iter_notion("Leadership Signals", **FAST))
    assert sum(len(p.attrs["quarantine"]) for p in pages) == len(notion.attrs["quarantine"])
    assert all("url" in p.attrs["quarantine"].columns for p in pages)


def test_what_cannot_be_found_or_told_apart_says_so(served: Emulator) -> None:
    with pytest.raises(NotFoundError, match="no database titled 'Nope' is shared"):
        leadsync.read_notion("Nope", **FAST)
    with pytest.raises(NotFoundError, match="no base named 'Elsewhere'"):
        leadsync.read_airtable("Elsewhere", "Signals", **FAST)
    raw = leadsync.read_airtable("Leadership", "Signals", raw=True, **FAST)
    assert "Impact points" in raw.columns  # every field, typed by Airtable


def test_infer_table() -> None:
    signals = [FieldRef(f"f{i}", n, "x") for i, n in enumerate(
        ("Summary", "Team Member", "Signal Type", "Date", "Impact", "Evidence"))]
    assert infer_table("notion", title="Whatever we track", fields=signals) == "signals"
    assert infer_table("airtable", title="People", fields=[FieldRef("a", "Name", "x")],
                       mapping={"timezone": "TZ"}) == "members"
    assert infer_table("notion", title="Promotion Reviews", fields=[]) == "reviews"
    assert infer_table("airtable", title="check-ins", fields=[]) == "checkins"
    with pytest.raises(ConfigError, match="pass canonical= one of"):
        infer_table("notion", title="Stuff", fields=[FieldRef("a", "Thing", "x")])
