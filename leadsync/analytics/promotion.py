"""Promotion readiness: the seed's decision matrix, the evidence behind it, and consensus.

Owns the matrix weights, which signals count as evidence for which criterion,
and the rule that turns approvals into a status.

Seed 000: Technical Excellence 20 %, Leadership Behaviors 30 %, Business
Impact 25 %, Cultural Contribution 15 %, Growth Trajectory 10 %; "require
consensus from at least three senior leaders before promoting".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from types import MappingProxyType

import numpy as np
import pandas as pd

from leadsync.analytics._checks import (
    NAT,
    Issues,
    category_codes,
    check_members,
    check_weights,
    id_index,
    member_codes,
    merge_quarantines,
    require_columns,
    require_unique,
    timestamps_ns,
    utc_timestamp,
)
from leadsync.analytics._signals import NS_PER_DAY, prepare_signals
from leadsync.analytics.display import member_names
from leadsync.errors import DataValidationError
from leadsync.tables import DECISIONS, SIGNAL_TYPES, Validated

__all__ = [
    "CRITERIA",
    "DECISION_WEIGHTS",
    "EVIDENCE_BY_INDICATOR",
    "EVIDENCE_BY_SIGNAL_TYPE",
    "PROMOTION_STATUSES",
    "assess_promotions",
]

#: The decision matrix's criteria, as ``reviews`` columns, in the seed's order.
CRITERIA: tuple[str, ...] = (
    "technical_excellence",
    "leadership_behaviors",
    "business_impact",
    "cultural_contribution",
    "growth_trajectory",
)

#: The seed's weights.
DECISION_WEIGHTS: Mapping[str, float] = MappingProxyType({
    "technical_excellence": 0.20,
    "leadership_behaviors": 0.30,
    "business_impact": 0.25,
    "cultural_contribution": 0.15,
    "growth_trajectory": 0.10,
})

#: The seed's indicators → the criterion whose "evidence required" they supply
#: (Technical Excellence: code quality, architecture decisions; Leadership
#: Behaviors: mentorship, initiative, communication; Business Impact: project
#: delivery; Cultural Contribution: team health, documentation, process).
EVIDENCE_BY_INDICATOR: Mapping[str, str] = MappingProxyType({
    "Reviews pull requests proactively": "technical_excellence",
    "Proposes architectural improvements": "technical_excellence",
    "Mentors junior developers in code reviews": "leadership_behaviors",
    "Facilitates async discussions productively": "leadership_behaviors",
    "Bridges communication between team segments": "leadership_behaviors",
    "Volunteers for cross-functional projects": "business_impact",
    "Coordinates hand-offs between teams": "business_impact",
    "Documents decision rationale": "cultural_contribution",
    "Writes clear technical documentation": "cultural_contribution",
    "Identifies process bottlenecks": "cultural_contribution",
    "Suggests workflow improvements": "cultural_contribution",
    "Summarizes meeting outcomes for timezone gaps": "cultural_contribution",
})

#: For an indicator not in :data:`EVIDENCE_BY_INDICATOR` (teams write their own).
EVIDENCE_BY_SIGNAL_TYPE: Mapping[str, str] = MappingProxyType({
    "Technical": "technical_excellence",
    "Operational": "business_impact",
    "Communication": "leadership_behaviors",
})

#: ``status`` categories, in order.
PROMOTION_STATUSES: tuple[str, ...] = ("declined", "awaiting consensus", "approved")

#: Criteria that signals are counted for; growth is a trend, see assess_promotions.
_COUNTED = CRITERIA[:4]


def _score_problem(column: pd.Series) -> Callable[[int], str]:
    def reason(i: int) -> str:
        value = column.iat[i]
        if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
            return f"{column.name} is missing"
        return f"{column.name} {value!r} is not a finite number"

    return reason


def _check_evidence_map(mapping: Mapping[str, str], name: str) -> dict[str, int]:
    bad = sorted({v for v in mapping.values() if v not in _COUNTED})
    if bad:
        raise DataValidationError(
            f"{name} maps to unknown criteria {', '.join(map(repr, bad))}; "
            f"expected one of {', '.join(_COUNTED)}"
        )
    return {k: _COUNTED.index(v) for k, v in mapping.items()}


def assess_promotions(
    reviews: pd.DataFrame,
    signals: pd.DataFrame,
    members: pd.DataFrame,
    *,
    as_of: object,
    weights: Mapping[str, float] | None = None,
    min_senior_approvers: int = 3,
    evidence_days: float = 365.0,
    evidence_by_indicator: Mapping[str, str] = EVIDENCE_BY_INDICATOR,
) -> Validated:
    """Each promotion review scored on the decision matrix, with its evidence and status.

    ``weighted_score = Σ weight_c × score_c / Σ weight_c`` over the five
    criteria (``weights`` default to the seed's 20/30/25/15/10 %, laid over
    them), so it is on the reviews' own scale (a 1–5 review gives 1–5).

    Evidence: the nominee's signals in the ``evidence_days`` (default 365)
    before the review's reference date (``decided_on``, else ``as_of``),
    counted per criterion: by indicator (``evidence_by_indicator``, default
    :data:`EVIDENCE_BY_INDICATOR`), else by signal type
    (:data:`EVIDENCE_BY_SIGNAL_TYPE`). Growth Trajectory is velocity, so its
    evidence is the trend: signals in the later half of the window minus
    those in the earlier half.

    Consensus: at least ``min_senior_approvers`` (default 3) distinct
    approvers who are leaders (``members.is_leader``), the nominee never
    counting for themself. Status: ``declined`` when the recorded decision is
    Declined; else ``approved`` with consensus; else ``awaiting consensus``.
    ``conflict`` marks a review recorded as Approved without consensus.

    Returns :class:`~leadsync.tables.Validated`; ``quarantine`` holds reviews
    with a missing or unknown nominee, a criterion score missing or not
    finite, a decision outside the vocabulary, ``approvers`` that are not a
    list, or ``decided_on`` after ``as_of``, and bad signal rows. Raises on
    missing columns, duplicate ids, or bad weights.

    Columns of ``frame`` (one row per review, by ``review_id``):
    ``review_id``, ``nominee_id``, ``proposed_role`` (string);
    ``weighted_score`` (Float64); ``evidence_technical_excellence``,
    ``evidence_leadership_behaviors``, ``evidence_business_impact``,
    ``evidence_cultural_contribution`` (Int64, signals);
    ``evidence_growth_trajectory`` (Int64, the trend, may be negative);
    ``evidence_links`` (Int64, signals in the window with an evidence link);
    ``senior_approvers``, ``other_approvers`` (Int64; approvers who are not
    leaders, are unknown, or are the nominee count as other); ``consensus``
    (boolean); ``decision`` (the recorded decision, ordered categorical of
    ``DECISIONS``); ``status`` (ordered categorical of
    :data:`PROMOTION_STATUSES`); ``conflict`` (boolean).
    """
    at = utc_timestamp(as_of)
    weight = check_weights(weights, DECISION_WEIGHTS, "weights")
    if sum(weight.values()) <= 0:
        raise DataValidationError("weights must not all be 0")
    if not (isinstance(min_senior_approvers, int) and min_senior_approvers >= 1):
        raise DataValidationError(
            f"min_senior_approvers must be a positive integer, not {min_senior_approvers!r}"
        )
    if not (math.isfinite(evidence_days) and evidence_days > 0):
        raise DataValidationError(f"evidence_days must be a positive number, not {evidence_days!r}")
    by_indicator = _check_evidence_map(evidence_by_indicator, "evidence_by_indicator")
    by_type = np.array([_COUNTED.index(EVIDENCE_BY_SIGNAL_TYPE[t]) for t in SIGNAL_TYPES])

    member_issues = check_members(members, ["is_leader"])
    valid = member_issues.ok
    ids = id_index(members["member_id"])
    leader = members["is_leader"][valid].astype("boolean").fillna(False).to_numpy(dtype=bool)

    require_columns(reviews, "reviews", ["review_id", "nominee_id", "proposed_role", *CRITERIA,
                                         "approvers", "decision", "decided_on"])
    require_columns(signals, "signals", ["indicator"])
    require_unique(reviews, "reviews", "review_id")
    issues = Issues("reviews", reviews, "review_id")
    issues.flag(reviews["review_id"].isna().to_numpy(), "review_id is missing")
    nominee = member_codes(reviews, "nominee_id", ids, issues, required=True)
    scores = np.empty((len(reviews), len(CRITERIA)))
    for position, criterion in enumerate(CRITERIA):
        values = pd.to_numeric(reviews[criterion], errors="coerce").astype("Float64")
        array = values.to_numpy(dtype=np.float64, na_value=np.nan)
        issues.flag(~np.isfinite(array), _score_problem(reviews[criterion]))
        scores[:, position] = array
    decision = category_codes(reviews, "decision", DECISIONS, issues, required=False)
    decided = timestamps_ns(reviews, "decided_on", issues, required=False, not_after=at)
    approvers = reviews["approvers"]
    is_list = approvers.map(lambda v: isinstance(v, (tuple, list)) or v is None
                            or (isinstance(v, float) and math.isnan(v))).to_numpy(dtype=bool)
    issues.flag(~is_list, lambda i: f"approvers {approvers.iat[i]!r} is not a list of member ids")

    arrays, signal_quarantine = prepare_signals(signals, ids, at, evidence=True)
    ok = issues.ok
    reference = np.where(decided == NAT, at.value, decided)[ok]
    nominees = nominee[ok]
    window = int(evidence_days * NS_PER_DAY)
    evidence = np.zeros((int(ok.sum()), len(CRITERIA)), dtype=np.int64)
    links = np.zeros(int(ok.sum()), dtype=np.int64)
    # Only the nominees' signals matter: pick them out once, sorted by member.
    relevant = np.flatnonzero(np.isin(arrays.member, nominees))
    relevant = relevant[np.argsort(arrays.member[relevant], kind="stable")]
    member_sorted = arrays.member[relevant]
    indicator = signals["indicator"].to_numpy(dtype=object)[arrays.position[relevant]]
    mapped = np.array(
        [by_indicator.get(text, -1) if isinstance(text, str) else -1 for text in indicator],
        dtype=np.int64,
    )
    kinds = by_type[arrays.signal_type[relevant]].astype(np.int64)
    criteria = np.where(mapped >= 0, mapped, kinds)
    time = arrays.time[relevant]
    has_link = arrays.evidence[relevant]
    lo = np.searchsorted(member_sorted, nominees, side="left")
    hi = np.searchsorted(member_sorted, nominees, side="right")
    for row in range(nominees.size):
        t = time[lo[row]:hi[row]]
        end = reference[row]
        inside = (t <= end) & (t > end - window)
        evidence[row, :4] = np.bincount(criteria[lo[row]:hi[row]][inside], minlength=4)
        middle = end - window // 2
        evidence[row, 4] = int((t[inside] > middle).sum()) - int((t[inside] <= middle).sum())
        links[row] = int(has_link[lo[row]:hi[row]][inside].sum())

    leader_ids = set(ids[leader].tolist())
    nominee_ids = reviews["nominee_id"][ok].astype(str).tolist()
    senior = []
    other = []
    for who, listed in zip(nominee_ids, approvers[ok], strict=True):
        distinct = set(listed) if isinstance(listed, (tuple, list)) else set()
        seniors = {a for a in distinct if a in leader_ids and a != who}
        senior.append(len(seniors))
        other.append(len(distinct) - len(seniors))
    senior_n = np.asarray(senior, dtype=np.int64)
    w = np.array([weight[c] for c in CRITERIA])
    weighted = scores[ok] @ w / w.sum()
    recorded = decision[ok]
    consensus = senior_n >= min_senior_approvers
    declined = recorded == DECISIONS.index("Declined")
    status = np.where(declined, "declined",
                      np.where(consensus, "approved", "awaiting consensus"))
    frame = pd.DataFrame({
        "review_id": pd.Series(reviews["review_id"][ok].to_numpy(), dtype="string"),
        "nominee_id": pd.Series(nominee_ids, dtype="string"),
        "proposed_role": pd.Series(reviews["proposed_role"][ok].to_numpy(), dtype="string"),
        "weighted_score": pd.Series(np.round(weighted, 9), dtype="Float64"),
    })
    for position, name in enumerate(CRITERIA):
        frame[f"evidence_{name}"] = pd.Series(evidence[:, position], dtype="Int64")
    frame["evidence_links"] = pd.Series(links, dtype="Int64")
    frame["senior_approvers"] = pd.Series(senior_n, dtype="Int64")
    frame["other_approvers"] = pd.Series(other, dtype="Int64")
    frame["consensus"] = pd.Series(consensus, dtype="boolean")
    frame["decision"] = pd.Categorical.from_codes(
        recorded.astype(np.int64), dtype=pd.CategoricalDtype(list(DECISIONS), ordered=True)
    )
    frame["status"] = pd.Categorical(status, categories=list(PROMOTION_STATUSES), ordered=True)
    frame["conflict"] = pd.Series(
        (recorded == DECISIONS.index("Approved")) & ~consensus, dtype="boolean"
    )
    frame = frame.sort_values("review_id", kind="stable").reset_index(drop=True)
    return Validated(
        frame,
        merge_quarantines(member_issues.quarantine(), issues.quarantine(), signal_quarantine),
        member_names(members),
    )
