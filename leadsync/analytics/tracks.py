"""Development tracks: milestones done and time in stage, with room for individual pacing.

Owns the seed's technical leadership track (stages, expected durations,
milestones) as the configurable default, and the pace status of every member
on a track.

Seed 000: "Create clear milestones but allow individual pacing. Rigid
timelines disadvantage thoughtful developers who need longer."
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from leadsync.analytics._checks import (
    Issues,
    check_members,
    id_index,
    merge_quarantines,
    require_columns,
    require_unique,
    timestamps_ns,
    utc_timestamp,
)
from leadsync.analytics._signals import NS_PER_DAY
from leadsync.analytics.display import member_names
from leadsync.errors import DataValidationError
from leadsync.tables import Validated

__all__ = ["DEFAULT_TRACKS", "PACE_STATUSES", "TECHNICAL_LEADERSHIP_TRACK", "assess_tracks"]

#: The seed's ``TECHNICAL_LEADERSHIP_TRACK``: stage → expected months and milestones.
TECHNICAL_LEADERSHIP_TRACK: Mapping[str, Mapping[str, Any]] = MappingProxyType({
    "early_leadership": MappingProxyType({
        "duration_months": 3,
        "milestones": (
            "Mentored 2+ junior engineers through complete features",
            "Led 1 cross-team technical initiative",
            "Facilitated 3+ architecture discussions",
            "Created documentation used by 5+ team members",
        ),
    }),
    "emerging_leader": MappingProxyType({
        "duration_months": 6,
        "milestones": (
            "Delivered project without direct supervision",
            "Managed stakeholder expectations on technical scope",
            "Coached teammate through blockers",
            "Presented technical vision to leadership",
        ),
    }),
    "established_leader": MappingProxyType({
        "duration_months": 12,
        "milestones": (
            "Led team through major technical transition",
            "Hired and onboarded 2+ engineers",
            "Set technical direction for project area",
            "Developed team's technical skills through training",
        ),
    }),
})

#: Track name (as normalised by :func:`_token`) → track. Members' ``track``
#: text is matched after case-folding and turning spaces and dashes into "_",
#: so "Technical Leadership" finds ``technical_leadership``.
DEFAULT_TRACKS: Mapping[str, Mapping[str, Mapping[str, Any]]] = MappingProxyType(
    {"technical_leadership": TECHNICAL_LEADERSHIP_TRACK}
)

#: Pace statuses, worst first (the ``status`` column's ordered categories).
PACE_STATUSES: tuple[str, ...] = ("needs support", "on pace", "ahead")

#: Average days in a month (365.25 / 12).
_DAYS_PER_MONTH = 30.4375


def _token(text: str) -> str:
    return re.sub(r"[\s\-]+", "_", text.strip()).casefold()


def _text(column: pd.Series) -> pd.Series:
    """Stripped text, NA where blank."""
    text = column.astype("string").str.strip()
    return text.where(text != "")


def _milestone_key(text: str) -> str:
    return " ".join(text.split()).casefold()


def _check_tracks(
    tracks: Mapping[str, Mapping[str, Mapping[str, Any]]],
) -> dict[str, dict[str, tuple[float, tuple[str, ...]]]]:
    """track token → stage → (months, milestones); raise on a malformed track."""
    out: dict[str, dict[str, tuple[float, tuple[str, ...]]]] = {}
    for name, stages in tracks.items():
        parsed: dict[str, tuple[float, tuple[str, ...]]] = {}
        for stage, spec in stages.items():
            months = spec.get("duration_months") if isinstance(spec, Mapping) else None
            milestones = spec.get("milestones") if isinstance(spec, Mapping) else None
            if (
                not isinstance(months, (int, float)) or isinstance(months, bool)
                or not math.isfinite(months) or months <= 0
                or not isinstance(milestones, Sequence) or isinstance(milestones, str)
                or not milestones or not all(isinstance(m, str) for m in milestones)
            ):
                raise DataValidationError(
                    f"tracks[{name!r}][{stage!r}] must be {{'duration_months': a positive "
                    "number, 'milestones': a non-empty list of text}"
                )
            parsed[_token(stage)] = (float(months), tuple(milestones))
        out[_token(name)] = parsed
    return out


def assess_tracks(
    members: pd.DataFrame,
    milestones: pd.DataFrame,
    *,
    as_of: object,
    tracks: Mapping[str, Mapping[str, Mapping[str, Any]]] = DEFAULT_TRACKS,
    ahead_margin: float = 0.25,
    behind_margin: float = 0.5,
) -> Validated:
    """Progress of every member on a development track, as of ``as_of``.

    A member is on a track when ``track`` and ``stage`` are set. ``tracks``
    maps track names to stages in the seed's shape (``{"stage": {
    "duration_months": 3, "milestones": [...]}}``); the default is the seed's
    technical leadership track under the name ``technical_leadership``.

    Milestones done: the stage's listed milestones with a ``milestones`` row
    for the member whose ``completed_on`` is at or before ``as_of`` (text
    matched ignoring case and spacing; milestones outside the list are not
    counted). Time: months since ``stage_started`` (365.25 / 12 days a month).

    Pace compares the share of milestones done, ``progress``, with the share
    of the expected time used, ``time_used`` (which passes 1 when the stage
    runs long): ``pace = progress − time_used``. Status: ``ahead`` when every
    milestone is done within the expected time or ``pace ≥ ahead_margin``
    (default 0.25); ``needs support`` when ``pace < −behind_margin`` (default
    0.5: e.g. 3 months into a 3-month stage with fewer than half the
    milestones, or past 1.5× the expected time with any left) and not every
    milestone is done; else ``on pace``. The margins are the room for
    individual pacing.

    Returns :class:`~leadsync.tables.Validated`; ``quarantine`` holds members
    on an unknown track or stage, or with a missing or future
    ``stage_started``, and milestone rows that are for an unknown member or
    completed after ``as_of``. Raises on missing columns, duplicate ids or a
    malformed ``tracks``.

    Columns of ``frame`` (one row per member on a track, by ``member_id``):
    ``member_id``, ``track``, ``stage`` (string, as given);
    ``stage_started`` (datetime64[ns, UTC]); ``months_in_stage``,
    ``expected_months`` (Float64); ``time_used`` (Float64, months ÷
    expected); ``milestones_done``, ``milestones_total`` (Int64);
    ``progress`` (Float64, done ÷ total); ``milestones_missing`` (object:
    tuple of the stage's milestones not yet done, in the track's order);
    ``pace`` (Float64); ``status`` (ordered categorical of
    :data:`PACE_STATUSES`).
    """
    at = utc_timestamp(as_of)
    parsed = _check_tracks(tracks)
    for name, value in (("ahead_margin", ahead_margin), ("behind_margin", behind_margin)):
        if not (math.isfinite(value) and value >= 0):
            raise DataValidationError(f"{name} must be a non-negative number, not {value!r}")
    issues = check_members(members, ["track", "stage", "stage_started"])
    track_text = _text(members["track"])
    stage_text = _text(members["stage"])
    on_track = (track_text.notna() & stage_text.notna()).to_numpy(dtype=bool)
    # Members with only one of the two set are not on a track; say so rather than drop them.
    half = (track_text.notna() ^ stage_text.notna()).to_numpy(dtype=bool)
    issues.flag(half & track_text.isna().to_numpy(), "stage is set but track is missing")
    issues.flag(half & stage_text.isna().to_numpy(), "track is set but stage is missing")
    track_key = track_text.map(_token, na_action="ignore").astype("string")
    stage_key = stage_text.map(_token, na_action="ignore").astype("string")
    unknown_track = on_track & ~track_key.isin(list(parsed)).to_numpy(dtype=bool)
    issues.flag(unknown_track, lambda i: f"track {track_text.iat[i]!r} is not configured; "
                f"known: {', '.join(parsed)}")
    unknown_stage = on_track & ~unknown_track & np.array(
        [t in parsed and s not in parsed[t] for t, s in zip(track_key, stage_key, strict=True)],
        dtype=bool,
    )
    issues.flag(unknown_stage, lambda i: f"stage {stage_text.iat[i]!r} is not a stage of "
                f"track {track_text.iat[i]!r}")
    started_ns = timestamps_ns(members, "stage_started", issues, required=True,
                               not_after=at, only=on_track)
    chosen = on_track & issues.ok

    require_columns(milestones, "milestones", ["milestone_id", "member_id", "milestone",
                                               "completed_on"])
    require_unique(milestones, "milestones", "milestone_id")
    ids = id_index(members["member_id"])
    done_issues = Issues("milestones", milestones, "milestone_id")
    member_of = ids.get_indexer(pd.Index(milestones["member_id"].astype("object")))
    missing_member = milestones["member_id"].isna().to_numpy()
    done_issues.flag(missing_member, "member_id is missing")
    done_issues.flag((member_of < 0) & ~missing_member,
                     lambda i: f"member_id {milestones['member_id'].iat[i]!r} matches no member")
    completed = timestamps_ns(milestones, "completed_on", done_issues, required=False,
                              not_after=at)
    usable = done_issues.ok & (completed != np.iinfo(np.int64).min)
    done_by_member: dict[str, set[str]] = {}
    for member_id, text in zip(milestones["member_id"][usable].astype(str),
                               milestones["milestone"][usable].astype("string"), strict=True):
        if isinstance(text, str):
            done_by_member.setdefault(member_id, set()).add(_milestone_key(text))

    rows = members[chosen]
    out: dict[str, list[Any]] = {k: [] for k in (
        "member_id", "track", "stage", "months", "expected", "done", "total", "missing"
    )}
    for member_id, track, stage, tk, sk in zip(
        rows["member_id"].astype(str), track_text[chosen], stage_text[chosen],
        track_key[chosen], stage_key[chosen], strict=True,
    ):
        months, listed = parsed[tk][sk]
        done = done_by_member.get(member_id, set())
        missing = tuple(m for m in listed if _milestone_key(m) not in done)
        out["member_id"].append(member_id)
        out["track"].append(track)
        out["stage"].append(stage)
        out["expected"].append(months)
        out["done"].append(len(listed) - len(missing))
        out["total"].append(len(listed))
        out["missing"].append(missing)
    started = started_ns[chosen]
    months_in = (at.value - started).astype(np.float64) / NS_PER_DAY / _DAYS_PER_MONTH
    expected = np.asarray(out["expected"], dtype=np.float64)
    done_n = np.asarray(out["done"], dtype=np.float64)
    total_n = np.asarray(out["total"], dtype=np.float64)
    time_used = months_in / np.where(expected > 0, expected, 1.0)
    progress = done_n / np.where(total_n > 0, total_n, 1.0)
    pace = progress - time_used
    complete = progress >= 1
    status = np.where(
        (complete & (time_used <= 1)) | (pace >= ahead_margin), "ahead",
        np.where(~complete & (pace < -behind_margin), "needs support", "on pace"),
    )
    frame = pd.DataFrame({
        "member_id": pd.Series(out["member_id"], dtype="string"),
        "track": pd.Series(out["track"], dtype="string"),
        "stage": pd.Series(out["stage"], dtype="string"),
        "stage_started": pd.Series(pd.to_datetime(started, utc=True),
                                   dtype="datetime64[ns, UTC]"),
        "months_in_stage": pd.Series(np.round(months_in, 9), dtype="Float64"),
        "expected_months": pd.Series(expected, dtype="Float64"),
        "time_used": pd.Series(np.round(time_used, 9), dtype="Float64"),
        "milestones_done": pd.Series(out["done"], dtype="Int64"),
        "milestones_total": pd.Series(out["total"], dtype="Int64"),
        "progress": pd.Series(progress, dtype="Float64"),
        "milestones_missing": pd.Series(out["missing"], dtype="object"),
        "pace": pd.Series(np.round(pace, 9), dtype="Float64"),
        "status": pd.Categorical(status, categories=list(PACE_STATUSES), ordered=True),
    })
    frame = frame.sort_values("member_id", kind="stable").reset_index(drop=True)
    return Validated(frame, merge_quarantines(issues.quarantine(), done_issues.quarantine()),
                     member_names(members))

