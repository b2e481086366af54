"""The signals table checked once and held as flat numpy arrays.

Owns the row checks every signal-reading analysis shares (scores,
representation, quiet members, promotion evidence) and the array form they
compute on: one entry per good signal, members as positions in the members
frame, vocabularies as codes, dates as int64 nanoseconds. Aggregating is then
``numpy.bincount`` over those codes, with no Python loop over signals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from leadsync.analytics._checks import (
    Issues,
    category_codes,
    member_codes,
    require_columns,
    require_unique,
    timestamps_ns,
)
from leadsync.tables import IMPACT_LEVELS, SIGNAL_TYPES

__all__ = ["NS_PER_DAY", "SignalArrays", "prepare_signals"]

NS_PER_DAY = 86_400 * 10**9

_REQUIRED = ("signal_id", "member_id", "signal_type", "date", "impact")


@dataclass(frozen=True)
class SignalArrays:
    """The good signals, one entry per signal, aligned across arrays."""

    #: position of the signal's member in the members index
    member: npt.NDArray[np.int64]
    #: code in ``SIGNAL_TYPES`` order
    signal_type: npt.NDArray[np.int8]
    #: code in ``IMPACT_LEVELS`` order
    impact: npt.NDArray[np.int8]
    #: date as nanoseconds since the epoch, UTC
    time: npt.NDArray[np.int64]
    #: the signal carries an evidence link (all False when not asked for)
    evidence: npt.NDArray[np.bool_]
    #: the signal's row position in the input frame
    position: npt.NDArray[np.int64]

    def before(self, cutoff_ns: int) -> SignalArrays:
        """The signals dated at or before ``cutoff_ns``."""
        keep = self.time <= cutoff_ns
        return SignalArrays(
            self.member[keep], self.signal_type[keep], self.impact[keep], self.time[keep],
            self.evidence[keep], self.position[keep],
        )


def prepare_signals(
    signals: pd.DataFrame,
    member_ids: pd.Index,
    as_of: pd.Timestamp,
    *,
    evidence: bool = False,
) -> tuple[SignalArrays, pd.DataFrame]:
    """The good signals as arrays, and the quarantine of the others.

    Raises when a required column is missing or a ``signal_id`` repeats.
    Quarantines a signal whose id, member, type, impact or date is missing,
    whose type or impact is outside the vocabulary, whose member is not in
    ``member_ids``, or whose date is after ``as_of``.
    """
    require_columns(signals, "signals", _REQUIRED + (("evidence",) if evidence else ()))
    require_unique(signals, "signals", "signal_id")
    issues = Issues("signals", signals, "signal_id")
    issues.flag(signals["signal_id"].isna().to_numpy(), "signal_id is missing")
    member = member_codes(signals, "member_id", member_ids, issues, required=True)
    kind = category_codes(signals, "signal_type", SIGNAL_TYPES, issues, required=True)
    impact = category_codes(signals, "impact", IMPACT_LEVELS, issues, required=True)
    time = timestamps_ns(signals, "date", issues, required=True, not_after=as_of)
    has_link = (
        signals["evidence"].notna().to_numpy()
        if evidence
        else np.zeros(len(signals), dtype=bool)
    )
    ok = issues.ok
    if ok.all():
        arrays = SignalArrays(
            member, kind, impact, time, has_link, np.arange(len(signals), dtype=np.int64)
        )
    else:
        arrays = SignalArrays(
            member[ok], kind[ok], impact[ok], time[ok], has_link[ok],
            np.flatnonzero(ok).astype(np.int64),
        )
    return arrays, issues.quarantine()
