"""Fixtures of the reliability probes, and the switch for their soak-length runs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from .kit import SOAK, Figures, Workspace, make_workspace


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Soak-length tests run only with ``LEADSYNC_SOAK=1`` (CI sets it, see ``.ci/run``)."""
    if SOAK:
        return
    skip = pytest.mark.skip(reason="soak: set LEADSYNC_SOAK=1 to run it "
                                   "(LEADSYNC_SOAK_SECONDS bounds each)")
    for item in items:
        if "soak" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def figures() -> Iterator[Figures]:
    """What the probes count; written to ``$LEADSYNC_FIGURES`` when the session ends."""
    collected = Figures()
    yield collected
    target = os.environ.get("LEADSYNC_FIGURES")
    if target and collected.data:
        collected.write(Path(target))


@pytest.fixture(params=["notion", "airtable"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def workspace(kind: str, tmp_path: Path) -> Iterator[Workspace]:
    """The sample organisation (8 members, 80 signals) in one emulated service."""
    yield from make_workspace(kind, tmp_path)
