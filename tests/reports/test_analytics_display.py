"""Analytics results in a notebook: HTML tables with member names, escaped."""

from __future__ import annotations

from html.parser import HTMLParser

import pandas as pd
import pytest
from report_sample import sample_frames

import leadsync.analytics as la
from leadsync.tables import build_frame

AS_OF = "2026-11-01"


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data.strip())


def parsed(markup: str) -> _Text:
    reader = _Text()
    reader.feed(markup)
    return reader


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    frames = sample_frames(members=12)
    members = frames["members"].copy()
    members["name"] = members["name"].astype("object")
    members.loc[members.index[0], "name"] = "<b>Bold</b> & <script>x()</script>"
    members["name"] = members["name"].astype("string")
    frames["members"] = members
    return frames


def test_scores_show_names_beside_ids(frames: dict[str, pd.DataFrame]) -> None:
    result = la.score_members(frames["signals"], frames["members"], as_of=AS_OF)
    page = parsed(result._repr_html_())
    headers = [t for t in page.text if t]
    assert headers[headers.index("member_id") + 1] == "name"
    names = set(frames["members"]["name"])
    assert sum(t in names for t in page.text) == len(frames["members"])
    assert "<b>Bold</b> & <script>x()</script>" in page.text  # shown as text
    assert "script" not in page.tags
    assert "b" not in page.tags
    assert "quarantined" in result._repr_html_()


@pytest.mark.parametrize("make", [
    lambda f: la.find_quiet_members(f["signals"], f["members"], as_of=AS_OF),
    lambda f: la.assess_mentorship(f["members"], f["checkins"], as_of=AS_OF),
    lambda f: la.assess_tracks(f["members"], f["milestones"], as_of=AS_OF),
    lambda f: la.assess_promotions(f["reviews"], f["signals"], f["members"], as_of=AS_OF),
    lambda f: la.compute_timezone_groups(f["members"], as_of=AS_OF),
    lambda f: la.compute_overlap(  # one region, so that there is an overlap to list
        f["members"][f["members"]["timezone"].str.startswith("America/")], on="2026-11-04"),
    lambda f: la.plan_meeting_rotation(f["members"], start="2026-11-04", weeks=2),
    lambda f: la.assess_sprint_rotation(f["rotations"], f["members"], as_of=AS_OF),
    lambda f: la.compute_pairwise_overlap(f["members"], on="2026-11-04"),
], ids=["quiet", "mentorship", "tracks", "promotions", "groups", "overlap", "meetings",
        "sprints", "pairwise"])
def test_every_result_displays_names(make: object, frames: dict[str, pd.DataFrame]) -> None:
    result = make(frames)  # type: ignore[operator]
    markup = result._repr_html_()
    page = parsed(markup)
    names = set(frames["members"]["name"])
    assert any(t in names for t in page.text), markup[:500]
    assert "script" not in page.tags


def test_a_frame_built_from_members_needs_no_lookup() -> None:
    built = build_frame("members", [{"member_id": "a", "name": "Ada", "source_id": "a"}])
    assert "Ada" in built._repr_html_()


def test_a_result_prints_what_it_holds_not_a_wall_of_frame(
        frames: dict[str, pd.DataFrame]) -> None:
    result = la.score_members(frames["signals"], frames["members"], as_of=AS_OF)
    text = repr(result)
    rows, columns = result.frame.shape
    assert text == (f"<Validated: {rows:,} rows × {columns} columns in .frame, "
                    f"{len(result.quarantine):,} quarantined in .quarantine>")
    assert "Validated(frame=" not in text


def test_results_of_several_frames_print_what_they_hold(
        frames: dict[str, pd.DataFrame]) -> None:
    members = frames["members"]
    rotation = la.plan_meeting_rotation(members, start="2026-11-04", weeks=2)
    assert repr(rotation) == (
        f"<MeetingRotation: 2 rows in .schedule, {len(rotation.burden):,} rows in .burden, "
        f"{len(rotation.quarantine)} quarantined in .quarantine; "
        + ("proven optimal>" if rotation.optimal else f"bound {rotation.bound_hours:g} h>"))
    overlap = la.compute_overlap(members, on="2026-11-04")
    assert repr(overlap).startswith("<Overlap: ")
    assert f"{len(overlap.local):,} rows in .local" in repr(overlap)
    sprints = la.assess_sprint_rotation(frames["rotations"], members, as_of=AS_OF)
    assert repr(sprints).startswith(f"<SprintRotation: {len(sprints.members):,} rows in .members")
