"""Time-zone groups and the representation audit of leaders, pipeline and top scores.

Owns how members are grouped by where they work (region and UTC-offset band
at a date, DST-aware), the four-fifths rule over those groups, and the
small-group suppression of anything meant for publishing. The sprint-lead
exposure in :mod:`leadsync.analytics.rotation` groups with the same helpers.

Seed 000: "Audit current leadership for geographic and timezone
distribution" and "ensure your pipeline actively develops leaders from
underrepresented time zones".
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

from leadsync.analytics._checks import (
    check_members,
    check_timezones,
    id_index,
    merge_quarantines,
    require_columns,
    require_unique,
    utc_timestamp,
    zone,
)
from leadsync.analytics._signals import NS_PER_DAY, prepare_signals
from leadsync.analytics.display import member_names
from leadsync.errors import DataValidationError
from leadsync.tables import IMPACT_LEVELS, Validated

__all__ = [
    "DEFAULT_OFFSET_EDGES",
    "DEFAULT_REGIONS",
    "GROUPINGS",
    "assess_representation",
    "compute_timezone_groups",
]

#: UTC-offset band edges in hours; a band is [edge, next edge), the last one closed.
#: Chosen so common zones stay in one band across DST: the Americas' west
#: (−12…−6: Hawaii to US Mountain), the Americas' east (−6…−2: US Central to
#: Brazil), Europe and Africa (−2…+4: Azores to Moscow), South Asia and the
#: Gulf (+4…+7), East Asia (+7…+10) and Oceania (+10…+14).
DEFAULT_OFFSET_EDGES: tuple[float, ...] = (-12.0, -6.0, -2.0, 4.0, 7.0, 10.0, 14.0)

#: IANA area → region. The region is the zone's area (the part before the
#: first "/"), except that the legacy country links (``US/Eastern``…) go to
#: their continent, and ``Etc/…`` and single-word names (``UTC``) to "Other".
DEFAULT_REGIONS: Mapping[str, str] = {
    "US": "America",
    "Canada": "America",
    "Brazil": "America",
    "Mexico": "America",
    "Chile": "America",
    "Etc": "Other",
}

#: The two ways members are grouped, in output order.
GROUPINGS: tuple[str, ...] = ("region", "offset_band")

FloatArray = npt.NDArray[np.float64]


def _offset_label(hours: float) -> str:
    sign = "+" if hours >= 0 else "-"
    minutes = round(abs(hours) * 60)
    return f"UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _check_edges(edges: Sequence[float]) -> tuple[float, ...]:
    values = tuple(float(e) for e in edges)
    if len(values) < 2 or not all(math.isfinite(v) for v in values) or any(
        b <= a for a, b in itertools.pairwise(values)
    ):
        raise DataValidationError(
            f"offset_edges must be at least two finite, strictly increasing hours; got {edges!r}"
        )
    return values


def _band_labels(offsets: FloatArray, edges: tuple[float, ...]) -> list[str]:
    """The band of each offset: ``"UTC-06:00 to UTC-02:00"``; outside the edges, open bands."""
    labels = [
        f"{_offset_label(a)} to {_offset_label(b)}" for a, b in itertools.pairwise(edges)
    ]
    position = np.searchsorted(np.asarray(edges), offsets, side="right") - 1
    position = np.where(offsets == edges[-1], len(edges) - 2, position)
    below, above = f"below {_offset_label(edges[0])}", f"above {_offset_label(edges[-1])}"
    return [
        below if band < 0 else above if band >= len(labels) else labels[band]
        for band in position.tolist()
    ]


def _region(name: str, regions: Mapping[str, str]) -> str:
    area = name.split("/", 1)[0] if "/" in name else "Etc"
    return regions.get(area, area)


def compute_timezone_groups(
    members: pd.DataFrame,
    *,
    as_of: object,
    offset_edges: Sequence[float] = DEFAULT_OFFSET_EDGES,
    regions: Mapping[str, str] | None = None,
) -> Validated:
    """Where each member works at ``as_of``: region, UTC offset (DST-aware) and offset band.

    ``regions`` maps IANA areas to region names and is laid over
    :data:`DEFAULT_REGIONS` (e.g. ``{"Australia": "Oceania", "Pacific":
    "Oceania"}``). ``offset_edges`` are the band edges in hours (default
    :data:`DEFAULT_OFFSET_EDGES`).

    Returns :class:`~leadsync.tables.Validated`; ``frame`` has one row per
    member with a valid time zone, ordered by ``member_id``; a member with no
    ``member_id``, no time zone or one that is not an IANA name is in
    ``quarantine`` with the reason.

    Columns of ``frame``: ``member_id`` (string); ``timezone`` (string, IANA
    name); ``region`` (string); ``utc_offset`` (Float64, hours east of UTC at
    ``as_of``, e.g. -4.0 for New York in summer); ``offset_band`` (string,
    e.g. ``"UTC-06:00 to UTC-02:00"``).
    """
    at = utc_timestamp(as_of)
    edges = _check_edges(offset_edges)
    area_map = {**DEFAULT_REGIONS, **(regions or {})}
    issues = check_members(members, ["timezone"])
    names = check_timezones(members, issues)
    ok = issues.ok
    good = members[ok]
    tz = names[ok].astype(str).tolist()
    instant = at.to_pydatetime()
    offsets: dict[str, float] = {}
    for name in set(tz):
        delta = instant.astimezone(zone(name)).utcoffset() or dt.timedelta(0)
        offsets[name] = delta.total_seconds() / 3600.0
    offset = np.array([offsets[n] for n in tz], dtype=np.float64)
    frame = pd.DataFrame(
        {
            "member_id": pd.Series(good["member_id"].to_numpy(), dtype="string"),
            "timezone": pd.Series(tz, dtype="string"),
            "region": pd.Series([_region(n, area_map) for n in tz], dtype="string"),
            "utc_offset": pd.Series(offset, dtype="Float64"),
            "offset_band": pd.Series(_band_labels(offset, edges), dtype="string"),
        }
    )
    frame = frame.sort_values("member_id", kind="stable").reset_index(drop=True)
    return Validated(frame, issues.quarantine(), member_names(members))


# ---------------------------------------------------------------------------
# Counting by group, and what may be published


def _count_by_group(
    groups: pd.DataFrame, counts: Mapping[str, npt.NDArray[np.float64] | npt.NDArray[np.int64]]
) -> pd.DataFrame:
    """Sums of per-member ``counts`` (aligned with ``groups`` rows) by region and by band.

    Returns ``grouping``, ``group``, ``members`` and one column per count,
    ordered by grouping then group label.
    """
    data = pd.DataFrame({name: np.asarray(values) for name, values in counts.items()})
    data["members"] = 1
    parts = []
    for grouping in GROUPINGS:
        summed = data.groupby(groups[grouping].to_numpy(), sort=True).sum()
        summed.insert(0, "group", summed.index.astype(str))
        summed.insert(0, "grouping", grouping)
        parts.append(summed.reset_index(drop=True))
    columns = ["grouping", "group", "members", *counts]
    if not parts:
        return pd.DataFrame(columns=columns)
    out = pd.concat(parts, ignore_index=True)[columns]
    out["grouping"] = out["grouping"].astype("string")
    out["group"] = out["group"].astype("string")
    return out


#: The label of the row that pools the groups too small to publish.
POOLED_GROUP = "Other (small groups pooled)"


def _pool_small_groups(counts: pd.DataFrame, min_group_size: int) -> pd.DataFrame:
    """Counts safe to publish: no row covers fewer than ``min_group_size`` members.

    Within each grouping, the groups under the minimum are pooled into one
    :data:`POOLED_GROUP` row; while that pool is itself under the minimum, the
    next smallest group joins it, so no small group's counts can be recovered
    by subtracting the published rows from a total. ``suppressed`` is True on
    the pooled row. When a whole grouping has fewer members than the minimum,
    its one pooled row has every count NA.
    """
    value_columns = [c for c in counts.columns if c not in ("grouping", "group")]
    parts = []
    for grouping in GROUPINGS:
        rows = counts[counts["grouping"] == grouping].sort_values(
            ["members", "group"], kind="stable"
        )
        if rows.empty:
            continue
        sizes = rows["members"].to_numpy()
        pooled = sizes < min_group_size
        total = sizes[pooled].sum()
        for position in range(len(sizes)):
            if total == 0 or total >= min_group_size:
                break
            if not pooled[position]:
                pooled[position] = True
                total += sizes[position]
        kept = rows[~pooled].assign(suppressed=False)
        if pooled.any():
            pool = rows[pooled][value_columns].sum().to_frame().T
            pool.insert(0, "group", POOLED_GROUP)
            pool.insert(0, "grouping", grouping)
            pool["suppressed"] = True
            if total < min_group_size:
                pool[value_columns] = np.nan
            kept = pd.concat([kept, pool], ignore_index=True)
        parts.append(kept)
    if not parts:
        return counts.assign(suppressed=pd.Series(dtype="boolean"))
    out = pd.concat(parts, ignore_index=True)
    out["grouping"] = out["grouping"].astype("string")
    out["group"] = out["group"].astype("string")
    out["suppressed"] = out["suppressed"].astype("boolean")
    for column in value_columns:
        out[column] = out[column].astype("Float64")
    return out


def summarise_groups(
    groups: pd.DataFrame,
    counts: Mapping[str, npt.NDArray[np.int64]],
    *,
    outcomes: Sequence[str],
    min_group_size: int,
    threshold: float,
    publishable: bool,
) -> pd.DataFrame:
    """Per-member ``counts`` summed by region and band, with the audit of ``outcomes``.

    ``groups`` is :func:`compute_timezone_groups`'s frame; ``counts`` are
    aligned with its rows. Unless ``publishable``, every group is shown and
    those under ``min_group_size`` members are marked ``suppressed``; if
    publishable, they are pooled (:func:`_pool_small_groups`).

    Columns: ``grouping``, ``group`` (string); ``members``, ``team_share``;
    for each outcome its count, ``_share``, ``_ratio``, ``_impact_ratio``
    (Float64) and ``_flag`` (boolean), see :func:`_selection_columns`; the
    other counts (Float64); ``suppressed`` (boolean).
    """
    if not (isinstance(min_group_size, int) and min_group_size >= 1):
        raise DataValidationError(
            f"min_group_size must be a positive integer, not {min_group_size!r}"
        )
    if not (0 < float(threshold) <= 1):
        raise DataValidationError(f"threshold must be in (0, 1], not {threshold!r}")
    table = _count_by_group(groups, counts)
    if publishable:
        table = _pool_small_groups(table, min_group_size)
    else:
        table["suppressed"] = (table["members"] < min_group_size).astype("boolean")
        for column in ["members", *counts]:
            table[column] = table[column].astype("Float64")
    totals = table.groupby("grouping")["members"].transform("sum")
    table.insert(3, "team_share", _ratio(table["members"], totals))
    ordered = ["grouping", "group", "members", "team_share"]
    for outcome in outcomes:
        table = _selection_columns(table, outcome, min_group_size, threshold)
        ordered += [outcome, *(f"{outcome}_{s}" for s in ("share", "ratio", "impact_ratio",
                                                          "flag"))]
    ordered += [c for c in counts if c not in outcomes]
    return table[[*ordered, "suppressed"]].reset_index(drop=True)


def _ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    """numerator / denominator as Float64, NA where the denominator is 0 or NA."""
    num = numerator.astype("Float64")
    den = denominator.astype("Float64")
    return (num / den.where(den != 0)).astype("Float64")


def _selection_columns(
    table: pd.DataFrame, outcome: str, min_group_size: int, threshold: float
) -> pd.DataFrame:
    """Add ``{outcome}_share``, ``_ratio``, ``_impact_ratio`` and ``_flag`` to a counts table.

    Share: the group's part of all ``outcome`` in its grouping. Ratio: share
    ÷ the group's share of members (1 = proportional). Impact ratio: the
    group's rate (``outcome`` ÷ members) ÷ the highest rate among groups of at
    least ``min_group_size`` members (all groups when none is that large);
    below ``threshold`` (four-fifths: 0.8) sets the flag (False when the ratio
    is undefined, NA on a row whose counts are withheld).
    """
    out = table.copy()
    totals = out.groupby("grouping")[[outcome, "members"]].transform("sum")
    out[f"{outcome}_share"] = _ratio(out[outcome], totals[outcome])
    team_share = _ratio(out["members"], totals["members"])
    out[f"{outcome}_ratio"] = _ratio(out[f"{outcome}_share"], team_share)
    rate = _ratio(out[outcome], out["members"])
    eligible = out["members"].astype("Float64") >= min_group_size
    any_eligible = eligible.groupby(out["grouping"]).transform("any").astype(bool)
    reference_rate = rate.where(eligible | ~any_eligible)
    best = reference_rate.groupby(out["grouping"]).transform("max").astype("Float64")
    impact = _ratio(rate, best)
    out[f"{outcome}_impact_ratio"] = impact
    # No flag where the impact ratio is undefined (nothing to compare); NA on a
    # pooled row whose numbers are withheld, so the flag cannot hint at them.
    flag = (impact < threshold).fillna(False).astype("boolean")
    out[f"{outcome}_flag"] = flag.where(out["members"].notna())
    return out


# ---------------------------------------------------------------------------
# The representation audit


def assess_representation(
    members: pd.DataFrame,
    signals: pd.DataFrame,
    scores: pd.DataFrame,
    *,
    as_of: object,
    offset_edges: Sequence[float] = DEFAULT_OFFSET_EDGES,
    regions: Mapping[str, str] | None = None,
    min_group_size: int = 3,
    top_fraction: float = 0.2,
    threshold: float = 0.8,
    window_days: float = 90.0,
    publishable: bool = False,
) -> Validated:
    """Who leads, who is in the pipeline and who scores highest, by region and offset band.

    Members are grouped as in :func:`compute_timezone_groups` at ``as_of``.
    For each group: its members; its current leaders (``is_leader`` true;
    NA counts as not a leader); its pipeline (members with a ``track``); its
    top-scored members (the ``top_fraction`` of the team with the highest
    ``scores.score``, ties at the cut included, a score of 0 never counting);
    and the signals recorded about its members in the ``window_days`` up to
    ``as_of`` with their impact mix, to surface observers who see some
    groups more than others.

    ``scores`` is :func:`~leadsync.analytics.score_members`'s frame (needs
    ``member_id`` and ``score``); every member must have a row there.

    Four-fifths rule: a group's rate (leaders ÷ members, and likewise for
    pipeline and top-scored) ÷ the best rate among groups of at least
    ``min_group_size`` members; below ``threshold`` flags.

    ``publishable=False`` (the manager's view) shows every group and marks
    those under ``min_group_size`` members ``suppressed``. ``publishable=True``
    (anything that leaves the manager's hands) pools them into one
    :data:`POOLED_GROUP` row, joined by the next smallest groups while that
    row is itself under the minimum, so no published row covers fewer
    members and no small group can be recovered by subtraction; a team under
    the minimum publishes one row per grouping with every number NA.

    Returns :class:`~leadsync.tables.Validated`; ``quarantine`` holds members
    without a valid time zone or id, and bad signal rows. The signals of a
    member without a time zone are not counted (the member's row says why).
    Raises on missing columns, duplicate ids, a member missing from
    ``scores``, or bad keyword arguments.

    Columns of ``frame`` (one row per grouping and group, ordered by grouping
    ``region`` then ``offset_band``, then group label; counts are Float64 so
    a suppressed row can hold NA): ``grouping`` (string: ``region`` or
    ``offset_band``); ``group`` (string); ``members``; ``team_share``
    (members ÷ members of all groups); for each outcome ``leaders``,
    ``pipeline``, ``top_scored``: the count, ``*_share`` (of the outcome),
    ``*_ratio`` (share ÷ team share), ``*_impact_ratio`` (rate ÷ best rate)
    and ``*_flag`` (boolean, impact ratio below ``threshold``); ``signals``
    (signals in the window); ``signals_per_member``; ``visibility_ratio``
    (signals per member ÷ the grouping's overall signals per member);
    ``low_share``, ``medium_share``, ``high_share`` (the impact mix of the
    group's signals; NA when it has none); ``suppressed`` (boolean).
    """
    at = utc_timestamp(as_of)
    if not (0 < float(top_fraction) <= 1):
        raise DataValidationError(f"top_fraction must be in (0, 1], not {top_fraction!r}")
    if not (math.isfinite(window_days) and window_days > 0):
        raise DataValidationError(f"window_days must be a positive number, not {window_days!r}")
    require_columns(members, "members", ["member_id", "timezone", "is_leader", "track"])
    grouped = compute_timezone_groups(
        members, as_of=at, offset_edges=offset_edges, regions=regions
    )
    groups = grouped.frame
    ids = id_index(groups["member_id"])
    with_id = members[members["member_id"].notna()]
    by_id = with_id.set_index(with_id["member_id"].astype("object"))

    leaders = by_id["is_leader"].reindex(ids).astype("boolean").fillna(False).to_numpy(dtype=bool)
    track = by_id["track"].reindex(ids).astype("string").str.strip()
    pipeline = (track.notna() & (track != "")).fillna(False).to_numpy(dtype=bool)
    top = _top_scored(scores, ids, top_fraction)

    # Signals are checked against every member; those of a member left out for
    # want of a time zone are not counted (the member's quarantine row says why).
    known = id_index(members["member_id"])
    arrays, signal_quarantine = prepare_signals(signals, known, at)
    grouped_position = ids.get_indexer(known)[arrays.member]
    window_start = at.value - int(window_days * NS_PER_DAY)
    recent = (arrays.time >= window_start) & (grouped_position >= 0)
    member = grouped_position[recent]
    levels = len(IMPACT_LEVELS)
    by_impact = np.bincount(
        member * levels + arrays.impact[recent], minlength=len(ids) * levels
    ).reshape(len(ids), levels)

    counts: dict[str, npt.NDArray[np.int64]] = {
        "leaders": leaders.astype(np.int64),
        "pipeline": pipeline.astype(np.int64),
        "top_scored": top.astype(np.int64),
        "signals": by_impact.sum(axis=1),
    }
    for position, level in enumerate(IMPACT_LEVELS):
        counts[f"_{level.lower()}"] = by_impact[:, position]
    outcomes = ("leaders", "pipeline", "top_scored")
    table = summarise_groups(groups, counts, outcomes=outcomes, min_group_size=min_group_size,
                             threshold=threshold, publishable=publishable)
    totals = table.groupby("grouping")[["members", "signals"]].transform("sum")
    table["signals_per_member"] = _ratio(table["signals"], table["members"])
    table["visibility_ratio"] = _ratio(
        table["signals_per_member"], _ratio(totals["signals"], totals["members"])
    )
    for level in IMPACT_LEVELS:
        table[f"{level.lower()}_share"] = _ratio(table[f"_{level.lower()}"], table["signals"])
    ordered = [c for c in table.columns if not c.startswith("_") and c != "suppressed"]
    ordered.append("suppressed")
    return Validated(
        table[ordered].reset_index(drop=True),
        merge_quarantines(grouped.quarantine, signal_quarantine),
    )


def _top_scored(scores: pd.DataFrame, ids: pd.Index, fraction: float) -> npt.NDArray[np.bool_]:
    """Members among the highest ``fraction`` of scores (ties at the cut in, zero scores out)."""
    require_columns(scores, "scores", ["member_id", "score"])
    require_unique(scores, "scores", "member_id")
    table = pd.Series(
        scores["score"].astype("Float64").to_numpy(), index=scores["member_id"].astype("object")
    )
    values = table.reindex(ids)
    missing = ids[values.isna().to_numpy()]
    if len(missing):
        shown = ", ".join(repr(str(m)) for m in list(missing)[:10])
        raise DataValidationError(
            f"scores has no score for member(s) {shown}; score the same members frame"
        )
    array = values.to_numpy(dtype=np.float64)
    if array.size == 0:
        return np.zeros(0, dtype=bool)
    cut = max(1, math.ceil(fraction * array.size))
    threshold = np.sort(array)[::-1][cut - 1]
    top: npt.NDArray[np.bool_] = (array >= threshold) & (array > 0)
    return top
