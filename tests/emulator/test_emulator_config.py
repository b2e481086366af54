"""The emulator writes a leadsync.toml that points at its seeded sample."""

from __future__ import annotations

import tomllib

import pytest

from leadsync.config import parse_config
from leadsync.emulator import Emulator, Limits, SampleOrg


@pytest.fixture(scope="module")
def emu() -> Emulator:
    org = SampleOrg.generate(seed=5, members=12, signals=40)
    with Emulator(seed=5, limits=Limits.unlimited(), sample=org) as emulator:
        yield emulator


def test_notion_config_names_every_seeded_database(emu: Emulator) -> None:
    config = parse_config(tomllib.loads(emu.config_toml("notion")), "emu.toml")
    assert config.workspace.notion_base_url == emu.url
    assert {t: c.notion_database for t, c in config.tables.items()} == emu.notion.sample_ids
    assert config.tables["signals"].fields["member_id"] == "Team Member"


def test_airtable_config_names_the_base_and_tables(emu: Emulator) -> None:
    config = parse_config(tomllib.loads(emu.config_toml("airtable")), "emu.toml")
    assert config.workspace.airtable_endpoint_url == emu.url
    assert {t: c.airtable_table for t, c in config.tables.items()} == emu.airtable.sample_table_ids
    assert {c.airtable_base for c in config.tables.values()} == {emu.airtable.sample_base_id}


@pytest.mark.parametrize("kind", ["notion", "airtable"])
def test_without_a_sample_the_config_is_the_workspace_part_bootstrap_completes(
        kind: str) -> None:
    with Emulator(limits=Limits.unlimited(), sample=False) as emu:
        text = emu.config_toml(kind)
        data = tomllib.loads(text)
        assert "tables" not in data
        workspace = data["workspace"]
        assert workspace["kind"] == kind
        # both services answer at the emulator's URL, so either bootstrap works from it
        assert workspace["notion_base_url"] == workspace["airtable_endpoint_url"] == emu.url
        where = (f"--notion {emu.notion.root_page_id}" if kind == "notion"
                 else f"--airtable {emu.empty_base()}")
        assert f"leadsync bootstrap {where}" in text
