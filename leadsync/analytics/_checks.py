"""Input checks shared by the analytics, and the one error policy they follow.

Owns: normalising ``as_of`` and dates, the column/id/keyword checks that raise
:class:`~leadsync.errors.DataValidationError`, the per-row checks that
quarantine, and the quarantine frame itself (``leadsync.tables.QUARANTINE_COLUMNS``).

The policy:

* the input *as a whole* cannot be analysed (a required column is missing,
  two rows share an id, a keyword argument is out of range) → raise
  :class:`~leadsync.errors.DataValidationError` naming the columns, ids or
  values;
* a *row* does not fit (a value outside the vocabulary, a missing required
  value, a date after ``as_of``, an unknown member, a missing or unknown time
  zone) → the row is left out of the analysis and reported in the quarantine
  with every reason, never dropped silently.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
import zoneinfo
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

from leadsync.errors import DataValidationError
from leadsync.tables import QUARANTINE_COLUMNS, _to_timestamp

__all__ = [
    "NAT",
    "Issues",
    "category_codes",
    "check_members",
    "check_timezones",
    "check_weights",
    "empty_quarantine",
    "id_index",
    "member_codes",
    "merge_quarantines",
    "parse_hours",
    "require_columns",
    "require_unique",
    "timestamps_ns",
    "utc_date",
    "utc_timestamp",
    "zone",
]

#: The int64 pandas uses for NaT; what :func:`timestamps_ns` returns for a missing date.
NAT: int = int(np.iinfo(np.int64).min)

#: How many offending ids or values an error message lists before "and N more".
_SHOWN = 10

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


# ---------------------------------------------------------------------------
# Dates


def utc_timestamp(value: object, name: str = "as_of") -> pd.Timestamp:
    """``value`` as a tz-aware UTC timestamp, parsed as the canonical tables parse a date cell.

    Accepts a ``datetime``/``Timestamp`` (naive ones are read as UTC), a
    ``date`` (midnight UTC, like a date-only cell) or an ISO 8601 string.
    """
    if not isinstance(value, (dt.date, str)):
        raise DataValidationError(
            f"{name} must be a date, datetime or ISO 8601 string, not {type(value).__name__}"
        )
    ts = _to_timestamp(value)
    if ts is None:
        raise DataValidationError(f"{name} {value!r} is not a date")
    return ts.as_unit("ns")


def utc_date(value: object, name: str) -> dt.date:
    """A calendar date from a ``date``, a ``datetime`` (its UTC date) or an ISO string."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    ts = utc_timestamp(value, name)
    return dt.date(ts.year, ts.month, ts.day)


def timestamps_ns(
    frame: pd.DataFrame,
    column: str,
    issues: Issues,
    *,
    required: bool,
    not_after: pd.Timestamp | None = None,
    only: BoolArray | None = None,
) -> IntArray:
    """A date column as int64 nanoseconds since the epoch (UTC), :data:`NAT` when missing.

    Unparseable cells, missing cells of a required column and dates after
    ``not_after`` are flagged in ``issues`` (for the rows in ``only``, when given).
    """
    raw = frame[column]
    rows = np.ones(len(frame), dtype=bool) if only is None else only
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        parsed = raw
    elif pd.api.types.is_datetime64_dtype(raw.dtype):
        parsed = raw.dt.tz_localize("UTC")
    else:
        parsed = pd.to_datetime(raw, utc=True, errors="coerce", format="ISO8601")
        unparsed = raw.notna().to_numpy() & parsed.isna().to_numpy()
        issues.flag(unparsed & rows, lambda i: f"{column} {raw.iat[i]!r} is not a date")
    values: IntArray = pd.DatetimeIndex(parsed).tz_convert("UTC").as_unit("ns").asi8.copy()
    missing = values == NAT
    if required:
        issues.flag(raw.isna().to_numpy() & rows, f"{column} is missing")
    if not_after is not None:
        late = ~missing & (values > not_after.value) & rows
        issues.flag(
            late,
            lambda i: f"{column} {pd.Timestamp(values[i], tz='UTC').isoformat()} is after "
            f"as_of {not_after.isoformat()}",
        )
    return values


# ---------------------------------------------------------------------------
# Columns, ids and keyword arguments (raise)


def require_columns(frame: pd.DataFrame, table: str, columns: Iterable[str]) -> None:
    """Raise naming every column of ``columns`` that ``frame`` lacks."""
    if not isinstance(frame, pd.DataFrame):
        raise DataValidationError(f"{table} must be a pandas DataFrame, not {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataValidationError(
            f"{table} frame has no column(s) {', '.join(map(repr, missing))}; "
            "build it with leadsync.tables.build_frame"
        )


def _listing(values: Sequence[object]) -> str:
    shown = ", ".join(repr(str(v)) for v in values[:_SHOWN])
    more = len(values) - _SHOWN
    return shown + (f" and {more} more" if more > 0 else "")


def require_unique(frame: pd.DataFrame, table: str, key: str) -> None:
    """Raise naming the ids of ``frame[key]`` that occur more than once."""
    ids = frame[key]
    if pd.Index(ids.dropna()).is_unique:
        return
    dup = ids[ids.duplicated(keep=False) & ids.notna()]
    values = sorted(set(dup.astype(str)))
    raise DataValidationError(f"{table} has duplicate {key} {_listing(values)}")


def check_weights(
    given: Mapping[str, float] | None,
    default: Mapping[str, float],
    name: str,
) -> dict[str, float]:
    """``default`` updated with ``given``; raise on an unknown key or a negative/infinite value."""
    weights = dict(default)
    if given is not None:
        unknown = sorted(set(given) - set(default))
        if unknown:
            raise DataValidationError(
                f"{name} has unknown key(s) {_listing(unknown)}; expected {', '.join(default)}"
            )
        weights.update({k: float(v) for k, v in given.items()})
    bad = [k for k, v in weights.items() if not math.isfinite(v) or v < 0]
    if bad:
        raise DataValidationError(
            f"{name} must be finite and non-negative; got "
            + ", ".join(f"{k}={weights[k]!r}" for k in bad)
        )
    return weights


# ---------------------------------------------------------------------------
# Rows that do not fit (quarantine)


class Issues:
    """Reasons collected for the rows of one input frame; becomes its quarantine.

    ``flag(mask, reason)`` records ``reason`` for every row where ``mask`` is
    true; ``reason`` is a string or a function of the row position (called
    only for flagged rows). ``ok`` is the mask of rows with no reason so far.
    """

    def __init__(self, table: str, frame: pd.DataFrame, key: str) -> None:
        self.table = table
        self.frame = frame
        self.key = key
        self._bad: BoolArray = np.zeros(len(frame), dtype=bool)
        self._reasons: dict[int, list[str]] = {}

    def flag(self, mask: BoolArray, reason: str | Callable[[int], str]) -> None:
        positions = np.flatnonzero(mask)
        if positions.size == 0:
            return
        self._bad[positions] = True
        for i in positions.tolist():
            text = reason if isinstance(reason, str) else reason(i)
            self._reasons.setdefault(i, []).append(text)

    @property
    def ok(self) -> BoolArray:
        return ~self._bad

    def quarantine(self) -> pd.DataFrame:
        """The flagged rows in the shape of ``leadsync.tables.QUARANTINE_COLUMNS``."""
        if not self._reasons:
            return empty_quarantine()
        positions = sorted(self._reasons)
        rows = self.frame.iloc[positions]
        if "source_id" in rows.columns:
            source = rows["source_id"].astype("string").fillna(rows[self.key].astype("string"))
        else:
            source = rows[self.key].astype("string")
        records = rows.to_json(
            orient="records", lines=True, date_format="iso", default_handler=str
        ).splitlines()
        out = pd.DataFrame(
            {
                "table": pd.Series([self.table] * len(positions), dtype="string"),
                "source_id": pd.Series(source.to_numpy(), dtype="string"),
                "reason": pd.Series(
                    ["; ".join(self._reasons[i]) for i in positions], dtype="string"
                ),
                "record": pd.Series(records, dtype="string"),
            }
        )
        # By source, not by input position, so the order of the input rows changes nothing.
        return out.sort_values(["source_id", "record"], kind="stable").reset_index(drop=True)


def empty_quarantine() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="string") for c in QUARANTINE_COLUMNS})


def merge_quarantines(*frames: pd.DataFrame) -> pd.DataFrame:
    """One quarantine from several, in argument order."""
    kept = [f for f in frames if not f.empty]
    if not kept:
        return empty_quarantine()
    return pd.concat(kept, ignore_index=True)


def category_codes(
    frame: pd.DataFrame,
    column: str,
    vocabulary: Sequence[str],
    issues: Issues,
    *,
    required: bool,
) -> npt.NDArray[np.int8]:
    """Codes of ``column`` in ``vocabulary`` order (-1 when missing); flags values outside it.

    A canonical ordered categorical is read through its codes; any other
    dtype is matched exactly against the vocabulary.
    """
    raw = frame[column]
    dtype = raw.dtype
    if isinstance(dtype, pd.CategoricalDtype) and tuple(dtype.categories) == tuple(vocabulary):
        codes = raw.cat.codes.to_numpy().astype(np.int8)
    else:
        lookup = {v: i for i, v in enumerate(vocabulary)}
        mapped = raw.astype("object").map(lookup)
        present = raw.notna().to_numpy()
        outside = present & mapped.isna().to_numpy()
        allowed = ", ".join(vocabulary)
        issues.flag(outside, lambda i: f"{column} {raw.iat[i]!r} is not one of {allowed}")
        codes = mapped.fillna(-1).to_numpy().astype(np.int8)
    if required:
        issues.flag((codes < 0) & raw.isna().to_numpy(), f"{column} is missing")
    return codes


def member_codes(
    frame: pd.DataFrame,
    column: str,
    member_ids: pd.Index,
    issues: Issues,
    *,
    required: bool,
) -> IntArray:
    """Positions of ``frame[column]`` in ``member_ids`` (-1 when missing); flags unknown ids."""
    raw = frame[column]
    codes: IntArray = member_ids.get_indexer(pd.Index(raw.astype("object"))).astype(np.int64)
    missing = raw.isna().to_numpy()
    issues.flag((codes < 0) & ~missing, lambda i: f"{column} {raw.iat[i]!r} matches no member")
    if required:
        issues.flag(missing, f"{column} is missing")
    return codes


def check_members(members: pd.DataFrame, columns: Iterable[str]) -> Issues:
    """Check a members frame: the columns, unique ids; missing ids are flagged.

    Returns its :class:`Issues`, to which a caller adds its own per-row checks.
    """
    require_columns(members, "members", ["member_id", *columns])
    require_unique(members, "members", "member_id")
    issues = Issues("members", members, "member_id")
    issues.flag(members["member_id"].isna().to_numpy(), "member_id is missing")
    return issues


def id_index(ids: pd.Series) -> pd.Index:
    """The present ids as an object index, for ``get_indexer`` lookups."""
    index: pd.Index = pd.Index(ids.dropna().astype("object").to_numpy(), dtype="object")
    return index


def check_timezones(members: pd.DataFrame, issues: Issues) -> pd.Series:
    """The stripped ``timezone`` column; flags members with none or one that is not IANA."""
    names = members["timezone"].astype("string").str.strip()
    blank = (names.isna() | (names == "")).fillna(True).to_numpy(dtype=bool)
    issues.flag(blank, "timezone is missing")
    known = {n: zone(n) is not None for n in pd.unique(names.dropna()) if n}
    # An explicit dtype: with Arrow-backed strings an all-NA column maps to a
    # null-typed array that fillna cannot fill.
    unknown = names.map(lambda n: n in known and not known[n], na_action="ignore")
    issues.flag(unknown.astype("boolean").fillna(False).to_numpy(dtype=bool),
                lambda i: f"timezone {names.iat[i]!r} is not an IANA time zone")
    return names


# ---------------------------------------------------------------------------
# Time zones and working hours


@functools.lru_cache(maxsize=2048)
def zone(name: str) -> zoneinfo.ZoneInfo | None:
    """The IANA zone called ``name``, or None when there is none."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        return None


_HOURS = re.compile(r"^\s*([01]\d|2[0-3]):([0-5]\d)\s*-\s*([01]\d|2[0-4]):([0-5]\d)\s*$")


def parse_hours(text: str) -> tuple[int, int] | None:
    """Working hours ``"HH:MM-HH:MM"`` as (start, end) minutes after local midnight.

    ``end`` ≤ ``start`` means the hours cross midnight; ``end`` may be 24:00.
    None when the text does not parse or the window is empty (start == end).
    """
    match = _HOURS.match(text)
    if match is None:
        return None
    start = int(match[1]) * 60 + int(match[2])
    end = int(match[3]) * 60 + int(match[4])
    if start == end:
        return None
    return start, end
