"""Leadership scores: impact, recency, breadth and shrinkage, per member, as of a date.

Owns :func:`score_members` and its model. Everything else that needs a score
(representation of the top-scored, reports) takes this module's frame.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from leadsync.analytics._checks import (
    check_members,
    check_weights,
    id_index,
    merge_quarantines,
    utc_timestamp,
)
from leadsync.analytics._signals import NS_PER_DAY, SignalArrays, prepare_signals
from leadsync.analytics.display import member_names
from leadsync.config import ScoringConfig
from leadsync.errors import DataValidationError
from leadsync.tables import IMPACT_LEVELS, SIGNAL_TYPES, Validated

__all__ = ["DEFAULT_IMPACT_WEIGHTS", "DEFAULT_PRIOR_STRENGTH", "score_members"]

_CONFIG = ScoringConfig()
#: Impact level → weight; the defaults of ``[scoring] impact_weights`` (Low 1, Medium 3, High 9).
DEFAULT_IMPACT_WEIGHTS: dict[str, float] = dict(_CONFIG.impact_weights)
#: How many signals' worth of the team average a member's own average is pulled toward.
DEFAULT_PRIOR_STRENGTH = 5.0
#: Signals a fortnight: the seed's bi-weekly rhythm, used to set the score's midpoint.
_REFERENCE_CADENCE_DAYS = 14.0
#: Scores are rounded to this many decimals, so that equal evidence ties whatever the row order.
_DECIMALS = 9

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class _Totals:
    """Per-member sums at one instant."""

    count: npt.NDArray[np.int64]
    recent: FloatArray  # Σ decay
    by_type: FloatArray  # (members, types): Σ weight × decay
    links: npt.NDArray[np.int64]


def _totals(
    arrays: SignalArrays, members: int, at_ns: int, weights: FloatArray, half_life: float
) -> _Totals:
    age_days = (at_ns - arrays.time).astype(np.float64) / NS_PER_DAY
    decay = np.exp2(-age_days / half_life)
    mass = weights[arrays.impact] * decay
    types = len(SIGNAL_TYPES)
    by_type = np.bincount(
        arrays.member * types + arrays.signal_type, weights=mass, minlength=members * types
    ).reshape(members, types)
    return _Totals(
        count=np.bincount(arrays.member, minlength=members).astype(np.int64),
        recent=np.bincount(arrays.member, weights=decay, minlength=members).astype(np.float64),
        by_type=by_type.astype(np.float64),
        links=np.bincount(arrays.member, weights=arrays.evidence, minlength=members).astype(
            np.int64
        ),
    )


def _breadth(by_type: FloatArray) -> FloatArray:
    """Gini–Simpson evenness of the impact mass over the signal types, scaled to [0, 1]."""
    total = by_type.sum(axis=1)
    safe = np.where(total > 0, total, 1.0)
    shares = by_type / safe[:, None]
    types = by_type.shape[1]
    evenness = (1.0 - (shares**2).sum(axis=1)) / (1.0 - 1.0 / types)
    return np.where(total > 0, np.clip(evenness, 0.0, 1.0), 0.0)


def _score(
    totals: _Totals, prior: float, breadth_weight: float, reference: float
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(score, shrunk impact, breadth) per member; see :func:`score_members`."""
    impact = totals.by_type.sum(axis=1)
    recent = totals.recent
    team_recent = recent.sum()
    team_mean = impact.sum() / team_recent if team_recent > 0 else 0.0
    denominator = recent + prior
    shrunk = np.where(
        denominator > 0,
        recent * (impact + prior * team_mean) / np.where(denominator > 0, denominator, 1.0),
        0.0,
    )
    breadth = _breadth(totals.by_type)
    adjusted = shrunk * (1.0 + breadth_weight * breadth)
    score = np.round(100.0 * adjusted / (adjusted + reference), _DECIMALS)
    return score, shrunk, breadth


def _positive(value: float, name: str, *, allow_zero: bool) -> float:
    number = float(value)
    if not math.isfinite(number) or number < 0 or (number == 0 and not allow_zero):
        bound = "non-negative" if allow_zero else "positive"
        raise DataValidationError(f"{name} must be a finite {bound} number, not {value!r}")
    return number


def score_members(
    signals: pd.DataFrame,
    members: pd.DataFrame,
    *,
    as_of: object,
    impact_weights: Mapping[str, float] | None = None,
    half_life_days: float = _CONFIG.half_life_days,
    prior_strength: float = DEFAULT_PRIOR_STRENGTH,
    breadth_weight: float = 0.5,
    reference_impact: float | None = None,
) -> Validated:
    """Leadership score of every member as of ``as_of``, with its ingredients.

    The model, per member *j*, over the signals dated at or before ``as_of``:

    1. each signal *i* weighs ``w_i = impact_weights[impact_i]`` (default Low 1,
       Medium 3, High 9) and decays with its age:
       ``d_i = 0.5 ** (age_days_i / half_life_days)`` (default 90 days);
    2. ``impact_j = Σ w_i d_i`` (the recency-weighted impact) and
       ``recent_j = Σ d_i`` (the recency-weighted count of signals);
    3. shrinkage: a member's average impact per signal, ``impact_j / recent_j``,
       is pulled toward the team's, ``m = Σ impact / Σ recent``, as if the member
       had ``k = prior_strength`` (default 5) more signals at the team average:
       ``shrunk_j = recent_j × (impact_j + k m) / (recent_j + k)``. With few
       signals the team average dominates, so one High signal cannot outscore
       a steady record; with many the member's own average does;
    4. breadth: ``breadth_j`` ∈ [0, 1] is the Gini–Simpson evenness of the
       impact over the three signal types (0: all one type; 1: equal thirds);
       ``adjusted_j = shrunk_j × (1 + breadth_weight × breadth_j)`` (default
       weight 0.5, so a balanced record counts up to 1.5×);
    5. ``score_j = 100 × adjusted_j / (adjusted_j + R)``, bounded in [0, 100).
       ``R = reference_impact`` defaults to the steady-state impact of one
       Medium signal every 14 days (the seed's bi-weekly rhythm):
       ``w_Medium / (1 − 0.5 ** (14 / half_life_days))``, about 29.4 with the
       defaults; such a member scores 50 before the breadth bonus.

    The previous month's score is the same computation at ``as_of`` minus one
    calendar month, over the signals dated by then (team average included).

    Returns :class:`~leadsync.tables.Validated`: ``frame`` has one row per
    member (members with no signals score 0), ordered by score, highest
    first, then ``member_id``; ``quarantine`` lists member and signal rows
    left out (no id, an unknown member, a type or impact outside the
    vocabulary, a missing date or one after ``as_of``), each with its reasons.
    Raises :class:`~leadsync.errors.DataValidationError` on a missing column,
    a duplicate ``member_id`` or ``signal_id``, or a weight that is negative
    or not finite.

    Columns of ``frame``:

    ``member_id`` (string); ``score`` (Float64, [0, 100)); ``rank`` (Int64,
    1 = highest; equal scores share the best rank); ``percentile`` (Float64,
    mid-rank percentile in the team: 100 × (members below + half the members
    tied, counting the member) / team size, so a one-member team gives 50);
    ``previous_score`` (Float64, the score a month earlier);
    ``score_change`` (Float64, ``score − previous_score``); ``signals``
    (Int64, signals dated at or before ``as_of``); ``recent_signals`` (Float64,
    Σ decay); ``impact`` (Float64, Σ weight × decay);
    ``impact_technical``, ``impact_operational``, ``impact_communication``
    (Float64, the same by signal type); ``shrunk_impact`` (Float64, step 3);
    ``breadth`` (Float64, [0, 1]); ``evidence_rate`` (Float64, share of the
    member's signals with an evidence link; NA when the member has no
    signals, since a rate of nothing is undefined).
    """
    at = utc_timestamp(as_of)
    weights = check_weights(impact_weights, DEFAULT_IMPACT_WEIGHTS, "impact_weights")
    half_life = _positive(half_life_days, "half_life_days", allow_zero=False)
    prior = _positive(prior_strength, "prior_strength", allow_zero=True)
    bonus = _positive(breadth_weight, "breadth_weight", allow_zero=True)
    if reference_impact is None:
        reference = weights["Medium"] / (1.0 - 0.5 ** (_REFERENCE_CADENCE_DAYS / half_life))
        if reference <= 0:
            raise DataValidationError(
                "the Medium impact weight is 0, so the default reference_impact is 0; "
                "pass reference_impact explicitly"
            )
    else:
        reference = _positive(reference_impact, "reference_impact", allow_zero=False)

    member_issues = check_members(members, [])
    index = id_index(members["member_id"])
    arrays, signal_quarantine = prepare_signals(signals, index, at, evidence=True)

    weight_array = np.array([weights[level] for level in IMPACT_LEVELS], dtype=np.float64)
    n = len(index)
    now = _totals(arrays, n, at.value, weight_array, half_life)
    score, shrunk, breadth = _score(now, prior, bonus, reference)
    earlier_at = at - pd.DateOffset(months=1)
    earlier = _totals(arrays.before(earlier_at.value), n, earlier_at.value, weight_array, half_life)
    previous, _, _ = _score(earlier, prior, bonus, reference)

    ranks = pd.Series(-score).rank(method="min").to_numpy() if n else np.zeros(0)
    mid_ranks = pd.Series(score).rank(method="average").to_numpy() if n else np.zeros(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        evidence_rate = np.where(now.count > 0, now.links / np.maximum(now.count, 1), np.nan)
    columns: dict[str, pd.Series] = {
        "member_id": pd.Series(index.to_numpy(), dtype="string"),
        "score": pd.Series(score, dtype="Float64"),
        "rank": pd.Series(ranks, dtype="Int64"),
        "percentile": pd.Series(100.0 * (mid_ranks - 0.5) / max(n, 1), dtype="Float64"),
        "previous_score": pd.Series(previous, dtype="Float64"),
        "score_change": pd.Series(np.round(score - previous, _DECIMALS), dtype="Float64"),
        "signals": pd.Series(now.count, dtype="Int64"),
        "recent_signals": pd.Series(now.recent, dtype="Float64"),
        "impact": pd.Series(now.by_type.sum(axis=1), dtype="Float64"),
    }
    for position, kind in enumerate(SIGNAL_TYPES):
        columns[f"impact_{kind.lower()}"] = pd.Series(now.by_type[:, position], dtype="Float64")
    columns["shrunk_impact"] = pd.Series(shrunk, dtype="Float64")
    columns["breadth"] = pd.Series(breadth, dtype="Float64")
    columns["evidence_rate"] = pd.Series(evidence_rate, dtype="Float64")
    frame = pd.DataFrame(columns)
    frame = frame.sort_values(["score", "member_id"], ascending=[False, True], kind="stable")
    return Validated(
        frame.reset_index(drop=True),
        merge_quarantines(member_issues.quarantine(), signal_quarantine),
        member_names(members),
    )
