"""Sprint-lead rotation: who has led, who is due next, and exposure by time-zone group.

Owns the rotation queue. Seed 000: a per-sprint lead rotation through the
team "that expose[s] potential leaders to leadership responsibilities".
Groups are those of :func:`~leadsync.analytics.compute_timezone_groups`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from leadsync.analytics._checks import (
    NAT,
    Issues,
    check_members,
    id_index,
    member_codes,
    merge_quarantines,
    require_columns,
    require_unique,
    timestamps_ns,
    utc_timestamp,
)
from leadsync.analytics.display import member_names, result_html, result_repr
from leadsync.analytics.timezones import (
    DEFAULT_OFFSET_EDGES,
    compute_timezone_groups,
    summarise_groups,
)
from leadsync.errors import DataValidationError

__all__ = ["SprintRotation", "assess_sprint_rotation"]


@dataclass(frozen=True)
class SprintRotation:
    """The rotation queue (``members``), ``exposure`` by group, and the ``quarantine``."""

    members: pd.DataFrame
    exposure: pd.DataFrame
    quarantine: pd.DataFrame
    #: ``member_id`` → name, for display (a notebook shows names beside ids).
    names: pd.Series | None = field(default=None, repr=False, compare=False)

    def _repr_html_(self) -> str:
        return result_html({"members": self.members, "exposure": self.exposure},
                           self.quarantine, self.names)

    def __repr__(self) -> str:
        return result_repr("SprintRotation",
                           {"members": self.members, "exposure": self.exposure},
                           self.quarantine)


def assess_sprint_rotation(
    rotations: pd.DataFrame,
    members: pd.DataFrame,
    *,
    as_of: object,
    pool: Sequence[str] | None = None,
    offset_edges: Sequence[float] = DEFAULT_OFFSET_EDGES,
    regions: Mapping[str, str] | None = None,
    min_group_size: int = 3,
    threshold: float = 0.8,
    publishable: bool = False,
) -> SprintRotation:
    """Who has led a sprint, who is due next, and how lead exposure spreads over time zones.

    ``pool`` is the ``member_id`` list in the rotation (default: every
    member). A sprint starting at or before ``as_of`` has been led; one after
    it is scheduled (a plan, not an error).

    Queue: members with nothing scheduled come first, those who never led
    before those who did, then the longest since their last sprint, then the
    fewest sprints, then ``member_id``; members already scheduled follow, by
    their next sprint. Position 1 is due next.

    Exposure, per region and offset band at ``as_of`` (see
    :func:`~leadsync.analytics.assess_representation` for the shares,
    ratios, the four-fifths flag, ``min_group_size`` and ``publishable``):
    ``have_led`` counts pool members who led at least once, ``sprints_led``
    the sprints they led. A pool member without a valid time zone is in the
    queue but not in the exposure, and is named in the quarantine.

    ``members`` columns (one row per pool member, in queue order):
    ``queue_position`` (Int64); ``member_id`` (string); ``sprints_led``
    (Int64); ``last_led``, ``next_scheduled`` (datetime64[ns, UTC], NaT when
    none); ``due_next`` (boolean).

    ``exposure`` columns: ``grouping``, ``group`` (string); ``members``;
    ``team_share``; ``have_led`` and ``sprints_led`` each with ``_share``,
    ``_ratio``, ``_impact_ratio`` (Float64) and ``_flag`` (boolean);
    ``suppressed`` (boolean). Counts are Float64.

    ``quarantine``: rotations with a missing id, lead or start, or a lead who
    matches no member; members without an id or a valid time zone.
    """
    at = utc_timestamp(as_of)
    member_issues = check_members(members, [])
    all_ids = id_index(members["member_id"])
    if pool is None:
        chosen = all_ids
    else:
        chosen = pd.Index(list(dict.fromkeys(str(p) for p in pool)), dtype="object")
        unknown = chosen.difference(all_ids)
        if len(unknown):
            shown = ", ".join(repr(u) for u in sorted(unknown)[:10])
            raise DataValidationError(f"pool names member(s) {shown} not in members")
    chosen = chosen.sort_values()

    require_columns(rotations, "rotations", ["rotation_id", "starts_on", "lead_id"])
    require_unique(rotations, "rotations", "rotation_id")
    issues = Issues("rotations", rotations, "rotation_id")
    issues.flag(rotations["rotation_id"].isna().to_numpy(), "rotation_id is missing")
    lead = member_codes(rotations, "lead_id", all_ids, issues, required=True)
    starts = timestamps_ns(rotations, "starts_on", issues, required=True)
    ok = issues.ok
    position = chosen.get_indexer(all_ids[lead[ok]]) if ok.any() else np.zeros(0, np.int64)
    in_pool = position >= 0
    position, when = position[in_pool], starts[ok][in_pool]
    past = when <= at.value
    n = len(chosen)
    led = np.bincount(position[past], minlength=n)
    last = np.full(n, NAT, dtype=np.int64)
    np.maximum.at(last, position[past], when[past])
    upcoming = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(upcoming, position[~past], when[~past])
    scheduled = upcoming != np.iinfo(np.int64).max

    queue = pd.DataFrame({
        "member_id": pd.Series(chosen.to_numpy(), dtype="string"),
        "sprints_led": pd.Series(led, dtype="Int64"),
        "last_led": pd.Series(pd.to_datetime(last, utc=True), dtype="datetime64[ns, UTC]"),
        "next_scheduled": pd.Series(pd.to_datetime(np.where(scheduled, upcoming, NAT), utc=True),
                                    dtype="datetime64[ns, UTC]"),
    })
    queue = (
        queue.assign(_scheduled=scheduled, _upcoming=upcoming, _last=last, _led=led)
        .sort_values(["_scheduled", "_upcoming", "_last", "_led", "member_id"], kind="stable")
        .drop(columns=["_scheduled", "_upcoming", "_last", "_led"])
        .reset_index(drop=True)
    )
    queue.insert(0, "queue_position", pd.Series(np.arange(1, n + 1), dtype="Int64"))
    queue["due_next"] = pd.Series(queue["queue_position"] == 1, dtype="boolean")

    in_pool_members = members[members["member_id"].isin(list(chosen)).fillna(False)]
    grouped = compute_timezone_groups(
        in_pool_members, as_of=at, offset_edges=offset_edges, regions=regions
    )
    groups = grouped.frame
    where = chosen.get_indexer(pd.Index(groups["member_id"].astype("object")))
    counts = {"have_led": (led[where] > 0).astype(np.int64), "sprints_led": led[where]}
    exposure = summarise_groups(groups, counts, outcomes=tuple(counts),
                                min_group_size=min_group_size, threshold=threshold,
                                publishable=publishable)
    return SprintRotation(
        queue, exposure,
        merge_quarantines(member_issues.quarantine(), issues.quarantine(), grouped.quarantine),
        member_names(members),
    )
