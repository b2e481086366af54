"""pytest fixtures for code that uses leadsync: the emulator, started and stopped per test.

Opt-in: installing leadsync registers no pytest plugin, so no other test
session pays for loading the emulator (pandas, pydantic). A project enables
the fixtures with ``pip install 'leadsync[testing]'`` and either
``pytest -p leadsync.emulator.pytest_plugin`` (or ``addopts`` in its pytest
configuration) or, in its top-level ``conftest.py``::

    pytest_plugins = ["leadsync.emulator.pytest_plugin"]

Its tests then ask for them without importing anything::

    def test_my_report(leadsync_sample):
        frame = leadsync.read_notion(leadsync_sample.notion.sample_ids["signals"],
                                     token=leadsync_sample.notion_token,
                                     base_url=leadsync_sample.url)

Both run with rate limits off; build an :class:`~leadsync.emulator.Emulator`
with :class:`~leadsync.emulator.Limits` yourself to test pacing.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from leadsync.emulator.core import Limits
from leadsync.emulator.sample import SampleOrg
from leadsync.emulator.server import Emulator


@pytest.fixture
def leadsync_emulator() -> Iterator[Emulator]:
    """Empty Notion and Airtable workspaces on loopback (``emu.url``, ``emu.notion_token``…)."""
    with Emulator(seed=0, limits=Limits.unlimited()) as emu:
        yield emu


@pytest.fixture
def leadsync_sample() -> Iterator[Emulator]:
    """Both workspaces holding the sample organisation (``emu.sample`` is the SampleOrg);
    ``emu.config_toml("notion")`` is a leadsync.toml pointing at it."""
    with Emulator(seed=0, limits=Limits.unlimited(), sample=SampleOrg.generate(seed=0)) as emu:
        yield emu
