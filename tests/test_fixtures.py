"""The real payloads in tests/fixtures: each with its source note, equal to the reference."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"

PAYLOADS = sorted(FIXTURES.glob("*/*.json"))


def test_both_services_have_payloads() -> None:
    assert {p.parent.name for p in PAYLOADS} == {"notion", "airtable"}
    assert len(PAYLOADS) >= 30


@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_payload_is_json_with_its_source_note(payload: Path) -> None:
    json.loads(payload.read_text(encoding="utf-8"))
    note = payload.with_name(payload.name.removesuffix(".json") + ".source.txt")
    assert note.is_file(), f"{payload.name} has no source note"
    assert note.read_text(encoding="utf-8").strip()


def test_the_copies_equal_the_reference() -> None:
    reference = Path(os.environ.get("LEADSYNC_SHARED", REPO.parent / "shared")) / "fixtures"
    if not reference.is_dir():
        pytest.skip(f"no reference set at {reference} (a clone alone): nothing to compare")
    theirs = {p.relative_to(reference): p.read_bytes()
              for p in reference.glob("*/*") if p.suffix in (".json", ".txt")}
    ours = {p.relative_to(FIXTURES): p.read_bytes()
            for p in FIXTURES.glob("*/*") if p.suffix in (".json", ".txt")}
    assert ours == theirs
