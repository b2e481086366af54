"""Shared test helpers: where the real API payloads live (``tests/fixtures``), and emulator
fixtures."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from leadsync.connectors.base import Limiters
from tiers import mark_heavy

from leadsync.emulator import Emulator, FrozenClock, Limits

# pandas 3 keeps "string" columns in Arrow when pyarrow is installed, as the
# test extra does (for the Parquet export and the dlt source); the suite runs
# on that storage, which is what most users have.

REPO = Path(__file__).resolve().parents[1]

#: leadsync's own suite uses the fixtures it ships (tests/emulator/test_pytest_plugin.py);
#: they are opt-in, as for any user's suite.
pytest_plugins = ["leadsync.emulator.pytest_plugin"]


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects: the heavy marks must be on
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The tests listed in ``tests/tiers.py`` are marked ``heavy``. Tests marked ``live``
    talk to the real services: skipped unless ``LEADSYNC_LIVE=1``."""
    mark_heavy(config, items)
    if os.environ.get("LEADSYNC_LIVE") == "1":
        return
    skip = pytest.mark.skip(reason="live test: set LEADSYNC_LIVE=1, LEADSYNC_LIVE_CONFIG "
                                   "and the workspace token to run it")
    for item in items:
        if "live" in item.keywords:
            item.add_marker(skip)


#: The real Notion and Airtable payloads the tests compare against, each ``X.json`` with
#: ``X.source.txt`` saying where it was recorded. Copies of ``../shared/fixtures`` (the
#: reference they were taken from), so a clone alone runs the suite.
FIXTURES = REPO / "tests" / "fixtures"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """The real Notion and Airtable payloads in ``tests/fixtures``."""
    return FIXTURES


@pytest.fixture(scope="session")
def load_fixture(fixtures_dir: Path) -> Any:
    """``load_fixture("notion/database_retrieve_2025-09-03.json")`` -> parsed JSON."""
    def load(name: str) -> Any:
        return json.loads((fixtures_dir / name).read_text(encoding="utf-8"))
    return load


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """An empty emulator with no rate limits, serving on loopback."""
    with Emulator(seed=0, limits=Limits.unlimited()) as emu:
        yield emu


def frozen_pacing(clock: FrozenClock) -> Limiters:
    """Pacing in the emulator's frozen time: the connectors' limiters read ``clock``, and
    their waits (pacing, ``Retry-After``, backoff) move it instead of sleeping.

    The emulator's rate-limit buckets refill by the same clock, so whether a paced
    client meets a 429 no longer depends on how fast the machine runs, and nothing
    waits in real time.
    """
    return Limiters(clock=clock.monotonic, sleep=clock.sleep)
