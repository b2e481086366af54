"""The sample organisation in the emulated Airtable base, and the state helpers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from pyairtable import Api

from leadsync.emulator import Emulator, FrozenClock, Limits, SampleOrg
from leadsync.emulator.airtable_errors import AirtableError
from leadsync.emulator.sample import LAYOUT, layout
from leadsync.tables import TABLES

UTC = dt.UTC


@pytest.fixture(scope="module")
def seeded() -> Iterator[Emulator]:
    with Emulator(seed=0, limits=Limits.unlimited(), sample=True,
                  workspaces=("airtable",)) as emu:
        yield emu


@pytest.fixture(scope="module")
def pulled(seeded: Emulator) -> dict[str, list[dict[str, Any]]]:
    """Every sample table, listed through pyairtable."""
    at = seeded.airtable
    api = Api(seeded.airtable_token, endpoint_url=seeded.url)
    return {name: api.table(at.sample_base_id, table_id).all()
            for name, table_id in at.sample_table_ids.items()}


@pytest.fixture(scope="module")
def org(seeded: Emulator) -> SampleOrg:
    assert isinstance(seeded.sample, SampleOrg)
    return seeded.sample


def by_key(org: SampleOrg, table: str) -> dict[str, dict[str, Any]]:
    key = TABLES[table].key
    return {str(r[key]): r for r in org.table(table)}


def test_one_base_one_table_per_layout_entry(seeded: Emulator) -> None:
    at = seeded.airtable
    api = Api(seeded.airtable_token, endpoint_url=seeded.url)
    assert [(b.id, b.name) for b in api.bases()] == [(at.sample_base_id, "Leadership")]
    schema = api.base(at.sample_base_id).schema()
    assert [t.name for t in schema.tables] == [item.airtable_name for item in LAYOUT]
    assert set(at.sample_table_ids) == {item.table for item in LAYOUT}
    for item in LAYOUT:
        table = schema.table(at.sample_table_ids[item.table])
        names = [f.name for f in table.fields]
        for spec in item.for_service("airtable"):
            assert spec.name in names
            assert table.field(spec.name).type == spec.airtable
    rotation = schema.table("Rotation")
    assert all(f.type != "lastModifiedTime" for f in rotation.fields)  # on purpose


def test_counts_match_the_sample(org: SampleOrg, pulled: dict[str, list[dict[str, Any]]],
                                 seeded: Emulator) -> None:
    for name, records in pulled.items():
        assert len(records) == len(org.table(name)), name
        assert set(seeded.airtable.record_for[name]) == set(by_key(org, name)), name
        assert set(seeded.airtable.record_for[name].values()) == {r["id"] for r in records}


def test_members_become_records_and_collaborators(
        org: SampleOrg, pulled: dict[str, list[dict[str, Any]]], seeded: Emulator) -> None:
    at = seeded.airtable
    assert at.member_record_ids == at.record_for["members"]
    records = {r["id"]: r["fields"] for r in pulled["members"]}
    for member in org.members:
        fields = records[at.member_record_ids[member["member_id"]]]
        assert fields["Name"] == member["name"]
        assert fields["Email"] == member["email"]
        assert fields.get("Leader", False) is member["is_leader"]
        assert fields["Time zone"] == member["timezone"]
        assert fields.get("Stage") == layout("members").fields[8].label(member["stage"])
        if member["mentor_id"]:
            assert fields["Mentor"] == [at.member_record_ids[member["mentor_id"]]]
        else:
            assert "Mentor" not in fields
        user = at.users[at.member_user_ids[member["member_id"]]]
        assert (user["email"], user["name"]) == (member["email"], member["name"])
    numbers = sorted(f["Member ID"] for f in records.values())
    assert numbers == list(range(1, len(org.members) + 1))


def test_signals_reference_members_three_ways(
        org: SampleOrg, pulled: dict[str, list[dict[str, Any]]], seeded: Emulator) -> None:
    at = seeded.airtable
    members = {m["member_id"]: m for m in org.members}
    signals = by_key(org, "signals")
    ids = {rid: key for key, rid in at.record_for["signals"].items()}
    impact_points = {"High": 9, "Medium": 3}
    for record in pulled["signals"]:
        fields = record["fields"]
        signal = signals[ids[record["id"]]]
        owner = signal["member_id"]
        if owner is None:
            assert "Team Member" not in fields
        else:
            assert fields["Team Member"] == [at.member_record_ids[owner]]
            assert fields["Member time zone"] == [members[owner]["timezone"]]
        if signal["observed_by"]:
            observer = members[signal["observed_by"]]
            assert fields["Observed by"] == {"id": at.member_user_ids[signal["observed_by"]],
                                             "email": observer["email"],
                                             "name": observer["name"]}
        else:
            assert "Observed by" not in fields
        assert fields["Impact"] == signal["impact"]
        assert fields["Impact points"] == impact_points.get(signal["impact"], 1)
        assert fields["Summary"] == signal["notes"]
        when = signal["date"]
        if when is None:
            assert "Date" not in fields
        else:
            stamp = (when if isinstance(when, dt.datetime)
                     else dt.datetime(when.year, when.month, when.day, tzinfo=UTC))
            assert fields["Date"] == stamp.astimezone(UTC).isoformat(
                timespec="milliseconds").replace("+00:00", "Z")
        assert fields["Last modified"] == fields["Created"] == record["createdTime"]


def test_other_tables_reference_members(
        org: SampleOrg, pulled: dict[str, list[dict[str, Any]]], seeded: Emulator) -> None:
    at = seeded.airtable
    members = {m["member_id"]: m for m in org.members}
    rotations = by_key(org, "rotations")
    keys = {rid: key for key, rid in at.record_for["rotations"].items()}
    for record in pulled["rotations"]:
        rotation = rotations[keys[record["id"]]]
        assert record["fields"]["Sprint"] == rotation["sprint"]
        assert record["fields"]["Lead"] == members[rotation["lead_id"]]["name"]  # text
        assert record["fields"]["Starts"] == rotation["starts_on"].isoformat()
    checkins = by_key(org, "checkins")
    for record in pulled["checkins"]:
        checkin = checkins[record["fields"]["Check-in"]]
        assert record["fields"]["Mentee"] == [at.member_record_ids[checkin["mentee_id"]]]
        assert record["fields"]["Mentor"]["id"] == at.member_user_ids[checkin["mentor_id"]]
    reviews = by_key(org, "reviews")
    for record in pulled["reviews"]:
        review = reviews[record["fields"]["Review"]]
        assert record["fields"]["Nominee"] == [at.member_record_ids[review["nominee_id"]]]
        assert [u["email"] for u in record["fields"]["Approvers"]] == [
            members[k]["email"] for k in review["approvers"]]


def test_inverse_links_list_each_members_records(
        org: SampleOrg, pulled: dict[str, list[dict[str, Any]]], seeded: Emulator) -> None:
    at = seeded.airtable
    members = {r["id"]: r["fields"] for r in pulled["members"]}
    for member in org.members:
        fields = members[at.member_record_ids[member["member_id"]]]
        expected = [at.record_for["signals"][s["signal_id"]] for s in org.signals
                    if s["member_id"] == member["member_id"]]
        assert fields.get("Signals", []) == expected


def test_out_of_vocabulary_values_are_kept_as_new_choices(
        org: SampleOrg, seeded: Emulator) -> None:
    at = seeded.airtable
    odd = {s["impact"] for s in org.signals} - {"Low", "Medium", "High"}
    assert odd  # the sample's malformed rows
    table = at.table(at.sample_base_id, "Signals")
    f = table.field("Impact")
    assert f is not None
    assert odd <= {c["name"] for c in f.options["choices"]}


def test_seeding_is_deterministic() -> None:
    def ids() -> tuple[str, dict[str, str]]:
        emu = Emulator(seed=9, limits=Limits.unlimited(), sample=True, workspaces=("airtable",))
        return emu.airtable.sample_base_id, emu.airtable.record_for["signals"]
    assert ids() == ids()


# ---------------------------------------------------------------------------
# State helpers


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(seed=4, limits=Limits.unlimited(),
                  clock=FrozenClock("2026-11-01T09:00:00Z")) as emulator:
        yield emulator


def test_helpers_edit_rename_delete(emu: Emulator) -> None:
    at = emu.airtable
    base_id = at.create_base("B")
    table = at.create_table(base_id, "T", [
        {"name": "Name", "type": "singleLineText"},
        {"name": "Score", "type": "number"},
        {"name": "Edited", "type": "lastModifiedTime"},
        {"name": "Score edited", "type": "lastModifiedTime",
         "options": {"referencedFieldIds": ["Score"]}},
    ])
    first, second = at.insert_records(base_id, table, [{"Name": "a"}, {"Name": "b", "Score": 1}])
    created = "2026-11-01T09:00:00.000Z"
    assert isinstance(emu.clock, FrozenClock)
    emu.clock.advance(seconds=30)
    at.edit_record(base_id, table, first, {"Name": "a2"})
    at.edit_record(base_id, table, second, {"Score": 2})
    records = {r["id"]: r["fields"] for r in at.get_records(base_id, table)}
    assert records[first]["Edited"] == "2026-11-01T09:00:30.000Z"
    assert records[first]["Score edited"] == created  # only Score counts for this one
    assert records[second]["Score edited"] == "2026-11-01T09:00:30.000Z"
    field_id = at.table(base_id, table).field("Score").id  # type: ignore[union-attr]
    at.rename_field(base_id, table, "Score", "Points")
    assert at.table(base_id, table).field("Points").id == field_id  # type: ignore[union-attr]
    assert at.get_records(base_id, table)[1]["fields"]["Points"] == 2
    assert at.get_records(base_id, table, by_id=True)[1]["fields"][field_id] == 2
    with pytest.raises(AirtableError, match="DUPLICATE_OR_EMPTY_FIELD_NAME"):
        at.rename_field(base_id, table, "Points", "name")
    at.delete_records(base_id, table, [first])
    assert [r["id"] for r in at.get_records(base_id, table)] == [second]


def test_bulk_insert_of_ten_thousand_rows_lists_through_pyairtable(emu: Emulator) -> None:
    at = emu.airtable
    base_id = at.create_base("Big")
    table = at.create_table(base_id, "Rows", [
        {"name": "Name", "type": "singleLineText"},
        {"name": "N", "type": "number"},
        {"name": "When", "type": "dateTime"}])
    ids = at.insert_records(base_id, table, (
        {"Name": f"row {i}", "N": i, "When": 1_700_000_000_000 + i * 1000}
        for i in range(10_000)))
    listed = Api(emu.airtable_token, endpoint_url=emu.url).table(base_id, table).all(
        formula="MOD({N}, 2) = 0", fields=["N"])
    assert len(ids) == 10_000
    assert [r["fields"]["N"] for r in listed] == list(range(0, 10_000, 2))
