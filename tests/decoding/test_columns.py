"""The column kernels of :mod:`leadsync.frames` give what the one-value-at-a-time rules give.

With pyarrow installed, texts are checked, stripped and read as dates by
Arrow's kernels; each test compares them with the plain Python / pandas rule
they replace, on values hypothesis draws to hit the edges (days that do not
exist, offsets out of range, years nanoseconds cannot hold, every kind of
whitespace Python strips).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from leadsync.connectors import airtable_decode, notion_decode

from leadsync import frames
from leadsync.canonical import utc_ns

PATTERNS = [notion_decode.ISO_DATE_OR_TIME, notion_decode.ISO_TIME,
            airtable_decode.ISO_DATE_OR_TIME, airtable_decode.ISO_TIME,
            airtable_decode.ISO_DATE]


def pandas_read(texts: list[str | None], pattern: str) -> tuple[pd.Series, np.ndarray]:
    """The rule: a text that fits the pattern, as ``pd.to_datetime`` reads it, in ns."""
    compiled = re.compile(pattern)
    kept = [t if t is not None and compiled.match(t) else None for t in texts]
    series = utc_ns(pd.to_datetime(pd.Series(kept, dtype=object), utc=True, errors="coerce",
                                   format="ISO8601"))
    present = np.array([t is not None for t in texts], dtype=bool)
    return series, present & series.isna().to_numpy()


def two(options: str) -> st.SearchStrategy[str]:
    return st.sampled_from(options.split())


iso_texts = st.builds(
    lambda y, m, d, time, zone: f"{y}-{m}-{d}" + (f"T{time}{zone}" if time else ""),
    two("2026 2024 1970 1677 1678 2261 2262 0001 9999 0000"),
    two("01 02 06 12 00 13"), two("01 15 28 29 30 31 00"),
    st.one_of(st.none(), st.builds(lambda h, m, rest: f"{h}:{m}{rest}", two("00 09 23 24"),
                                   two("00 30 59 60"),
                                   two(":00 :59 :60 :07.5 :07.123 :07.123456 :07.000 _")
                                   .map(lambda r: "" if r == "_" else r))),
    two("Z +00:00 -05:30 +14:00 +23:59 +24:00 -00:00 +99:99 _")
    .map(lambda z: "" if z == "_" else z))
cells = st.one_of(st.none(), iso_texts, st.sampled_from(["", "bad", " 2026-01-01", "2026-1-1",
                                                          "2026-01-01 10:00:00Z"]))


@settings(max_examples=300, deadline=None)
@given(texts=st.lists(cells, max_size=12), pattern=st.sampled_from(PATTERNS))
def test_iso_texts_are_read_as_pandas_reads_them(texts: list[str | None], pattern: str) -> None:
    want, want_unread = pandas_read(texts, pattern)
    got, unread = frames.read_iso_texts(texts, pattern)
    pd.testing.assert_series_equal(got, want)
    assert unread.tolist() == want_unread.tolist()


@settings(max_examples=100, deadline=None)
@given(texts=st.lists(iso_texts, min_size=1, max_size=12))
def test_a_column_of_one_kind_of_text_is_read_by_arrow(texts: list[str]) -> None:
    """Valid texts all with an offset, or all without, take the one-cast path."""
    pattern = airtable_decode.ISO_DATE_OR_TIME
    valid = [t for t in texts if pd.notna(pandas_read([t], pattern)[0][0])]
    for kind in ([t for t in valid if t.endswith("Z") or "+" in t[10:] or "-" in t[10:]],
                 [t for t in valid if len(t) == 10]):
        got = frames._read_iso_arrow(frames._arrow(), kind, airtable_decode.ISO_DATE_OR_TIME)
        assert got is not None
        want = pandas_read(kind, airtable_decode.ISO_DATE_OR_TIME)[0]
        pd.testing.assert_series_equal(got[0], want)


def test_the_spaces_arrow_is_told_are_those_python_strips() -> None:
    every = {chr(c) for c in range(0x110000) if chr(c).isspace()}
    assert set(frames.PY_SPACES) == every
    assert all(("a" + c).strip() == "a" for c in every)


spaced = st.one_of(st.none(), st.text(alphabet=st.sampled_from(
    ["a", "Z", "é", "😀", "-", *frames.PY_SPACES, "\u200b"]), max_size=6))


@settings(max_examples=200, deadline=None)
@given(values=st.lists(spaced, max_size=20))
def test_texts_are_stripped_as_python_strips_them(values: list[str | None]) -> None:
    assert frames._arrow_texts(values) is not None, "pandas keeps its strings in Arrow here"
    stripped = frames._arrow_texts(values).to_pylist()
    assert stripped == [(v.strip() or None) if v is not None else None for v in values]
    kept = frames._arrow_texts(values, strip=False).to_pylist()
    assert kept == [v if v is not None and v.strip() else None for v in values]


@settings(max_examples=100, deadline=None)
@given(values=st.lists(st.one_of(st.none(), st.sampled_from(
    ["High", " high", "LOW", "Huge", "", "  ", "medium\t"])), max_size=20))
def test_vocabulary_codes_are_found_once_per_distinct_text(values: list[str | None]) -> None:
    def code(v: str | None) -> int:
        return -1 if v is None else len(v)
    got = frames._codes_by_value(values, code)
    if not values:
        assert got is None
        return
    assert got is not None
    assert got.tolist() == frames._by_value(values, code) == [code(v) for v in values]


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.one_of(st.none(), st.text(alphabet=st.sampled_from(
    ["h", "t", "p", "s", ":", "/", ".", "@", "a", "x", " ", "\x0b", "\x1c", "\t", "é", "😀",
     "\x7f", "\x00"]), max_size=12), st.sampled_from(
    ["https://github.com/a/b", "http://x.y", "ana@example.com", "a@b.c", "https://a b",
     "https://é.example", "https://\x0bx"])), max_size=20))
def test_links_and_emails_are_checked_as_re_checks_them(values: list[str | None]) -> None:
    from leadsync.canonical import _EMAIL, _URL

    arrow = frames._arrow()
    arr = arrow[0].array(values, type=arrow[0].large_string())
    for pattern in (_URL, _EMAIL):
        got = frames._regex_arrow(arr, pattern).tolist()
        assert got == [v is not None and bool(pattern.match(v)) for v in values]
