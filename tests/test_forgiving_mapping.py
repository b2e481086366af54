"""The forgiving mapping: a property deleted and re-created under its configured name.

The issue's reproduction: sync, delete the mapped property ``Impact`` upstream,
create a new ``Impact`` select, and ``leadsync sync --full`` failed with
"mapped field(s) not found: impact -> 'IacW'" until the store was thrown away.
Now the sync maps to the new property, says so in one WARNING naming both,
and exits 0; every message about a mapped property names the configured name
and the table.
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Iterator
from pathlib import Path

import notion_client
import pytest
from click.testing import CliRunner, Result

from leadsync import open_store
from leadsync.cli import main
from leadsync.emulator import Emulator, FrozenClock, Limits, SampleOrg
from leadsync.errors import SchemaError
from leadsync.fieldtypes import can_feed
from leadsync.sources import FieldRef, resolve_fields

WHERE = "signals: Notion data source 'Leadership Signals' (ds1)"
FIELDS = [FieldRef("ttl", "Summary", "title"), FieldRef("new", "Impact", "select"),
          FieldRef("chk", "Done", "checkbox"), FieldRef("lvl", "Impact level", "select")]


def fits(column: str, ref: FieldRef) -> bool:
    return can_feed("notion", "signals", column, ref.type)


# ---------------------------------------------------------------------------
# resolve_fields


def test_a_gone_id_falls_back_on_the_configured_name_with_one_warning(
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="leadsync.sources"):
        got = resolve_fields({"impact": "old", "notes": "ttl"}, FIELDS, where=WHERE,
                             configured={"impact": "Impact", "notes": "Summary"}, fits=fits)
    assert got["impact"].id == "new"
    assert got["notes"].id == "ttl"
    (record,) = caplog.records
    message = record.getMessage()
    assert record.levelno == logging.WARNING
    # the table, the column, the configured name, the old id and the new property
    for part in ("signals:", "impact -> 'Impact'", "'old'", "'new'", "select"):
        assert part in message, message


def test_a_re_created_property_of_a_type_that_cannot_feed_the_column_is_not_adopted() -> None:
    fields = [FieldRef("ttl", "Summary", "title"), FieldRef("new", "Impact", "checkbox")]
    with pytest.raises(SchemaError) as caught:
        resolve_fields({"impact": "old"}, fields, where=WHERE,
                       configured={"impact": "Impact"}, fits=fits)
    message = str(caught.value)
    assert message.startswith("signals: ")
    assert "impact -> 'Impact' (property id 'old' from an earlier sync)" in message


def test_without_a_stored_id_nothing_changes_and_a_close_name_is_suggested() -> None:
    with pytest.raises(SchemaError) as caught:
        resolve_fields({"impact": "Impactt"}, [FieldRef("lvl", "Impact level", "select")],
                       where=WHERE, configured={"impact": "Impactt"}, fits=fits)
    assert "impact -> 'Impactt' (did you mean 'Impact level' (select)?)" in str(caught.value)


def test_the_types_that_can_feed_a_column() -> None:
    assert can_feed("notion", "signals", "impact", "select")
    assert can_feed("notion", "signals", "date", "date")
    assert not can_feed("notion", "signals", "date", "checkbox")
    assert not can_feed("notion", "signals", "member_id", "number")
    assert can_feed("airtable", "signals", "member_id", "multipleRecordLinks")
    assert not can_feed("airtable", "signals", "impact", "multipleRecordLinks")
    assert can_feed("fake", "signals", "impact", "anything")  # a test double's service


# ---------------------------------------------------------------------------
# The reproduction, end to end through the command


@pytest.fixture(params=["notion", "airtable"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def emu(kind: str) -> Iterator[Emulator]:
    org = SampleOrg.generate(seed=5, members=8, signals=60)
    with Emulator(seed=5, limits=Limits.unlimited(), clock=FrozenClock(), sample=org,
                  workspaces=(kind,)) as emulator:
        yield emulator


def delete_and_recreate_impact(emu: Emulator, kind: str) -> None:
    """What a user does in the workspace: delete "Impact", then add a new "Impact" select."""
    options = [{"name": n} for n in ("Low", "Medium", "High")]
    if kind == "notion":
        client = notion_client.Client(auth=emu.notion_token, base_url=emu.url)
        ds = emu.notion.data_source_ids["signals"]
        client.data_sources.update(data_source_id=ds, properties={"Impact": None})
        client.data_sources.update(data_source_id=ds,
                                   properties={"Impact": {"select": {"options": options}}})
        client.close()
        return
    base = emu.airtable.sample_base_id
    table_id = emu.airtable.sample_table_ids["signals"]
    with emu.lock:  # Airtable's Web API cannot delete a field: a user does, in the UI
        table = emu.airtable.table(base, table_id)
        gone = table.field("Impact")
        assert gone is not None
        table.fields = [f for f in table.fields if f.id != gone.id]
        for record in table.records.values():
            record.cells.pop(gone.id, None)
        table.reindex()
    emu.airtable.add_field(base, table_id, {"name": "Impact", "type": "singleSelect",
                                            "options": {"choices": options}})


def write_config(path: Path, emu: Emulator, kind: str) -> None:
    """The emulator's config, with the client-side pacing out of the way."""
    text = emu.config_toml(kind, store_path=str(path.parent / "leadsync.db"))
    path.write_text(text + "\n[limits]\nnotion_rps = 1000.0\nairtable_rps = 1000.0\n")


def refill_one_impact(emu: Emulator, kind: str) -> None:
    if kind == "notion":
        page = emu.notion.pages(emu.notion.data_source_ids["signals"])[0]["id"]
        emu.notion.edit_page(page, {"Impact": "High"})
        return
    base, table_id = emu.airtable.sample_base_id, emu.airtable.sample_table_ids["signals"]
    record = emu.airtable.get_records(base, table_id)[0]["id"]
    emu.airtable.edit_record(base, table_id, record, {"Impact": "High"})


def sync(runner: CliRunner, config: Path, emu: Emulator, *args: str) -> Result:
    return runner.invoke(main, ["--config", str(config), "sync", *args],
                         env={"NOTION_TOKEN": emu.notion_token,
                              "AIRTABLE_TOKEN": emu.airtable_token})


def warnings(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if " WARNING " in line]


@pytest.mark.parametrize("full", [True, False], ids=["full", "incremental"])
def test_delete_and_re_create_syncs_with_exit_0_and_one_warning(
        emu: Emulator, kind: str, tmp_path: Path, full: bool) -> None:
    config = tmp_path / "leadsync.toml"
    write_config(config, emu, kind)
    runner = CliRunner()
    assert sync(runner, config, emu).exit_code == 0
    with open_store(tmp_path / "leadsync.db") as store:
        cursor = store.cursor("signals")
        assert cursor is not None
        old_id = cursor.field_ids["impact"]

    delete_and_recreate_impact(emu, kind)
    assert isinstance(emu.clock, FrozenClock)
    emu.clock.advance(minutes=10)
    refill_one_impact(emu, kind)  # the user fills the new property in (an edit to pull)
    emu.clock.advance(minutes=1)
    result = sync(runner, config, emu, *(["--full"] if full else []))
    assert result.exit_code == 0, result.stderr
    (line,) = warnings(result)
    assert "impact -> 'Impact'" in line
    assert "signals" in line
    assert old_id in line
    with open_store(tmp_path / "leadsync.db") as store:
        cursor = store.cursor("signals")
        assert cursor is not None
        assert cursor.field_ids["impact"] != old_id  # the new property is what is kept
        assert cursor.field_names["impact"] == "Impact"

    emu.clock.advance(minutes=10)
    again = sync(runner, config, emu)
    assert again.exit_code == 0, again.stderr
    assert warnings(again) == []  # said once; the next night maps by the new id


def test_every_message_about_a_gone_property_names_the_configured_name_and_the_table(
        emu: Emulator, kind: str, tmp_path: Path) -> None:
    config = tmp_path / "leadsync.toml"
    write_config(config, emu, kind)
    runner = CliRunner()
    assert sync(runner, config, emu).exit_code == 0
    name = tomllib.loads(config.read_text())["tables"]["signals"]["fields"]["impact"]
    assert name == "Impact"
    # renamed, then deleted: neither the stored id nor the configured name exists now
    if kind == "notion":
        emu.notion.rename_property(emu.notion.data_source_ids["signals"], "Impact", "Impact2")
        client = notion_client.Client(auth=emu.notion_token, base_url=emu.url)
        client.data_sources.update(data_source_id=emu.notion.data_source_ids["signals"],
                                   properties={"Impact2": None})
        client.close()
    else:
        base, table_id = emu.airtable.sample_base_id, emu.airtable.sample_table_ids["signals"]
        emu.airtable.rename_field(base, table_id, "Impact", "Impact2")
        with emu.lock:
            table = emu.airtable.table(base, table_id)
            table.fields = [f for f in table.fields if f.name != "Impact2"]
            table.reindex()
    result = sync(runner, config, emu, "--full")
    assert result.exit_code == 1
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("leadsync: error: signals: ")
    assert "impact -> 'Impact' (property id '" in error
