"""score_members: hand-computed scores, shrinkage, breadth, percentiles, bad input."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from leadsync.analytics import DEFAULT_IMPACT_WEIGHTS, score_members
from leadsync.config import ScoringConfig
from leadsync.errors import DataValidationError
from leadsync.tables import QUARANTINE_COLUMNS

from .factories import members, signal, signals

AS_OF = "2026-04-01"
#: The default reference impact: one Medium signal every 14 days, steady state.
R = 3 / (1 - 0.5 ** (14 / 90))


def by_member(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.set_index("member_id")


def test_defaults_are_the_scoring_config_defaults() -> None:
    assert ScoringConfig().impact_weights == DEFAULT_IMPACT_WEIGHTS
    assert score_members.__kwdefaults__["half_life_days"] == ScoringConfig().half_life_days


def test_one_member_by_hand() -> None:
    team = members({"member_id": "ada"})
    sig = signals(
        # 2026-01-01 → 2026-04-01 is 31 + 28 + 31 = 90 days: one half-life, 9 × 0.5 = 4.5
        signal("ada", "2026-01-01", "High", evidence="https://example.org/pr/1"),
        # dated as_of: no decay, 3
        signal("ada", "2026-04-01", "Medium"),
    )
    row = score_members(sig, team, as_of=AS_OF).frame.iloc[0]
    assert row["signals"] == 2
    assert row["impact"] == pytest.approx(7.5)
    assert row["recent_signals"] == pytest.approx(1.5)
    assert row["impact_technical"] == pytest.approx(7.5)
    assert row["impact_operational"] == 0
    # A team of one is its own average (7.5 / 1.5 = 5): shrinkage changes nothing,
    # 1.5 × (7.5 + 5 × 5) / (1.5 + 5) = 7.5
    assert row["shrunk_impact"] == pytest.approx(7.5)
    assert row["breadth"] == 0
    assert row["score"] == pytest.approx(100 * 7.5 / (7.5 + R))  # ≈ 20.35
    assert row["evidence_rate"] == pytest.approx(0.5)
    assert row["rank"] == 1
    assert row["percentile"] == 50  # mid-rank of a team of one
    # A month earlier (2026-03-01) only the High signal existed, 59 days old.
    decayed = 9 * 0.5 ** (59 / 90)
    assert row["previous_score"] == pytest.approx(100 * decayed / (decayed + R))
    assert row["score_change"] == pytest.approx(row["score"] - row["previous_score"])


def test_breadth_rewards_a_balanced_record() -> None:
    team = members({"member_id": "x"}, {"member_id": "y"})
    sig = signals(
        signal("x", AS_OF, signal_type="Technical"),
        signal("x", AS_OF, signal_type="Operational"),
        signal("x", AS_OF, signal_type="Communication"),
        signal("y", AS_OF, signal_type="Technical"),
        signal("y", AS_OF, signal_type="Communication"),
    )
    out = by_member(score_members(sig, team, as_of=AS_OF).frame)
    # Equal thirds: 1 − 3 × (1/3)² = 2/3, scaled by 2/3 → 1. Halves: (1 − 0.5) / (2/3) = 0.75.
    assert out.loc["x", "breadth"] == pytest.approx(1.0)
    assert out.loc["y", "breadth"] == pytest.approx(0.75)
    # Team average 15 / 5 = 3 = everyone's own: shrunk x = 9, y = 6.
    # Adjusted: 9 × (1 + 0.5 × 1) = 13.5 and 6 × (1 + 0.5 × 0.75) = 8.25.
    assert out.loc["x", "score"] == pytest.approx(100 * 13.5 / (13.5 + R))
    assert out.loc["y", "score"] == pytest.approx(100 * 8.25 / (8.25 + R))
    flat = by_member(score_members(sig, team, as_of=AS_OF, breadth_weight=0).frame)
    assert flat.loc["x", "score"] == pytest.approx(100 * 9 / (9 + R))


def shrinkage_team() -> tuple[pd.DataFrame, pd.DataFrame]:
    ids = ["a", "b", "c", "d", "e"]
    rows = [signal("a", AS_OF, "High")]
    for who in ids[1:]:
        rows += [signal(who, AS_OF, "Medium"), signal(who, AS_OF, "Medium"),
                 signal(who, AS_OF, "Low")]
    return signals(*rows), members(*({"member_id": i} for i in ids))


def test_one_high_signal_does_not_top_the_table() -> None:
    sig, team = shrinkage_team()
    out = by_member(score_members(sig, team, as_of=AS_OF).frame)
    # Raw impact puts the single High signal first: 9 against 3 + 3 + 1 = 7.
    assert out.loc["a", "impact"] == 9
    assert out.loc["b", "impact"] == 7
    # Team average m = (9 + 4 × 7) / (1 + 4 × 3) = 37/13.
    # a: 1 × (9 + 5m) / (1 + 5) ≈ 3.87; b: 3 × (7 + 5m) / (3 + 5) ≈ 7.96.
    m = 37 / 13
    assert out.loc["a", "shrunk_impact"] == pytest.approx((9 + 5 * m) / 6)
    assert out.loc["b", "shrunk_impact"] == pytest.approx(3 * (7 + 5 * m) / 8)
    assert out.loc["a", "rank"] == 5
    assert set(out.index[out["rank"] == 1]) == {"b", "c", "d", "e"}
    # Mid-rank percentiles: a has nobody below, 0.5 / 5 → 10; the four tied: (1 + 2) / 5 → 60.
    assert out.loc["a", "percentile"] == pytest.approx(10)
    assert out.loc["b", "percentile"] == pytest.approx(60)


def test_without_shrinkage_the_single_high_signal_would_top_it() -> None:
    sig, team = shrinkage_team()
    out = by_member(score_members(sig, team, as_of=AS_OF, prior_strength=0).frame)
    assert out.loc["a", "rank"] == 1


def test_frame_is_ordered_by_score_then_id() -> None:
    sig, team = shrinkage_team()
    out = score_members(sig, team, as_of=AS_OF).frame
    assert list(out["member_id"]) == ["b", "c", "d", "e", "a"]


def test_empty_team() -> None:
    result = score_members(signals(), members(), as_of=AS_OF)
    assert result.frame.empty
    assert list(result.frame.columns) == [
        "member_id", "score", "rank", "percentile", "previous_score", "score_change",
        "signals", "recent_signals", "impact", "impact_technical", "impact_operational",
        "impact_communication", "shrunk_impact", "breadth", "evidence_rate",
    ]
    assert str(result.frame["score"].dtype) == "Float64"
    assert result.ok


def test_members_without_signals_score_zero_and_have_no_evidence_rate() -> None:
    out = score_members(signals(), members({"member_id": "a"}, {"member_id": "b"}),
                        as_of=AS_OF).frame
    assert list(out["score"]) == [0, 0]
    assert list(out["rank"]) == [1, 1]
    assert list(out["percentile"]) == [50, 50]
    assert out["evidence_rate"].isna().all()


def test_custom_weights_are_laid_over_the_defaults() -> None:
    team = members({"member_id": "a"})
    sig = signals(signal("a", AS_OF, "High"), signal("a", AS_OF, "Low"))
    out = score_members(sig, team, as_of=AS_OF, impact_weights={"High": 5}).frame
    assert out.loc[0, "impact"] == 6  # 5 + the default Low 1
    with pytest.raises(DataValidationError, match=r"unknown key.*'Huge'"):
        score_members(sig, team, as_of=AS_OF, impact_weights={"Huge": 5})
    with pytest.raises(DataValidationError, match="High=-1"):
        score_members(sig, team, as_of=AS_OF, impact_weights={"High": -1})
    with pytest.raises(DataValidationError, match="half_life_days"):
        score_members(sig, team, as_of=AS_OF, half_life_days=0)
    with pytest.raises(DataValidationError, match="reference_impact"):
        score_members(sig, team, as_of=AS_OF, impact_weights={"Medium": 0})


@pytest.mark.parametrize(
    "as_of",
    [
        dt.date(2026, 4, 1),
        "2026-04-01",
        "2026-04-01T00:00:00Z",
        dt.datetime(2026, 4, 1),  # naive: read as UTC
        pd.Timestamp("2026-04-01T02:00:00+02:00"),
    ],
)
def test_as_of_is_normalised_to_utc(as_of: object) -> None:
    team = members({"member_id": "a"})
    sig = signals(signal("a", "2026-04-01"))
    out = score_members(sig, team, as_of=as_of)
    assert out.ok
    assert out.frame.loc[0, "impact"] == 3


def test_unparseable_as_of_is_an_error() -> None:
    with pytest.raises(DataValidationError, match="as_of 'soon' is not a date"):
        score_members(signals(), members(), as_of="soon")


def test_signals_that_do_not_fit_are_quarantined_with_reasons() -> None:
    team = members({"member_id": "a"})
    sig = signals(
        signal("a", "2026-03-01", signal_id="ok"),
        signal("a", "2026-05-01", signal_id="future"),
        signal("ghost", "2026-03-01", signal_id="orphan"),
        signal("a", "2026-03-01", signal_id="huge"),
    )
    hand_made = sig.astype({"impact": "object"})
    hand_made.loc[hand_made["signal_id"] == "huge", "impact"] = "Huge"
    result = score_members(hand_made, team, as_of=AS_OF)
    assert result.frame.loc[0, "signals"] == 1
    q = result.quarantine.set_index("source_id")
    assert tuple(result.quarantine.columns) == QUARANTINE_COLUMNS
    assert set(q.index) == {"src-future", "src-orphan", "src-huge"}
    assert q.loc["src-future", "reason"] == (
        "date 2026-05-01T00:00:00+00:00 is after as_of 2026-04-01T00:00:00+00:00"
    )
    assert q.loc["src-orphan", "reason"] == "member_id 'ghost' matches no member"
    assert q.loc["src-huge", "reason"] == "impact 'Huge' is not one of Low, Medium, High"
    assert (q["table"] == "signals").all()
    assert '"signal_id":"huge"' in q.loc["src-huge", "record"]
    with pytest.raises(DataValidationError, match="3 row"):
        result.raise_if_bad()


def test_missing_values_are_quarantined_not_nan() -> None:
    team = members({"member_id": "a"})
    sig = signals(signal("a", "2026-03-01"), signal("a", "2026-03-02"))
    hand_made = sig.copy()
    hand_made.loc[1, "date"] = pd.NaT
    result = score_members(hand_made, team, as_of=AS_OF)
    assert list(result.quarantine["reason"]) == ["date is missing"]
    assert result.frame["score"].notna().all()


def test_duplicate_ids_are_errors_naming_them() -> None:
    team = members({"member_id": "a"})
    sig = signals(signal("a", AS_OF, signal_id="s1"), signal("a", AS_OF, signal_id="s2"))
    twice = pd.concat([sig, sig.iloc[[0]]], ignore_index=True)
    with pytest.raises(DataValidationError, match="signals has duplicate signal_id 's1'"):
        score_members(twice, team, as_of=AS_OF)
    with pytest.raises(DataValidationError, match="members has duplicate member_id 'a'"):
        score_members(sig, pd.concat([team, team], ignore_index=True), as_of=AS_OF)


def test_missing_columns_are_errors_naming_them() -> None:
    team = members({"member_id": "a"})
    sig = signals(signal("a", AS_OF)).drop(columns=["impact", "date"])
    with pytest.raises(DataValidationError, match=r"signals frame has no column.*'date', 'impact'"):
        score_members(sig, team, as_of=AS_OF)
