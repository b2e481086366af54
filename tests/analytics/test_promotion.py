"""assess_promotions: the decision matrix, evidence per criterion, and the consensus rule."""

from __future__ import annotations

import pandas as pd
import pytest

from leadsync.analytics import DECISION_WEIGHTS, PROMOTION_STATUSES, assess_promotions
from leadsync.errors import DataValidationError

from .factories import frame, members, signal, signals

AS_OF = "2026-03-31"
LINK = "https://example.org/doc"


def team() -> pd.DataFrame:
    return members(
        {"member_id": "n1"}, {"member_id": "n2"}, {"member_id": "p1"},
        *({"member_id": f"L{i}", "is_leader": True} for i in range(1, 5)),
    )


def review(review_id: str, nominee: str, scores: tuple[float, ...], approvers: tuple[str, ...],
           decision: str | None, decided_on: str | None = None) -> dict[str, object]:
    keys = ("technical_excellence", "leadership_behaviors", "business_impact",
            "cultural_contribution", "growth_trajectory")
    return {"review_id": review_id, "nominee_id": nominee, "proposed_role": "Tech Lead",
            **dict(zip(keys, scores, strict=True)), "approvers": list(approvers),
            "decision": decision, "decided_on": decided_on}


def example() -> tuple[pd.DataFrame, pd.DataFrame]:
    reviews = frame(
        "reviews",
        review("r1", "n1", (4, 3, 5, 2, 4), ("L1", "L2", "L3"), "Approved", "2026-03-15"),
        review("r2", "n2", (5, 5, 5, 5, 5), ("L1", "L2", "p1"), "Approved"),
        review("r3", "L4", (3, 3, 3, 3, 3), ("L1", "L2", "L4"), "Pending"),
        review("r4", "n2", (2, 2, 2, 2, 2), ("L1", "L2", "L3"), "Declined", "2026-01-10"),
    )
    sig = signals(
        signal("n1", "2026-03-01", indicator="Reviews pull requests proactively",
               evidence=LINK),
        signal("n1", "2026-02-01", indicator="Mentors junior developers in code reviews",
               evidence=LINK),
        signal("n1", "2025-12-01", signal_type="Operational", indicator="Ran the incident review"),
        signal("n1", "2025-06-01", signal_type="Communication",
               indicator="Writes clear technical documentation"),
        signal("n1", "2026-03-20"),  # after r1 was decided
        signal("n1", "2025-01-01"),  # before r1's window
    )
    return reviews, sig


def test_decision_matrix_evidence_and_consensus_by_hand() -> None:
    reviews, sig = example()
    result = assess_promotions(reviews, sig, team(), as_of=AS_OF)
    assert result.ok
    out = result.frame.set_index("review_id")
    # 0.20 × 4 + 0.30 × 3 + 0.25 × 5 + 0.15 × 2 + 0.10 × 4 = 3.65
    assert out.loc["r1", "weighted_score"] == pytest.approx(3.65)
    assert out.loc["r2", "weighted_score"] == pytest.approx(5.0)

    # r1's evidence: n1's signals in the 365 days to 2026-03-15.
    r1 = out.loc["r1"]
    assert r1["evidence_technical_excellence"] == 1  # by indicator
    assert r1["evidence_leadership_behaviors"] == 1  # by indicator, though Technical
    assert r1["evidence_business_impact"] == 1  # a team's own indicator: by type (Operational)
    assert r1["evidence_cultural_contribution"] == 1
    # Growth: the window's later half (after 2025-09-13 12:00) has 3, the earlier 1.
    assert r1["evidence_growth_trajectory"] == 2
    assert r1["evidence_links"] == 2

    # Consensus: at least three distinct senior approvers.
    assert (r1["senior_approvers"], r1["other_approvers"]) == (3, 0)
    assert r1["consensus"]
    assert r1["status"] == "approved"
    assert not r1["conflict"]
    # r2: two leaders and one non-leader; recorded Approved anyway → conflict.
    assert (out.loc["r2", "senior_approvers"], out.loc["r2", "other_approvers"]) == (2, 1)
    assert out.loc["r2", "status"] == "awaiting consensus"
    assert out.loc["r2", "conflict"]
    # r3: the nominee is a leader, but their own approval does not count.
    assert (out.loc["r3", "senior_approvers"], out.loc["r3", "other_approvers"]) == (2, 1)
    assert out.loc["r3", "status"] == "awaiting consensus"
    assert not out.loc["r3", "conflict"]
    # r4: declined is declined, consensus or not.
    assert out.loc["r4", "consensus"]
    assert out.loc["r4", "status"] == "declined"
    assert out.loc["r4", "decision"] == "Declined"
    assert list(result.frame["status"].cat.categories) == list(PROMOTION_STATUSES)


def test_weights_and_the_approver_threshold_are_configurable() -> None:
    reviews, sig = example()
    out = assess_promotions(reviews, sig, team(), as_of=AS_OF,
                            weights={"growth_trajectory": 0}).frame.set_index("review_id")
    # (0.8 + 0.9 + 1.25 + 0.3) / 0.9
    assert out.loc["r1", "weighted_score"] == pytest.approx(3.25 / 0.9)
    two = assess_promotions(reviews, sig, team(), as_of=AS_OF,
                            min_senior_approvers=2).frame.set_index("review_id")
    assert two.loc["r2", "status"] == "approved"
    assert sum(DECISION_WEIGHTS.values()) == pytest.approx(1.0)
    with pytest.raises(DataValidationError, match="unknown key"):
        assess_promotions(reviews, sig, team(), as_of=AS_OF, weights={"charisma": 1})
    with pytest.raises(DataValidationError, match="must not all be 0"):
        assess_promotions(reviews, sig, team(), as_of=AS_OF,
                          weights=dict.fromkeys(DECISION_WEIGHTS, 0))


def test_reviews_that_do_not_fit_are_quarantined() -> None:
    reviews = frame(
        "reviews",
        review("ok", "n1", (3, 3, 3, 3, 3), (), "Pending"),
        review("late", "n1", (3, 3, 3, 3, 3), (), "Approved", "2026-04-10"),
        review("ghost", "nobody", (3, 3, 3, 3, 3), (), "Pending"),
        {**review("gap", "n1", (3, 3, 3, 3, 3), (), "Pending"), "business_impact": None},
        review("text", "n1", (3, 3, 3, 3, 3), (), "Pending"),
    )
    hand_made = reviews.copy()
    hand_made.loc[hand_made["review_id"] == "text", "approvers"] = "L1, L2"
    result = assess_promotions(hand_made, signals(), team(), as_of=AS_OF)
    assert list(result.frame["review_id"]) == ["ok"]
    reasons = dict(zip(result.quarantine["source_id"], result.quarantine["reason"], strict=True))
    assert reasons == {
        "src-late": "decided_on 2026-04-10T00:00:00+00:00 is after as_of "
                    "2026-03-31T00:00:00+00:00",
        "src-ghost": "nominee_id 'nobody' matches no member",
        "src-gap": "business_impact is missing",
        "src-text": "approvers 'L1, L2' is not a list of member ids",
    }


def test_no_reviews() -> None:
    result = assess_promotions(frame("reviews"), signals(), team(), as_of=AS_OF)
    assert result.frame.empty
    assert "status" in result.frame.columns


def test_one_member_team_can_never_reach_consensus() -> None:
    solo = members({"member_id": "solo", "is_leader": True})
    reviews = frame("reviews", review("r", "solo", (5, 5, 5, 5, 5), ("solo",), "Approved"))
    row = assess_promotions(reviews, signals(signal("solo", "2026-03-01")), solo,
                            as_of=AS_OF).frame.iloc[0]
    assert row["weighted_score"] == 5
    assert (row["senior_approvers"], row["other_approvers"]) == (0, 1)
    assert row["status"] == "awaiting consensus"
    assert row["conflict"]
    assert row["evidence_technical_excellence"] == 1
