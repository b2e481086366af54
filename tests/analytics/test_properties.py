"""Hypothesis invariants over random small workspaces, for every analytics function.

Scores are finite and bounded; no input frame is modified; every input row is
either in the result or in the quarantine; shuffling the input rows changes
no result.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import leadsync.analytics as la
from leadsync.tables import IMPACT_LEVELS, INDICATORS, SIGNAL_TYPES, STAGES, build_frame

from .factories import shuffled

AS_OF = pd.Timestamp("2026-04-15T12:00:00Z")
MEETING_DAY = dt.date(2026, 3, 20)  # between the US and EU DST switches
IDS = [f"m{i}" for i in range(8)]
ZONES = [None, "America/New_York", "America/Los_Angeles", "Europe/London", "Europe/Berlin",
         "Australia/Sydney", "Asia/Kolkata", "Asia/Kathmandu", "Pacific/Auckland", "UTC"]
HOURS = [None, "09:00-17:00", "08:00-16:00", "22:00-06:00", "10:30-19:00", "00:00-24:00"]
DAYS = st.dates(dt.date(2025, 1, 1), dt.date(2026, 5, 31)).map(dt.date.isoformat)

SETTINGS = settings(max_examples=30, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@st.composite
def workspaces(draw: st.DrawFn) -> dict[str, pd.DataFrame]:
    ids = draw(st.lists(st.sampled_from(IDS), unique=True, max_size=len(IDS)))
    member_rows = []
    for member_id in ids:
        on_track = draw(st.booleans())
        member_rows.append({
            "source_id": f"p-{member_id}", "member_id": member_id, "name": member_id,
            "timezone": draw(st.sampled_from(ZONES)),
            "working_hours": draw(st.sampled_from(HOURS)),
            "is_leader": draw(st.sampled_from([True, False, None])),
            "track": "technical_leadership" if on_track else None,
            "stage": draw(st.sampled_from(STAGES)) if on_track else None,
            "stage_started": draw(DAYS) if on_track else None,
            "mentor_id": draw(st.sampled_from([None, *ids])),
        })
    members = build_frame("members", member_rows).frame
    pool = [*ids, "ghost"]  # signals may name nobody
    signal_rows = [
        {"source_id": f"s{i}", "member_id": draw(st.sampled_from(pool)),
         "signal_type": draw(st.sampled_from(SIGNAL_TYPES)),
         "indicator": draw(st.sampled_from([None, *INDICATORS])),
         "impact": draw(st.sampled_from(IMPACT_LEVELS)), "date": draw(DAYS),
         "evidence": draw(st.sampled_from([None, "https://example.org/pr/1"]))}
        for i in range(draw(st.integers(0, 40)))
    ]
    milestone_names = [m for s in STAGES for m in la.TECHNICAL_LEADERSHIP_TRACK[s]["milestones"]]
    milestone_rows = [
        {"source_id": f"ms{i}", "member_id": draw(st.sampled_from(pool)),
         "milestone": draw(st.sampled_from(milestone_names)),
         "completed_on": draw(st.one_of(st.none(), DAYS))}
        for i in range(draw(st.integers(0, 10)))
    ]
    checkin_rows = [
        {"source_id": f"c{i}", "mentee_id": draw(st.sampled_from(pool)), "date": draw(DAYS)}
        for i in range(draw(st.integers(0, 10)))
    ]
    rotation_rows = [
        {"source_id": f"r{i}", "starts_on": draw(DAYS), "lead_id": draw(st.sampled_from(pool))}
        for i in range(draw(st.integers(0, 8)))
    ]
    review_rows = [
        {"source_id": f"v{i}", "nominee_id": draw(st.sampled_from(pool)),
         **{c: draw(st.integers(1, 5)) for c in la.CRITERIA},
         "approvers": draw(st.lists(st.sampled_from(pool), max_size=4)),
         "decision": draw(st.sampled_from([None, "Pending", "Approved", "Declined"])),
         "decided_on": draw(st.one_of(st.none(), DAYS))}
        for i in range(draw(st.integers(0, 5)))
    ]
    return {
        "members": members,
        "signals": build_frame("signals", signal_rows).frame,
        "milestones": build_frame("milestones", milestone_rows).frame,
        "checkins": build_frame("checkins", checkin_rows).frame,
        "rotations": build_frame("rotations", rotation_rows).frame,
        "reviews": build_frame("reviews", review_rows).frame,
    }


def analyses(w: dict[str, pd.DataFrame]) -> dict[str, Callable[[], Any]]:
    m, s = w["members"], w["signals"]
    scores = la.score_members(s, m, as_of=AS_OF).frame
    return {
        "score_members": lambda: la.score_members(s, m, as_of=AS_OF),
        "compute_timezone_groups": lambda: la.compute_timezone_groups(m, as_of=AS_OF),
        "assess_representation": lambda: la.assess_representation(m, s, scores, as_of=AS_OF),
        "publishable_representation": lambda: la.assess_representation(
            m, s, scores, as_of=AS_OF, publishable=True),
        "compute_overlap": lambda: la.compute_overlap(m, on=MEETING_DAY),
        "compute_pairwise_overlap": lambda: la.compute_pairwise_overlap(m, on=MEETING_DAY),
        "rank_meeting_slots": lambda: la.rank_meeting_slots(m, on=MEETING_DAY),
        "plan_meeting_rotation": lambda: la.plan_meeting_rotation(m, start=MEETING_DAY, weeks=3),
        "assess_tracks": lambda: la.assess_tracks(m, w["milestones"], as_of=AS_OF),
        "assess_promotions": lambda: la.assess_promotions(w["reviews"], s, m, as_of=AS_OF),
        "assess_mentorship": lambda: la.assess_mentorship(m, w["checkins"], as_of=AS_OF),
        "find_quiet_members": lambda: la.find_quiet_members(s, m, as_of=AS_OF),
        "assess_sprint_rotation": lambda: la.assess_sprint_rotation(w["rotations"], m,
                                                                    as_of=AS_OF),
    }


def frames_of(result: Any) -> dict[str, pd.DataFrame]:
    return {f.name: getattr(result, f.name) for f in dataclasses.fields(result)}


def assert_same(a: Any, b: Any, name: str) -> None:
    for key, left in frames_of(a).items():
        right = frames_of(b)[key]
        if isinstance(left, pd.Series):  # member names, for display
            pd.testing.assert_series_equal(left.sort_index(), right.sort_index(),
                                           obj=f"{name}.{key}")
            continue
        if not isinstance(left, pd.DataFrame):  # a flag or a figure beside the frames
            assert left == right, f"{name}.{key}"
            continue
        pd.testing.assert_frame_equal(left, right, check_exact=False, rtol=1e-9, atol=1e-9,
                                      obj=f"{name}.{key}")


@pytest.mark.soak  # 30 workspaces through every analysis twice: about half a minute
@SETTINGS
@given(workspace=workspaces(), seed=st.integers(0, 2**16))
def test_inputs_unchanged_and_row_order_changes_nothing(
    workspace: dict[str, pd.DataFrame], seed: int
) -> None:
    copies = {k: v.copy(deep=True) for k, v in workspace.items()}
    before = {name: run() for name, run in analyses(workspace).items()}
    for key, frame in workspace.items():
        pd.testing.assert_frame_equal(frame, copies[key], obj=f"input {key}")
    mixed = {k: shuffled(v, seed + i) for i, (k, v) in enumerate(workspace.items())}
    after = {name: run() for name, run in analyses(mixed).items()}
    for name, result in before.items():
        assert_same(result, after[name], name)


@SETTINGS
@given(workspace=workspaces())
def test_scores_are_finite_and_bounded(workspace: dict[str, pd.DataFrame]) -> None:
    frame = la.score_members(workspace["signals"], workspace["members"], as_of=AS_OF).frame
    for column in ("score", "previous_score", "percentile", "impact", "shrunk_impact",
                   "breadth", "recent_signals"):
        values = frame[column].to_numpy(dtype=float)
        assert np.isfinite(values).all(), column
        assert (values >= 0).all(), column
    assert (frame["score"] < 100).all()
    assert (frame["previous_score"] < 100).all()
    assert (frame["percentile"] <= 100).all()
    assert (frame["breadth"] <= 1).all()
    rate = frame["evidence_rate"]
    assert (rate.isna() == (frame["signals"] == 0)).all()
    assert ((rate.dropna() >= 0) & (rate.dropna() <= 1)).all()
    assert (frame["rank"] >= 1).all()


def quarantined(result: Any, table: str) -> int:
    return int((result.quarantine["table"] == table).sum())


@SETTINGS
@given(workspace=workspaces())
def test_every_row_is_in_the_result_or_the_quarantine(workspace: dict[str, pd.DataFrame]) -> None:
    m, s = workspace["members"], workspace["signals"]
    scores = la.score_members(s, m, as_of=AS_OF)
    assert len(scores.frame) + quarantined(scores, "members") == len(m)
    assert int(scores.frame["signals"].sum()) + quarantined(scores, "signals") == len(s)

    quiet = la.find_quiet_members(s, m, as_of=AS_OF)
    assert len(quiet.frame) + quarantined(quiet, "members") == len(m)

    groups = la.compute_timezone_groups(m, as_of=AS_OF)
    assert len(groups.frame) + len(groups.quarantine) == len(m)

    representation = la.assess_representation(m, s, scores.frame, as_of=AS_OF)
    for _, part in representation.frame.groupby("grouping"):
        assert int(part["members"].sum()) == len(groups.frame)

    overlap = la.compute_pairwise_overlap(m, on=MEETING_DAY)
    matrix = overlap.frame.to_numpy()
    assert len(overlap.frame) + len(overlap.quarantine) == len(m)
    assert (matrix == matrix.T).all()
    assert (matrix <= np.diag(matrix)[:, None] + 1e-6).all()
    team = la.compute_overlap(m, on=MEETING_DAY)
    if len(matrix):
        assert team.hours <= matrix.min() + 1e-6

    promotions = la.assess_promotions(workspace["reviews"], s, m, as_of=AS_OF)
    assert len(promotions.frame) + quarantined(promotions, "reviews") == len(
        workspace["reviews"])


@SETTINGS
@given(workspace=workspaces(), min_size=st.integers(1, 5))
def test_published_rows_never_cover_a_small_group(
    workspace: dict[str, pd.DataFrame], min_size: int
) -> None:
    m, s = workspace["members"], workspace["signals"]
    scores = la.score_members(s, m, as_of=AS_OF).frame
    frame = la.assess_representation(m, s, scores, as_of=AS_OF, publishable=True,
                                     min_group_size=min_size).frame
    shown = frame["members"].dropna()
    assert (shown >= min_size).all()
    numbers = frame.drop(columns=["grouping", "group", "suppressed"])
    hidden = frame["members"].isna()
    assert numbers[hidden].isna().all(axis=None)
