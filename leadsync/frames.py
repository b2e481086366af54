"""Canonical frames column by column: the vectorised builder behind every typed frame.

:func:`build_frame` (records in, a typed frame and its quarantine out;
re-exported as ``leadsync.tables.build_frame``) and :func:`records_to_frame`
(re-exported as ``leadsync.records.records_to_frame``) are the one validation
every frame goes through: a live pull, a pull page by page, the store. This
module does its work a column at a time instead of a cell at a time, in two
steps that are kept apart so that rows can be converted as they arrive:

1. :func:`coerce_cells` (per row, so it can be cached and concatenated):
   each non-member column is converted **once per column** to its canonical
   dtype (text to ``string``, vocabularies to ordered categoricals, dates with
   offsets to tz-aware UTC, flags to ``boolean``, scores to ``Float64``) with a
   mask of the cells that do not fit; member cells are normalised to the
   references they hold. The result, :class:`Coerced`, depends on each row
   alone.
2. :func:`finish` (across rows): the rules that look at several rows at once,
   vectorised: the key falls back to ``source_id`` when no row carries it,
   member references resolve to ``member_id`` (each distinct reference once),
   duplicate keys keep the first row. Rows with any problem leave the frame;
   their quarantine entries (every reason, in the order
   :func:`build_frame` documents, and the record as JSON)
   are written by :func:`explain` from the rows' exact values, which is the
   per-row logic this module replaced, kept for the few rows that need it.

The frames and quarantines are those of the per-row builder, cell for cell,
with one deliberate difference: a cell is converted as itself, never as the
column the other rows make. The per-row builder first built a frame of all
rows, which turned a column of whole numbers with one empty cell into floats
(a ``role`` of ``2`` became the text ``"2.0"``, and a bad value showed as
``np.float64(inf)``); here ``2`` stays ``"2"`` and the reason shows ``inf``.
The test suite compares both builders on the real payloads and on generated
ones (``tests/decoding``).

Inputs are **cells**: per canonical column, one Python value per row, as a
connector's :class:`~leadsync.pulls.Record` holds them (``str``, numbers,
``bool``, ``None``, ``datetime``/``date``, :class:`~leadsync.canonical.MemberRef`,
lists). A decoder that has already parsed a timestamp column passes it as
:class:`Parsed` (the connectors' column-wise decoders do: Notion dates and
Airtable date-times arrive as ISO text with their offsets and are parsed in
one call).
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from leadsync.canonical import (
    _EMAIL,
    _HOURS,
    _NS_MAX,
    _NS_MIN,
    _URL,
    META_COLUMNS,
    QUARANTINE_COLUMNS,
    Column,
    MemberIndex,
    MemberRef,
    TableSchema,
    Validated,
    _as_refs,
    _coerce,
    _coerce_timestamps,
    _is_missing,
    _norm_token,
    _record_json,
    _to_timestamp,
    _valid_zone,
    member_index,
    schema,
    utc_ns,
)
from leadsync.pulls import Record, latest_records

__all__ = [
    "CellBatch",
    "Coerced",
    "FrameBuilder",
    "Parsed",
    "build_frame",
    "coerce_cells",
    "coerce_rows",
    "empty_frame",
    "explain",
    "finish",
    "records_to_frame",
]

#: A row's exact values (``Record.row()``), asked for only for the rows that need explaining.
ExactRows = Callable[[Sequence[int]], Sequence[Mapping[str, Any]]]

_BAD = "\x00bad"


@dataclass(frozen=True)
class Parsed:
    """A timestamp column a decoder already parsed: every present cell fits.

    ``values`` is ``datetime64[ns, UTC]`` (NaT where the cell is empty), but
    for the rows in ``overrides``, whose cells are given as values to convert
    like any other cell.
    """

    values: pd.Series
    overrides: Mapping[int, Any] = field(default_factory=dict)


@dataclass
class Coerced:
    """Step 1 of a frame: every row's cells converted, before the cross-row rules.

    - ``typed``: every non-member column and the meta columns, in the
      canonical dtypes; a cell that does not fit is missing (``<NA>``/``NaT``),
      as in the frame the per-row builder returned;
    - ``bad``: rows with a cell that does not fit or a required column missing
      (the key column's own "is missing" is decided in :func:`finish`, since the
      key may come from ``source_id``);
    - ``key_present``: rows whose record carries the key column at all;
    - ``refs``: per member column, each row's cell (a list of cells, or a
      Series of the store's encoded cells: see :func:`finish`).
    """

    table: str
    typed: dict[str, pd.Series]
    bad: np.ndarray
    key_present: np.ndarray
    refs: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.bad)

    def take(self, positions: np.ndarray | Sequence[int]) -> Coerced:
        """The rows at ``positions``, in that order."""
        idx = np.asarray(positions, dtype=np.intp)
        return Coerced(
            self.table,
            {k: _take(v, idx) for k, v in self.typed.items()},
            self.bad[idx],
            self.key_present[idx],
            {k: _take_cells(v, idx) for k, v in self.refs.items()},
        )

    @staticmethod
    def concat(parts: Sequence[Coerced]) -> Coerced:
        """Rows of several parts of one table, one after the other."""
        first = parts[0]
        typed = {k: _concat([p.typed[k] for p in parts]) for k in first.typed}
        refs: dict[str, Any] = {}
        for k, v in first.refs.items():
            if isinstance(v, list):
                refs[k] = [cell for p in parts for cell in p.refs[k]]
            else:
                refs[k] = _concat([p.refs[k] for p in parts])
        return Coerced(first.table, typed,
                       np.concatenate([p.bad for p in parts]),
                       np.concatenate([p.key_present for p in parts]), refs)


def _take(series: pd.Series, idx: np.ndarray) -> pd.Series:
    return series.take(idx).reset_index(drop=True)


def _take_cells(cells: Any, idx: np.ndarray) -> Any:
    if isinstance(cells, list):
        return [cells[i] for i in idx]
    return _take(cells, idx)


def _concat(series: Sequence[pd.Series]) -> pd.Series:
    if len(series) == 1:
        return series[0]
    out = pd.concat(series, ignore_index=True)
    first = series[0]
    if isinstance(first.dtype, pd.CategoricalDtype) and out.dtype != first.dtype:
        out = out.astype(first.dtype)
    return out


# ---------------------------------------------------------------------------
# Step 1: cells to canonical dtypes, a column at a time


_STR_OR_NONE = frozenset({str, type(None)})


def _texts(values: Sequence[Any]) -> tuple[list[str | None], np.ndarray | None]:
    """``None if missing else str(v).strip()`` for every cell, and the cells present
    when that differs from "text is not None" (None: it does not)."""
    if set(map(type, values)) <= _STR_OR_NONE:  # the usual column: one comprehension
        return [(v.strip() or None) if v is not None else None for v in values], None
    out: list[str | None] = []
    append = out.append
    odd: list[int] = []
    for i, v in enumerate(values):
        if v.__class__ is str:
            s = v.strip()
            append(s if s else None)
        elif v is None or _is_missing(v):
            append(None)
        else:
            append(str(v).strip())
            odd.append(i)
    if not odd:
        return out, None
    present = np.fromiter((t is not None for t in out), dtype=bool, count=len(out))
    present[odd] = True  # a value whose text is empty is still a value (it fails its check)
    return out, present


#: Cell classes that are always a value (never "missing"), checked before ``_is_missing``.
_ALWAYS_PRESENT = frozenset({dt.date, dt.datetime, pd.Timestamp, int, bool, MemberRef})


def _present(values: Sequence[Any]) -> np.ndarray:
    """Which cells hold a value (``not _is_missing``), the usual classes without a call."""
    always = _ALWAYS_PRESENT
    return np.fromiter(
        (False if v is None else (bool(v.strip()) if v.__class__ is str else
                                  (True if v.__class__ in always else not _is_missing(v)))
         for v in values), dtype=bool, count=len(values))


@functools.cache
def _arrow() -> Any:
    """``(pyarrow, pyarrow.compute)``, imported on first use.

    The column work that pandas would do one Python object at a time
    (building text columns, matching patterns, reading ISO dates) runs in
    Arrow's compiled kernels. pyarrow is a requirement of leadsync (the store
    keeps its columns in Arrow); it is imported here, not at the top, so that
    ``import leadsync`` stays quick.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    return pa, pc


@functools.cache
def _arrow_strings() -> bool:
    """Whether pandas keeps its ``string`` dtype in Arrow here (pandas 3 with pyarrow)."""
    return bool(pd.StringDtype().storage == "pyarrow")


def _string_series(texts: Sequence[str | None]) -> pd.Series:
    """A ``string`` column of texts (str or None): built by Arrow straight from the list
    when pandas keeps strings in Arrow (``pd.array`` first copies and checks every one)."""
    if _arrow_strings():
        pa, _ = _arrow()
        return pd.Series(pd.arrays.ArrowStringArray(pa.array(texts, type=pa.large_string())))
    return pd.Series(pd.array(texts, dtype="string"))


def _by_value(values: Sequence[Any], fn: Callable[[Any], Any]) -> list[Any]:
    """``fn`` of every cell, computed once per distinct text (other cells one by one)."""
    if values and set(map(type, values)) <= _STR_OR_NONE:
        # Texts only: the distinct ones found in C (None is code -1, the last result).
        codes, uniques = pd.factorize(np.array(values, dtype=object), use_na_sentinel=True)
        results = [fn(u) for u in uniques.tolist()]
        results.append(fn(None))
        return [results[c] for c in codes.tolist()]
    seen: dict[str | None, Any] = {}
    out: list[Any] = []
    append = out.append
    for v in values:
        if v is None or v.__class__ is str:
            r = seen.get(v, _BAD)
            if r is _BAD:
                r = seen[v] = fn(v)
            append(r)
        else:
            append(fn(v))
    return out


def _codes_by_value(values: Sequence[Any], fn: Callable[[Any], int]) -> np.ndarray | None:
    """``fn`` of every cell as an int64 array, computed once per distinct text, the
    distinct texts found by Arrow (None: a cell is not text)."""
    if not values or not set(map(type, values)) <= _STR_OR_NONE:
        return None
    pa, _ = _arrow()
    encoded = pa.array(values, type=pa.large_string()).dictionary_encode()
    results = [fn(u) for u in encoded.dictionary.to_pylist()]
    results.append(fn(None))  # a missing cell takes the last result
    lookup = np.asarray(results, dtype=np.int64)
    return lookup[np.asarray(encoded.indices.fill_null(len(results) - 1), dtype=np.intp)]


def _match_all(texts: Sequence[str | None], check: Callable[[str], bool]) -> np.ndarray:
    """``check`` of every present text (once per distinct text); False where missing."""
    results = _by_value(texts, lambda t: t is not None and bool(check(t)))
    return np.fromiter(results, dtype=bool, count=len(texts))


#: Every character ``str.strip()`` removes (those ``str.isspace()`` calls space), for
#: Arrow, whose idea of whitespace is not Python's.
PY_SPACES = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003"
             "\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")


def _arrow_texts(values: Sequence[Any], *, strip: bool = True) -> Any:
    """Texts (every cell str or None) as an Arrow ``large_string`` array, each as
    ``v.strip() or None`` (``strip=False``: kept as it is unless only spaces, then None).

    Only the texts that begin or end with a space, or are empty, are looked at
    in Python; None when pandas keeps strings outside Arrow or a cell is not text.
    """
    if not _arrow_strings() or not set(map(type, values)) <= _STR_OR_NONE:
        return None
    pa, pc = _arrow()
    arr = pa.array(values, type=pa.large_string())
    if not len(arr):
        return arr
    look = np.flatnonzero(_maybe_spaced(arr))
    if not len(look):
        return arr
    fixed: list[str | None] = []
    for i in look.tolist():
        text = values[i].strip()
        fixed.append((text or None) if strip else (values[i] if text else None))
    mask = np.zeros(len(arr), dtype=bool)
    mask[look] = True
    return pc.replace_with_mask(arr, pa.array(mask), pa.array(fixed, type=pa.large_string()))


def _byte_table(chars: str, byte: int) -> np.ndarray:
    """A lookup table over byte values: which can be the given byte (0 first, -1 last) of
    one of ``chars`` in UTF-8."""
    table = np.zeros(256, dtype=bool)
    for char in chars:
        table[char.encode("utf-8")[byte]] = True
    return table


#: Bytes a text that begins, or ends, with one of Python's spaces has there.
_SPACE_FIRST = _byte_table(PY_SPACES, 0)
_SPACE_LAST = _byte_table(PY_SPACES, -1)


def _offsets_and_bytes(arr: Any) -> tuple[np.ndarray, np.ndarray]:
    """A ``large_string`` array's offsets (one more than its length) and UTF-8 bytes."""
    _, offsets, data = arr.buffers()
    start = arr.offset
    ends = np.frombuffer(offsets, dtype=np.int64)[start:start + len(arr) + 1]
    content = np.frombuffer(data, dtype=np.uint8) if data is not None else \
        np.zeros(0, dtype=np.uint8)
    return ends, content


#: Bytes of texts RE2 and Python's ``re`` read alike: printable ASCII and the
#: whitespace both call whitespace (not \v, \x1c-\x1f, nor anything past ASCII).
_NOT_PLAIN = np.ones(256, dtype=bool)
_NOT_PLAIN[[*range(0x00, 0x0b), *range(0x0c, 0x1c), *range(0x20, 0x7f)]] = False


def _plain(arr: Any) -> np.ndarray:
    """Which texts hold only :data:`_NOT_PLAIN`'s complement (missing ones count as plain)."""
    if not len(arr):
        return np.zeros(0, dtype=bool)
    ends, content = _offsets_and_bytes(arr)
    odd = np.concatenate(([0], np.cumsum(_NOT_PLAIN[content], dtype=np.int64)))
    return np.asarray(odd[ends[1:]] == odd[ends[:-1]], dtype=bool)


def _maybe_spaced(arr: Any) -> np.ndarray:
    """Which texts may begin or end with a space Python strips, or are empty (a superset,
    found from each text's first and last byte; every one is then looked at in Python)."""
    ends, content = _offsets_and_bytes(arr)
    valid = np.asarray(arr.is_valid(), dtype=bool)
    lengths = ends[1:] - ends[:-1]
    filled = lengths > 0
    out: np.ndarray = valid & ~filled
    if filled.any():
        first = content[ends[:-1][filled]]
        last = content[ends[1:][filled] - 1]
        out[filled] |= _SPACE_FIRST[first] | _SPACE_LAST[last]
    return out


def _arrow_series(arr: Any) -> pd.Series:
    return pd.Series(pd.arrays.ArrowStringArray(arr))


def _coerce_text(column: Column, values: Sequence[Any]) -> tuple[pd.Series, np.ndarray]:
    kind = column.kind
    n = len(values)
    if kind in ("id", "text", "url", "email"):
        arr = _arrow_texts(values)
        if arr is not None:
            if kind in ("id", "text"):
                return _arrow_series(arr), np.zeros(n, dtype=bool)
            pa, pc = _arrow()
            found = np.asarray(arr.is_valid(), dtype=bool)
            bad = found & ~_regex_arrow(arr, _URL if kind == "url" else _EMAIL)
            if bad.any():
                arr = pc.if_else(pa.array(~bad), arr, None)
            return _arrow_series(arr), bad
    texts, present = _texts(values)
    n = len(texts)
    if kind in ("id", "text"):
        return _string_series(texts), np.zeros(n, dtype=bool)
    if present is None:
        present = np.fromiter((t is not None for t in texts), dtype=bool, count=n)
    if kind == "hours":
        def norm(text: str | None) -> str | None:
            m = _HOURS.match(text) if text is not None else None
            return f"{m[1]}:{m[2]}-{m[3]}:{m[4]}" if m else None
        hours = _by_value(texts, norm)
        bad = present & np.fromiter((h is None for h in hours), dtype=bool, count=n)
        return _string_series(hours), bad
    if kind == "url":
        ok = _regex_all(texts, _URL)
    elif kind == "email":
        ok = _regex_all(texts, _EMAIL)
    else:  # timezone
        ok = _match_all(texts, _valid_zone)
    bad = present & ~ok
    if bad.any():
        texts = [None if b else t for t, b in zip(texts, bad, strict=True)]
    return _string_series(texts), bad


def _regex_all(texts: Sequence[str | None], pattern: Any) -> np.ndarray:
    """``pattern.match`` of every present text (False where missing).

    Run in Arrow (RE2) when it agrees with Python's ``re``: on texts of plain
    printable ASCII and the whitespace both call whitespace. Any other text is
    matched by ``re``, so the answer is always ``re``'s.
    """
    pa, _ = _arrow()
    return _regex_arrow(pa.array(texts, type=pa.large_string()), pattern)


def _regex_arrow(arr: Any, pattern: Any) -> np.ndarray:
    """:func:`_regex_all` of texts already in an Arrow array."""
    _, pc = _arrow()
    n = len(arr)
    flags = "(?i)" if pattern.flags & 2 else ""  # re.IGNORECASE
    # Python's \s also matches \v, \x1c-\x1f and non-ASCII spaces, RE2's does not:
    # such texts are left to re.
    plain = _plain(arr)
    ok = pc.match_substring_regex(arr, flags + pattern.pattern)
    fast: np.ndarray = np.asarray(ok.fill_null(False), dtype=bool) & plain
    slow = np.flatnonzero(~plain)
    for i in slow.tolist():
        text = arr[i].as_py()
        fast[i] = text is not None and bool(pattern.match(text))
    if n and fast.shape[0] != n:  # pragma: no cover - defensive
        raise AssertionError("regex mask length")
    return fast


def _coerce_category(column: Column, values: Sequence[Any]) -> tuple[pd.Series, np.ndarray]:
    lookup = {_norm_token(v): i for i, v in enumerate(column.vocabulary)}

    def code_of(v: Any) -> int:  # the category's position; -1 missing, -2 not in the vocabulary
        if _is_missing(v):
            return -1
        return lookup.get(_norm_token(str(v)), -2)

    n = len(values)
    found = _codes_by_value(values, code_of)
    codes = found if found is not None else np.fromiter(_by_value(values, code_of),
                                                        dtype=np.int64, count=n)
    bad = codes == -2
    if bad.any():
        codes[bad] = -1
    return pd.Series(pd.Categorical.from_codes(codes, dtype=_vocabulary(column.vocabulary))), bad


@functools.cache
def _vocabulary(values: tuple[str, ...]) -> pd.CategoricalDtype:
    """The ordered categorical dtype of a vocabulary (made once: pandas checks it anew)."""
    return pd.CategoricalDtype(list(values), ordered=True)


def _as_bool(v: object) -> object:
    if _is_missing(v):
        return pd.NA
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)) and v in (0, 1):
        return bool(v)
    text = str(v).strip().casefold()
    if text in ("true", "yes", "y", "1", "checked", "x"):
        return True
    if text in ("false", "no", "n", "0", "unchecked"):
        return False
    return None


def _coerce_boolean(values: Sequence[Any]) -> tuple[pd.Series, np.ndarray]:
    out: list[object] = []
    append = out.append
    cache: dict[str | None, object] = {}
    for v in values:
        if v is True or v is False:
            append(v)
        elif v is None:
            append(pd.NA)
        elif v.__class__ is str:
            r = cache.get(v, _BAD)
            if r is _BAD:
                r = cache[v] = _as_bool(v)
            append(r)
        else:
            append(_as_bool(v))
    n = len(out)
    bad = np.fromiter((v is None for v in out), dtype=bool, count=n)
    if bad.any():
        out = [pd.NA if b else v for v, b in zip(out, bad, strict=True)]
    return pd.Series(pd.array(out, dtype="boolean")), bad  # type: ignore[call-overload]


def _coerce_number(values: Sequence[Any]) -> tuple[pd.Series, np.ndarray]:
    n = len(values)
    present = _present(values)
    plain = [v if p else None for v, p in zip(values, present, strict=True)]
    # One conversion per cell, whatever the rest of the column holds (pd.to_numeric
    # of a column folds its cells into one dtype first).
    numbers = np.full(n, np.nan)
    simple = [i for i, v in enumerate(plain) if v is not None and (
        v.__class__ is int or v.__class__ is float)]
    if simple:
        numbers[simple] = [float(plain[i]) for i in simple]  # type: ignore[arg-type]
    others = [i for i, v in enumerate(plain) if v is not None and not (
        v.__class__ is int or v.__class__ is float)]
    for i in others:
        converted = pd.to_numeric(pd.Series([plain[i]], dtype=object), errors="coerce")
        numbers[i] = float(converted.iloc[0]) if pd.notna(converted.iloc[0]) else np.nan
    numeric = pd.Series(pd.array(numbers, dtype="Float64"))
    finite = np.isfinite(numbers)
    bad = present & ~finite
    if bad.any():
        numeric = numeric.mask(pd.Series(bad), pd.NA)
    return numeric, bad


_NS_DAYS = (np.datetime64(pd.Timestamp.min.date(), "D"),
            np.datetime64(pd.Timestamp.max.date(), "D"))


def _coerce_time_cells(values: Sequence[Any] | Parsed) -> tuple[pd.Series, np.ndarray]:
    """Timestamps as tz-aware UTC nanoseconds, and the present cells that are no date.

    Per cell: ISO 8601 text and datetimes as ``pd.to_datetime(..., utc=True,
    format="ISO8601")`` reads them (a time without an offset is UTC), dates at
    midnight UTC, anything else as :func:`~leadsync.canonical._to_timestamp` reads
    it (what the one-cell-at-a-time builder did for what the column parse left).
    """
    if isinstance(values, Parsed):
        series = values.values.reset_index(drop=True)
        bad = np.zeros(len(series), dtype=bool)
        if values.overrides:
            rows = sorted(values.overrides)
            fixed, fixed_bad = _coerce_time_cells([values.overrides[i] for i in rows])
            series = series.copy()
            series.iloc[rows] = fixed.to_numpy()
            bad[rows] = fixed_bad
        return series, bad
    n = len(values)
    present = _present(values)
    strings: list[int] = []
    stamps: list[int] = []
    days: list[int] = []
    for i, v in enumerate(values):
        if not present[i]:
            continue
        cls = v.__class__
        if cls is str:
            strings.append(i)
        elif cls is dt.date:
            days.append(i)
        elif isinstance(v, dt.datetime):
            stamps.append(i)
    parsed = np.full(n, np.datetime64("NaT", "ns"), dtype="datetime64[ns]")
    done = np.zeros(n, dtype=bool)
    if days:
        # dates outside what nanoseconds hold (year 1) would wrap around: left NaT (invalid)
        as_days = np.array([values[i] for i in days], dtype="datetime64[D]")
        inside = (as_days > _NS_DAYS[0]) & (as_days < _NS_DAYS[1])
        kept = np.asarray(days)[inside]
        parsed[kept] = as_days[inside]
        done[kept] = True
    for group in (strings, stamps):
        if not group:
            continue
        converted = pd.to_datetime(pd.Series([values[i] for i in group], dtype=object),
                                   utc=True, errors="coerce", format="ISO8601")
        as_ns = utc_ns(converted).dt.tz_localize(None).to_numpy()
        parsed[group] = as_ns
        done[group] = ~np.isnat(as_ns)
    # What the column parse leaves (other objects, text that is not ISO 8601) one by one.
    for i in np.flatnonzero(present & ~done).tolist():
        ts = _to_timestamp(values[i])
        if ts is not None:
            parsed[i] = ts.tz_convert("UTC").tz_localize(None).as_unit("ns").to_datetime64()
    series = pd.Series(parsed).dt.tz_localize("UTC")
    bad = present & np.isnat(parsed)
    return series, bad


def _coerce_source_ids(values: Sequence[Any]) -> pd.Series:
    arr = _arrow_texts(values, strip=False)
    if arr is not None:
        return _arrow_series(arr)
    out = [v if v.__class__ is str and v.strip() else
           (None if _is_missing(v) else str(v)) for v in values]
    return _string_series(out)


def coerce_cells(table: str, cells: Mapping[str, Sequence[Any] | Parsed], n: int,
                 key_present: np.ndarray | None = None) -> Coerced:
    """Step 1 for ``n`` rows given as ``cells`` (canonical column -> one value a row).

    A column missing from ``cells`` is empty in every row. ``key_present``
    says which rows' records carry the key column (default: none does, so the
    key is the ``source_id`` unless :func:`finish` is told otherwise).
    """
    spec = schema(table)
    typed: dict[str, pd.Series] = {}
    bad = np.zeros(n, dtype=bool)
    empty: list[Any] = [None] * n
    refs: dict[str, Any] = {}
    for column in spec.columns:
        values = cells.get(column.name, empty)
        kind = column.kind
        if kind in ("member", "members"):
            if isinstance(values, Parsed):
                raise TypeError(f"{table}.{column.name}: only timestamp columns come parsed")
            refs[column.name] = values if isinstance(values, pd.Series) else list(values)
            continue
        if kind == "timestamp":
            series, col_bad = _coerce_time_cells(values)
        elif isinstance(values, Parsed):
            raise TypeError(f"{table}.{column.name}: only timestamp columns come parsed")
        elif kind == "category":
            series, col_bad = _coerce_category(column, values)
        elif kind == "boolean":
            series, col_bad = _coerce_boolean(values)
        elif kind == "number":
            series, col_bad = _coerce_number(values)
        else:
            series, col_bad = _coerce_text(column, values)
        typed[column.name] = series
        bad |= col_bad
        if column.required and column.name != spec.key:
            bad |= ~col_bad & series.isna().to_numpy()
    for name in META_COLUMNS:
        values = cells.get(name, empty)
        if name == "source_id":
            if isinstance(values, Parsed):
                raise TypeError("source_id cannot come parsed")
            typed[name] = _coerce_source_ids(values)
        else:
            series, col_bad = _coerce_time_cells(values)
            typed[name] = series
            bad |= col_bad
    if key_present is None:
        key_present = np.zeros(n, dtype=bool)
    return Coerced(table, typed, bad, np.asarray(key_present, dtype=bool), refs)


def coerce_rows(table: str, rows: Sequence[Mapping[str, Any]]) -> Coerced:
    """Step 1 for records given as rows (``Record.row()`` dicts), as ``build_frame`` gets them."""
    spec = schema(table)
    n = len(rows)
    cells = {name: [r.get(name) for r in rows] for name in spec.column_names}
    key = spec.key
    key_present = np.fromiter((key in r for r in rows), dtype=bool, count=n)
    return coerce_cells(table, cells, n, key_present)


# ---------------------------------------------------------------------------
# Step 2: the rules across rows


@dataclass(frozen=True)
class _Context:
    """What explaining one row needs to know about the others."""

    key_from_source: bool
    index: MemberIndex | None
    #: row position -> the source id kept for the same key (duplicates only)
    duplicates: Mapping[int, str]


def _resolve_cell(cell: Any, index: MemberIndex | None, many: bool, required: bool
                  ) -> tuple[Any, bool]:
    """One member cell: (resolved value, has a problem)."""
    refs = _as_refs(cell)
    if refs is None:
        return None, True
    problem = False
    ids: list[str] = []
    for ref in refs:
        found = index.resolve(ref) if index is not None else ref.key
        if found is None:
            problem = True
        else:
            ids.append(found)
    if many:
        value: Any = tuple(dict.fromkeys(ids))
    elif len(refs) > 1:
        problem = True
        value = None
    else:
        value = ids[0] if ids else None
    if required and not refs:
        problem = True
    return value, problem


def _decode_cell(text: Any) -> Any:
    """A member cell as the store encodes it (:mod:`leadsync.store_codec` JSON) -> the cell."""
    if text is None or (isinstance(text, float) and math.isnan(text)) or text is pd.NA:
        return None
    from leadsync.store_codec import _decode

    return _decode(json.loads(text))


def _resolve_codes(cells: Any, index: MemberIndex | None, many: bool, required: bool
                   ) -> tuple[np.ndarray, list[Any], np.ndarray]:
    """The distinct member cells of a column resolved once each: every row's code, the
    resolved value of each code (the last one: an empty cell), and the rows with a problem."""
    empty = _resolve_cell(None, index, many, required)
    if isinstance(cells, pd.Series):  # the store's encoded cells: distinct ones decoded once
        codes, uniques = pd.factorize(cells, use_na_sentinel=True)
        results = [_resolve_cell(_decode_cell(u), index, many, required) for u in uniques]
    else:
        # Connectors' cells: None, a MemberRef, or a tuple of them (hashable), rarely a list.
        if not len(cells):
            return np.zeros(0, dtype=np.intp), [empty[0]], np.zeros(0, dtype=bool)
        unhashable = [i for i, cell in enumerate(cells) if cell.__class__ is list]
        if unhashable:
            cells = list(cells)
            for i in unhashable:
                cells[i] = _Unhashable(cells[i])
        # (A Series keeps each tuple one object; missing cells, None or NaN, get code -1.)
        codes, uniques = pd.factorize(pd.Series(cells, dtype=object), use_na_sentinel=True)
        results = [_resolve_cell(u.cell if u.__class__ is _Unhashable else u, index, many,
                                 required) for u in uniques]
    results.append(empty)  # code -1 (a missing cell) takes the last entry
    codes = np.where(codes < 0, len(results) - 1, codes).astype(np.intp)
    bad_by_code = np.fromiter((r[1] for r in results), dtype=bool, count=len(results))
    return codes, [r[0] for r in results], bad_by_code[codes]


def _ids_series(codes: np.ndarray, resolved: list[Any]) -> pd.Series:
    """A ``string`` column of member ids given as codes into ``resolved`` (Arrow's take of
    the distinct ids when pandas keeps strings in Arrow)."""
    if _arrow_strings():
        pa, _ = _arrow()
        ids = pa.array(resolved, type=pa.large_string())
        return _arrow_series(ids.take(pa.array(codes, type=pa.int64())))
    return _string_series([resolved[c] for c in codes.tolist()])


class _Unhashable:
    """A cell that cannot be hashed (a list): distinct from every other cell."""

    __slots__ = ("cell",)

    def __init__(self, cell: Any):
        self.cell = cell


def _key_column(spec: TableSchema, coerced: Coerced, from_source: bool) -> pd.Series:
    if from_source:
        texts, _ = _texts(coerced.typed["source_id"].tolist())
        return _string_series(texts)
    return coerced.typed[spec.key]


def finish(coerced: Coerced, *, members: pd.DataFrame | MemberIndex | None,
           exact: ExactRows) -> Validated:
    """Step 2: the typed frame and its quarantine (see the module doc).

    ``members`` resolves member references (a canonical members frame or its
    index; None keeps each reference's key, except for the ``members`` table,
    whose ``mentor_id`` resolves against its own rows). ``exact(positions)``
    gives the exact values of the rows whose quarantine entries must be
    written (few: only rows with a problem).
    """
    table = coerced.table
    spec = schema(table)
    n = len(coerced)
    from_source = n > 0 and not bool(coerced.key_present.any())
    key = _key_column(spec, coerced, from_source)
    typed = dict(coerced.typed)
    typed[spec.key] = key
    bad = coerced.bad.copy()
    key_column = spec.column(spec.key)
    if key_column.required:
        bad |= key.isna().to_numpy()

    index: MemberIndex | None = None
    if spec.member_columns:
        if isinstance(members, MemberIndex):
            index = members
        elif isinstance(members, pd.DataFrame):
            index = member_index(members)
        elif table == "members":
            index = member_index(pd.DataFrame(
                {k: typed[k] for k in ("member_id", "name", "email", "source_id")}))
    resolved: dict[str, pd.Series] = {}
    for name in spec.member_columns:
        column = spec.column(name)
        many = column.kind == "members"
        codes, by_code, col_bad = _resolve_codes(coerced.refs[name], index, many,
                                                 column.required)
        bad |= col_bad
        if many:
            resolved[name] = pd.Series([by_code[c] if by_code[c] is not None else ()
                                        for c in codes.tolist()], dtype="object")
        else:
            resolved[name] = _ids_series(codes, by_code)
    typed.update(resolved)

    dup_mask = (key.notna() & key.duplicated(keep="first")).to_numpy() if \
        _may_repeat(key) else np.zeros(n, dtype=bool)
    duplicates: dict[int, str] = {}
    if dup_mask.any():
        bad |= dup_mask
        firsts = key[~key.duplicated(keep="first") & key.notna()]
        first_source = dict(zip(firsts.tolist(),
                                typed["source_id"].iloc[firsts.index].tolist(), strict=True))
        for i in np.flatnonzero(dup_mask).tolist():
            kept = first_source[key.iat[i]]
            duplicates[int(i)] = "<NA>" if kept is pd.NA or kept is None else str(kept)

    if not bad.any():
        return Validated(pd.DataFrame({name: typed[name] for name in spec.column_names}),
                         _empty_quarantine())
    positions = np.flatnonzero(bad)
    context = _Context(from_source, index, duplicates)
    rows = exact([int(i) for i in positions])
    reasons = explain(table, rows, [int(i) for i in positions], context)
    row_of = {int(p): row for p, row in zip(positions, rows, strict=True)}
    flagged = [int(p) for p in positions if reasons.get(int(p))]
    quarantine = pd.DataFrame({
        "table": pd.Series([table] * len(flagged), dtype="string"),
        "source_id": pd.Series([_source_text(row_of[p]) for p in flagged], dtype="string"),
        "reason": pd.Series(["; ".join(reasons[p]) for p in flagged], dtype="string"),
        "record": pd.Series([_record_json(row_of[p]) for p in flagged], dtype="string"),
    }) if flagged else _empty_quarantine()
    keep = np.ones(n, dtype=bool)
    keep[flagged] = False
    frame = pd.DataFrame({name: _rows_kept(typed[name], keep) for name in spec.column_names})
    return Validated(frame, quarantine)


def _may_repeat(key: pd.Series) -> bool:
    """Whether the key column may hold a value twice (False: Arrow counted it distinct)."""
    if _arrow_strings() and isinstance(key.array, pd.arrays.ArrowStringArray):
        pa, pc = _arrow()
        values = pa.chunked_array(key.array.__arrow_array__())
        distinct = len(pc.unique(values)) - (1 if values.null_count else 0)
        return bool(distinct < len(values) - values.null_count)
    return True


def _rows_kept(series: pd.Series, keep: np.ndarray) -> pd.Series:
    """The rows of ``series`` where ``keep`` is True, renumbered from 0. Arrow texts are
    filtered chunk by chunk (a take would first join the chunks into one array)."""
    if isinstance(series.array, pd.arrays.ArrowStringArray):
        pa, pc = _arrow()
        kept = pc.filter(series.array.__arrow_array__(), pa.array(keep))
        return pd.Series(pd.arrays.ArrowStringArray(kept))
    return series[keep].reset_index(drop=True)


def _source_text(row: Mapping[str, Any]) -> str | None:
    sid = row.get("source_id")
    return None if _is_missing(sid) else str(sid)


def _empty_quarantine() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="string") for c in QUARANTINE_COLUMNS})


def explain(table: str, rows: Sequence[Mapping[str, Any]], positions: Sequence[int],
            context: _Context) -> dict[int, list[str]]:
    """Every reason each of ``rows`` (at ``positions`` in the whole) does not fit, in order.

    The per-row logic of the builder this module replaced, on the rows' exact
    values; what depends on other rows (the key's fallback, member resolution
    for the members table, duplicates) comes from ``context``.
    """
    spec = schema(table)
    raw = pd.DataFrame({name: pd.Series([r.get(name) for r in rows], dtype="object")
                        for name in spec.column_names})
    raw.index = pd.Index(list(positions))
    if context.key_from_source:
        raw[spec.key] = raw["source_id"]
    reasons: dict[int, list[str]] = {}

    def flag(mask: pd.Series, text: str) -> None:
        for i in mask[mask].index:
            reasons.setdefault(int(i), []).append(text)

    out: dict[str, pd.Series] = {}
    for column in spec.columns:
        if column.kind in ("member", "members"):
            continue
        values, bad, why = _coerce(column, raw[column.name])
        for i in bad[bad].index:
            reasons.setdefault(int(i), []).append(f"{column.name} {raw.at[i, column.name]!r} {why}")
        out[column.name] = values
        if column.required:
            flag(~bad & values.isna(), f"{column.name} is missing")
    for name in ("created_time", "last_edited_time"):
        _, bad = _coerce_timestamps(raw[name])
        flag(bad, f"{name} is not a date")
    for column in (spec.column(n) for n in spec.member_columns):
        for i, cell in zip(raw.index, raw[column.name], strict=True):
            refs = _as_refs(cell)
            if refs is None:
                reasons.setdefault(int(i), []).append(
                    f"{column.name} {cell!r} is not a member reference")
                continue
            for ref in refs:
                found = context.index.resolve(ref) if context.index is not None else ref.key
                if found is None:
                    reasons.setdefault(int(i), []).append(f"{column.name} {ref} matches no member")
            if column.kind == "member" and len(refs) > 1:
                reasons.setdefault(int(i), []).append(
                    f"{column.name} names {len(refs)} people, expected one")
            if column.required and not refs:
                reasons.setdefault(int(i), []).append(f"{column.name} is missing")
    key = out[spec.key]
    for i in raw.index:
        kept = context.duplicates.get(int(i))
        if kept is not None:
            reasons.setdefault(int(i), []).append(
                f"duplicate {spec.key} {key.at[i]!r} (kept source {kept})")
    return reasons


def build_frame(
    table: str,
    records: Iterable[Mapping[str, Any]],
    *,
    members: pd.DataFrame | MemberIndex | None = None,
) -> Validated:
    """Typed canonical frame from decoded records, with a quarantine of bad rows.

    ``records`` hold canonical column names; missing columns are empty. Each
    record should carry ``source_id`` (the page or record id); when the table's
    key column is absent from every record, the key is the ``source_id``.

    Member columns accept :class:`~leadsync.canonical.MemberRef` values (or plain strings, taken
    as text references). With ``members`` (a canonical members frame or its
    :func:`~leadsync.canonical.member_index`), each is resolved to a ``member_id``; a reference no
    member matches quarantines the row. Without ``members``, the reference's
    raw key is kept. For the ``members`` table itself, ``mentor_id`` is
    resolved against the rows being built.

    Every bad row is reported at once in ``quarantine`` (columns ``table``,
    ``source_id``, ``reason``, ``record``), with all its reasons joined by
    ``"; "``: per column in table order, a value that does not fit its column
    (``impact 'Huge' is not one of Low, Medium, High``) or a required one
    missing, then the meta columns' dates, then member references (not a
    reference, matching no member, several people in a one-person column,
    missing), then a duplicate key. Duplicate keys keep the first row and
    quarantine the others. Each cell is converted as itself (never as the
    rest of its column). The work is done a column at a time.

    Importable as ``leadsync.tables.build_frame`` too, where users find it.
    """
    listed = list(records)
    coerced = coerce_rows(table, listed)
    return finish(coerced, members=members, exact=lambda idx: [listed[i] for i in idx])



def empty_frame(table: str) -> pd.DataFrame:
    """A frame with the table's columns and dtypes and no rows
    (re-exported as ``leadsync.tables.empty_frame``)."""
    return build_frame(table, []).frame


def records_to_frame(
    table: str,
    records: Iterable[Record],
    *,
    members: pd.DataFrame | MemberIndex | None = None,
) -> Validated:
    """A canonical frame of ``records``; undecodable records join the quarantine.

    The records' cells are gathered a column at a time and built as
    :func:`build_frame` builds row dicts; a record with a ``problem`` goes
    straight to the quarantine with it as the reason, after the rows that did
    not fit. Importable as ``leadsync.records.records_to_frame`` too.
    """
    good: list[Record] = []
    broken: list[Record] = []
    for record in records:
        if record.problem:
            broken.append(record)
        else:
            good.append(record)
    spec = schema(table)
    cells: dict[str, list[Any]] = {
        column.name: [r.values.get(column.name) for r in good] for column in spec.columns}
    cells["source_id"] = [r.source_id for r in good]
    cells["created_time"] = [r.created_time for r in good]
    cells["last_edited_time"] = [r.last_edited_time for r in good]
    key = spec.key
    key_present = [key in r.values for r in good]
    coerced = coerce_cells(table, cells, len(good), np.asarray(key_present, dtype=bool))
    result = finish(coerced, members=members, exact=lambda idx: [good[i].row() for i in idx])
    return _with_broken(table, result, broken)


# ---------------------------------------------------------------------------
# Batches from the connectors' column-wise decoders


@dataclass
class CellBatch:
    """Rows a connector decoded a column at a time (a page of results, or several).

    - ``cells``: canonical column -> one cell a row, for every column the
      rows' records carry (``mapped``) and the three meta columns. A cell is
      what the connector's per-row decoder puts in a
      :class:`~leadsync.pulls.Record`, except in a timestamp column, where it
      may be the ISO text the service sent (``to_exact`` turns it into the
      Record's value when a row must be explained);
    - ``parsed``: timestamp columns the decoder already parsed in one call
      (``datetime64[ns, UTC]``), for every row but those in ``exact_rows``;
    - ``exact_rows``: rows the decoder handed to its per-row decoder (an
      unusual value somewhere): their cells are exact values;
    - ``broken``: records whose decoding had a problem (quarantined with it),
      and ``broken_after``: how many good rows came before each of them;
    - ``records``: when the batch was made from records, the records themselves.

    A connector's batch arrives *unprepared*: ``light`` names the timestamp
    columns still holding the service's text (with the regular expression a
    text must match to be read in one call), ``miss`` the rows its fast path
    did not take, ``raw`` the rows as the service sent them and ``redecode``
    the connector's per-row decoder. :meth:`prepare` checks and parses the
    light columns a column at a time and decodes the missed rows one by one;
    several batches are prepared together when they are concatenated first.
    """

    table: str
    source_ids: list[str]
    cells: dict[str, list[Any]]
    mapped: tuple[str, ...]
    parsed: dict[str, pd.Series] = field(default_factory=dict)
    exact_rows: set[int] = field(default_factory=set)
    to_exact: dict[str, Callable[[Any], Any]] = field(default_factory=dict)
    broken: list[Record] = field(default_factory=list)
    records: list[Record] | None = None
    key_present: np.ndarray | None = None
    broken_after: list[int] = field(default_factory=list)
    light: dict[str, str] = field(default_factory=dict)
    raw: list[Any] | None = None
    miss: set[int] = field(default_factory=set)
    redecode: Callable[[Any], Record] | None = None

    def __len__(self) -> int:
        return len(self.source_ids)

    @classmethod
    def from_records(cls, table: str, records: Iterable[Record]) -> CellBatch:
        """A batch of records as any :class:`~leadsync.sources.Source` yields them."""
        spec = schema(table)
        good: list[Record] = []
        broken: list[Record] = []
        after: list[int] = []
        for record in records:
            if record.problem:
                broken.append(record)
                after.append(len(good))
            else:
                good.append(record)
        cells: dict[str, list[Any]] = {
            c.name: [r.values.get(c.name) for r in good] for c in spec.columns}
        cells["source_id"] = [r.source_id for r in good]
        cells["created_time"] = [r.created_time for r in good]
        cells["last_edited_time"] = [r.last_edited_time for r in good]
        key_present = np.fromiter((spec.key in r.values for r in good), dtype=bool,
                                  count=len(good))
        return cls(table, [r.source_id for r in good], cells, tuple(c.name for c in spec.columns),
                   broken=broken, records=good, key_present=key_present, broken_after=after)

    def in_order(self) -> list[Record]:
        """Every row of the batch, good and broken, as the source gave them (exact Records)."""
        out: list[Record] = []
        broken = list(zip(self.broken_after, self.broken, strict=True))
        k = 0
        for i, row in enumerate(self.exact(range(len(self)))):
            while k < len(broken) and broken[k][0] <= i:
                out.append(broken[k][1])
                k += 1
            out.append(Record(str(row["source_id"]), row["created_time"],
                              row["last_edited_time"],
                              {c: v for c, v in row.items() if c not in META_COLUMNS}))
        out.extend(r for _, r in broken[k:])
        return out

    def exact(self, positions: Sequence[int]) -> list[dict[str, Any]]:
        """The exact row dicts (``Record.row()``) of the good rows at ``positions``."""
        if self.records is not None:
            return [self.records[i].row() for i in positions]
        rows: list[dict[str, Any]] = []
        for i in positions:
            exact = i in self.exact_rows
            row: dict[str, Any] = {}
            for name in (*self.mapped, "source_id", "created_time", "last_edited_time"):
                cell = self.cells[name][i]
                convert = self.to_exact.get(name)
                row[name] = cell if exact or convert is None else convert(cell)
            rows.append(row)
        return rows

    @staticmethod
    def concat(batches: Sequence[CellBatch]) -> CellBatch:
        """Several batches of one table as one (the rows one after the other).

        Unprepared batches of one decoder stay unprepared (to be prepared
        together); others are prepared first.
        """
        if len(batches) == 1:
            return batches[0]
        first = batches[0]
        unprepared = all(b.raw is not None for b in batches) and all(
            _same_decoder(b.redecode, first.redecode) and b.mapped == first.mapped
            and b.light == first.light for b in batches)
        if not unprepared:
            batches = [b.prepare() for b in batches]
            first = batches[0]
        records: list[Record] | None = None
        if all(b.records is not None for b in batches):
            records = [r for b in batches for r in (b.records or [])]
        elif any(b.records is not None for b in batches) or \
                any(b.mapped != first.mapped or set(b.parsed) != set(first.parsed)
                    for b in batches):
            # Mixed kinds of batch: fall back to the exact records of all.
            return CellBatch.from_records(first.table, [r for b in batches for r in b.in_order()])
        cells = {name: list(itertools.chain.from_iterable(b.cells[name] for b in batches))
                 for name in first.cells}
        parsed: dict[str, pd.Series] = {}
        for name in first.parsed:
            parsed[name] = pd.concat([b.parsed[name] for b in batches], ignore_index=True)
        exact_rows: set[int] = set()
        miss: set[int] = set()
        after: list[int] = []
        offset = 0
        for b in batches:
            exact_rows.update(i + offset for i in b.exact_rows)
            miss.update(i + offset for i in b.miss)
            after.extend(a + offset for a in b.broken_after)
            offset += len(b)
        key_present = None
        if any(b.key_present is not None for b in batches):
            key_present = np.concatenate([
                b.key_present if b.key_present is not None else
                np.full(len(b), schema(b.table).key in b.mapped) for b in batches])
        raw = [r for b in batches for r in (b.raw or [])] if unprepared else None
        return CellBatch(first.table, [s for b in batches for s in b.source_ids], cells,
                         first.mapped, parsed, exact_rows, dict(first.to_exact),
                         [r for b in batches for r in b.broken], records, key_present, after,
                         dict(first.light), raw, miss, first.redecode if unprepared else None)

    def prepare(self) -> CellBatch:
        """The batch with its light columns parsed and its missed rows decoded one by one.

        A light text that does not match its column's pattern, or that the
        one-call parse cannot read, sends its row to the per-row decoder too.
        Rows the per-row decoder finds a problem in leave the good rows for
        ``broken``. Returns a new batch (``raw`` is let go).
        """
        if self.raw is None:
            return self
        miss = set(self.miss)
        parsed = dict(self.parsed)
        for name, pattern in self.light.items():
            series, unread = read_iso_texts(self.cells[name], pattern)
            miss.update(np.flatnonzero(unread).tolist())
            parsed[name] = series
        cells = {k: list(v) for k, v in self.cells.items()}
        exact_rows = set(self.exact_rows)
        broken: list[Record] = []
        drop: list[int] = []
        assert self.redecode is not None
        names = (*self.mapped, "source_id", "created_time", "last_edited_time")
        for i in sorted(miss):
            record = self.redecode(self.raw[i])
            if record.problem:
                drop.append(i)
                broken.append(record)
                continue
            exact_rows.add(i)
            row = record.row()
            for name in names:
                cells[name][i] = row.get(name)
        prepared = CellBatch(self.table, list(self.source_ids), cells, self.mapped, parsed,
                             exact_rows, dict(self.to_exact), key_present=self.key_present)
        if drop:
            prepared = prepared._without(drop)
        if broken or self.broken:
            # Rows broken now and rows broken before keep the order they came in.
            merged = sorted([*zip(self.broken_after, range(len(self.broken)), self.broken,
                                  strict=True),
                             *((i - k, -1, r) for k, (i, r) in enumerate(zip(drop, broken,
                                                                           strict=True)))],
                            key=lambda t: t[0])
            prepared.broken = [r for _, _, r in merged]
            prepared.broken_after = [a for a, _, _ in merged]
        return prepared

    @property
    def rows(self) -> int:
        """Rows of the batch, good and broken."""
        return len(self) + len(self.broken)

    def split(self, count: int) -> tuple[CellBatch, CellBatch]:
        """The first ``count`` rows (good and broken, in the order they came) and the rest.
        Prepares the batch first."""
        batch = self.prepare()
        good = broken = 0
        for _ in range(count):
            if broken < len(batch.broken) and batch.broken_after[broken] <= good:
                broken += 1
            elif good < len(batch):
                good += 1
            elif broken < len(batch.broken):
                broken += 1
            else:
                break
        head = batch._rows(0, good)
        head.broken = batch.broken[:broken]
        head.broken_after = batch.broken_after[:broken]
        tail = batch._rows(good, len(batch))
        tail.broken = batch.broken[broken:]
        tail.broken_after = [a - good for a in batch.broken_after[broken:]]
        return head, tail

    def _rows(self, start: int, stop: int) -> CellBatch:
        """Good rows ``start:stop`` of a prepared batch (no broken ones)."""
        at = np.arange(start, stop, dtype=np.intp)
        return CellBatch(
            self.table, self.source_ids[start:stop],
            {k: v[start:stop] for k, v in self.cells.items()}, self.mapped,
            {k: v.iloc[start:stop].reset_index(drop=True) for k, v in self.parsed.items()},
            {i - start for i in self.exact_rows if start <= i < stop}, self.to_exact,
            records=None if self.records is None else self.records[start:stop],
            key_present=None if self.key_present is None else self.key_present[at])

    def _without(self, drop: Sequence[int]) -> CellBatch:
        """The batch less the rows at ``drop`` (sorted positions; prepared batches only)."""
        gone = set(drop)
        keep = [i for i in range(len(self)) if i not in gone]
        keep_at = np.asarray(keep, dtype=np.intp)
        new_index = {old: new for new, old in enumerate(keep)}
        return CellBatch(
            self.table, [self.source_ids[i] for i in keep],
            {k: [v[i] for i in keep] for k, v in self.cells.items()}, self.mapped,
            {k: v.take(keep_at).reset_index(drop=True) for k, v in self.parsed.items()},
            {new_index[i] for i in self.exact_rows if i in new_index}, self.to_exact,
            key_present=None if self.key_present is None else self.key_present[keep_at])

    def coerce(self) -> Coerced:
        """Step 1 (:func:`coerce_cells`) of the batch's good rows (prepared first)."""
        if self.raw is not None:
            return self.prepare().coerce()
        spec = schema(self.table)
        n = len(self)
        cells: dict[str, Sequence[Any] | Parsed] = {}
        for name, values in self.cells.items():
            series = self.parsed.get(name)
            if series is None:
                cells[name] = values
            else:
                overrides = {i: values[i] for i in self.exact_rows}
                cells[name] = Parsed(series, overrides)
        key_present = self.key_present if self.key_present is not None else \
            np.full(n, spec.key in self.mapped, dtype=bool)
        return coerce_cells(self.table, cells, n, key_present)


def _same_decoder(a: Callable[[Any], Record] | None, b: Callable[[Any], Record] | None
                  ) -> bool:
    """Whether two batches' per-row decoders are one (each page makes its own partial)."""
    if a is b:
        return True
    if isinstance(a, functools.partial) and isinstance(b, functools.partial):
        return a.func is b.func and a.args == b.args and a.keywords == b.keywords
    return False


def read_iso_texts(texts: Sequence[str | None], pattern: str) -> tuple[pd.Series, np.ndarray]:
    """ISO 8601 texts (str or None) as ``datetime64[ns, UTC]``, and which present texts
    were not read.

    A text is read when it matches ``pattern`` (an ASCII regular expression
    of ISO 8601 shapes) and ``pd.to_datetime(..., utc=True, format="ISO8601")``
    reads it to a date nanoseconds can hold (:func:`~leadsync.canonical.utc_ns`);
    every other present text is unread (NaT). The texts are checked and
    read by Arrow's kernels (its ISO 8601 cast): a column it
    cannot read whole (a day that does not exist, a year out of range) is read
    by pandas as before, so a value is always what pandas makes of it.
    """
    arrow = _arrow()
    n = len(texts)
    got = _read_iso_arrow(arrow, texts, pattern)
    if got is not None:
        return got
    pa, pc = arrow
    matched = pc.match_substring_regex(pa.array(texts, type=pa.large_string()), pattern)
    fits = np.asarray(matched.fill_null(False), dtype=bool)
    kept = [v if ok else None for v, ok in zip(texts, fits.tolist(), strict=True)]
    series = utc_ns(pd.to_datetime(pd.Series(kept, dtype=object), utc=True,
                                   errors="coerce", format="ISO8601"))
    present = np.fromiter((v is not None for v in texts), dtype=bool, count=n)
    return series, present & series.isna().to_numpy()


#: ``utc_ns``'s bounds as nanoseconds since the epoch.
_NS_BOUNDS = (int(_NS_MIN.value), int(_NS_MAX.value))
#: NaT as int64 nanoseconds.
_NAT = int(np.iinfo(np.int64).min)
#: An ISO 8601 text that ends in its UTC offset.
_WITH_OFFSET = r"(Z|[+-]\d{2}:\d{2})$"


def _read_iso_arrow(arrow: Any, texts: Sequence[str | None], pattern: str
                    ) -> tuple[pd.Series, np.ndarray] | None:
    """:func:`read_iso_texts` by Arrow (None: a text Arrow's cast refuses; pandas reads
    the column instead). Texts with an offset are cast to UTC timestamps, the others
    (dates, and date-times without an offset) as UTC wall times, as pandas reads them."""
    pa, pc = arrow
    try:
        arr = pa.array(texts, type=pa.string())
    except (pa.ArrowException, TypeError, ValueError):
        return None
    null = pa.scalar(None, pa.string())
    kept = pc.if_else(pc.match_substring_regex(arr, pattern), arr, null)
    aware_type, wall_type = pa.timestamp("ns", tz="UTC"), pa.timestamp("ns")
    ns: Any = None
    for target in (aware_type, wall_type):  # the usual column: every text of one kind
        try:
            ns = pc.cast(kept, target).cast(pa.int64())
            break
        except (pa.ArrowException, ValueError):
            continue
    if ns is None:  # offsets and none mixed: each kind cast on its own
        aware = pc.match_substring_regex(kept, _WITH_OFFSET).fill_null(False)
        try:
            ns = pc.coalesce(pc.cast(pc.if_else(aware, kept, null), aware_type).cast(pa.int64()),
                             pc.cast(pc.if_else(aware, null, kept), wall_type).cast(pa.int64()))
        except (pa.ArrowException, ValueError):
            return None
    values = np.array(ns.fill_null(_NAT), dtype=np.int64)
    outside = (values < _NS_BOUNDS[0]) | (values > _NS_BOUNDS[1])  # NaT is below
    values[outside] = _NAT
    series = pd.Series(pd.DatetimeIndex(values.view("datetime64[ns]")).tz_localize("UTC"))
    present = np.asarray(arr.is_valid(), dtype=bool)
    return series, present & outside


class FrameBuilder:
    """Batches in, one :class:`~leadsync.canonical.Validated` out: how a pull becomes a frame.

    Each batch's cells are converted as it arrives, a few thousand rows at a
    time (so the work overlaps the next page's fetch); the rules across rows
    run once at the end. A row id that comes again (an Airtable listing
    restarted after its offset expired hands on a record whose values changed
    meanwhile) keeps its first place and its last values, as
    :func:`~leadsync.pulls.latest_records` does: the builder then rebuilds
    from the batches' exact rows.
    """

    #: Rows converted together: enough that the per-column work dominates.
    CHUNK = 4096

    def __init__(self, table: str, *, members: pd.DataFrame | MemberIndex | None = None):
        self.table = table
        self.members = members
        self._pending: list[CellBatch] = []
        self._pending_rows = 0
        self._done: list[tuple[CellBatch, Coerced]] = []
        self._broken: list[Record] = []
        self._seen: set[str] = set()
        self._repeated = False

    def add(self, batch: CellBatch) -> None:
        ids = [*batch.source_ids, *(r.source_id for r in batch.broken)]
        if not self._repeated and (len(set(ids)) != len(ids) or not self._seen.isdisjoint(ids)):
            self._repeated = True
        self._seen.update(ids)
        self._pending.append(batch)
        self._pending_rows += len(batch)
        if self._pending_rows >= self.CHUNK and not self._repeated:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        merged = CellBatch.concat(self._pending).prepare()
        self._pending, self._pending_rows = [], 0
        self._done.append((merged, merged.coerce()))

    def result(self) -> Validated:
        """The typed frame of every row added, and the quarantine."""
        if self._repeated:
            return self._from_records()
        self._flush()
        if not self._done:
            batch = CellBatch.from_records(self.table, [])
            self._done.append((batch, batch.coerce()))
        batches = [b for b, _ in self._done]
        coerced = Coerced.concat([c for _, c in self._done])
        starts = np.cumsum([0, *(len(b) for b in batches)])

        def exact(positions: Sequence[int]) -> list[dict[str, Any]]:
            rows: list[dict[str, Any]] = []
            for p in positions:
                k = int(np.searchsorted(starts, p, side="right") - 1)
                rows.extend(batches[k].exact([p - int(starts[k])]))
            return rows

        result = finish(coerced, members=self.members, exact=exact)
        broken = [r for b in batches for r in b.broken]
        return _with_broken(self.table, result, broken)

    def _from_records(self) -> Validated:
        batches = [b for b, _ in self._done] + [b.prepare() for b in self._pending]
        records = [r for b in batches for r in b.in_order()]
        return records_to_frame(self.table, latest_records(records), members=self.members)


def _with_broken(table: str, result: Validated, broken: Sequence[Record]) -> Validated:
    if not broken:
        return result
    extra = pd.DataFrame({
        "table": pd.Series([table] * len(broken), dtype="string"),
        "source_id": pd.Series([r.source_id for r in broken], dtype="string"),
        "reason": pd.Series([r.problem for r in broken], dtype="string"),
        "record": pd.Series([repr(dict(r.values)) for r in broken], dtype="string"),
    })
    quarantine = pd.concat([result.quarantine, extra], ignore_index=True)[
        list(QUARANTINE_COLUMNS)]
    return Validated(result.frame, quarantine)
