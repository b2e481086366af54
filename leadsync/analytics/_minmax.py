"""The optimal meeting rotation: an exact min-max assignment of weeks to slots.

Owns the optimisation behind :func:`leadsync.analytics.plan_meeting_rotation`.
Each week a recurring meeting takes one slot; a slot costs each member a
burden (minutes outside their working hours). Over all weeks the plan must,
in this order of priority,

1. minimise the largest cumulative burden of any member;
2. then the total burden of the team;
3. then the sum over the weeks of each meeting's worst single burden (milder
   meetings for whoever is worst off that week).

This is an integer program, solved with HiGHS (branch and bound, through
:func:`scipy.optimize.milp`), one stage per priority, each stage holding the
optimum of the ones before. It is kept small without losing optimality:

* weeks with identical burdens (every week between two DST changes) form one
  *group*; only how many of its weeks take each slot matters, an integer
  variable per group and slot;
* a slot whose burden is at least another's for every member is dominated
  (the other is never worse for anyone) and dropped, as is every copy of a
  slot with the same burdens but the earliest; members with the same burdens
  are one constraint.

Burdens are whole minutes, so the stages' bounds are exact (an optimum plus
half a minute).

**Proof and work limit.** Small and typical teams are solved to proven
optimality in well under a second. A team spread round the clock in many
zones can make the proof (that no plan does better) take minutes, while a
plan within half an hour of the bound is found early; so each stage stops
after ``max_nodes`` branch-and-bound nodes, the third after a quarter of
that, and only when the first two were proven (a deterministic limit: the
same input gives the same plan on any machine). :class:`SlotPlan` says whether
stages 1 and 2 were proven optimal and gives the proven lower bound on the
largest burden, so a report can say how close the plan is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import Bounds, LinearConstraint, milp

__all__ = ["DEFAULT_MAX_NODES", "SlotPlan", "WeekGroup", "optimal_slot_counts"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

#: Branch-and-bound nodes each stage may explore before it keeps its best plan.
DEFAULT_MAX_NODES = 300


@dataclass(frozen=True)
class WeekGroup:
    """Weeks with the same burdens: ``burden`` is (profiles, slots) in whole minutes."""

    weeks: int
    burden: IntArray


@dataclass(frozen=True)
class SlotPlan:
    """Per group, how many of its weeks take each slot (slot index → weeks).

    ``optimal``: the largest burden, then the total, are proven the least
    possible. ``bound_minutes``: no plan can put less than this on its
    worst-off member (equal to the plan's largest burden when ``optimal``).
    """

    counts: list[dict[int, int]]
    optimal: bool
    bound_minutes: float


def _candidates(burden: IntArray) -> IntArray:
    """Slots not dominated by another (the earliest of identical ones), in slot order."""
    unique, first = np.unique(burden.T, axis=0, return_index=True)
    kept: list[int] = []
    for i, column in enumerate(unique):
        others = np.delete(unique, i, axis=0)
        dominated = bool(((others <= column).all(axis=1)).any()) if len(others) else False
        if not dominated:
            kept.append(int(first[i]))
    return np.array(sorted(kept), dtype=np.int64)


def _fallback(cost: FloatArray, pairs: list[tuple[int, int]],
              groups: list[WeekGroup]) -> FloatArray:
    """A feasible plan if the solver found none in its budget: each group on its mildest slot."""
    x = np.zeros(len(pairs) + 1)
    for gi, group in enumerate(groups):
        mine = [k for k, (g, _) in enumerate(pairs) if g == gi]
        best = min(mine, key=lambda k: (cost[:, k].max(), k))
        x[best] = group.weeks
    x[-1] = float((cost @ x[:-1]).max())
    return x


def optimal_slot_counts(groups: list[WeekGroup], weights: IntArray, *,
                        max_nodes: int = DEFAULT_MAX_NODES) -> SlotPlan:
    """The plan (see the module doc); ``weights`` counts the members of each profile."""
    if len(weights) == 0:
        # Nobody to burden: every week takes the first slot.
        return SlotPlan([{0: g.weeks} for g in groups], True, 0.0)
    candidates = [_candidates(g.burden) for g in groups]
    pairs = [(gi, int(s)) for gi, slots in enumerate(candidates) for s in slots]
    n = len(pairs)
    columns = np.stack([groups[gi].burden[:, s] for gi, s in pairs], axis=1)
    # Members with identical burdens need one constraint; their weight adds up.
    cost_int, inverse = np.unique(columns, axis=0, return_inverse=True)
    cost = cost_int.astype(np.float64)
    weight = np.bincount(inverse.ravel(), weights=weights.astype(np.float64),
                         minlength=len(cost))
    profiles = len(cost)

    # Variables: y (weeks of a group on a slot, integer), then z (largest burden).
    each_group = np.zeros((len(groups), n + 1))
    for k, (gi, _) in enumerate(pairs):
        each_group[gi, k] = 1
    weeks = np.array([g.weeks for g in groups], dtype=np.float64)
    largest = np.hstack([cost, -np.ones((profiles, 1))])
    base = [LinearConstraint(each_group, weeks, weeks),
            LinearConstraint(largest, -np.inf, 0.0)]
    integrality = np.append(np.ones(n), 0)
    bounds = Bounds(np.zeros(n + 1),
                    np.append([groups[gi].weeks for gi, _ in pairs], np.inf))
    objectives = [np.append(np.zeros(n), 1.0), np.append(weight @ cost, 0.0),
                  np.append(cost.max(axis=0), 0.0)]

    held: list[LinearConstraint] = []
    solution: FloatArray | None = None
    proven: list[bool] = []
    bound = 0.0
    for stage, objective in enumerate(objectives):
        if stage == 2 and not all(proven):
            break  # polishing a plan not proven best is not worth the search
        # The third stage is a courtesy (milder meetings): a quarter of the budget.
        budget = max_nodes if stage < 2 else max(1, max_nodes // 4)
        result = milp(objective, integrality=integrality, bounds=bounds,
                      constraints=[*base, *held],
                      options={"mip_rel_gap": 0.0, "node_limit": budget})
        if result.x is not None:
            solution = np.asarray(result.x, dtype=np.float64)
            value = float(result.fun)
        else:  # no plan found within the budget: keep the last one, or the fallback
            solution = solution if solution is not None else _fallback(cost, pairs, groups)
            value = float(objective @ solution)
        proven.append(result.status == 0)
        if stage == 0:
            found = getattr(result, "mip_dual_bound", None)
            bound = value if result.status == 0 or found is None else float(found)
        # Every objective takes whole values at a plan (minutes), so half a
        # minute of slack holds this stage's result exactly.
        held.append(LinearConstraint(objective.reshape(1, -1), -np.inf,
                                     float(np.round(value)) + 0.5))
    assert solution is not None
    counts: list[dict[int, int]] = [{} for _ in groups]
    for k, (gi, s) in enumerate(pairs):
        taken = round(solution[k])
        if taken:
            counts[gi][s] = taken
    optimal = proven[0] and proven[1]
    return SlotPlan(counts, optimal, float(np.ceil(bound - 1e-6)) if not proven[0] else bound)
