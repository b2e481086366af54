"""The optimal meeting rotation: an exact min-max assignment of weeks to slots.

Owns the optimisation behind :func:`leadsync.analytics.plan_meeting_rotation`.
Each week a recurring meeting takes one slot; a slot costs each member a
burden (minutes outside their working hours). Over all weeks the plan must,
in this order of priority,

1. minimise the largest cumulative burden of any member;
2. then the total burden of the team;
3. then the largest single-meeting burden any member bears in any week;
4. then use as few different meeting times as it can (easier to keep);
5. then prefer earlier UTC times (the sum of start minutes).

This is an integer program, solved exactly with HiGHS through
:func:`scipy.optimize.milp`, one stage per priority, each stage holding the
optimum of the ones before. It is kept small without losing optimality:

* weeks with identical burdens (every week between two DST changes) form one
  *group*; only how many of its weeks take each slot matters, an integer
  variable per group and slot;
* a slot whose burden is at least another's for every member is dominated
  (the other is never worse for anyone), so it is dropped, as is every copy
  of a slot with the same burdens but the earliest.

Burdens are whole minutes, so the stages' bounds are exact (an optimum plus
half a minute).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csr_array, lil_array

__all__ = ["WeekGroup", "optimal_slot_counts"]

IntArray = npt.NDArray[np.int64]

#: Seconds HiGHS may spend on one stage; the problems here solve in milliseconds.
TIME_LIMIT_SECONDS = 60.0


@dataclass(frozen=True)
class WeekGroup:
    """Weeks with the same burdens: ``burden`` is (profiles, slots) in whole minutes."""

    weeks: int
    burden: IntArray


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


def optimal_slot_counts(
    groups: list[WeekGroup], weights: IntArray, slot_starts: IntArray
) -> list[dict[int, int]]:
    """For each group, how many of its weeks take each slot (slot index → weeks).

    ``weights`` counts the members of each profile (row of a burden);
    ``slot_starts`` is each slot's start in minutes, for the last tie-break.
    """
    profiles = len(weights)
    if profiles == 0:
        # Nobody to burden: every week takes the first slot.
        return [{0: g.weeks} for g in groups]
    candidates = [_candidates(g.burden) for g in groups]
    # Variables: y (weeks of a group on a slot, integer), u (the slot is used,
    # binary), then z (largest cumulative burden) and t (worst single meeting).
    pairs = [(gi, int(s)) for gi, slots in enumerate(candidates) for s in slots]
    n = len(pairs)
    size = 2 * n + 2
    z_at, t_at = 2 * n, 2 * n + 1
    cost = np.zeros((profiles, n))
    for k, (gi, s) in enumerate(pairs):
        cost[:, k] = groups[gi].burden[:, s]
    peak = cost.max(axis=0)
    total = weights.astype(np.float64) @ cost
    early = np.array([float(slot_starts[s]) for _, s in pairs])

    rows = lil_array((len(groups) + n + profiles + n, size))
    lower: list[float] = []
    upper: list[float] = []
    row = 0
    for gi, group in enumerate(groups):  # each group's weeks all take a slot
        for k, (g, _) in enumerate(pairs):
            if g == gi:
                rows[row, k] = 1
        lower.append(group.weeks)
        upper.append(group.weeks)
        row += 1
    for k, (gi, _) in enumerate(pairs):  # y ≤ weeks · u
        rows[row, k] = 1
        rows[row, n + k] = -groups[gi].weeks
        lower.append(-np.inf)
        upper.append(0)
        row += 1
    for p in range(profiles):  # each member's cumulative burden ≤ z
        rows[row, :n] = cost[p]
        rows[row, z_at] = -1
        lower.append(-np.inf)
        upper.append(0)
        row += 1
    for k in range(n):  # a used slot's worst burden ≤ t
        rows[row, n + k] = peak[k]
        rows[row, t_at] = -1
        lower.append(-np.inf)
        upper.append(0)
        row += 1
    base = csr_array(rows)
    integrality = np.concatenate([np.ones(2 * n), np.zeros(2)])
    high = np.concatenate([[groups[gi].weeks for gi, _ in pairs], np.ones(n), [np.inf, np.inf]])
    bounds = Bounds(np.zeros(size), high)

    objectives: list[npt.NDArray[np.float64]] = []
    unit = np.zeros(size)
    unit[z_at] = 1
    objectives.append(unit)
    objectives.append(np.concatenate([total, np.zeros(n + 2)]))
    unit = np.zeros(size)
    unit[t_at] = 1
    objectives.append(unit)
    objectives.append(np.concatenate([np.zeros(n), np.ones(n), np.zeros(2)]))
    objectives.append(np.concatenate([early, np.zeros(n + 2)]))

    held: list[tuple[npt.NDArray[np.float64], float]] = []
    solution: npt.NDArray[np.float64] | None = None
    for objective in objectives:
        constraints = [LinearConstraint(base, np.array(lower), np.array(upper))]
        constraints += [LinearConstraint(c.reshape(1, -1), -np.inf, bound) for c, bound in held]
        result = milp(objective, integrality=integrality, bounds=bounds,
                      constraints=constraints,
                      options={"time_limit": TIME_LIMIT_SECONDS, "mip_rel_gap": 0.0})
        if result.status != 0 or result.x is None:
            raise RuntimeError(f"the rotation solver stopped without an optimum: "
                               f"{result.message}")
        solution = result.x
        # Every objective takes whole values at an optimum (minutes, a count of
        # slots, or slot starts), so half a unit of slack holds the optimum exactly.
        held.append((objective, float(np.round(result.fun)) + 0.5))
    assert solution is not None
    counts: list[dict[int, int]] = [{} for _ in groups]
    for k, (gi, s) in enumerate(pairs):
        weeks = round(solution[k])
        if weeks:
            counts[gi][s] = weeks
    return counts
