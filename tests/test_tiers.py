"""The heavy tier's table (tests/tiers.py): what it marks, and that it cannot go stale."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from tiers import HEAVY, mark_heavy


class FakeItem:
    def __init__(self, nodeid: str) -> None:
        self.nodeid = nodeid
        self.marks: list[str] = []

    def add_marker(self, mark: Any) -> None:
        self.marks.append(mark.name)


def _config(*args: str) -> Any:
    return SimpleNamespace(args=list(args) or ["tests"])


def _family(test: str) -> list[FakeItem]:
    (entry,) = [h for h in HEAVY if h.test == test]
    return [FakeItem(f"{test}[{p}]") for p in (*entry.keep, "some-other-case")]


def test_listed_cases_are_heavy_and_the_kept_ones_stay_in_the_default_suite() -> None:
    file = "tests/test_sync_crash.py"
    test = f"{file}::test_a_first_sync_killed_anywhere_resumes_exactly"
    items = _family(test)
    siblings = [i for h in HEAVY if h.test.startswith(file) and h.test != test
                for i in _family(h.test)]
    other = FakeItem(f"{file}::test_there_are_at_least_twenty_distinct_kill_points")
    mark_heavy(_config(), [*items, *siblings, other])
    *kept, listed = items
    assert kept
    assert all(i.marks == [] for i in kept)
    assert listed.marks == ["heavy"]
    assert other.marks == []


def test_an_entry_naming_a_test_that_is_gone_fails_the_collection() -> None:
    # The file of the first entry is collected, but none of the entry's tests is.
    file = HEAVY[0].test.split("::")[0]
    with pytest.raises(pytest.UsageError, match="no such test"):
        mark_heavy(_config(), [FakeItem(f"{file}::test_renamed")])


def test_a_kept_case_that_is_gone_fails_the_collection() -> None:
    test = "tests/test_demo.py::test_demo_syncs_then_reports"
    items = [FakeItem(f"{test}[notion]")]  # "airtable", the kept case, is gone
    others = [FakeItem(f"{h.test}") for h in HEAVY if h.test.startswith("tests/test_demo.py")
              and h.test != test]
    with pytest.raises(pytest.UsageError, match=r"\[airtable\]: no such case"):
        mark_heavy(_config(), items + others)


def test_running_single_tests_does_not_check_the_table() -> None:
    file = HEAVY[0].test.split("::")[0]
    item = FakeItem(f"{file}::test_the_kill_points_are_checkpoints")
    mark_heavy(_config(f"{file}::test_the_kill_points_are_checkpoints"), [item])
    assert item.marks == []


def test_the_tiers_are_applied_in_this_session(request: pytest.FixtureRequest) -> None:
    """This session ran with the default ``-m`` (or another): no heavy test slipped
    into a run that deselects them."""
    expression = request.config.getoption("markexpr")
    if "not heavy" not in expression:
        pytest.skip(f"this session selects {expression!r}")
    session_items = request.session.items
    assert not [i.nodeid for i in session_items if i.get_closest_marker("heavy")]
