"""Fixtures of the reliability probes.

Their soak-length tests carry the ``soak`` marker, deselected by default
(``pyproject.toml``); ``-m soak`` runs them, each bounded by ``LEADSYNC_SOAK_SECONDS``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from .kit import Figures, Workspace, make_workspace


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
