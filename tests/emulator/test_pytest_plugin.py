"""The fixtures leadsync ships to its users' test suites."""

from __future__ import annotations

import leadsync
from leadsync.emulator import Emulator


def test_empty_emulator_fixture(leadsync_emulator: Emulator) -> None:
    assert leadsync_emulator.url.startswith("http://127.0.0.1:")
    assert leadsync_emulator.sample is None


def test_sample_fixture_can_be_read_like_a_workspace(leadsync_sample: Emulator) -> None:
    emu = leadsync_sample
    members = leadsync.read_notion(emu.notion.sample_ids["members"], table="members",
                                   token=emu.notion_token, base_url=emu.url)
    assert len(members) == len(emu.sample.members)
