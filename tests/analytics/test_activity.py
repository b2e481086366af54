"""find_quiet_members: recent activity against the member's own baseline."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from leadsync.analytics import find_quiet_members
from leadsync.errors import DataValidationError

from .factories import members, signal, signals

AS_OF = "2026-07-01"


def weekly(member_id: str, first: dt.date, count: int) -> list[dict[str, object]]:
    return [signal(member_id, (first + dt.timedelta(weeks=k)).isoformat()) for k in range(count)]


def example() -> tuple[pd.DataFrame, pd.DataFrame]:
    # Recent window: the 28 days to 07-01 (after 06-03); baseline: the 182 days before.
    baseline_start = dt.date(2025, 12, 9)  # 26 weekly signals, the last on 2026-06-02
    rows = [
        *weekly("quiet", baseline_start, 26), signal("quiet", "2026-06-20"),
        *weekly("steady", baseline_start, 26),
        signal("steady", "2026-06-10"), signal("steady", "2026-06-17"),
        signal("steady", "2026-06-24"),
        *weekly("sparse", baseline_start, 6),
        *weekly("new", dt.date(2026, 6, 5), 3),
    ]
    team = members(*({"member_id": m} for m in ("quiet", "steady", "sparse", "new", "none")))
    return signals(*rows), team


def test_quiet_members_by_hand() -> None:
    sig, team = example()
    result = find_quiet_members(sig, team, as_of=AS_OF)
    assert result.ok
    out = result.frame
    assert list(out["member_id"]) == ["quiet", "sparse", "steady", "new", "none"]
    row = out.set_index("member_id")
    # quiet: 26 in 26 weeks = 1 a week, so 4 expected in 4 weeks; 1 came: ratio 0.25.
    assert row.loc["quiet", "baseline_signals"] == 26
    assert row.loc["quiet", "baseline_per_week"] == pytest.approx(1.0)
    assert row.loc["quiet", "expected_recent"] == pytest.approx(4.0)
    assert row.loc["quiet", "recent_signals"] == 1
    assert row.loc["quiet", "activity_ratio"] == pytest.approx(0.25)
    assert row.loc["quiet", "quiet"]
    # steady: 3 of 4 expected: 0.75, not below half.
    assert row.loc["steady", "activity_ratio"] == pytest.approx(0.75)
    assert not row.loc["steady", "quiet"]
    # sparse: 6 in 26 weeks predicts 0.92 in 4 weeks: silence is not news.
    assert row.loc["sparse", "expected_recent"] == pytest.approx(6 / 182 * 28)
    assert row.loc["sparse", "activity_ratio"] == 0
    assert not row.loc["sparse", "quiet"]
    # new: no baseline, so no ratio (NA, not 0 or infinity); none: no signals at all.
    assert pd.isna(row.loc["new", "activity_ratio"])
    assert not row.loc["new", "quiet"]
    assert pd.isna(row.loc["none", "last_signal"])
    assert row.loc["quiet", "last_signal"] == pd.Timestamp("2026-06-20", tz="UTC")


def test_thresholds_are_configurable() -> None:
    sig, team = example()
    strict = find_quiet_members(sig, team, as_of=AS_OF, threshold=0.8).frame
    assert set(strict.loc[strict["quiet"], "member_id"]) == {"quiet", "steady"}
    eager = find_quiet_members(sig, team, as_of=AS_OF, min_expected=0.5).frame
    assert set(eager.loc[eager["quiet"], "member_id"]) == {"quiet", "sparse"}
    with pytest.raises(DataValidationError, match="recent_days"):
        find_quiet_members(sig, team, as_of=AS_OF, recent_days=-1)


def test_empty_and_one_member_teams() -> None:
    assert find_quiet_members(signals(), members(), as_of=AS_OF).frame.empty
    sig, _ = example()
    one = find_quiet_members(sig, members({"member_id": "quiet"}), as_of=AS_OF)
    assert list(one.frame["member_id"]) == ["quiet"]
    assert one.frame.loc[0, "quiet"]
    # Everybody else's signals name members not in this frame: reported, not dropped.
    assert len(one.quarantine) == len(sig) - 27
    assert one.quarantine["reason"].str.endswith("matches no member").all()
